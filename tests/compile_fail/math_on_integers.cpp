// exp of an integer tensor is refused.
// expect: this math function needs floating-point elements
// expect: floating_point_element<int>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<int, einvit::Shape<4>> a;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<int, einvit::Shape<4>> c = einvit::exp(a);
#else
    einvit::Tensor<float, einvit::Shape<4>> c = einvit::exp(einvit::cast<float>(a));
#endif
    return static_cast<int>(c(0));
}
