// A number in an einsum pattern: einops' "Anonymous axes are not yet supported in einsum"; torch's einsum
// takes letters only.
// expect: Anonymous axes are not supported here
// expect: anonymous_axis_allowed<einvit::pattern::Name\{"2", 1\}>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 2>> a;
    einvit::Tensor<float, einvit::Shape<2, 3>> b;
#ifdef EINVIT_COMPILE_FAIL
    auto c = einvit::einsum<"i 2, 2 k -> i k">(a, b);
#else
    auto c = einvit::einsum<"i j, j k -> i k">(a, b);
#endif
    return static_cast<int>(c(0, 0));
}
