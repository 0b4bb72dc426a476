// broadcast_to a shape the operand cannot stretch to names both shapes.
// expect: broadcast_to cannot stretch this shape to the requested one
// expect: shape_broadcasts_to<einvit::Shape<4>, einvit::Shape<2, 3> ?>
#include <einvit/einvit.hpp>

int main() {
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<4>> row;
#else
    einvit::Tensor<float, einvit::Shape<3>> row;
#endif
    einvit::Tensor<float, einvit::Shape<2, 3>> m = einvit::broadcast_to<einvit::Shape<2, 3>>(row);
    return static_cast<int>(m(0, 0));
}
