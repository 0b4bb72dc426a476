// Splitting an axis of length 10 into chunks of 3: einops' "can't divide axis of length 10 in chunks of 3".
// expect: can't divide axis of length
// expect: length_divisible<10, 3>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<10>> x;
#ifdef EINVIT_COMPILE_FAIL
    auto y = einvit::rearrange<"(a b) -> a b", einvit::axis<"a", 3>>(x);
#else
    auto y = einvit::rearrange<"(a b) -> a b", einvit::axis<"a", 5>>(x);
#endif
    return static_cast<int>(y(0, 0));
}
