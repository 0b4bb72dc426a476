// Mixing element types is refused, with the way out (cast) in the message.
// expect: the operands have different element types; convert one explicitly with einvit::cast<T>
// expect: same_element_type<float, double>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<4>> a;
    einvit::Tensor<double, einvit::Shape<4>> b;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<4>> c = a + b;
#else
    einvit::Tensor<float, einvit::Shape<4>> c = a + einvit::cast<float>(b);
#endif
    return static_cast<int>(c(0));
}
