// A whole ViT forward pass: ViT-Ti/16 and ViT-S/16 (timm's configs, random weights: the time does not
// depend on their values) at one image and at batch 8, and the first 1 and 4 images of a batch built
// for 8 (forward_into_first), which should cost what that many images do, not the batch's 8. Images/s
// per row; --threads=N as the other benchmarks (default: every hardware thread).
//
//     build/bench/einvit_bench_vit --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <einvit/einvit.hpp>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "../tests/vit/random_weights.hpp"
#include "bench_common.hpp"

namespace {

int g_threads = 0;

// `count` images of a batch built for B: forward_into<B> when count == B, forward_into_first otherwise
template <einvit::vit::Config C, std::size_t B>
void BM_vit(benchmark::State& state) {
    using Model = einvit::vit::VisionTransformer<C>;
    static const Model model = [] {
        auto m = Model::try_create(einvit_test::random_weights<C>());
        if (!m) {
            std::fprintf(stderr, "%s\n", m.failure().what());
            std::exit(1);
        }
        return std::move(m).value();
    }();
    const std::size_t count = static_cast<std::size_t>(state.range(0));
    std::vector<float> image(B * C.channels * C.image_height * C.image_width);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> pixel(-1.0f, 1.0f);
    for (float& p : image) p = pixel(rng);
    typename Model::template Output<B> out;
    typename Model::template Workspace<B> workspace;
    const typename Model::template Input<B> input(image.data());
    for (auto _ : state) {
        if (count == B)
            model.template forward_into<B>(input, out, workspace);
        else
            model.template forward_into_first<B>(count, input, out, workspace);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["images/s"] = benchmark::Counter(static_cast<double>(count), benchmark::Counter::kIsIterationInvariantRate);
}

constexpr auto tiny = einvit::vit::presets::vit_tiny_patch16_224;
constexpr auto small = einvit::vit::presets::vit_small_patch16_224;

}  // namespace

BENCHMARK(BM_vit<tiny, 1>)->Name("vit_tiny/batch_1")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<tiny, 8>)->Name("vit_tiny/batch_8")->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<tiny, 8>)->Name("vit_tiny/first_1_of_8")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<tiny, 8>)->Name("vit_tiny/first_4_of_8")->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<small, 1>)->Name("vit_small/batch_1")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<small, 8>)->Name("vit_small/first_1_of_8")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
    std::vector<char*> args = einvit_bench::take_threads(argc, argv, g_threads);
    if (g_threads > 0) einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
