// "..." on the right but not on the left: einops' "Ellipsis found in right side, but not left side of a pattern".
// expect: Ellipsis found in right side, but not left side of a pattern
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::rearrange<"a b -> a b ...">(x);
#else
    auto y = einvit::rearrange<"a ... -> a ...">(x);
#endif
    return static_cast<int>(y(0, 0));
}
