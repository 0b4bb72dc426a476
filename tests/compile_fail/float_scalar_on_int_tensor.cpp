// A floating-point scalar next to an integer tensor would truncate silently; it is refused.
// expect: a floating-point scalar next to integer tensor elements would be truncated
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<int, einvit::Shape<4>> a;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<int, einvit::Shape<4>> c = a * 0.5;
#else
    einvit::Tensor<int, einvit::Shape<4>> c = a * 2;
#endif
    return c(0);
}
