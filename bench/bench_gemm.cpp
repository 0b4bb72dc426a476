// GEMM on ViT shapes: einvit against OpenBLAS (cblas_sgemm) and Eigen, all on the same thread count,
// plus the machine's measured FMA peak, in one run.
//
// The product is a linear layer, y = x · W^T with x (M x K) and W (N x K) as PyTorch stores them:
// M = 197 tokens (1576 for batch 8), (K, N) the shapes of ViT-B/16's qkv, fc1, fc2 and proj layers
// and their ViT-S and ViT-Ti equivalents. einvit is timed with W pre-packed (as a loaded model holds
// it) and unpacked. After the runs a table gives GFLOP/s per library, einvit's ratio to the best peer
// and its fraction of the FMA peak (einvit's packed products take Strassen's algorithm where it fits,
// 7/8 of the multiply-adds: by default for the shapes where the instruction set measured it faster;
// EINVIT_BENCH_STRASSEN=0 or 1 turns it off or on everywhere). A second table times ViT-B's layers at
// M = 197 with W coming from memory, as in a model whose weights exceed the caches; a third, the
// micro-kernel alone on one thread against one core's peak: the ceiling under the products' figures.
// A line between them sums up ViT-B's products against OpenBLAS and the peak, and names the shape
// timed that came closest to OpenBLAS.
//
// OpenBLAS chooses its kernels by the CPU model it recognises or by OPENBLAS_CORETYPE, and Debian
// 12's 0.3.21 runs its AVX2 (Haswell) kernels on AVX-512 CPUs it does not know (AMD's Zen 4 among
// them), at about half its speed; some environments also set OPENBLAS_CORETYPE=Haswell. To race
// OpenBLAS at its best, on a CPU with AVX-512 F, BW, DQ and VL the benchmark gives it its AVX-512
// kernels (OPENBLAS_CORETYPE=SKYLAKEX, and no OPENBLAS_L2_SIZE: OpenBLAS reads both when it loads, so
// the program starts itself again with them), unless EINVIT_BENCH_OPENBLAS_CORETYPE names other
// kernels. The table names the kernels OpenBLAS ran.
//
//   build/bench/einvit_bench_gemm [--threads=N] [--benchmark_repetitions=5]
// einvit first: it silences g++ 12's false maybe-uninitialized warnings in the AVX-512 intrinsics
// headers, which only works when it is the first to include them.
#include <einvit/einvit.hpp>

#include <benchmark/benchmark.h>
#include <cblas.h>

#include "bench_common.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

using einvit_bench::random_vector;

// Every library's worker threads keep spinning a while after a call (OpenBLAS's for about 0.1 s), so
// whichever library is timed next would share the cores with them. Each benchmark waits for them to
// go to sleep before its timing starts, then runs its product untimed for 50 ms: on a shared virtual
// machine the cores come back from that pause slowly (on a Zen 3 host, 30 ms runs of one product
// measured up to 25% slower after a 150 ms pause than right after another run).
template <class F>
void settle(F&& op) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    const auto start = std::chrono::steady_clock::now();
    do op();
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(50));
}

int g_threads = 2;

struct GemmShape {
    const char* model;
    const char* layer;
    std::size_t m, k, n;
};

const std::vector<GemmShape>& shapes() {
    static const std::vector<GemmShape> list = [] {
        std::vector<GemmShape> v;
        struct Model {
            const char* name;
            std::size_t d;
        };
        for (Model md : {Model{"B", 768}, Model{"S", 384}, Model{"Ti", 192}}) {
            for (std::size_t m : {197u, 1576u}) {
                v.push_back({md.name, "qkv", m, md.d, 3 * md.d});
                v.push_back({md.name, "fc1", m, md.d, 4 * md.d});
                v.push_back({md.name, "fc2", m, 4 * md.d, md.d});
                v.push_back({md.name, "proj", m, md.d, md.d});
            }
        }
        return v;
    }();
    return list;
}

double flops(const GemmShape& s) { return 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k); }

void set_flops(benchmark::State& state, const GemmShape& s) { einvit_bench::set_rate(state, "GFLOP/s", flops(s)); }

// In a model every layer has weights of its own, and ViT-B's 330 MB of them come from memory, not from
// the caches: the "cold" runs (copies > 1) cycle through copies of W filling 3x the last-level cache
// (about 96 MB), one copy per product.
std::size_t cold_copies(const GemmShape& s) { return (96u << 20) / (s.n * s.k * sizeof(float)) + 1; }

void bm_einvit_packed(benchmark::State& state, GemmShape s, std::size_t copies) {
    auto x = random_vector(s.m * s.k, 1), w = random_vector(s.n * s.k, 2);
    std::vector<float> y(s.m * s.n);
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    std::vector<einvit::gemm::PackedB<float>> packed;
    for (std::size_t i = 0; i < copies; ++i) packed.emplace_back(einvit::gemm::Strided<float>{w.data(), 1, s.k}, s.k, s.n);
    std::size_t next = 0;
    const auto op = [&] {
        einvit::gemm::multiply(einvit::cpu{}, s.m, einvit::gemm::Strided<float>{x.data(), s.k, 1}, packed[next], y.data(), s.n);
        next = next + 1 == packed.size() ? 0 : next + 1;
    };
    settle(op);
    for (auto _ : state) {
        op();
        benchmark::DoNotOptimize(y.data());
    }
    set_flops(state, s);
}

void bm_einvit_unpacked(benchmark::State& state, GemmShape s) {
    auto x = random_vector(s.m * s.k, 1), w = random_vector(s.n * s.k, 2);
    std::vector<float> y(s.m * s.n);
    einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    const auto op = [&] {
        einvit::gemm::multiply(einvit::cpu{}, s.m, s.n, s.k, einvit::gemm::Strided<float>{x.data(), s.k, 1},
                               einvit::gemm::Strided<float>{w.data(), 1, s.k}, y.data(), s.n);
    };
    settle(op);
    for (auto _ : state) {
        op();
        benchmark::DoNotOptimize(y.data());
    }
    set_flops(state, s);
}

void bm_openblas(benchmark::State& state, GemmShape s, std::size_t copies) {
    auto x = random_vector(s.m * s.k, 1), w = random_vector(s.n * s.k, 2);
    std::vector<float> y(s.m * s.n);
    std::vector<std::vector<float>> ws(copies, w);
    openblas_set_num_threads(g_threads);
    einvit::set_num_threads(1);  // keep einvit's spinning workers out of OpenBLAS's way
    std::size_t next = 0;
    const auto op = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                    static_cast<int>(s.k), 1.0f, x.data(), static_cast<int>(s.k), ws[next].data(), static_cast<int>(s.k),
                    0.0f, y.data(), static_cast<int>(s.n));
        next = next + 1 == ws.size() ? 0 : next + 1;
    };
    settle(op);
    for (auto _ : state) {
        op();
        benchmark::DoNotOptimize(y.data());
    }
    set_flops(state, s);
}

void bm_eigen(benchmark::State& state, GemmShape s) {
    auto x = random_vector(s.m * s.k, 1), w = random_vector(s.n * s.k, 2);
    std::vector<float> y(s.m * s.n);
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const RowMajor> X(x.data(), static_cast<Eigen::Index>(s.m), static_cast<Eigen::Index>(s.k));
    Eigen::Map<const RowMajor> W(w.data(), static_cast<Eigen::Index>(s.n), static_cast<Eigen::Index>(s.k));
    Eigen::Map<RowMajor> Y(y.data(), static_cast<Eigen::Index>(s.m), static_cast<Eigen::Index>(s.n));
    Eigen::setNbThreads(g_threads);
    einvit::set_num_threads(1);
    const auto op = [&] { Y.noalias() = X * W.transpose(); };
    settle(op);
    for (auto _ : state) {
        op();
        benchmark::DoNotOptimize(y.data());
    }
    set_flops(state, s);
}


// The FMA peak of `threads` threads (the run's thread count; one for the micro-kernel's fraction).
void bm_fma_peak(benchmark::State& state, int threads) {
    constexpr std::size_t W = einvit::simd::width<float>;
    constexpr std::size_t chains = 12, steps = 200000;
    einvit::set_num_threads(static_cast<std::size_t>(threads));
    const auto op = [&] {
        einvit::parallel_for(static_cast<std::size_t>(threads), 1, [&](std::size_t, std::size_t) {
            std::size_t n = steps;
            benchmark::DoNotOptimize(n);  // a count the compiler cannot see: the chains run every time, not once
            benchmark::DoNotOptimize(einvit_bench::fma_chains(n, std::make_index_sequence<chains>{}));
        });
    };
    settle(op);
    for (auto _ : state) op();
    einvit_bench::set_rate(state, "GFLOP/s", 2.0 * W * chains * steps * threads);
}

// The micro-kernel alone on one thread, its operands in the caches: a block of 8 row tiles of A (in L2)
// against one packed B panel, each tile's product added into one or two destinations in C (rows N =
// 2304 floats apart, as ViT-B's qkv output; the second destination half a row on and a block down,
// as Strassen's products add a tile into two quadrants). The ceiling under the products' figures, at
// the depths their calls have: 768 (the plain product at K = 768), 384 and 192 (Strassen's
// halves of K = 768 and 384).
void bm_micro_kernel(benchmark::State& state, std::size_t depth, std::size_t dests) {
    constexpr std::size_t MR = einvit::gemm::mr<float>, NR = einvit::gemm::nr<float>, tiles = 8, ldc = 2304;
    const std::vector<float> a = random_vector(tiles * MR * depth, 1), b = random_vector(depth * NR, 2);
    std::vector<float> c(2 * tiles * MR * ldc, 0.0f);
    const einvit::gemm::Epilogue<float> ep{};
    using Dest = einvit::gemm::detail::TileDest<float>;
    const auto op = [&] {
        for (std::size_t j = 0; j < tiles; ++j) {
            const Dest d[2] = {{c.data() + j * MR * ldc, ldc, MR, 0, 0, true, false, false},
                               {c.data() + (tiles + j) * MR * ldc + ldc / 2, ldc, MR, 0, 0, true, false, false}};
            einvit::gemm::detail::tile_kernel<float, false>(MR, depth, a.data() + j * MR * depth, b.data(), NR, ep, nullptr, 0, d,
                                                            dests);
        }
    };
    settle(op);
    for (auto _ : state) {
        op();
        benchmark::ClobberMemory();
    }
    einvit_bench::set_rate(state, "GFLOP/s", 2.0 * MR * NR * depth * tiles);
}
constexpr std::size_t micro_kernel_depths[] = {192, 384, 768};
std::string micro_kernel_name(std::size_t depth, std::size_t dests) {
    return "micro_kernel/depth" + std::to_string(depth) + "/dests" + std::to_string(dests);
}

std::string name(const char* lib, const GemmShape& s) {
    return std::string(lib) + "/ViT-" + s.model + "/" + s.layer + "/M" + std::to_string(s.m) + "_K" + std::to_string(s.k) +
           "_N" + std::to_string(s.n);
}

}  // namespace

int main(int argc, char** argv) {
    if (!std::getenv("EINVIT_BENCH_RESTARTED")) {
        const char* wanted = std::getenv("EINVIT_BENCH_OPENBLAS_CORETYPE");
        if (!wanted && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            wanted = "SKYLAKEX";
        if (wanted) {
            setenv("OPENBLAS_CORETYPE", wanted, 1);
            unsetenv("OPENBLAS_L2_SIZE");
            setenv("EINVIT_BENCH_RESTARTED", "1", 1);
            execv("/proc/self/exe", argv);  // returns only on failure: then OpenBLAS keeps the kernels it chose
        }
    }
    std::vector<char*> args = einvit_bench::take_threads(argc, argv, g_threads);
    if (const char* strassen = std::getenv("EINVIT_BENCH_STRASSEN")) einvit::gemm::set_strassen(std::strcmp(strassen, "0") != 0);
    int n = static_cast<int>(args.size());
    benchmark::RegisterBenchmark("fma_peak", bm_fma_peak, g_threads)->Unit(benchmark::kMillisecond)->UseRealTime();
    // Libraries alternate shape by shape, so a noisy stretch of time hurts all of them alike.
    for (const auto& s : shapes()) {
        benchmark::RegisterBenchmark(name("einvit_packed", s).c_str(), bm_einvit_packed, s, std::size_t{1})->Unit(benchmark::kMicrosecond)->UseRealTime();
        benchmark::RegisterBenchmark(name("openblas", s).c_str(), bm_openblas, s, std::size_t{1})->Unit(benchmark::kMicrosecond)->UseRealTime();
        benchmark::RegisterBenchmark(name("eigen", s).c_str(), bm_eigen, s)->Unit(benchmark::kMicrosecond)->UseRealTime();
        benchmark::RegisterBenchmark(name("einvit_unpacked", s).c_str(), bm_einvit_unpacked, s)->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
    for (const auto& s : shapes()) {
        if (std::string(s.model) != "B" || s.m != 197) continue;
        benchmark::RegisterBenchmark(name("einvit_packed_cold", s).c_str(), bm_einvit_packed, s, cold_copies(s))->Unit(benchmark::kMicrosecond)->UseRealTime();
        benchmark::RegisterBenchmark(name("openblas_cold", s).c_str(), bm_openblas, s, cold_copies(s))->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
    benchmark::RegisterBenchmark("fma_peak_one_core", bm_fma_peak, 1)->Unit(benchmark::kMillisecond)->UseRealTime();
    for (const std::size_t depth : micro_kernel_depths)
        for (const std::size_t dests : {std::size_t{1}, std::size_t{2}})
            benchmark::RegisterBenchmark(micro_kernel_name(depth, dests).c_str(), bm_micro_kernel, depth, dests)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
    benchmark::Initialize(&n, args.data());
    einvit_bench::MedianCollector collector{"GFLOP/s"};
    benchmark::RunSpecifiedBenchmarks(&collector);

    const double peak = collector.get("fma_peak");
    // "*" after einvit packed's figure: the shape took one level of Strassen's algorithm
    const auto strassen_mark = [](const GemmShape& s) {
        const std::size_t panels = (s.n + einvit::gemm::nr<float> - 1) / einvit::gemm::nr<float>;
        return einvit::gemm::detail::strassen_fits<float>(s.m, s.n, s.k, einvit::gemm::depth_block<float>(s.k), 0, panels) ? "*" : "";
    };
    std::printf("\nGEMM y = x W^T, fp32, %d thread(s), %s; FMA peak measured: %.0f GFLOP/s; OpenBLAS %s kernels\n",
                g_threads, einvit::simd::instruction_set(), peak, openblas_get_corename());
    std::printf("| model | layer | M | K | N | einvit packed | einvit unpacked | OpenBLAS | Eigen | einvit / best peer | of peak |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& s : shapes()) {
        auto get = [&](const char* lib) { return collector.get(name(lib, s)); };
        const double e = get("einvit_packed"), u = get("einvit_unpacked"), o = get("openblas"), g = get("eigen");
        if (e == 0.0) continue;
        const double best = std::max(o, g);
        std::printf("| ViT-%s | %s | %zu | %zu | %zu | %.0f%s | %.0f | %.0f | %.0f | %.2fx | %.0f%% |\n", s.model, s.layer, s.m, s.k,
                    s.n, e, strassen_mark(s), u, o, g, best > 0 ? e / best : 0.0, peak > 0 ? 100.0 * e / peak : 0.0);
    }
    // the summary: ViT-B's products against OpenBLAS and the peak, and the listed shape closest to OpenBLAS
    {
        double b_low = 0, b_high = 0, b_peak = 0, low = 0;
        const GemmShape *closest = nullptr, *b_lowest = nullptr;
        for (const auto& s : shapes()) {
            const double e = collector.get(name("einvit_packed", s)), o = collector.get(name("openblas", s));
            if (e == 0.0 || o == 0.0) continue;
            const double r = e / o, f = peak > 0 ? e / peak : 0.0;
            if (!closest || r < low) low = r, closest = &s;
            if (std::string(s.model) != "B") continue;
            if (!b_lowest || r < b_low) b_low = r, b_lowest = &s;
            b_high = std::max(b_high, r);
            b_peak = b_peak == 0 ? f : std::min(b_peak, f);
        }
        if (b_high > 0) {
            // the lowest to three places, as a criterion such as "at least 1.15x" reads it (1.145 is not 1.15)
            std::printf("\nViT-B's products: %.2f-%.2fx OpenBLAS (the lowest %s at M = %zu, %.3fx)", b_low, b_high, b_lowest->layer,
                        b_lowest->m, b_low);
            if (peak > 0) std::printf(", at least %.0f%% of the peak", 100.0 * b_peak);
            std::printf(".");
        }
        if (closest)
            std::printf("%sClosest to OpenBLAS of the shapes timed: ViT-%s %s at M = %zu, %.2fx.\n", b_high > 0 ? " " : "\n",
                        closest->model, closest->layer, closest->m, low);
    }
    const einvit::gemm::StrassenUse use = einvit::gemm::strassen_use();
    std::printf("\nGFLOP/s are 2 M N K per second for every library. einvit packed's figures marked * took one level of "
                "Strassen's algorithm, 7/8 of the multiply-adds, so they can pass 100%% of the peak: %s.\n",
                use == einvit::gemm::StrassenUse::never              ? "nowhere (EINVIT_BENCH_STRASSEN=0)"
                : use == einvit::gemm::StrassenUse::wherever_it_fits ? "wherever the shape fits (EINVIT_BENCH_STRASSEN=1)"
                                                                     : "by default, for the shapes where this instruction set "
                                                                       "measured it faster; EINVIT_BENCH_STRASSEN=0 takes it "
                                                                       "nowhere, 1 wherever the shape fits");
    std::printf("\nThe same with W from memory (cycling through copies filling about 96 MB), as in a model:\n");
    std::printf("| model | layer | M | K | N | einvit packed | OpenBLAS | einvit / OpenBLAS | of peak |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& s : shapes()) {
        const double e = collector.get(name("einvit_packed_cold", s)), o = collector.get(name("openblas_cold", s));
        if (e == 0.0) continue;
        std::printf("| ViT-%s | %s | %zu | %zu | %zu | %.0f%s | %.0f | %.2fx | %.0f%% |\n", s.model, s.layer, s.m, s.k, s.n, e,
                    strassen_mark(s), o, o > 0 ? e / o : 0.0, peak > 0 ? 100.0 * e / peak : 0.0);
    }
    const double core_peak = collector.get("fma_peak_one_core");
    bool header = false;
    for (const std::size_t depth : micro_kernel_depths) {
        const double one = collector.get(micro_kernel_name(depth, 1)), two = collector.get(micro_kernel_name(depth, 2));
        if (one == 0.0 && two == 0.0) continue;
        if (!header) {
            std::printf("\nThe micro-kernel alone (%zu x %zu tiles), one thread, its operands in the caches; one core's FMA "
                        "peak measured: %.0f GFLOP/s:\n| depth | one destination | of peak | two destinations | of peak |\n"
                        "|---|---|---|---|---|\n",
                        einvit::gemm::mr<float>, einvit::gemm::nr<float>, core_peak);
            header = true;
        }
        std::printf("| %zu | %.0f | %.0f%% | %.0f | %.0f%% |\n", depth, one, core_peak > 0 ? 100.0 * one / core_peak : 0.0, two,
                    core_peak > 0 ? 100.0 * two / core_peak : 0.0);
    }
    benchmark::Shutdown();
    return 0;
}
