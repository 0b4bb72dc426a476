// An axis on the left only: einops' "Identifiers only on one side of expression (should be on both)".
// expect: Identifiers only on one side of expression \(should be on both\)
// expect: identifier_on_both_sides<einvit::pattern::Name\{"b", 1\}>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::rearrange<"a b -> a">(x);
#else
    auto y = einvit::rearrange<"a b -> b a">(x);
#endif
    return static_cast<int>(y(0, 0));
}
