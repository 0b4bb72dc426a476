// A linear layer whose weight (out, in) does not take the input's last extent says so.
// expect: the input's last extent must equal the weight's in_features
// expect: X = (einvit::(v[0-9]+_[0-9a-z_]+::)?)?Tensor<float, (einvit::)?Shape<197, 384> ?>; W = WeightInfo<(einvit::(v[0-9]+_[0-9a-z_]+::)?)?Tensor<float, (einvit::)?Shape<1152, 385> ?> ?>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<197, 384>> x;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<1152, 385>> w;
#else
    einvit::Tensor<float, einvit::Shape<1152, 384>> w;
#endif
    auto y = einvit::linear(x, w);
    return static_cast<int>(y(0, 0));
}
