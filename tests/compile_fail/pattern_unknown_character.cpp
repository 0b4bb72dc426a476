// A character the grammar does not have: einops' "Unknown character '$'".
// expect: Unknown character
// expect: known_character<einvit::pattern::Name\{"\$", 1\}>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::rearrange<"a $ -> a">(x);
#else
    auto y = einvit::rearrange<"a b -> a b">(x);
#endif
    return static_cast<int>(y(0, 0));
}
