// The example from README.md, compiled and run by the tests so the README stays true.
#include <einvit/einvit.hpp>

#include <cstdio>

int main() {
    using einvit::Shape;

    einvit::Tensor<float, Shape<197, 768>> x, y;  // 64-byte aligned, zeroed, on the heap
    einvit::Tensor<float, Shape<768>> bias;
    for (std::size_t i = 0; i < 768; ++i) bias(i) = 0.001f * static_cast<float>(i);
    y = 0.5f * (x + bias) * (1.0f + einvit::erf((x + bias) * 0.70710678f));  // fused GELU, one pass
    auto mu = einvit::mean<-1, true>(y);  // Tensor<float, Shape<197, 1>>
    y = y - mu;                           // broadcasting, checked at compile time
    auto heads = einvit::rearrange<"n (h d) -> h n d", einvit::axis<"h", 12>>(y);  // a view, (12, 197, 64)
    auto scores = einvit::einsum<"hid,hjd->hij">(heads, heads);                  // (12, 197, 197), GEMM kernel
    static_assert(std::is_same_v<decltype(scores)::shape_type, Shape<12, 197, 197>>);

    static_assert(std::is_same_v<decltype(mu)::shape_type, Shape<197, 1>>);
    std::printf("y(0, 767) = %.6f, mean = %.6f\n", static_cast<double>(y(0, 767)), static_cast<double>(mu(0, 0)));
    return mu(0, 0) > 0.0f && scores(0, 0, 0) >= 0.0f ? 0 : 1;
}
