// Multiplying (5, 33) by (32, 17) says the inner extents differ and names both operand types.
// expect: a's last extent \(K\) must equal b's second-to-last
// expect: A = (einvit::(v[0-9]+_[0-9a-z_]+::)?)?Tensor<float, (einvit::)?Shape<5, 33> ?>; B = (einvit::(v[0-9]+_[0-9a-z_]+::)?)?Tensor<float, (einvit::)?Shape<32, 17> ?>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<5, 33>> a;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<32, 17>> b;
#else
    einvit::Tensor<float, einvit::Shape<33, 17>> b;
#endif
    auto c = einvit::matmul(a, b);
    return static_cast<int>(c(0, 0));
}
