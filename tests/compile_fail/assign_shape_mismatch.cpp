// Assigning an expression to a tensor of another shape names both shapes.
// expect: cannot assign an expression of one shape to a tensor of another
// expect: assigned_shape_matches<einvit::Shape<2, 3>, einvit::Shape<3, 2> ?>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3>> dst;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<3, 2>> src;
#else
    einvit::Tensor<float, einvit::Shape<2, 3>> src;
#endif
    dst = src * 2.0f;
    return static_cast<int>(dst(0, 0));
}
