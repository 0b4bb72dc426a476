// A group whose lengths multiply to 8 on an axis of length 6: einops' "Shape mismatch, 6 != 8".
// expect: Shape mismatch
// expect: lengths_equal<6, 8>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<6>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::rearrange<"(a b) -> a b", einvit::axis<"a", 2>, einvit::axis<"b", 4>>(x);
#else
    auto y = einvit::rearrange<"(a b) -> a b", einvit::axis<"a", 2>, einvit::axis<"b", 3>>(x);
#endif
    return static_cast<int>(y(0, 0));
}
