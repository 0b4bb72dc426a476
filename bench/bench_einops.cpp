// einops operations at their speed limits.
//
// rearrange: a 1x3x224x224 image into 196 patches of 16x16x3 (the ViT patch embedding's einops form),
// against memcpy of the same 602,112 bytes. The rearrange is a tiled transpose (c moves innermost), so
// memcpy's bandwidth is its ceiling.
// einsum: the attention scores of ViT-B/16, "bhid,bhjd->bhij" with b=1, h=12, i=j=197, d=64, against
// the GEMM kernel called directly on the same operands, head by head.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include <einvit/einvit.hpp>

namespace {

using einvit::Shape;
using Image = einvit::Tensor<float, Shape<1, 3, 224, 224>>;
using Patches = einvit::Tensor<float, Shape<1, 196, 768>>;
constexpr std::size_t image_bytes = Image::size() * sizeof(float);

void fill(float* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<float>(i % 251) * 0.01f - 1.0f;
}

void BM_memcpy_image(benchmark::State& state) {
    Image src;
    Patches dst;
    fill(src.data(), src.size());
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), image_bytes);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * image_bytes));
}

void BM_rearrange_patches_into(benchmark::State& state) {
    Image src;
    Patches dst;
    fill(src.data(), src.size());
    for (auto _ : state) {
        einvit::rearrange_into<"b c (h p1) (w p2) -> b (h w) (p1 p2 c)", einvit::axis<"p1", 16>, einvit::axis<"p2", 16>>(dst, src);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * image_bytes));
}

void BM_rearrange_patches_new_tensor(benchmark::State& state) {
    Image src;
    fill(src.data(), src.size());
    for (auto _ : state) {
        auto dst = einvit::rearrange<"b c (h p1) (w p2) -> b (h w) (p1 p2 c)", einvit::axis<"p1", 16>, einvit::axis<"p2", 16>>(src);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * image_bytes));
}

using Heads = einvit::Tensor<float, Shape<1, 12, 197, 64>>;
constexpr double score_flops = 2.0 * 12 * 197 * 197 * 64;

void BM_einsum_attention_scores(benchmark::State& state) {
    Heads q, k;
    fill(q.data(), q.size());
    fill(k.data(), k.size());
    for (auto _ : state) {
        auto s = einvit::einsum<"bhid,bhjd->bhij">(q, k);
        benchmark::DoNotOptimize(s.data());
        benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] = benchmark::Counter(score_flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void BM_gemm_kernel_attention_scores(benchmark::State& state) {
    Heads q, k;
    fill(q.data(), q.size());
    fill(k.data(), k.size());
    einvit::Tensor<float, Shape<1, 12, 197, 197>> s;
    for (auto _ : state) {
        for (std::size_t h = 0; h < 12; ++h) {
            const float* qh = q.data() + h * 197 * 64;
            const float* kh = k.data() + h * 197 * 64;
            // scores_h = q_h (197 x 64) . k_h^T (64 x 197): B's element (d, j) is k_h[j * 64 + d].
            einvit::gemm::multiply(einvit::cpu{}, 197, 197, 64, einvit::gemm::Strided<float>{qh, 64, 1},
                                   einvit::gemm::Strided<float>{kh, 1, 64}, s.data() + h * 197 * 197, 197);
        }
        benchmark::DoNotOptimize(s.data());
        benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] = benchmark::Counter(score_flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

}  // namespace

BENCHMARK(BM_memcpy_image)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rearrange_patches_into)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rearrange_patches_new_tensor)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gemm_kernel_attention_scores)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_einsum_attention_scores)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
