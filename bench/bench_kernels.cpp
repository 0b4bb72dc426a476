// softmax, layer_norm, GELU and attention on ViT-B/16 shapes (N = 197 tokens, 12 heads, d = 64), einvit's
// kernels against straightforward implementations, all on the same thread count (--threads=N,
// default 2) and timed in one run. After the runs a table gives each one's throughput and einvit's ratio.
//
//   build/bench/einvit_bench_kernels [--threads=N] [--benchmark_repetitions=9]
//       [--benchmark_enable_random_interleaving=true]
//
// The peers:
// - softmax and layer_norm: the textbook loops (max, exp and sum, divide; mean, variance, normalise),
//   one row per iteration, rows split over the same threads.
// - GELU: 0.5 x (1 + std::erf(x / sqrt 2)) in a loop, and einvit's own portable rational form.
// - attention "naive three-pass": scores = scale · Q Kᵀ for a whole head into memory, softmax of each
//   row, then P V, written as plain loops (the inner loops over d and over the output row, so the
//   compiler can vectorise them), heads split over the same threads.
// - attention "three-pass on einvit's GEMM": the same three passes with einvit's GEMM and softmax
//   kernels, the N x N matrix in memory: what the fused kernel saves over the unfused one.
#include <einvit/einvit.hpp>

#include <benchmark/benchmark.h>

#include "bench_common.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using einvit_bench::random_vector;

int g_threads = 2;
constexpr std::size_t N = 197, H = 12, D = 64, C = 768;

// ---- softmax: 12 heads x 197 rows of 197 scores ----
constexpr std::size_t softmax_rows = H * N, softmax_cols = N;
constexpr double softmax_bytes = 2.0 * softmax_rows * softmax_cols * sizeof(float);

void bm_softmax_einvit(benchmark::State& state) {
    auto x = random_vector(softmax_rows * softmax_cols, 1);
    std::vector<float> y(x.size());
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    for (auto _ : state) {
        einvit::kernels::softmax_rows(einvit::cpu{}, x.data(), softmax_cols, y.data(), softmax_cols, softmax_rows, softmax_cols);
        benchmark::DoNotOptimize(y.data());
    }
    einvit_bench::set_rate(state, "GB/s", softmax_bytes);
}

void bm_softmax_loops(benchmark::State& state) {
    auto x = random_vector(softmax_rows * softmax_cols, 1);
    std::vector<float> y(x.size());
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    for (auto _ : state) {
        einvit::parallel_for(softmax_rows, 1, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r) {
                const float* in = x.data() + r * softmax_cols;
                float* out = y.data() + r * softmax_cols;
                float m = in[0];
                for (std::size_t j = 1; j < softmax_cols; ++j) m = std::max(m, in[j]);
                float sum = 0;
                for (std::size_t j = 0; j < softmax_cols; ++j) sum += (out[j] = std::exp(in[j] - m));
                for (std::size_t j = 0; j < softmax_cols; ++j) out[j] /= sum;
            }
        });
        benchmark::DoNotOptimize(y.data());
    }
    einvit_bench::set_rate(state, "GB/s", softmax_bytes);
}

// ---- layer_norm: 197 tokens x 768 (and batch 8) ----
template <std::size_t Rows>
void bm_layer_norm_einvit(benchmark::State& state) {
    auto x = random_vector(Rows * C, 2), g = random_vector(C, 3), b = random_vector(C, 4);
    std::vector<float> y(x.size());
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    for (auto _ : state) {
        einvit::kernels::layer_norm_rows(einvit::cpu{}, x.data(), C, y.data(), C, Rows, C, g.data(), b.data(), 1e-6f);
        benchmark::DoNotOptimize(y.data());
    }
    einvit_bench::set_rate(state, "GB/s", 2.0 * Rows * C * sizeof(float));
}

template <std::size_t Rows>
void bm_layer_norm_loops(benchmark::State& state) {
    auto x = random_vector(Rows * C, 2), g = random_vector(C, 3), b = random_vector(C, 4);
    std::vector<float> y(x.size());
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    for (auto _ : state) {
        einvit::parallel_for(Rows, 1, [&](std::size_t r0, std::size_t r1) {
            for (std::size_t r = r0; r < r1; ++r) {
                const float* in = x.data() + r * C;
                float* out = y.data() + r * C;
                float mean = 0, var = 0;
                for (std::size_t i = 0; i < C; ++i) mean += in[i];
                mean /= C;
                for (std::size_t i = 0; i < C; ++i) var += (in[i] - mean) * (in[i] - mean);
                const float rstd = 1.0f / std::sqrt(var / C + 1e-6f);
                for (std::size_t i = 0; i < C; ++i) out[i] = (in[i] - mean) * rstd * g[i] + b[i];
            }
        });
        benchmark::DoNotOptimize(y.data());
    }
    einvit_bench::set_rate(state, "GB/s", 2.0 * Rows * C * sizeof(float));
}

// ---- GELU (exact, erf): ViT-B's fc1 output, 197 x 3072 ----
// Form 0: einvit's packet GELU (what the GEMM epilogue and the expressions call); 1: the portable
// rational form, which builds without AVX-512 use; 2: the textbook loop 0.5 x (1 + erf(x / sqrt 2)).
template <int Form>
void bm_gelu(benchmark::State& state) {
    constexpr std::size_t rows = N, cols = 4 * C;
    auto x = random_vector(rows * cols, 8);
    for (auto& v : x) v *= 4.0f;  // pre-activations spread over [-4, 4]
    std::vector<float> y(x.size());
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    for (auto _ : state) {
        einvit::parallel_for(rows, 1, [&](std::size_t r0, std::size_t r1) {
            if constexpr (Form == 2) {
                for (std::size_t i = r0 * cols; i < r1 * cols; ++i)
                    y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752440f));
            } else {
                constexpr std::size_t W = einvit::simd::width<float>;
                static_assert(cols % W == 0);
                for (std::size_t i = r0 * cols; i < r1 * cols; i += W) {
                    const auto v = einvit::simd::load<float>(x.data() + i);
                    if constexpr (Form == 0 || W == 1)
                        einvit::simd::store<float>(y.data() + i, einvit::fn::gelu{}(v));
                    else
                        einvit::simd::store<float>(y.data() + i, einvit::fn::detail::gelu_rational_packet(v));
                }
            }
        });
        benchmark::DoNotOptimize(y.data());
    }
    einvit_bench::set_rate(state, "Gvalues/s", double(rows * cols));
}

// ---- attention: (1, 12, 197, 64) ----
constexpr double attention_flops = 4.0 * H * N * N * D;  // Q Kᵀ and P V

struct Qkv {
    std::vector<float> q = random_vector(H * N * D, 5), k = random_vector(H * N * D, 6), v = random_vector(H * N * D, 7);
    std::vector<float> o = std::vector<float>(H * N * D);
};

void bm_attention_einvit(benchmark::State& state) {
    Qkv t;
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    const einvit::kernels::AttentionSize size{1, H, N, N, D, D};
    using HT = einvit::kernels::HeadTensor<const float>;
    for (auto _ : state) {
        einvit::kernels::attention(einvit::cpu{}, size, HT{t.q.data(), 0, N * D, D}, HT{t.k.data(), 0, N * D, D},
                                   HT{t.v.data(), 0, N * D, D}, einvit::kernels::HeadTensor<float>{t.o.data(), 0, N * D, D},
                                   0.125f);
        benchmark::DoNotOptimize(t.o.data());
    }
    einvit_bench::set_rate(state, "GFLOP/s", attention_flops);
}

void bm_attention_naive(benchmark::State& state) {
    Qkv t;
    std::vector<float> scores(H * N * N);
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    for (auto _ : state) {
        einvit::parallel_for(H, 1, [&](std::size_t h0, std::size_t h1) {
            for (std::size_t h = h0; h < h1; ++h) {
                const float *q = t.q.data() + h * N * D, *k = t.k.data() + h * N * D, *v = t.v.data() + h * N * D;
                float* s = scores.data() + h * N * N;
                float* o = t.o.data() + h * N * D;
                for (std::size_t i = 0; i < N; ++i)  // pass 1: scores
                    for (std::size_t j = 0; j < N; ++j) {
                        float dot = 0;
                        for (std::size_t d = 0; d < D; ++d) dot += q[i * D + d] * k[j * D + d];
                        s[i * N + j] = dot * 0.125f;
                    }
                for (std::size_t i = 0; i < N; ++i) {  // pass 2: softmax
                    float* row = s + i * N;
                    float m = row[0];
                    for (std::size_t j = 1; j < N; ++j) m = std::max(m, row[j]);
                    float sum = 0;
                    for (std::size_t j = 0; j < N; ++j) sum += (row[j] = std::exp(row[j] - m));
                    for (std::size_t j = 0; j < N; ++j) row[j] /= sum;
                }
                for (std::size_t i = 0; i < N; ++i) {  // pass 3: P V
                    float* out = o + i * D;
                    for (std::size_t d = 0; d < D; ++d) out[d] = 0;
                    for (std::size_t j = 0; j < N; ++j) {
                        const float p = s[i * N + j];
                        for (std::size_t d = 0; d < D; ++d) out[d] += p * v[j * D + d];
                    }
                }
            }
        });
        benchmark::DoNotOptimize(t.o.data());
    }
    einvit_bench::set_rate(state, "GFLOP/s", attention_flops);
}

void bm_attention_three_pass_gemm(benchmark::State& state) {
    Qkv t;
    std::vector<float> scores(H * N * N);
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    using S = einvit::gemm::Strided<float>;
    for (auto _ : state) {
        for (std::size_t h = 0; h < H; ++h)
            einvit::gemm::multiply(einvit::cpu{}, N, N, D, S{t.q.data() + h * N * D, D, 1}, S{t.k.data() + h * N * D, 1, D},
                                   scores.data() + h * N * N, N);
        einvit::kernels::softmax_rows(einvit::cpu{}, scores.data(), N, scores.data(), N, H * N, N, 0.125f);
        for (std::size_t h = 0; h < H; ++h)
            einvit::gemm::multiply(einvit::cpu{}, N, D, N, S{scores.data() + h * N * N, N, 1}, S{t.v.data() + h * N * D, D, 1},
                                   t.o.data() + h * N * D, D);
        benchmark::DoNotOptimize(t.o.data());
    }
    einvit_bench::set_rate(state, "GFLOP/s", attention_flops);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> args = einvit_bench::take_threads(argc, argv, g_threads);
    int n = static_cast<int>(args.size());
    auto reg = [](const char* name, void (*fn)(benchmark::State&)) {
        benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMicrosecond)->UseRealTime();
    };
    reg("softmax/einvit", bm_softmax_einvit);
    reg("softmax/loops", bm_softmax_loops);
    reg("layer_norm_197/einvit", bm_layer_norm_einvit<197>);
    reg("layer_norm_197/loops", bm_layer_norm_loops<197>);
    reg("layer_norm_1576/einvit", bm_layer_norm_einvit<1576>);
    reg("layer_norm_1576/loops", bm_layer_norm_loops<1576>);
    reg("gelu/einvit", bm_gelu<0>);
    reg("gelu/rational_form", bm_gelu<1>);
    reg("gelu/loops", bm_gelu<2>);
    reg("attention/einvit_fused", bm_attention_einvit);
    reg("attention/naive_three_pass", bm_attention_naive);
    reg("attention/three_pass_einvit_gemm", bm_attention_three_pass_gemm);
    benchmark::Initialize(&n, args.data());
    einvit_bench::MedianCollector collector{"GB/s", "GFLOP/s", "Gvalues/s"};
    benchmark::RunSpecifiedBenchmarks(&collector);
    // a row for each pair of benchmarks that both ran (a --benchmark_filter may leave some out)
    const auto row = [&](const char* kernel, const char* shape, const char* unit, int digits, const char* ours,
                         const char* peer_name, const char* peer) {
        const double a = collector.get(ours), b = collector.get(peer);
        if (a > 0 && b > 0)
            std::printf("| %s | %s | %.*f %s | %s %.*f %s | %.2fx |\n", kernel, shape, digits, a, unit, peer_name, digits, b,
                        unit, a / b);
    };
    std::printf("\nViT-B/16 shapes, fp32, %d thread(s), %s (medians)\n", g_threads, einvit::simd::instruction_set());
    std::printf("| kernel | shape | einvit | peer | einvit / peer |\n|---|---|---|---|---|\n");
    row("softmax", "12 x 197 rows of 197", "GB/s", 1, "softmax/einvit", "loops", "softmax/loops");
    row("layer_norm", "197 x 768", "GB/s", 1, "layer_norm_197/einvit", "loops", "layer_norm_197/loops");
    row("layer_norm", "1576 x 768", "GB/s", 1, "layer_norm_1576/einvit", "loops", "layer_norm_1576/loops");
    row("gelu", "197 x 3072", "Gvalues/s", 2, "gelu/einvit", "loops (std::erf)", "gelu/loops");
    row("gelu", "197 x 3072", "Gvalues/s", 2, "gelu/einvit", "the rational form", "gelu/rational_form");
    row("attention", "(1, 12, 197, 64)", "GFLOP/s", 1, "attention/einvit_fused", "naive three-pass", "attention/naive_three_pass");
    row("attention", "(1, 12, 197, 64)", "GFLOP/s", 1, "attention/einvit_fused", "three-pass on einvit's GEMM",
        "attention/three_pass_einvit_gemm");
    benchmark::Shutdown();
    return 0;
}
