// The example from README.md, compiled and run by the tests so the README stays true.
#include <einvit/einvit.hpp>

#include <cmath>
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

    // The same in double by hand: x is zero, so every row of y is gelu(bias) less its mean, and
    // scores(h, i, j) is the sum over head h's 64 columns of that row's squares.
    double g[768], mean = 0;
    for (std::size_t i = 0; i < 768; ++i) {
        const double b = 0.001 * static_cast<double>(i);
        g[i] = 0.5 * b * (1.0 + std::erf(b / std::sqrt(2.0)));
        mean += g[i] / 768;
    }
    const auto score = [&](std::size_t h) {
        double s = 0;
        for (std::size_t d = 0; d < 64; ++d) s += (g[h * 64 + d] - mean) * (g[h * 64 + d] - mean);
        return s;
    };
    const auto near = [](double got, double want) { return std::fabs(got - want) <= 1e-5 + 1e-4 * std::fabs(want); };
    const bool right = near(mu(0, 0), mean) && near(mu(196, 0), mean) && near(y(0, 767), g[767] - mean) &&
                       near(y(100, 5), g[5] - mean) && near(scores(0, 0, 0), score(0)) && near(scores(11, 5, 196), score(11)) &&
                       near(scores(6, 196, 0), score(6));
    if (!right) std::printf("differs from the same computed in double: mean %.6f, scores(0, 0, 0) %.6f, want %.6f\n", mean,
                            static_cast<double>(scores(0, 0, 0)), score(0));
    return right ? 0 : 1;
}
