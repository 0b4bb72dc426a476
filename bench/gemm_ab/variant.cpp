// One build of einvit's GEMM for gemm_ab: compiled twice, with -Deinvit=einvit_a -DGEMM_AB_RUN=run_a and
// with einvit_b / run_b (and each its own include path or flags), so that two versions of the headers
// live in one program, each with its own thread pool and buffers.
#include <einvit/einvit.hpp>

#include "../bench_data.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

namespace {

struct Case {
    std::vector<float> x, w, y, bias;
    std::vector<std::unique_ptr<einvit::gemm::PackedB<float>>> packed;  // several copies: weights from memory
    std::size_t next = 0;
};

}  // namespace

// Seconds per product y = x Wᵀ (x: m x k, W: n x k), averaged over `iters` products: W pre-packed or not,
// Strassen's products on or off, on `threads` threads, cycling through `copies` packed copies of W, with
// `epilogue` 0 (none), 1 (a bias), 2 (a bias, then the exact GELU) or 3 (a bias, then ReLU).
double GEMM_AB_RUN(std::size_t m, std::size_t k, std::size_t n, int iters, bool packed, bool strassen, int threads,
                   std::size_t copies, int epilogue) {
    static std::map<std::tuple<std::size_t, std::size_t, std::size_t, std::size_t>, Case> cases;
    einvit::set_num_threads(static_cast<std::size_t>(threads));
    einvit::gemm::set_strassen(strassen);
#ifdef GEMM_AB_SCHEDULE
    einvit::gemm::detail::strassen_schedule_override().store(GEMM_AB_SCHEDULE);  // see main.cpp
#endif
    Case& c = cases[{m, k, n, copies}];
    if (c.x.empty()) {
        c.x = einvit_bench::random_vector(m * k, 1);
        c.w = einvit_bench::random_vector(n * k, 2);
        c.y.resize(m * n);
        for (std::size_t i = 0; i < copies; ++i)
            c.packed.push_back(std::make_unique<einvit::gemm::PackedB<float>>(einvit::gemm::Strided<float>{c.w.data(), 1, k}, k, n));
    }
    const einvit::gemm::Strided<float> x{c.x.data(), k, 1};
    if (c.bias.empty()) c.bias = einvit_bench::random_vector(n, 3);
    einvit::gemm::Epilogue<float> ep;
    ep.bias = epilogue > 0 ? c.bias.data() : nullptr;
    ep.activation = epilogue == 2 ? einvit::gemm::Activation::gelu_erf
                    : epilogue == 3 ? einvit::gemm::Activation::relu
                                    : einvit::gemm::Activation::none;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
        if (packed) {
            einvit::gemm::multiply(einvit::cpu{}, m, x, *c.packed[c.next], c.y.data(), n, ep);
            c.next = c.next + 1 == c.packed.size() ? 0 : c.next + 1;
        } else {
            einvit::gemm::multiply(einvit::cpu{}, m, n, k, x, einvit::gemm::Strided<float>{c.w.data(), 1, k}, c.y.data(), n, ep);
        }
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
}
