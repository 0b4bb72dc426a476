// Operands on two backends are refused, naming both.
// expect: the operands live on different backends
// expect: same_backend<einvit::cpu, einvit::reference>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<4>, einvit::cpu> a;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<4>, einvit::reference> b;
#else
    einvit::Tensor<float, einvit::Shape<4>, einvit::cpu> b;
#endif
    einvit::Tensor<float, einvit::Shape<4>, einvit::cpu> c = a * b;
    return static_cast<int>(c(0));
}
