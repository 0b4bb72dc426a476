// Expression templates against a hand-written SIMD loop computing the same thing.
//
// `d = a * b + exp(c)` over 1M floats, evaluated by einvit's expression evaluator, and by a loop a
// person would write with xsimd directly. Both read 12 MB and write 4 MB; the counters give bytes/s and
// elements/s, and the interesting figure is their ratio.
#include <benchmark/benchmark.h>

#include <cstddef>

#include <einvit/einvit.hpp>

namespace {

constexpr std::size_t N = 1 << 20;
using S = einvit::Shape<N>;
using Vec = einvit::Tensor<float, S>;

struct Inputs {
    Vec a, b, c, d;
    Inputs() {
        for (std::size_t i = 0; i < N; ++i) {
            a.data()[i] = 0.5f + static_cast<float>(i % 97) * 0.01f;
            b.data()[i] = 1.5f - static_cast<float>(i % 89) * 0.01f;
            c.data()[i] = -2.0f + static_cast<float>(i % 83) * 0.05f;
        }
    }
};

void set_counters(benchmark::State& state) {
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    state.SetItemsProcessed(iterations * static_cast<std::int64_t>(N));
    state.SetBytesProcessed(iterations * static_cast<std::int64_t>(4 * N * sizeof(float)));
}

void BM_expression(benchmark::State& state) {
    Inputs in;
    for (auto _ : state) {
        in.d = in.a * in.b + einvit::exp(in.c);
        benchmark::DoNotOptimize(in.d.data());
        benchmark::ClobberMemory();
    }
    set_counters(state);
    state.SetLabel(einvit::simd::instruction_set());
}

#if EINVIT_USE_XSIMD
void BM_hand_written_simd(benchmark::State& state) {
    Inputs in;
    using batch = xsimd::batch<float>;
    constexpr std::size_t W = batch::size;
    for (auto _ : state) {
        const float* a = in.a.data();
        const float* b = in.b.data();
        const float* c = in.c.data();
        float* d = in.d.data();
        std::size_t i = 0;
        for (; i + W <= N; i += W) {
            const batch va = batch::load_aligned(a + i), vb = batch::load_aligned(b + i), vc = batch::load_aligned(c + i);
            (va * vb + xsimd::exp(vc)).store_aligned(d + i);
        }
        for (; i < N; ++i) d[i] = a[i] * b[i] + std::exp(c[i]);
        benchmark::DoNotOptimize(d);
        benchmark::ClobberMemory();
    }
    set_counters(state);
    state.SetLabel(xsimd::default_arch::name());
}
BENCHMARK(BM_hand_written_simd)->Unit(benchmark::kMicrosecond);
#endif

void BM_hand_written_scalar(benchmark::State& state) {
    Inputs in;
    for (auto _ : state) {
        const float* a = in.a.data();
        const float* b = in.b.data();
        const float* c = in.c.data();
        float* d = in.d.data();
        for (std::size_t i = 0; i < N; ++i) d[i] = a[i] * b[i] + std::exp(c[i]);
        benchmark::DoNotOptimize(d);
        benchmark::ClobberMemory();
    }
    set_counters(state);
}

// A broadcast expression: bias row added to (197, 768) activations, then GELU.
void BM_broadcast_bias_gelu(benchmark::State& state) {
    einvit::Tensor<float, einvit::Shape<197, 768>> x, y;
    einvit::Tensor<float, einvit::Shape<768>> bias;
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i % 101) * 0.02f - 1.0f;
    for (auto _ : state) {
        y = 0.5f * (x + bias) * (1.0f + einvit::erf((x + bias) * 0.70710678f));
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(x.size()));
}

}  // namespace

BENCHMARK(BM_expression)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_hand_written_scalar)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_broadcast_bias_gelu)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
