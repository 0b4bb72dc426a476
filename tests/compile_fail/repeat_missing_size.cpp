// A new axis of repeat without a length: einops' "Specify sizes for new axes in repeat".
// expect: Specify sizes for new axes in repeat
// expect: size_given_for_new_axis<einvit::pattern::Name\{"b", 1\}>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::repeat<"a -> a b">(x);
#else
    auto y = einvit::repeat<"a -> a b", einvit::axis<"b", 3>>(x);
#endif
    return static_cast<int>(y(0, 0));
}
