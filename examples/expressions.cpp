// A tour of einvit's tensors and expressions: LayerNorm and GELU on a (197, 768) activation, written
// as fused expressions over compile-time shapes.
#include <einvit/einvit.hpp>

#include <cmath>
#include <cstdio>

int main() {
    using einvit::Shape;
    using einvit::Tensor;
    Tensor<float, Shape<197, 768>> x;  // tokens x features, heap, zeroed
    Tensor<float, Shape<768>> gamma, beta;
    for (std::size_t t = 0; t < 197; ++t)
        for (std::size_t f = 0; f < 768; ++f) x(t, f) = std::sin(0.01f * static_cast<float>(t * 768 + f));
    gamma = 1.0f;
    beta = 0.0f;

    // LayerNorm over the feature axis: reductions keep the axis so they broadcast back.
    auto mu = einvit::mean<-1, true>(x);                   // (197, 1)
    Tensor<float, Shape<197, 768>> centred = x - mu;       // (197, 768)
    auto var = einvit::mean<-1, true>(centred * centred);  // (197, 1)
    Tensor<float, Shape<197, 768>> y = centred / einvit::sqrt(var + 1e-6f) * gamma + beta;

    // Exact GELU, one fused pass.
    Tensor<float, Shape<197, 768>> g = 0.5f * y * (1.0f + einvit::erf(y * 0.70710678f));

    auto row_mean = einvit::mean<-1>(y);
    auto row_var = einvit::mean<-1>(y * y);
    std::printf("token 0 after LayerNorm: mean %.2e, variance %.6f; gelu(y[0,0]=%.4f) = %.4f\n",
                static_cast<double>(row_mean(0)), static_cast<double>(row_var(0)), static_cast<double>(y(0, 0)),
                static_cast<double>(g(0, 0)));
    std::printf("kernels: %s\n", einvit::simd::instruction_set());
    return std::fabs(row_var(0) - 1.0f) < 1e-3f ? 0 : 1;
}
