// A name that starts with "_": einops' "Invalid axis identifier: _b ... should not start or end with underscore".
// expect: axis name should not start or end with underscore
// expect: valid_axis_name<einvit::pattern::Name\{"_b", 2\}>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::rearrange<"a _b -> _b a">(x);
#else
    auto y = einvit::rearrange<"a b -> b a">(x);
#endif
    return static_cast<int>(y(0, 0));
}
