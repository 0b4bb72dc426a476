// An unclosed parenthesis: einops' "Brackets are not balanced" / "Imbalanced parentheses in expression".
// expect: Imbalanced parentheses in expression \(brackets are not balanced\)
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::rearrange<"(a b -> a b">(x);
#else
    auto y = einvit::rearrange<"a b -> (a b)">(x);
#endif
    return static_cast<int>(y(0));
}
