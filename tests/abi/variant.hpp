// One build variant's share of abi.mixed_builds (see main.cpp): this file is compiled into the same
// program several times, each time with other flags (another instruction set, no exceptions), as a
// program that picks a fast path at run time is. Each copy runs a packed GEMM, an expression and the
// shipped model with its own einvit and reports how far they are from double-precision references.
#pragma once

#include <einvit/einvit.hpp>
#include <einvit/vit/load.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

#include "../../examples/classify/fashion_mnist_config.hpp"
#include "report.hpp"

#ifndef EINVIT_ABI_TEST_VARIANT
#error "define EINVIT_ABI_TEST_VARIANT to the name of this variant's function"
#endif

#define EINVIT_ABI_TEST_STRING_(x) #x
#define EINVIT_ABI_TEST_STRING(x) EINVIT_ABI_TEST_STRING_(x)

einvit_abi_test::Report EINVIT_ABI_TEST_VARIANT(const char* model_path) {
    einvit_abi_test::Report r;
#if defined(EINVIT_ABI)
    r.abi = EINVIT_ABI_TEST_STRING(EINVIT_ABI);
#endif
    r.packet_width = einvit::simd::width<float>;
    r.exceptions = EINVIT_HAS_EXCEPTIONS != 0;
#if EINVIT_HAS_EXCEPTIONS
    r.raise_error = [] {
        einvit::Tensor<float, einvit::Shape<2, 3>> t;
        (void)t.at(2, 0);  // past the end: raises this variant's einvit::error
    };
#endif
    // C = A B with B packed once, as a weight: the packed layout (the panels' width) is the instruction
    // set's, so a product packed by one variant's code and multiplied by another's comes out wrong.
    // Depth 300 spans more than one depth block, 71 columns end in a partial panel.
    const std::size_t m = 37, n = 71, k = 300;
    std::vector<float> a(m * k), b(k * n), c(m * n);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7) % 13) / 8.0f - 0.75f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 5) % 11) / 8.0f - 0.625f;
    einvit::gemm::PackedB<float> packed(einvit::gemm::Strided<float>{b.data(), n, 1}, k, n);
    einvit::gemm::multiply(einvit::cpu{}, m, einvit::gemm::Strided<float>{a.data(), k, 1}, packed, c.data(), n);
    r.gemm_error = 0;
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double want = 0;
            for (std::size_t q = 0; q < k; ++q) want += double(a[i * k + q]) * double(b[q * n + j]);
            r.gemm_error = std::fmax(r.gemm_error, std::fabs(want - double(c[i * n + j])));
        }
    // an expression (packets and their tails) and a softmax
    einvit::Tensor<float, einvit::Shape<3, 37>> x, y;
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 37; ++j) x(i, j) = static_cast<float>(j) / 10.0f - static_cast<float>(i);
    y = einvit::tanh(x) * 0.5f + einvit::exp(-x * x);
    r.expression_error = 0;
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 37; ++j) {
            const double v = double(x(i, j));
            r.expression_error = std::fmax(r.expression_error, std::fabs(std::tanh(v) * 0.5 + std::exp(-v * v) - double(y(i, j))));
        }
    // the shipped model, loaded and run through the try_ forms (this variant may have no exceptions)
    using Model = einvit::vit::VisionTransformer<einvit_examples::fashion_mnist>;
    auto file = einvit::io::SafeTensors::try_open(model_path);
    if (!file) {
        std::printf("%s: %s\n", EINVIT_ABI_TEST_STRING(EINVIT_ABI_TEST_VARIANT), file.failure().what());
        return r;
    }
    auto model = einvit::vit::try_load<einvit_examples::fashion_mnist>(file.value(), einvit::vit::Family::vit_pytorch);
    if (!model) {
        std::printf("%s: %s\n", EINVIT_ABI_TEST_STRING(EINVIT_ABI_TEST_VARIANT), model.failure().what());
        return r;
    }
    static float image[28 * 28], workspace[Model::workspace_floats<1>];
    for (std::size_t i = 0; i < 28 * 28; ++i) image[i] = static_cast<float>((i * 37) % 28) / 28.0f;
    model.value().forward_into<1>(Model::Input<1>(image), r.logits, workspace);
    r.model_ran = true;
    return r;
}
