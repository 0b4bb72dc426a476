// gemm_ab: two builds of einvit's GEMM (A and B, see variant.cpp) and optionally OpenBLAS, timed in one
// process, alternating run by run on each shape, so that a host whose speed drifts from second to second
// slows both alike. Prints per shape the median GFLOP/s (2 M N K per second) of each, the median of the
// per-round ratios B/A (and each against OpenBLAS) and in how many rounds B was the faster.
//
//   gemm_ab [--rounds R] [--threads T] [--unpacked] [--no-strassen-a] [--no-strassen-b] [--openblas]
//           [--cold] [--gap MS] [--b-first] [--epilogue none|bias|gelu|relu] [--shapes M,K,N;M,K,N...]
//           (';' or ':' between shapes)
//
// --epilogue: what each product applies before its store (none by default; gelu is a bias then the
// exact GELU, as a ViT's fc1 does); OpenBLAS's product is always the plain one.
//
// Strassen's products (not --no-strassen-a/b) are taken wherever the shape fits. Their schedule
// (gemm::detail::StrassenSchedule) is the instruction set's own unless a build is given
// -DGEMM_AB_SCHEDULE=S (run.sh --a-flags / --b-flags): 1 rows per thread and sums in the first tile
// (the AVX-512 default), 2 column pairs per thread, 3 sums among the product before's multiply-adds,
// 4 both (the AVX2 default); e.g. on an AVX-512 host:
//   bench/gemm_ab/run.sh --a-flags -DGEMM_AB_SCHEDULE=1 --b-flags -DGEMM_AB_SCHEDULE=4 --rounds 15
//
// Each run multiplies for about 30 ms after 20 ms untimed; runs are --gap ms apart (2, or 150 with
// --openblas, whose threads spin for about 0.1 s after a call). A goes first in the first round, and
// sets up its operands first, unless --b-first. On a shared Zen 3 host two builds of the same code
// came out 2-10% apart, the one set up first the faster, in either order: run both orders and take
// the two ratios together (their geometric mean) before believing a change of a few per cent.
#include <cblas.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../bench_data.hpp"

double run_a(std::size_t, std::size_t, std::size_t, int, bool, bool, int, std::size_t, int);
double run_b(std::size_t, std::size_t, std::size_t, int, bool, bool, int, std::size_t, int);

namespace {

double run_openblas(std::size_t m, std::size_t k, std::size_t n, int iters, int threads, std::size_t copies) {
    static std::map<std::array<std::size_t, 4>, std::pair<std::vector<float>, std::vector<std::vector<float>>>> cases;
    static std::vector<float> y;
    openblas_set_num_threads(threads);
    auto& [x, ws] = cases[{m, k, n, copies}];
    if (x.empty()) {  // the operands gemm_ab's einvit builds multiply
        x = einvit_bench::random_vector(m * k, 1);
        ws.assign(copies, einvit_bench::random_vector(n * k, 2));
    }
    y.resize(m * n);
    std::size_t next = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                    1.0f, x.data(), static_cast<int>(k), ws[next].data(), static_cast<int>(k), 0.0f, y.data(), static_cast<int>(n));
        next = next + 1 == ws.size() ? 0 : next + 1;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

// --epilogue's names, in variant.cpp's numbering
const char* const epilogues[] = {"none", "bias", "gelu", "relu"};

int main(int argc, char** argv) {
    int rounds = 15, threads = 2, gap = -1, epilogue = 0;
    bool packed = true, strassen_a = true, strassen_b = true, openblas = false, cold = false, b_first = false;
    std::string spec = "197,768,2304;197,768,3072;197,3072,768;197,768,768;1576,768,2304;1576,768,3072;1576,3072,768;1576,768,768";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&] {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "gemm_ab: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return std::string(argv[++i]);
        };
        if (a == "--rounds") rounds = std::max(1, std::atoi(value().c_str()));
        else if (a == "--threads") threads = std::max(1, std::atoi(value().c_str()));
        else if (a == "--gap") gap = std::max(0, std::atoi(value().c_str()));
        else if (a == "--shapes") spec = value();
        else if (a == "--unpacked") packed = false;
        else if (a == "--no-strassen-a") strassen_a = false;
        else if (a == "--no-strassen-b") strassen_b = false;
        else if (a == "--openblas") openblas = true;
        else if (a == "--cold") cold = true;
        else if (a == "--b-first") b_first = true;
        else if (a == "--epilogue") {
            const std::string e = value();
            epilogue = -1;
            for (int j = 0; j < 4; ++j)
                if (e == epilogues[j]) epilogue = j;
            if (epilogue < 0) {
                std::fprintf(stderr, "gemm_ab: --epilogue is none, bias, gelu or relu, not %s\n", e.c_str());
                return 2;
            }
        }
        else {
            std::fprintf(stderr, "gemm_ab: unknown argument %s (see the comment at the top of main.cpp)\n", a.c_str());
            return 2;
        }
    }
    if (gap < 0) gap = openblas ? 150 : 2;
    std::vector<std::array<std::size_t, 3>> shapes;
    for (std::size_t pos = 0; pos < spec.size();) {
        std::size_t end = spec.find_first_of(";:", pos);
        if (end == std::string::npos) end = spec.size();
        std::array<std::size_t, 3> s{};
        if (std::sscanf(spec.c_str() + pos, "%zu,%zu,%zu", &s[0], &s[1], &s[2]) != 3 || !s[0] || !s[1] || !s[2]) {
            std::fprintf(stderr, "gemm_ab: a shape is M,K,N with each at least 1: %s\n", spec.substr(pos, end - pos).c_str());
            return 2;
        }
        shapes.push_back(s);
        pos = end + 1;
    }
    std::printf("%d threads, %s W%s, epilogue %s, %d rounds, runs %d ms apart; A strassen %s, B strassen %s\n", threads,
                packed ? "pre-packed" : "unpacked", cold ? " from memory" : "", epilogues[epilogue], rounds, gap,
                strassen_a ? "on" : "off", strassen_b ? "on" : "off");
    for (const auto& [m, k, n] : shapes) {
        const double flop = 2.0 * double(m) * double(k) * double(n);
        const int iters = std::max(1, static_cast<int>(0.03 / (flop / 150e9)));
        const std::size_t copies = cold ? (96u << 20) / (n * k * sizeof(float)) + 1 : 1;
        std::vector<double> ga, gb, go, b_over_a, a_over_o, b_over_o;
        for (int r = 0; r < rounds; ++r) {
            double t[3] = {0, 0, 0};
            for (int slot = 0; slot < (openblas ? 3 : 2); ++slot) {
                // the order rotates round by round, so that each goes first as often as the others
                const int which = openblas ? (slot + r) % 3 : (slot + r + (b_first ? 1 : 0)) % 2;
                std::this_thread::sleep_for(std::chrono::milliseconds(gap));
                const int warm = std::max(1, iters * 2 / 3);
                if (which == 0) run_a(m, k, n, warm, packed, strassen_a, threads, copies, epilogue), t[0] = run_a(m, k, n, iters, packed, strassen_a, threads, copies, epilogue);
                if (which == 1) run_b(m, k, n, warm, packed, strassen_b, threads, copies, epilogue), t[1] = run_b(m, k, n, iters, packed, strassen_b, threads, copies, epilogue);
                if (which == 2) run_openblas(m, k, n, warm, threads, copies), t[2] = run_openblas(m, k, n, iters, threads, copies);
            }
            ga.push_back(flop / t[0] / 1e9);
            gb.push_back(flop / t[1] / 1e9);
            b_over_a.push_back(t[0] / t[1]);
            if (openblas) {
                go.push_back(flop / t[2] / 1e9);
                a_over_o.push_back(t[2] / t[0]);
                b_over_o.push_back(t[2] / t[1]);
            }
        }
        const long faster = std::count_if(b_over_a.begin(), b_over_a.end(), [](double x) { return x > 1; });
        std::printf("M %5zu K %5zu N %5zu  A %6.1f  B %6.1f GFLOP/s  B/A %.3f (B faster in %ld of %d)", m, k, n, median(ga),
                    median(gb), median(b_over_a), faster, rounds);
        if (openblas) std::printf("  OpenBLAS %6.1f  A/OpenBLAS %.3f  B/OpenBLAS %.3f", median(go), median(a_over_o), median(b_over_o));
        std::printf("\n");
        std::fflush(stdout);
    }
}
