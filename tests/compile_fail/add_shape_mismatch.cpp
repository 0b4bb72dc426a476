// Adding tensors whose shapes do not broadcast names both shapes.
// expect: cannot be broadcast together
// expect: operand_shapes_broadcast<einvit::Shape<2, 3>, einvit::Shape<3, 2> ?>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3>> a;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<3, 2>> b;
#else
    einvit::Tensor<float, einvit::Shape<1, 3>> b;
#endif
    einvit::Tensor<float, einvit::Shape<2, 3>> c = a + b;
    return static_cast<int>(c(0, 0));
}
