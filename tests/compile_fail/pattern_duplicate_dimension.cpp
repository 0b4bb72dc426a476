// The same axis twice on one side: einops' "Indexing expression contains duplicate dimension".
// expect: Indexing expression contains duplicate dimension
// expect: no_duplicate_dimension<einvit::pattern::Name\{"a", 1\}>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 2>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::rearrange<"a a -> a">(x);
#else
    auto y = einvit::rearrange<"a b -> b a">(x);
#endif
    return static_cast<int>(y(0, 0));
}
