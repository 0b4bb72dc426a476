// The GEMM kernel against a double-precision loop and the scalar reference kernel: odd sizes, tails,
// 1-row and 1-column products, strided and transposed operands, every epilogue, pre-packed B, deep
// products (several k blocks), and thread counts 1, 2 and 3 giving bit-identical results.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <einvit/einvit.hpp>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#if defined(__unix__)
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "alloc_counter.hpp"
#include "test_util.hpp"

namespace {

using einvit::gemm::Activation;
using einvit::gemm::Epilogue;
using einvit::gemm::Strided;

// The deepest block of a product on this target (gemm::max_kc: 768, or 4096 on AVX2). The depths meant
// to take several blocks are counted from it, so that every target runs its multi-block paths.
constexpr std::size_t KC = einvit::gemm::max_kc<float>;

struct Problem {
    std::size_t m, n, k;
    bool a_transposed, b_transposed;
};

// Operands stored with padding between rows (ld > extent), so strides are really exercised.
struct Operands {
    std::vector<float> a, b, bias, residual;
    Strided<float> sa, sb;
    std::size_t lda, ldb;
};

Operands make(const Problem& p, std::uint64_t seed) {
    Operands o;
    einvit_test::Rng rng(seed);
    auto fill = [&](std::vector<float>& v, std::size_t count) {
        v.resize(count);
        for (auto& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
    };
    // A is m x k: row-major with lda = k + 3, or stored transposed (k x m, ld = m + 5).
    o.lda = p.a_transposed ? p.m + 5 : p.k + 3;
    fill(o.a, (p.a_transposed ? p.k : p.m) * o.lda + 1);
    o.sa = p.a_transposed ? Strided<float>{o.a.data(), 1, o.lda} : Strided<float>{o.a.data(), o.lda, 1};
    // B is k x n: row-major with ldb = n + 2, or as PyTorch's weight (n x k, ld = k + 1).
    o.ldb = p.b_transposed ? p.k + 1 : p.n + 2;
    fill(o.b, (p.b_transposed ? p.n : p.k) * o.ldb + 1);
    o.sb = p.b_transposed ? Strided<float>{o.b.data(), 1, o.ldb} : Strided<float>{o.b.data(), o.ldb, 1};
    fill(o.bias, p.n);
    fill(o.residual, p.m * (p.n + 7));
    return o;
}

double activate(double x, Activation act) {
    switch (act) {
        case Activation::gelu_erf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        case Activation::gelu_tanh: return 0.5 * x * (1.0 + std::tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
        case Activation::relu: return x > 0 ? x : 0;
        case Activation::tanh: return std::tanh(x);
        case Activation::quick_gelu: return x / (1.0 + std::exp(-1.702 * x));
        case Activation::none: break;
    }
    return x;
}

// Checks c (m x n, row stride ldc) against the product computed in double.
void check_against_double(const Problem& p, const Operands& o, const Epilogue<float>& ep, const float* c, std::size_t ldc,
                          const float* start = nullptr) {
    std::size_t bad = 0;
    for (std::size_t i = 0; i < p.m; ++i)
        for (std::size_t j = 0; j < p.n; ++j) {
            double acc = start ? start[i * ldc + j] : 0.0, mag = start ? std::fabs(start[i * ldc + j]) : 0.0;
            for (std::size_t kk = 0; kk < p.k; ++kk) {
                const double prod = double(o.sa.data[i * o.sa.row_stride + kk * o.sa.col_stride]) *
                                    double(o.sb.data[kk * o.sb.row_stride + j * o.sb.col_stride]);
                acc += prod;
                mag += std::fabs(prod);
            }
            if (ep.bias) acc += ep.bias[j];
            acc = activate(acc, ep.activation);
            if (ep.residual) acc += ep.residual[i * ep.residual_ld + j];
            // float accumulation error grows with k times the magnitude of the terms
            const double tol = 4e-7 * (mag + 1.0) * std::sqrt(double(p.k) + 1.0) + 2e-6 * std::fabs(acc);
            if (!(std::fabs(c[i * ldc + j] - acc) <= tol)) ++bad;
        }
    CHECK_MESSAGE(bad == 0, "m=" << p.m << " n=" << p.n << " k=" << p.k << ": " << bad << " elements off");
}

const Problem problems[] = {
    {1, 1, 1, false, false},     {1, 37, 5, false, true},    {13, 1, 300, true, false},  {15, 33, 17, false, false},
    {29, 65, 129, true, true},   {197, 96, 64, false, true}, {14, 32, 768, false, true}, {43, 70, 1600, false, true},
    {3, 200, 2305, true, false}, {200, 3, 31, false, false},
};

}  // namespace

TEST_CASE("gemm: plain products of every size and layout match a double-precision loop") {
    for (const auto& p : problems) {
        const Operands o = make(p, p.m * 131 + p.n * 7 + p.k);
        const std::size_t ldc = p.n + 4;
        std::vector<float> c(p.m * ldc, -99.0f);
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c.data(), ldc);
        check_against_double(p, o, {}, c.data(), ldc);
        // the padding between C's rows is never written
        for (std::size_t i = 0; i < p.m; ++i)
            for (std::size_t j = p.n; j < ldc; ++j) REQUIRE(c[i * ldc + j] == -99.0f);
    }
}

TEST_CASE("gemm: fused epilogues (bias, each activation, residual, accumulate) match the loop") {
    const Activation acts[] = {Activation::none, Activation::gelu_erf, Activation::gelu_tanh, Activation::relu,
                               Activation::tanh, Activation::quick_gelu};
    for (const auto& p : problems) {
        const Operands o = make(p, p.k * 17 + p.n);
        for (Activation act : acts) {
            Epilogue<float> ep;
            ep.bias = o.bias.data();
            ep.activation = act;
            ep.residual = o.residual.data();
            ep.residual_ld = p.n + 7;
            std::vector<float> c(p.m * p.n);
            einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c.data(), p.n, ep);
            check_against_double(p, o, ep, c.data(), p.n);
        }
        // accumulate: C = C + A·B + bias
        std::vector<float> c(p.m * p.n), start(p.m * p.n);
        for (std::size_t i = 0; i < c.size(); ++i) c[i] = start[i] = static_cast<float>(i % 13) * 0.25f - 1.5f;
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c.data(), p.n, ep, true);
        check_against_double(p, o, ep, c.data(), p.n, start.data());
    }
}

TEST_CASE("gemm: the fast kernel agrees with the scalar reference kernel") {
    for (const auto& p : problems) {
        const Operands o = make(p, 5 + p.m);
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        ep.activation = Activation::gelu_erf;
        std::vector<float> fast(p.m * p.n), ref(p.m * p.n);
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, fast.data(), p.n, ep);
        einvit::gemm::multiply(einvit::reference{}, p.m, p.n, p.k, o.sa, o.sb, ref.data(), p.n, ep);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < fast.size(); ++i)
            if (!einvit_test::close(fast[i], ref[i], 1e-4, 2e-5 * std::sqrt(double(p.k) + 1.0))) ++bad;
        CHECK_MESSAGE(bad == 0, "m=" << p.m << " n=" << p.n << " k=" << p.k);
    }
}

TEST_CASE("gemm: a residual that is C itself (x = x + A·B + bias), over one and several k blocks") {
    // (and x = x + GELU(A·B + bias) in one k block: the activated tile is staged, the residual read
    // before C is written)
    for (std::size_t k : {std::size_t{40}, 2 * KC + 464})
        for (const Activation act : {Activation::none, Activation::gelu_erf}) {
            if (k > 40 && act != Activation::none) continue;
            const Problem p{30, 50, k, false, true};
            const Operands o = make(p, k);
            std::vector<float> c(p.m * p.n), start(p.m * p.n);
            for (std::size_t i = 0; i < c.size(); ++i) c[i] = start[i] = static_cast<float>(i % 7) - 3.0f;
            Epilogue<float> ep;
            ep.bias = o.bias.data();
            ep.activation = act;
            ep.residual = c.data();
            ep.residual_ld = p.n;
            einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c.data(), p.n, ep);
            Epilogue<float> want = ep;
            want.residual = start.data();
            check_against_double(p, o, want, c.data(), p.n);
        }
    // with an activation the aliasing cannot be honoured over several k blocks: an error, not a wrong answer
    const Problem p{4, 4, 2 * KC + 464, false, false};
    const Operands o = make(p, 1);
    std::vector<float> c(16);
    Epilogue<float> ep;
    ep.activation = Activation::relu;
    ep.residual = c.data();
    ep.residual_ld = 4;
    CHECK_THROWS_AS(einvit::gemm::multiply(einvit::cpu{}, 4, 4, p.k, o.sa, o.sb, c.data(), 4, ep), einvit::error);
    // nor when accumulating into C (C holds partial sums between the depth blocks), with no activation
    ep.activation = Activation::none;
    CHECK_THROWS_WITH_AS(einvit::gemm::multiply(einvit::cpu{}, 4, 4, p.k, o.sa, o.sb, c.data(), 4, ep, true),
                         doctest::Contains("no accumulation"), einvit::error);
}

TEST_CASE("gemm: a residual that overlaps C without being C itself is refused") {
    // rows of C at another stride, or C shifted: read after some tiles are stored, so the answer would
    // depend on the order of the tiles and the threads
    const Problem p{30, 50, 40, false, true};
    const Operands o = make(p, 3);
    std::vector<float> c(4 * p.m * p.n, 1.0f);
    for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        einvit::set_num_threads(threads);
        for (const std::size_t ld : {p.n / 2, 2 * p.n})
            for (const std::size_t shift : {std::size_t{0}, std::size_t{1}, p.n}) {
                Epilogue<float> ep;
                ep.residual = c.data() + shift;
                ep.residual_ld = ld;
                CHECK_THROWS_WITH_AS(einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c.data(), p.n, ep),
                                     doctest::Contains("residual overlaps the output"), einvit::error);
            }
        Epilogue<float> shifted;
        shifted.residual = c.data() + 1;
        shifted.residual_ld = p.n;
        CHECK_THROWS_AS(einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c.data(), p.n, shifted), einvit::error);
        // a residual just past C's last element, or ending just before its first, is fine
        Epilogue<float> beside;
        beside.residual = c.data() + p.m * p.n;
        beside.residual_ld = p.n;
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c.data(), p.n, beside);
        check_against_double(p, o, beside, c.data(), p.n);
        Epilogue<float> before;
        before.residual = c.data() + p.m * p.n;
        before.residual_ld = p.n;
        float* const c_after = c.data() + 2 * p.m * p.n;
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c_after, p.n, before);
        check_against_double(p, o, before, c_after, p.n);
    }
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("gemm: an output that overlaps A or B is refused, on every path; one beside them is fine") {
    // x = x · W in place: the threads and depth blocks read A after C's first stores (the result
    // depended on the thread count)
    constexpr std::size_t m = 96, k = 64;
    std::vector<float> x(m * k + 2 * k * k), w(k * k);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) * 0.25f - 1.0f;
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 11) * 0.125f - 0.5f;
    const Strided<float> a{x.data(), k, 1}, b{w.data(), k, 1};
    const einvit::gemm::PackedB<float> packed(b, k, k);
    for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        einvit::set_num_threads(threads);
        CHECK_THROWS_WITH_AS(einvit::gemm::multiply(einvit::cpu{}, m, k, k, a, b, x.data(), k), doctest::Contains("overlaps"), einvit::error);
        CHECK_THROWS_WITH_AS(einvit::gemm::multiply(einvit::cpu{}, m, a, packed, x.data() + 5 * k, k), doctest::Contains("overlaps"),
                             einvit::error);
        // B's rows inside C (an unpacked B)
        const Strided<float> b_in_x{x.data() + m * k, k, 1};
        CHECK_THROWS_AS(einvit::gemm::multiply(einvit::cpu{}, k, k, k, Strided<float>{w.data(), k, 1}, b_in_x, x.data() + m * k + 10, k),
                        einvit::error);
        // C right after A, not overlapping: fine, and the same as a separate buffer
        std::vector<float> separate(m * k);
        einvit::gemm::multiply(einvit::cpu{}, m, a, packed, separate.data(), k);
        einvit::gemm::multiply(einvit::cpu{}, m, a, packed, x.data() + m * k, k);
        CHECK(std::memcmp(separate.data(), x.data() + m * k, m * k * sizeof(float)) == 0);
    }
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("gemm: an empty depth gives the epilogue of zero; empty M or N writes nothing") {
    const Problem p{5, 9, 0, false, false};
    const Operands o = make(p, 3);
    std::vector<float> c(45, 7.0f);
    Epilogue<float> ep;
    ep.bias = o.bias.data();
    einvit::gemm::multiply(einvit::cpu{}, 5, 9, 0, o.sa, o.sb, c.data(), 9, ep);
    for (std::size_t i = 0; i < 5; ++i)
        for (std::size_t j = 0; j < 9; ++j) CHECK(c[i * 9 + j] == o.bias[j]);
    std::vector<float> d(4, 3.0f);
    einvit::gemm::multiply(einvit::cpu{}, 0, 4, 8, o.sa, o.sb, d.data(), 4);
    einvit::gemm::multiply(einvit::cpu{}, 4, 0, 8, o.sa, o.sb, d.data(), 1);
    for (float x : d) CHECK(x == 3.0f);
}

TEST_CASE("gemm: pre-packed B gives bit-identical results to packing on the fly") {
    for (const auto& p : problems) {
        const Operands o = make(p, 77 + p.k);
        const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
        CHECK(packed.k() == p.k);
        CHECK(packed.n() == p.n);
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        ep.activation = Activation::gelu_tanh;
        std::vector<float> x(p.m * p.n), y(p.m * p.n);
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, x.data(), p.n, ep);
        einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, y.data(), p.n, ep);
        CHECK_MESSAGE(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0, "m=" << p.m << " n=" << p.n << " k=" << p.k);
    }
}

TEST_CASE("gemm: operands placed in a PackedStore one after another give the same products; one that does not fit goes to the heap") {
    using einvit::gemm::PackedB;
    std::size_t total = 0;
    for (const auto& p : problems) total += einvit::gemm::PackedStore<float>::room(PackedB<float>::elements(p.k, p.n));
    einvit::gemm::PackedStore<float> store(total);
    einvit::gemm::PackedStore<float> small(PackedB<float>::elements(problems[0].k, problems[0].n) - 1);
    std::vector<PackedB<float>> placed;
    for (const auto& p : problems) {
        const Operands o = make(p, 31 + p.k);
        const std::size_t before = store.used();
        placed.emplace_back(o.sb, p.k, p.n, &store);
        const PackedB<float> on_heap(o.sb, p.k, p.n);
        const PackedB<float> no_room(o.sb, p.k, p.n, &small);
        CHECK(small.used() == 0);
        if (p.k && p.n) {
            CHECK(placed.back().panel(0, 0) == store.data() + before);
            CHECK(reinterpret_cast<std::uintptr_t>(placed.back().panel(0, 0)) % 64 == 0);
        }
        std::vector<float> x(p.m * p.n), y(p.m * p.n), z(p.m * p.n);
        einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, on_heap, x.data(), p.n);
        einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, placed.back(), y.data(), p.n);
        einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, no_room, z.data(), p.n);
        CHECK(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
        CHECK(std::memcmp(x.data(), z.data(), x.size() * sizeof(float)) == 0);
    }
    CHECK(store.used() == total);
    CHECK(store.take(1) == nullptr);  // full
}

TEST_CASE("gemm: a column range of a packed B writes those columns of the full product and leaves the rest") {
    constexpr std::size_t NR = einvit::gemm::nr<float>;
    // ranges at the start, in the middle and running past the last (partial) panel; shapes that take
    // each threading path (columns split, A shared, rows split)
    const Problem shapes[] = {{197, 3 * NR + 5, 768, false, true}, {15, 4 * NR, 900, false, true}, {1200, 4 * NR, 300, false, true}};
    for (const auto& p : shapes) {
        const Operands o = make(p, 5);
        const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        ep.activation = Activation::gelu_erf;
        std::vector<float> full(p.m * p.n);
        einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, full.data(), p.n, ep);
        const std::size_t ranges[][2] = {{0, NR}, {NR, 3 * NR}, {2 * NR, p.n}, {NR, 100 * NR}};
        for (const auto& r : ranges)
            for (std::size_t threads : {1, 2}) {
                einvit::set_num_threads(threads);
                std::vector<float> part(p.m * p.n, -7.0f);
                einvit::gemm::multiply_columns(einvit::cpu{}, p.m, o.sa, packed, r[0], r[1], part.data(), p.n, ep);
                std::size_t wrong = 0;
                for (std::size_t i = 0; i < p.m; ++i)
                    for (std::size_t j = 0; j < p.n; ++j) {
                        const bool inside = j >= r[0] && j < r[1];
                        const float want = inside ? full[i * p.n + j] : -7.0f;
                        std::uint32_t x, y;
                        std::memcpy(&x, &part[i * p.n + j], 4);
                        std::memcpy(&y, &want, 4);
                        wrong += x != y;
                    }
                CHECK_MESSAGE(wrong == 0, "m=" << p.m << " n=" << p.n << " columns [" << r[0] << ", " << r[1] << ") threads "
                                                << threads << ": " << wrong << " elements differ");
            }
        einvit::set_num_threads(einvit::detail::default_threads());
        std::vector<float> c(p.m * p.n);
        CHECK_THROWS_WITH_AS(einvit::gemm::multiply_columns(einvit::cpu{}, p.m, o.sa, packed, 1, NR, c.data(), p.n),
                             doctest::Contains("panel"), einvit::error);
        CHECK_THROWS_AS(einvit::gemm::multiply_columns(einvit::cpu{}, p.m, o.sa, packed, 0, NR + 1, c.data(), p.n), einvit::error);
    }
}

TEST_CASE("gemm: a LayerNorm of A's rows applied while packing equals normalising A first, on every threading path") {
    // shapes for each path: A shared by the threads (197 x 768), rows split (1600 x 96, packed B), columns
    // split with A packed per thread (1400 x 768 is too big to share), two depth blocks (KC + 132), a depth
    // that is not a multiple of 16 (20, 5), one row
    // (plain products throughout, so that packed and unpacked B agree bit for bit: Strassen's products
    // with a LayerNorm are the next test's)
    const Problem shapes[] = {{197, 2304, 768, false, true}, {1600, 96, 768, false, true}, {1400, 2048, 768, false, true},
                              {15, 300, KC + 132, false, true},   {33, 50, 20, false, false}, {1, 37, 5, false, true}};
    const einvit_test::StrassenSetting plain(false);
    for (const auto& p : shapes) {
        Operands o = make(p, 3 + p.k);
        einvit_test::Rng rng(p.m);
        for (std::size_t i = 0; i < p.m; ++i)  // rows with offsets up to 1e3, as a residual stream has
            for (std::size_t kk = 0; kk < p.k; ++kk) o.a[i * o.lda + kk] = o.a[i * o.lda + kk] * float(1 + i % 7) + float(i % 5) * 250.0f;
        std::vector<float> gamma(p.k), beta(p.k);
        for (auto& g : gamma) g = static_cast<float>(rng.uniform(0.5, 1.5));
        for (auto& b : beta) b = static_cast<float>(rng.uniform(-0.5, 0.5));
        const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        ep.activation = Activation::gelu_erf;
        for (int affine = 0; affine < 2; ++affine) {
            const einvit::gemm::RowNorm<float> norm{affine ? gamma.data() : nullptr, affine ? beta.data() : nullptr, 1e-6f};
            // the normalised copy of A, as the model computed it before the fusion
            std::vector<float> normed(p.m * p.k);
            einvit::kernels::layer_norm_rows(einvit::cpu{}, o.a.data(), o.lda, normed.data(), p.k, p.m, p.k, norm.gamma,
                                             norm.beta, norm.eps);
            const Strided<float> sn{normed.data(), p.k, 1};
            std::vector<float> want(p.m * p.n), fused[3], fused_unpacked(p.m * p.n), ref(p.m * p.n);
            einvit::gemm::multiply(einvit::cpu{}, p.m, sn, packed, want.data(), p.n, ep);
            for (std::size_t t = 1; t <= 3; ++t) {
                einvit::set_num_threads(t);
                fused[t - 1].resize(p.m * p.n);
                einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, fused[t - 1].data(), p.n, ep, false, &norm);
            }
            einvit::set_num_threads(einvit::detail::default_threads());
            einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, fused_unpacked.data(), p.n, ep, false, &norm);
            for (std::size_t t = 1; t < 3; ++t)
                CHECK_MESSAGE(std::memcmp(fused[0].data(), fused[t].data(), want.size() * sizeof(float)) == 0,
                              "m=" << p.m << " k=" << p.k << ": thread counts differ");
            CHECK(std::memcmp(fused[0].data(), fused_unpacked.data(), want.size() * sizeof(float)) == 0);
            // against normalising first: the same values up to how a compiler contracts (x - m) * r * g + b
            std::size_t off = 0;
            for (std::size_t i = 0; i < want.size(); ++i) off += !(std::fabs(fused[1][i] - want[i]) <= 2e-5f * (1 + std::fabs(want[i])));
            CHECK_MESSAGE(off == 0, "m=" << p.m << " n=" << p.n << " k=" << p.k << ": " << off << " elements differ from LN then GEMM");
            if (p.m * p.n * p.k > 50'000'000) continue;  // the loops below would take seconds
            // and against the product in double of A normalised by layer_norm_rows (tested against double itself
            // in test_nn.cpp; at offsets of 1e3 its float rounding is more than this product's tolerance)
            Problem q = p;
            q.a_transposed = false;
            Operands on = o;
            on.sa = sn;
            check_against_double(q, on, ep, fused[1].data(), p.n);
            // the reference kernel takes the same argument; its LayerNorm is computed in double
            einvit::gemm::multiply(einvit::reference{}, p.m, p.n, p.k, o.sa, o.sb, ref.data(), p.n, ep, false, &norm);
            on.a = o.a;
            for (std::size_t i = 0; i < p.m; ++i) {
                const float* x = o.a.data() + i * o.lda;
                double mean = 0, var = 0;
                for (std::size_t kk = 0; kk < p.k; ++kk) mean += x[kk];
                mean /= double(p.k);
                for (std::size_t kk = 0; kk < p.k; ++kk) var += (x[kk] - mean) * (x[kk] - mean);
                const double rstd = 1.0 / std::sqrt(var / double(p.k) + double(norm.eps));
                for (std::size_t kk = 0; kk < p.k; ++kk)
                    on.a[i * o.lda + kk] =
                        static_cast<float>((x[kk] - mean) * rstd * (affine ? gamma[kk] : 1.0) + (affine ? beta[kk] : 0.0));
            }
            on.sa = Strided<float>{on.a.data(), o.lda, 1};
            check_against_double(q, on, ep, ref.data(), p.n);
        }
    }
    // a LayerNorm of A's rows needs them contiguous
    const Problem t{8, 8, 8, true, false};
    const Operands o = make(t, 1);
    const einvit::gemm::RowNorm<float> norm{nullptr, nullptr, 1e-5f};
    std::vector<float> c(64);
    CHECK_THROWS_WITH_AS(einvit::gemm::multiply(einvit::cpu{}, t.m, t.n, t.k, o.sa, o.sb, c.data(), t.n, {}, false, &norm),
                         doctest::Contains("row-major"), einvit::error);
}

TEST_CASE("gemm: Strassen's seven half-size products (pre-packed B): every epilogue, column ranges, LayerNorm, any thread count and schedule") {
    constexpr std::size_t NR = einvit::gemm::nr<float>;
    CHECK(einvit::gemm::strassen_use() == einvit::gemm::detail::strassen_by_default);
    const einvit_test::StrassenSetting on(true);
    // both schedules of each kind (StrassenSchedule: rows or column pairs per thread, sums of quadrants
    // in a first tile or among the product before's multiply-adds), whatever the instruction set
    auto& schedule = einvit::gemm::detail::strassen_schedule_override();
    struct Reset {
        ~Reset() { einvit::gemm::detail::strassen_schedule_override().store(0); }
    } reset;
    // an odd M (the lower half a row short), the smallest shape it takes, a depth of several blocks
    // (halves of whole blocks, each in depth chunks), ViT-S/16's fc1 at batch 1, several row blocks per
    // thread (as at batch 8: 301 upper rows, blocks handed out one at a time with 2 and 3 threads, one
    // thread's own blocking with 1), and a thread's last block taking a remainder of less than a tile (116
    // upper rows: blocks of 56 and 60 on one thread, one of 58 on each of two)
    const Problem shapes[] = {{197, 320, 512, false, true},
                              {64, 256, 256, false, true},
                              {131, 256, 4 * KC, false, true},
                              {197, 1536, 384, false, true},
                              {601, 1024, 768, false, true},
                              {231, 256, 512, false, true}};
    for (const auto& p : shapes) {
        Operands o = make(p, 40 + p.m);
        const bool big = p.m * p.n * p.k > 100'000'000;  // the double loop would take seconds
        const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
        REQUIRE(einvit::gemm::detail::strassen_fits<float>(p.m, p.n, p.k, packed.kc(), 0, p.n / NR));
        Epilogue<float> full;
        full.bias = o.bias.data();
        full.activation = Activation::gelu_erf;
        full.residual = o.residual.data();
        full.residual_ld = p.n + 7;
        for (const Epilogue<float>& ep : {Epilogue<float>{}, full}) {
            std::vector<float> results[3], plain(p.m * p.n), other(p.m * p.n);
            for (std::size_t t = 1; t <= 3; ++t) {
                einvit::set_num_threads(t);
                results[t - 1].resize(p.m * p.n);
                einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, results[t - 1].data(), p.n, ep);
                // the other schedules, the same sums
                for (unsigned s = 1; s <= 4; ++s) {
                    schedule.store(s);
                    std::fill(other.begin(), other.end(), -1.0f);
                    einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, other.data(), p.n, ep);
                    CHECK_MESSAGE(std::memcmp(results[0].data(), other.data(), plain.size() * sizeof(float)) == 0,
                                  "m=" << p.m << " threads " << t << " schedule " << s);
                }
                schedule.store(0);
            }
            einvit::set_num_threads(einvit::detail::default_threads());
            einvit::gemm::set_strassen(false);
            einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, plain.data(), p.n, ep);
            einvit::gemm::set_strassen(true);
            CHECK_MESSAGE(std::memcmp(results[0].data(), results[1].data(), plain.size() * sizeof(float)) == 0, "m=" << p.m);
            CHECK_MESSAGE(std::memcmp(results[0].data(), results[2].data(), plain.size() * sizeof(float)) == 0, "m=" << p.m);
            // Strassen's sums round differently from the plain product's: the path was taken
            CHECK_MESSAGE(std::memcmp(results[0].data(), plain.data(), plain.size() * sizeof(float)) != 0, "m=" << p.m);
            if (!big) check_against_double(p, o, ep, results[1].data(), p.n);
            // its largest error against the product in double (every 7th row when big), next to the plain product's
            double err[2] = {0, 0};
            for (std::size_t i = 0; i < p.m; i += big ? 7 : 1)
                for (std::size_t j = 0; j < p.n; ++j) {
                    double acc = 0;
                    for (std::size_t kk = 0; kk < p.k; ++kk)
                        acc += double(o.sa.data[i * o.sa.row_stride + kk]) * double(o.sb.data[j * o.sb.col_stride + kk]);
                    if (ep.bias) acc += ep.bias[j];
                    acc = activate(acc, ep.activation);
                    if (ep.residual) acc += ep.residual[i * ep.residual_ld + j];
                    err[0] = std::max(err[0], std::fabs(results[1][i * p.n + j] - acc));
                    err[1] = std::max(err[1], std::fabs(plain[i * p.n + j] - acc));
                }
            MESSAGE("m=" << p.m << " n=" << p.n << " k=" << p.k << ": largest error " << err[0] << " (plain product " << err[1] << ")");
            CHECK(err[0] <= 3 * err[1]);
        }
        if (big) continue;
        // C += A·B (accumulate), and x = x + A·B + bias with the residual in C itself
        {
            std::vector<float> start(p.m * p.n), c;
            for (std::size_t i = 0; i < start.size(); ++i) start[i] = o.residual[i] * 3.0f;
            Epilogue<float> bias_only;
            bias_only.bias = o.bias.data();
            c = start;
            einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, c.data(), p.n, bias_only, true);
            check_against_double(p, o, bias_only, c.data(), p.n, start.data());
            Epilogue<float> aliased = bias_only;
            c = start;
            aliased.residual = c.data();
            aliased.residual_ld = p.n;
            einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, c.data(), p.n, aliased);
            check_against_double(p, o, bias_only, c.data(), p.n, start.data());
        }
        // an even number of column panels of B: those columns, the rest of C left alone
        {
            std::vector<float> part(p.m * p.n, -7.0f);
            const std::size_t c0 = NR, c1 = p.n - NR;  // panels [1, n/NR - 1): an even count
            einvit::gemm::multiply_columns(einvit::cpu{}, p.m, o.sa, packed, c0, c1, part.data(), p.n, full);
            std::size_t outside = 0;
            for (std::size_t i = 0; i < p.m; ++i)
                for (std::size_t j = 0; j < p.n; ++j)
                    if (j < c0 || j >= c1) outside += part[i * p.n + j] != -7.0f;
            CHECK(outside == 0);
            Problem q = p;
            q.n = c1 - c0;
            Operands oc = o;
            oc.sb = Strided<float>{o.sb.data + c0 * o.sb.col_stride, o.sb.row_stride, o.sb.col_stride};
            Epilogue<float> shifted = full;
            shifted.bias = o.bias.data() + c0;
            shifted.residual = o.residual.data() + c0;
            std::vector<float> got(p.m * q.n);
            for (std::size_t i = 0; i < p.m; ++i) std::memcpy(&got[i * q.n], &part[i * p.n + c0], q.n * sizeof(float));
            check_against_double(q, oc, shifted, got.data(), q.n);
        }
        // a LayerNorm of A's rows while packing: as normalising first, then the same Strassen product
        {
            std::vector<float> gamma(p.k), beta(p.k);
            einvit_test::Rng rng(p.k);
            for (auto& g : gamma) g = static_cast<float>(rng.uniform(0.5, 1.5));
            for (auto& b : beta) b = static_cast<float>(rng.uniform(-0.5, 0.5));
            for (std::size_t i = 0; i < p.m; ++i)
                for (std::size_t kk = 0; kk < p.k; ++kk) o.a[i * o.lda + kk] += float(i % 5) * 100.0f;
            const einvit::gemm::RowNorm<float> norm{gamma.data(), beta.data(), 1e-6f};
            std::vector<float> normed(p.m * p.k), want(p.m * p.n), fused(p.m * p.n);
            einvit::kernels::layer_norm_rows(einvit::cpu{}, o.a.data(), o.lda, normed.data(), p.k, p.m, p.k, norm.gamma,
                                             norm.beta, norm.eps);
            einvit::gemm::multiply(einvit::cpu{}, p.m, Strided<float>{normed.data(), p.k, 1}, packed, want.data(), p.n, full);
            einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, fused.data(), p.n, full, false, &norm);
            std::size_t off = 0;
            for (std::size_t i = 0; i < want.size(); ++i) off += !(std::fabs(fused[i] - want[i]) <= 2e-5f * (1 + std::fabs(want[i])));
            CHECK_MESSAGE(off == 0, "m=" << p.m << " k=" << p.k << ": " << off << " elements differ from LN then GEMM");
        }
    }
    // what it does not take: an odd depth, an odd number of panels, too few rows; and switched off
    const std::size_t panels = 320 / NR;  // an even number
    CHECK(einvit::gemm::detail::strassen_fits<float>(197, 320, 512, 512, 0, panels));
    CHECK_FALSE(einvit::gemm::detail::strassen_fits<float>(197, 320, 513, 513, 0, panels));
    CHECK_FALSE(einvit::gemm::detail::strassen_fits<float>(197, 320 + NR, 512, 512, 0, panels + 1));
    CHECK_FALSE(einvit::gemm::detail::strassen_fits<float>(63, 320, 512, 512, 0, panels));
    CHECK_FALSE(einvit::gemm::detail::strassen_fits<float>(197, 320, 2000, 672, 0, panels));  // halves not whole blocks
    einvit::gemm::set_strassen(false);
    CHECK_FALSE(einvit::gemm::detail::strassen_fits<float>(197, 320, 512, 512, 0, panels));
    CHECK_FALSE(einvit::gemm::strassen());
    // by default, only the shapes where this instruction set measured it faster (strassen_pays): with
    // AVX-512 every one that fits; with AVX2 at least 1024 rows, a depth of 768 and at least 768 columns
    // (ViT-B's qkv, fc1 and proj at batch 8, not its fc2, nor one image's, nor ViT-S's products); elsewhere none
    einvit::gemm::set_strassen(einvit::gemm::StrassenUse::where_it_pays);
    CHECK(einvit::gemm::strassen());
    const std::size_t wide = 3072 / NR, narrow = 384 / NR;
    constexpr std::size_t W = einvit::simd::width<float>;
    CHECK(einvit::gemm::detail::strassen_fits<float>(1576, 3072, 768, 768, 0, wide) == (W >= 8));
    CHECK(einvit::gemm::detail::strassen_fits<float>(1576, 768, 768, 768, 0, 768 / NR) == (W >= 8));
    CHECK(einvit::gemm::detail::strassen_fits<float>(197, 3072, 768, 768, 0, wide) == (W >= 16));
    CHECK(einvit::gemm::detail::strassen_fits<float>(1576, 768, 3072, 3072, 0, 768 / NR) == (W >= 16));
    CHECK(einvit::gemm::detail::strassen_fits<float>(1576, 384, 1536, 1536, 0, narrow) == (W >= 16));
    CHECK(einvit::gemm::detail::strassen_fits<float>(1576, 1536, 384, 384, 0, 1536 / NR) == (W >= 16));
    CHECK_FALSE(einvit::gemm::detail::strassen_fits<float>(63, 3072, 768, 768, 0, wide));  // still what fits
    einvit::gemm::set_strassen(true);
}

TEST_CASE("gemm: Strassen's row blocks give each thread an even share of the rows, in blocks strassen_rows keeps whole") {
    using einvit::gemm::detail::strassen_item_row;
    using einvit::gemm::detail::strassen_share_blocks;
    constexpr std::size_t MR = einvit::gemm::mr<float>, MC = einvit::gemm::detail::strassen_block_rows<float>;
    // every count of upper rows with at least two blocks a thread (where the items are taken) up to
    // 1700: batch 2's 197 and batch 8's 788 on 2 threads among them
    for (const std::size_t threads : {2u, 3u, 4u, 7u}) {
        for (std::size_t upper = (2 * threads - 1) * MC + 1; upper <= 1700; ++upper) {
            const std::size_t per_share = strassen_share_blocks<float>(upper, threads), items = threads * per_share;
            CAPTURE(upper);
            CAPTURE(threads);
            REQUIRE(per_share >= 1);
            CHECK(strassen_item_row<float>(0, upper, threads, per_share) == 0);
            CHECK(strassen_item_row<float>(items, upper, threads, per_share) == upper);
            for (std::size_t s = 0; s < threads; ++s) {
                // share s: its items' rows, even to a row with the others'
                const std::size_t first = strassen_item_row<float>(s * per_share, upper, threads, per_share);
                const std::size_t end = strassen_item_row<float>((s + 1) * per_share, upper, threads, per_share);
                CHECK(end - first <= (upper + threads - 1) / threads);
                CHECK(end - first >= upper / threads);
                std::size_t empty = 0;
                for (std::size_t b = 0; b < per_share; ++b) {
                    const std::size_t i = s * per_share + b;
                    const std::size_t r0 = strassen_item_row<float>(i, upper, threads, per_share);
                    const std::size_t r1 = strassen_item_row<float>(i + 1, upper, threads, per_share);
                    REQUIRE(r0 <= r1);
                    if (r0 == r1) {
                        ++empty;
                        continue;
                    }
                    CHECK(empty == 0);  // only the last items of a share are empty
                    // whole blocks of MC rows but the share's last, of MR to MC + MR - 1 rows (one block
                    // in strassen_rows, within the scratch it sizes)
                    if (r1 != end) CHECK(r1 - r0 == MC);
                    else CHECK(r1 - r0 < MC + MR);
                    CHECK(r1 - r0 >= MR);
                }
                CHECK(empty <= 1);
            }
        }
    }
    // batch 8: 394 rows a thread (AVX-512: 7 blocks, the last of 58 rows)
    const std::size_t batch8 = strassen_share_blocks<float>(788, 2);
    CHECK(strassen_item_row<float>(batch8, 788, 2, batch8) == 394);
    if (MR == 14) CHECK(batch8 == 7);
}

TEST_CASE("gemm: row tiles cover a block in order, none shorter than min_tile_rows (or half a tile) unless the block is") {
    constexpr std::size_t MR = einvit::gemm::mr<float>;
    // a short remainder shares MR + rest rows with the tile before it, so with MR = 6 a tile can have 3
    constexpr std::size_t least = einvit::gemm::min_tile_rows < MR / 2 ? einvit::gemm::min_tile_rows : MR / 2;
    for (std::size_t m = 1; m <= 6 * MR + 1; ++m) {
        const std::size_t tiles = (m + MR - 1) / MR;
        std::size_t next = 0, shortest = MR;
        for (std::size_t j = 0; j < tiles; ++j) {
            const einvit::gemm::RowTile t = einvit::gemm::row_tile<float>(j, m);
            CHECK_MESSAGE(t.row == next, "m=" << m << " tile " << j);
            CHECK_MESSAGE((t.rows >= 1 && t.rows <= MR), "m=" << m << " tile " << j << " rows " << t.rows);
            next = t.row + t.rows;
            shortest = t.rows < shortest ? t.rows : shortest;
        }
        CHECK_MESSAGE(next == m, "m=" << m);
        CHECK_MESSAGE(shortest >= (m < least ? m : least), "m=" << m << ": a tile of " << shortest << " rows");
    }
    if constexpr (MR == 14) {  // 197 tokens on AVX-512: 13 full tiles, then 8 and 7 rows instead of 14 and 1
        CHECK(einvit::gemm::row_tile<float>(12, 197).row == 168);
        CHECK(einvit::gemm::row_tile<float>(13, 197).row == 182);
        CHECK(einvit::gemm::row_tile<float>(13, 197).rows == 8);
        CHECK(einvit::gemm::row_tile<float>(14, 197).row == 190);
        CHECK(einvit::gemm::row_tile<float>(14, 197).rows == 7);
    }
}

TEST_CASE("gemm: an activation applied to full tiles in registers and by the out-of-line store gives the same bits") {
    // The plain product's full row tiles apply the bias and the activation in registers; a product of
    // one row takes the out-of-line store (store_tile). Each row of C must be the same either way, for
    // every activation, with B pre-packed or not, with one depth block and several.
    const Activation acts[] = {Activation::none, Activation::gelu_erf, Activation::gelu_tanh, Activation::relu,
                               Activation::tanh, Activation::quick_gelu};
    const std::size_t rows = 4 * einvit::gemm::mr<float>;
    for (const std::size_t k : {std::size_t{96}, 2 * einvit::gemm::max_kc<float> + 5}) {
        const Problem p{rows, 3 * einvit::gemm::nr<float>, k, false, true};
        const Operands o = make(p, k + 77);
        const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
        for (const Activation act : acts)
            for (const bool pre_packed : {false, true}) {
                Epilogue<float> ep;
                ep.bias = o.bias.data();
                ep.activation = act;
                std::vector<float> whole(p.m * p.n), by_row(p.m * p.n);
                if (pre_packed) einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, whole.data(), p.n, ep);
                else einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, whole.data(), p.n, ep);
                for (std::size_t i = 0; i < p.m; ++i) {
                    const Strided<float> row{o.sa.data + i * o.sa.row_stride, o.sa.row_stride, o.sa.col_stride};
                    if (pre_packed) einvit::gemm::multiply(einvit::cpu{}, 1, row, packed, by_row.data() + i * p.n, p.n, ep);
                    else einvit::gemm::multiply(einvit::cpu{}, 1, p.n, p.k, row, o.sb, by_row.data() + i * p.n, p.n, ep);
                }
                INFO("k = ", k, ", activation ", static_cast<int>(act), ", pre-packed ", pre_packed);
                CHECK(std::memcmp(whole.data(), by_row.data(), whole.size() * sizeof(float)) == 0);
                check_against_double(p, o, ep, whole.data(), p.n);
            }
    }
}

TEST_CASE("gemm: results are bit-identical for 1, 2 and 3 threads") {
    const Problem shapes[] = {{197, 768, 768, false, true}, {61, 2304, 96, false, true}, {300, 40, 3072, false, false}};
    for (const auto& p : shapes) {
        const Operands o = make(p, 9);
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        ep.activation = Activation::gelu_erf;
        std::vector<float> results[3];
        for (std::size_t t = 1; t <= 3; ++t) {
            einvit::set_num_threads(t);
            CHECK(einvit::num_threads() == t);
            results[t - 1].resize(p.m * p.n);
            einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, results[t - 1].data(), p.n, ep);
        }
        einvit::set_num_threads(einvit::detail::default_threads());
        CHECK(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)) == 0);
        CHECK(std::memcmp(results[0].data(), results[2].data(), results[0].size() * sizeof(float)) == 0);
        check_against_double(p, o, ep, results[1].data(), p.n);
    }
}

TEST_CASE("gemm: a wide B packed on the fly goes a chunk of panels at a time, within b_block_bytes, with the same bits") {
    // 6001 columns at a depth of 768 are 18 MB of packed B; the thread packs at most 8 MiB of it at
    // once (three chunks on every target). Run on a thread of its own, whose packing buffers start
    // empty, with one GEMM thread, so that its buffers are the ones the product used.
    const Problem p{7, 6001, 768, false, true};
    const Operands o = make(p, 41);
    Epilogue<float> ep;
    ep.bias = o.bias.data();
    ep.activation = Activation::gelu_erf;
    const einvit_test::StrassenSetting plain(false);
    std::vector<float> fly(p.m * p.n), fly2(p.m * p.n), pre(p.m * p.n);
    std::size_t b_capacity = 0;
    std::thread([&] {
        einvit::set_num_threads(1);
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, fly.data(), p.n, ep);
        b_capacity = einvit::gemm::detail::scratch_capacity<float>(1);
    }).join();
    einvit::set_num_threads(2);
    einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, fly2.data(), p.n, ep);
    const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
    einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, pre.data(), p.n, ep);
    einvit::set_num_threads(einvit::detail::default_threads());
    CHECK(b_capacity > 0);
    CHECK(b_capacity * sizeof(float) <= einvit::gemm::b_block_bytes);
    CHECK(p.k * p.n * sizeof(float) > 2 * einvit::gemm::b_block_bytes);
    CHECK(std::memcmp(fly.data(), fly2.data(), fly.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(fly.data(), pre.data(), fly.size() * sizeof(float)) == 0);
    check_against_double(p, o, ep, fly.data(), p.n);
}

TEST_CASE("gemm: threads splitting the columns share one packed A, or split one image's rows: identical for 1, 2, 3 threads") {
    // Without packed B, A packed whole once by all threads (when it fits gemm::detail::shared_a_bytes);
    // with packed B, threads own even row ranges (197 rows: 98 and 99, or 65, 66 and 66) but with fewer
    // rows than a tile per thread (15), where they split the columns again. Transposed and padded A,
    // depths of one and several blocks (3 KC + 1: four), a residual that is C itself.
    // (Plain products: Strassen's, which the last shape would take, are the Strassen test's.)
    const Problem shapes[] = {{197, 200, 2305, true, true},
                              {60, 200, 3 * KC + 1, true, true},
                              {15, 96, KC + 132, false, true},
                              {197, 768, 3072, false, true}};
    const einvit_test::StrassenSetting plain(false);
    for (const auto& p : shapes) {
        CHECK(einvit::gemm::detail::round_up(p.m, einvit::gemm::mr<float>) * p.k * sizeof(float) <= einvit::gemm::shared_a_bytes);
        const Operands o = make(p, 33);
        const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        ep.activation = Activation::gelu_tanh;
        std::vector<float> plain[3], pre[3], in_place[3];
        for (std::size_t t = 1; t <= 3; ++t) {
            einvit::set_num_threads(t);
            plain[t - 1].resize(p.m * p.n);
            pre[t - 1].resize(p.m * p.n);
            einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, plain[t - 1].data(), p.n, ep);
            einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, pre[t - 1].data(), p.n, ep);
            in_place[t - 1].assign(o.residual.begin(), o.residual.begin() + static_cast<std::ptrdiff_t>(p.m * p.n));
            Epilogue<float> acc;
            acc.bias = o.bias.data();
            acc.residual = in_place[t - 1].data();
            acc.residual_ld = p.n;
            einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, in_place[t - 1].data(), p.n, acc);
        }
        einvit::set_num_threads(einvit::detail::default_threads());
        for (std::size_t t = 1; t < 3; ++t) {
            CHECK(std::memcmp(plain[0].data(), plain[t].data(), plain[0].size() * sizeof(float)) == 0);
            CHECK(std::memcmp(plain[0].data(), pre[t].data(), plain[0].size() * sizeof(float)) == 0);
            CHECK(std::memcmp(in_place[0].data(), in_place[t].data(), in_place[0].size() * sizeof(float)) == 0);
        }
        check_against_double(p, o, ep, plain[1].data(), p.n);
        Epilogue<float> acc;
        acc.bias = o.bias.data();
        check_against_double(p, o, acc, in_place[2].data(), p.n, o.residual.data());
    }
}

TEST_CASE("gemm: pre-packed weights with many rows and few columns (threads split rows), or one row: identical for 1, 2, 3 threads") {
    // the shapes of batch 8's projections: M >> N, B packed once; the threads own row ranges there. And
    // one row against a large weight (the class token's last block): memory-bound, so the threads split
    // the weight's panels even though the multiply-adds are few.
    const Problem shapes[] = {{1000, 200, 768, false, true}, {1576, 64, 2 * KC + 464, false, true}, {1, 3072, 768, false, true}};
    for (const auto& p : shapes) {
        const Operands o = make(p, 21);
        const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        ep.activation = Activation::gelu_erf;
        ep.residual = o.residual.data();
        ep.residual_ld = p.n + 7;
        std::vector<float> results[3], unpacked(p.m * p.n);
        for (std::size_t t = 1; t <= 3; ++t) {
            einvit::set_num_threads(t);
            results[t - 1].resize(p.m * p.n);
            einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, results[t - 1].data(), p.n, ep);
        }
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, unpacked.data(), p.n, ep);  // threads own columns
        // x += A·B + bias with the residual in C itself, over several k blocks
        std::vector<float> x(o.residual.begin(), o.residual.begin() + static_cast<std::ptrdiff_t>(p.m * p.n)), x1;
        Epilogue<float> acc;
        acc.bias = o.bias.data();
        acc.residual = x.data();
        acc.residual_ld = p.n;
        x1 = x;
        einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, x.data(), p.n, acc);
        einvit::set_num_threads(1);
        acc.residual = x1.data();
        einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, x1.data(), p.n, acc);
        einvit::set_num_threads(einvit::detail::default_threads());
        CHECK(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)) == 0);
        CHECK(std::memcmp(results[0].data(), results[2].data(), results[0].size() * sizeof(float)) == 0);
        CHECK(std::memcmp(results[0].data(), unpacked.data(), unpacked.size() * sizeof(float)) == 0);
        CHECK(std::memcmp(x.data(), x1.data(), x.size() * sizeof(float)) == 0);
        check_against_double(p, o, ep, results[1].data(), p.n);
    }
}

TEST_CASE("thread pool: parallel_for covers every index exactly once, in grain-aligned ranges") {
    for (std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
        einvit::set_num_threads(threads);
        for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{1001}}) {
            for (std::size_t grain : {std::size_t{1}, std::size_t{3}, std::size_t{16}}) {
                std::vector<std::atomic<int>> hits(count);
                std::atomic<int> bad_ranges{0};
                einvit::parallel_for(count, grain, [&](std::size_t b, std::size_t e) {
                    if (b % grain != 0 || e > count || b >= e) ++bad_ranges;
                    for (std::size_t i = b; i < e; ++i) ++hits[i];
                });
                CHECK(bad_ranges == 0);
                std::size_t wrong = 0;
                for (auto& h : hits) wrong += h != 1;
                CHECK_MESSAGE(wrong == 0, "threads=" << threads << " count=" << count << " grain=" << grain);
            }
        }
    }
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("thread pool: set_num_threads from another thread while kernels run drops no work; from inside a task it raises") {
    // one thread runs parallel_for over and over while another changes the pool between 4 and 2
    // threads: a job whose task count was read before the pool shrank used to drop the extra tasks
    einvit::set_num_threads(4);
    std::atomic<bool> stop{false};
    std::atomic<long> incomplete{0}, calls{0};
    std::thread runner([&] {
        std::vector<std::atomic<int>> hits(1000);
        while (!stop.load()) {
            for (auto& h : hits) h.store(0, std::memory_order_relaxed);
            einvit::parallel_for(1000, 1, [&](std::size_t b, std::size_t e) {
                for (std::size_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
            });
            long wrong = 0;
            for (auto& h : hits) wrong += h.load() != 1;
            incomplete += wrong != 0;
            ++calls;
        }
    });
    // 200 changes at least, then on until 1000 calls, 20000 changes or 3 seconds (under an emulator, such
    // as the aarch64 tests' qemu, each change of the pool's threads is slow: 20000 of them took 108 s)
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 200 || (calls.load() < 1000 && i < 20000 && std::chrono::steady_clock::now() - start < std::chrono::seconds(3)); ++i)
        einvit::set_num_threads(i % 2 ? 2 : 4);
    stop = true;
    runner.join();
    CHECK(incomplete.load() == 0);
    MESSAGE(calls.load() << " parallel_for calls beside 200 or more changes of the thread count");
    // from inside a task (which holds the pool): an error, not a wait for itself
    einvit::set_num_threads(2);
    std::atomic<int> raised{0};
    einvit::parallel_for(2, 1, [&](std::size_t b, std::size_t) {
        if (b != 0) return;
        try {
            einvit::set_num_threads(1);
        } catch (const einvit::error&) {
            ++raised;
        }
    });
    CHECK(raised.load() == 1);
    CHECK(einvit::num_threads() == 2);
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("thread pool: a child forked while another thread runs kernels has a working pool of its own") {
    // before, the child inherited the pool's lock held by the parent's job, and its first parallel
    // kernel waited forever; now the fork waits for the job, and the child starts with one thread
    einvit::set_num_threads(2);
    std::atomic<bool> stop{false};
    std::thread busy([&] {
        std::vector<float> sink(4096);
        while (!stop.load())
            einvit::parallel_for(sink.size(), 1, [&](std::size_t b, std::size_t e) {
                for (std::size_t i = b; i < e; ++i) sink[i] += 1.0f;
            });
    });
    int hung = 0, wrong = 0;
    for (int round = 0; round < 10; ++round) {
        const pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            alarm(20);  // a child that hangs is killed, and the parent sees the signal
            std::vector<std::atomic<int>> hits(1000);
            einvit::parallel_for(1000, 1, [&](std::size_t b, std::size_t e) {
                for (std::size_t i = b; i < e; ++i) ++hits[i];
            });
            einvit::set_num_threads(2);  // workers again, in the child
            einvit::parallel_for(1000, 1, [&](std::size_t b, std::size_t e) {
                for (std::size_t i = b; i < e; ++i) ++hits[i];
            });
            int bad = 0;
            for (auto& h : hits) bad += h.load() != 2;
            _exit(bad == 0 && einvit::num_threads() == 2 ? 0 : 3);
        }
        int status = 0;
        REQUIRE(waitpid(child, &status, 0) == child);
        hung += WIFSIGNALED(status);
        wrong += WIFEXITED(status) && WEXITSTATUS(status) != 0;
    }
    stop = true;
    busy.join();
    CHECK(hung == 0);
    CHECK(wrong == 0);
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("thread pool: parallel_items calls every index exactly once, on every thread when one is slow") {
    for (std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
        einvit::set_num_threads(threads);
        for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{64}, std::size_t{1001}}) {
            std::vector<std::atomic<int>> hits(count);
            einvit::parallel_items(count, [&](std::size_t i) { ++hits[i]; });
            std::size_t wrong = 0;
            for (auto& h : hits) wrong += h != 1;
            CHECK_MESSAGE(wrong == 0, "threads=" << threads << " count=" << count);
        }
    }
    // items are taken as threads come free: while the calling thread sits in an item until the other
    // has done all the rest (or 10 s pass), it takes no more (a static split would leave it half);
    // each thread starts on its own share (the caller on item 0, the worker on item 20), and the worker,
    // done with its share, takes the rest of the caller's
    einvit::set_num_threads(2);
    std::atomic<int> mine{0}, others{0};
    std::atomic<std::size_t> caller_first{999}, worker_first{999};
    const auto caller = std::this_thread::get_id();
    einvit::parallel_items(40, [&](std::size_t i) {
        if (std::this_thread::get_id() == caller) {
            std::size_t unset = 999;
            caller_first.compare_exchange_strong(unset, i);
            ++mine;
            const auto start = std::chrono::steady_clock::now();
            while (others.load() + mine.load() < 40 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
                std::this_thread::yield();
        } else {
            std::size_t unset = 999;
            worker_first.compare_exchange_strong(unset, i);
            ++others;
        }
    });
    CHECK(mine + others == 40);
    CHECK(mine <= 1);
    CHECK(caller_first == 0);
    CHECK(worker_first == 20);
    // a state returned by prepare() is the task's own: made once at the start of each task, on the thread
    // that runs it, and handed to every item that task takes (in order within a share); inline, one state
    for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        einvit::set_num_threads(threads);
        struct State {
            std::thread::id thread;
            std::size_t last;
        };
        std::atomic<int> made{0};
        std::vector<std::atomic<int>> seen(100);
        std::atomic<int> wrong_thread{0}, out_of_order{0};
        einvit::parallel_items(
            seen.size(),
            [&](State& st, std::size_t i) {
                ++seen[i];
                if (st.thread != std::this_thread::get_id()) ++wrong_thread;
                if (st.last != std::size_t(-1) && i <= st.last && i / 50 == st.last / 50) ++out_of_order;
                st.last = i;
            },
            [&] {
                ++made;
                return State{std::this_thread::get_id(), std::size_t(-1)};
            });
        std::size_t wrong = 0;
        for (auto& h : seen) wrong += h != 1;
        CHECK_MESSAGE(wrong == 0, "threads=" << threads);
        CHECK(wrong_thread == 0);
        CHECK(out_of_order == 0);
        CHECK(made == int(threads));
    }
    einvit::set_num_threads(2);
    // nested in a task, it runs inline
    std::atomic<int> nested{0};
    einvit::parallel_for(4, 1, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) einvit::parallel_items(5, [&](std::size_t) { ++nested; });
    });
    CHECK(nested == 20);
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("thread pool: parallel_items runs on every thread of a large pool, past 64") {
    // each item waits (up to 10 s) until every item has started: that holds only if all 100 run at
    // once, one a thread (items taken by fewer threads would wait in turn, and time out)
    constexpr std::size_t threads = 100;
    einvit::set_num_threads(threads);
    REQUIRE(einvit::num_threads() == threads);
    std::atomic<std::size_t> started{0};
    std::mutex ids_mutex;
    std::set<std::thread::id> ids;
    std::vector<std::atomic<int>> hits(threads);
    einvit::parallel_items(threads, [&](std::size_t i) {
        ++hits[i];
        {
            std::lock_guard<std::mutex> lock(ids_mutex);
            ids.insert(std::this_thread::get_id());
        }
        ++started;
        const auto start = std::chrono::steady_clock::now();
        while (started.load() < threads && std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
            std::this_thread::yield();
    });
    CHECK(started == threads);
    CHECK(ids.size() == threads);
    std::size_t wrong = 0;
    for (auto& h : hits) wrong += h != 1;
    CHECK(wrong == 0);
    // and with more items than threads, each once; after the first call on a thread, with no allocation
    std::vector<std::atomic<int>> many(1000);
    std::size_t allocations = 0;
    {
        einvit_test::AllocationScope scope;
        einvit::parallel_items(many.size(), [&](std::size_t i) { ++many[i]; });
        allocations = scope.count();
    }
    CHECK(allocations == 0);
    wrong = 0;
    for (auto& h : many) wrong += h != 1;
    CHECK(wrong == 0);
    einvit::set_num_threads(einvit::detail::default_threads());
}

#if defined(__unix__) && !defined(__SANITIZE_THREAD__)
// A worker held in a signal handler is a thread the OS does not run (as when another program has its
// core): a job must not wait for it to start its task.
namespace {
std::atomic<bool> hold_worker{false};
std::atomic<int> held_workers{0};
extern "C" void hold_in_handler(int) {
    held_workers.fetch_add(1);
    while (hold_worker.load()) {
    }
    held_workers.fetch_sub(1);
}
template <class F>
bool wait_until(F done) {
    const auto start = std::chrono::steady_clock::now();
    while (!done())
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(10)) return false;
    return true;
}
}  // namespace

TEST_CASE("thread pool: a worker that does not run holds no job up: the other threads take its task and items") {
    static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);
    einvit::set_num_threads(3);
    // the workers' threads: worker i runs task i when every task waits until all have started
    pthread_t handles[3];
    std::thread::id ids[3];
    std::atomic<std::size_t> started{0};
    einvit::detail::pool().run(3, [&](std::size_t t) {
        handles[t] = pthread_self();
        ids[t] = std::this_thread::get_id();
        ++started;
        wait_until([&] { return started.load() == 3; });
    });
    REQUIRE(started == 3);
    struct sigaction hold {}, before {};
    hold.sa_handler = hold_in_handler;
    sigemptyset(&hold.sa_mask);
    REQUIRE(sigaction(SIGUSR1, &hold, &before) == 0);
    hold_worker = true;
    REQUIRE(pthread_kill(handles[2], SIGUSR1) == 0);
    REQUIRE(wait_until([] { return held_workers.load() == 1; }));

    // a job of three tasks returns with worker 2 held: its task ran on another thread
    std::thread::id ran_on[3];
    einvit::detail::pool().run(3, [&](std::size_t t) { ran_on[t] = std::this_thread::get_id(); });
    CHECK(ran_on[0] == ids[0]);
    CHECK(ran_on[2] != ids[2]);
    // parallel_items: every item once
    std::vector<std::atomic<int>> hits(300);
    einvit::parallel_items(hits.size(), [&](std::size_t i) { ++hits[i]; });
    std::size_t wrong = 0;
    for (auto& h : hits) wrong += h != 1;
    CHECK(wrong == 0);
    // one image's product (a LayerNorm of A's rows, a bias and GELU), its rows' shares handed out with
    // their panels: the others take worker 2's share, packing its rows, with the bits of one thread
    const einvit_test::StrassenSetting plain(false);
    const Problem p{197, 1024, 768, false, true};
    const Operands o = make(p, 41);
    const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
    std::vector<float> gamma(p.k, 1.25f), beta(p.k, -0.125f);
    const einvit::gemm::RowNorm<float> norm{gamma.data(), beta.data(), 1e-6f};
    Epilogue<float> ep;
    ep.bias = o.bias.data();
    ep.activation = Activation::gelu_erf;
    std::vector<float> held(p.m * p.n), one(p.m * p.n), unpacked(p.m * p.n), again_packed(p.m * p.n), again_unpacked(p.m * p.n);
    einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, held.data(), p.n, ep, false, &norm);
    einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, unpacked.data(), p.n, ep, false, &norm);
    // products of many rows (batch 8's), handed out in row blocks, plain and by Strassen's algorithm: task
    // 2 may take no block at all while worker 2 is held (the others take its share's), and still sizes its
    // buffers for any block it takes later
    const Problem q{600, 256, 768, false, true};
    const Operands oq = make(q, 43);
    const einvit::gemm::PackedB<float> packed_q(oq.sb, q.k, q.n);
    std::vector<float> rows_plain(q.m * q.n), rows_strassen(q.m * q.n), again_plain(q.m * q.n), again_strassen(q.m * q.n),
        one_plain(q.m * q.n), one_strassen(q.m * q.n);
    const auto many_rows = [&](std::vector<float>& plain_out, std::vector<float>& strassen_out) {
        einvit::gemm::multiply(einvit::cpu{}, q.m, oq.sa, packed_q, plain_out.data(), q.n, ep);
        einvit::gemm::set_strassen(true);
        einvit::gemm::multiply(einvit::cpu{}, q.m, oq.sa, packed_q, strassen_out.data(), q.n, ep);
        einvit::gemm::set_strassen(false);
    };
    many_rows(rows_plain, rows_strassen);
    // attention (a padding mask, masked queries), its 2 x 6 heads' 4 query blocks each handed out as
    // items: the others take worker 2's, of other heads than their own, with the bits of one thread
    const einvit::kernels::AttentionSize as{2, 6, 197, 197, 64, 64};
    const std::size_t head_elements = 197 * 64, all_elements = 2 * 6 * head_elements;
    std::vector<float> aq(all_elements), ak(all_elements), av(all_elements), att_held(all_elements), att_again(all_elements),
        att_one(all_elements);
    for (std::size_t i = 0; i < all_elements; ++i) {
        aq[i] = float(std::sin(0.37 * double(i)));
        ak[i] = float(std::cos(0.23 * double(i)));
        av[i] = float(std::sin(0.11 * double(i) + 1.0));
    }
    std::vector<std::uint8_t> keep(2 * 197);
    for (std::size_t j = 0; j < keep.size(); ++j) keep[j] = j % 197 == 0 || j % 5 != 3;
    const auto attend = [&](std::vector<float>& out) {
        using einvit::kernels::HeadTensor;
        const auto in = [&](const std::vector<float>& x) { return HeadTensor<const float>{x.data(), 6 * head_elements, head_elements, 64}; };
        einvit::kernels::attention(einvit::cpu{}, as, in(aq), in(ak), in(av), HeadTensor<float>{out.data(), 6 * head_elements, head_elements, 64},
                                   0.125f, einvit::kernels::AttentionMask{keep.data(), 197, true});
    };
    attend(att_held);
    CHECK(held_workers == 1);  // still held throughout

    hold_worker = false;
    REQUIRE(wait_until([] { return held_workers.load() == 0; }));
    REQUIRE(sigaction(SIGUSR1, &before, nullptr) == 0);
    // and worker 2 takes part again: a job on all three threads
    std::thread::id again[3];
    started = 0;
    einvit::detail::pool().run(3, [&](std::size_t t) {
        again[t] = std::this_thread::get_id();
        ++started;
        wait_until([&] { return started.load() == 3; });
    });
    CHECK(again[2] == ids[2]);
    // task 2's scratch buffers are its own, not its thread's: sized while another thread ran it, so
    // worker 2 allocates nothing when it runs the same products (per thread, it would grow its own now)
    std::size_t allocations = 0;
    {
        einvit_test::AllocationScope scope;
        einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, again_packed.data(), p.n, ep, false, &norm);
        einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, again_unpacked.data(), p.n, ep, false, &norm);
        many_rows(again_plain, again_strassen);
        attend(att_again);
        allocations = scope.count();
    }
    CHECK(allocations == 0);
    einvit::set_num_threads(1);
    einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, one.data(), p.n, ep, false, &norm);
    CHECK(std::memcmp(held.data(), one.data(), one.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(unpacked.data(), one.data(), one.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(again_packed.data(), one.data(), one.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(again_unpacked.data(), one.data(), one.size() * sizeof(float)) == 0);
    many_rows(one_plain, one_strassen);
    CHECK(std::memcmp(rows_plain.data(), one_plain.data(), one_plain.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(again_plain.data(), one_plain.data(), one_plain.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(rows_strassen.data(), one_strassen.data(), one_strassen.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(again_strassen.data(), one_strassen.data(), one_strassen.size() * sizeof(float)) == 0);
    check_against_double(q, oq, ep, one_plain.data(), q.n);
    attend(att_one);
    CHECK(std::memcmp(att_held.data(), att_one.data(), att_one.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(att_again.data(), att_one.data(), att_one.size() * sizeof(float)) == 0);
    einvit::set_num_threads(einvit::detail::default_threads());
}
#endif

#if defined(__linux__)
TEST_CASE("thread pool: the default thread count is the CPUs the calling thread may run on (its affinity)") {
    cpu_set_t before;
    REQUIRE(sched_getaffinity(0, sizeof before, &before) == 0);
    const std::size_t cpus = static_cast<std::size_t>(CPU_COUNT(&before)), quota = einvit::detail::cpu_limit::cpu_quota();
    CHECK(einvit::detail::default_threads() == (quota != 0 && quota < cpus ? quota : cpus));  // and the cgroup's quota: test_cpu_limit.cpp
    // restricted to one of them (as `taskset -c N` would start it): one thread, not the machine's count
    int cpu = 0;
    while (!CPU_ISSET(cpu, &before)) ++cpu;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
    const std::size_t restricted = einvit::detail::default_threads();
    REQUIRE(sched_setaffinity(0, sizeof before, &before) == 0);
    CHECK(restricted == 1);
}
#endif

TEST_CASE("thread pool: setting the thread count it already has keeps its workers; another count replaces them") {
    // Worker i runs task i (the caller task 0) when every task waits until all have started (else a
    // thread done with its own may run a task not yet claimed). A mark in each thread's own storage tells
    // a kept worker from a new one (a new thread's ids can repeat a joined one's; its thread_local
    // storage starts anew).
    static thread_local int mark = 0;
    const auto marks = [](int set) {
        std::vector<int> seen(einvit::num_threads());
        std::atomic<std::size_t> started{0};
        einvit::detail::pool().run(seen.size(), [&](std::size_t t) {
            ++started;
            const auto start = std::chrono::steady_clock::now();
            while (started.load() < seen.size() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
                std::this_thread::yield();
            seen[t] = mark;
            if (set) mark = set;
        });
        return seen;
    };
    einvit::set_num_threads(3);
    REQUIRE(einvit::num_threads() == 3);
    marks(7);
    einvit::set_num_threads(3);
    CHECK(marks(0) == std::vector<int>{7, 7, 7});
    einvit::set_num_threads(0);  // taken as 1: no workers
    CHECK(einvit::num_threads() == 1);
    einvit::set_num_threads(3);
    CHECK(marks(0) == std::vector<int>{7, 0, 0});
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("thread pool: nested parallel_for runs inline; a job right after resizing is picked up") {
    for (int round = 0; round < 20; ++round) {
        einvit::set_num_threads(2 + round % 2);  // a fresh pool each time, then a job at once
        std::atomic<int> total{0};
        einvit::parallel_for(8, 1, [&](std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i)
                einvit::parallel_for(10, 1, [&](std::size_t b2, std::size_t e2) { total += static_cast<int>(e2 - b2); });
        });
        REQUIRE(total == 80);
    }
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("thread pool: an exception in a task, the caller's or a worker's, reaches the caller after every task has ended") {
    einvit::set_num_threads(2);
    const auto caller = std::this_thread::get_id();
    // a worker's task throws: before, the exception left the worker's thread and ended the program
    CHECK_THROWS_WITH_AS(einvit::parallel_for(2, 1,
                                              [&](std::size_t b, std::size_t) {
                                                  if (b == 1) throw std::runtime_error("worker's task");
                                              }),
                         "worker's task", std::runtime_error);
    // the caller's task throws while the worker's is still running: run() waits for it (before, it
    // returned at once, the worker still running a job on the caller's stack)
    std::atomic<bool> worker_done{false};
    CHECK_THROWS_WITH_AS(einvit::parallel_for(2, 1,
                                              [&](std::size_t b, std::size_t) {
                                                  if (b == 0) throw std::length_error("caller's task");
                                                  std::this_thread::sleep_for(std::chrono::milliseconds(50));
                                                  worker_done = true;
                                              }),
                         "caller's task", std::length_error);
    CHECK(worker_done);
    // both throw: one exception comes back; parallel_items too
    CHECK_THROWS_AS(einvit::parallel_items(64, [](std::size_t i) {
        if (i % 2 == 0) throw std::out_of_range("item");
    }),
                    std::out_of_range);
    // and the pool works as before: the next job runs on both threads (the caller no longer counts as
    // inside a task, which would run it inline) and a product is the same as ever
    std::atomic<int> on_caller{0}, on_worker{0};
    einvit::parallel_for(2, 1, [&](std::size_t, std::size_t) {
        ++(std::this_thread::get_id() == caller ? on_caller : on_worker);
        const auto start = std::chrono::steady_clock::now();
        while (on_caller + on_worker < 2 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
            std::this_thread::yield();
    });
    CHECK(on_caller == 1);
    CHECK(on_worker == 1);
    const Problem p{197, 320, 256, false, true};
    const Operands o = make(p, 5);
    std::vector<float> c(p.m * p.n);
    einvit::gemm::multiply(einvit::cpu{}, p.m, p.n, p.k, o.sa, o.sb, c.data(), p.n, {});
    check_against_double(p, o, {}, c.data(), p.n);
    einvit::set_num_threads(einvit::detail::default_threads());
}

namespace {

constexpr std::size_t slots = einvit::gemm::detail::scratch_slots;

// Runs `kernel` on a thread of its own, whose scratch buffers start empty, twice: once with `plan`'s
// memory lent (returns the allocations it made) and once without (`taken` receives what each slot's
// own buffer grew to). One kernel thread.
template <class F>
std::size_t run_cold(const einvit::ScratchPlan<float>& plan, F&& kernel, std::size_t (&taken)[slots]) {
    std::vector<float> memory(plan.elements() + 1);
    std::size_t allocations = 0;
    std::thread([&] {
        const einvit::ScratchScope<float> lend(plan, memory.data() + 1);  // not 64-byte aligned: the scope aligns
        einvit_test::AllocationScope scope;
        kernel(true);
        allocations = scope.count();
    }).join();
    std::thread([&] {
        kernel(false);
        for (std::size_t s = 0; s < slots; ++s) taken[s] = einvit::gemm::detail::scratch_capacity<float>(s);
    }).join();
    return allocations;
}

}  // namespace

TEST_CASE("scratch plans: a product with a pre-packed B, lent its plan, allocates nothing from a cold start; same bits") {
    using einvit::gemm::StrassenUse;
    struct Case {
        Problem p;
        StrassenUse use;
    };
    // one image's and batch 8's rows of ViT-B's products (Strassen's by default at batch 8 on AVX2 and
    // AVX-512, at one image too on AVX-512), the row block's bound (1576 rows), several depth blocks,
    // Strassen's wherever it fits, a product of a few rows
    const Case cases[] = {{{197, 2304, 768, false, true}, StrassenUse::where_it_pays},
                          {{1576, 2304, 768, false, true}, StrassenUse::where_it_pays},
                          {{1576, 768, 3072, false, true}, StrassenUse::where_it_pays},
                          {{300, 130, 3 * KC + 1, false, true}, StrassenUse::never},
                          {{197, 768, 768, false, true}, StrassenUse::wherever_it_fits},
                          {{5, 10, 64, true, true}, StrassenUse::where_it_pays}};
    einvit::set_num_threads(1);
    for (const Case& c : cases) {
        CAPTURE(c.p.m);
        CAPTURE(c.p.n);
        CAPTURE(c.p.k);
        const einvit_test::StrassenSetting use(c.use);
        const Operands o = make(c.p, 61);
        const einvit::gemm::PackedB<float> packed(o.sb, c.p.k, c.p.n);
        Epilogue<float> ep;
        ep.bias = o.bias.data();
        ep.activation = Activation::gelu_erf;
        std::vector<float> lent(c.p.m * c.p.n), own(c.p.m * c.p.n);
        const einvit::ScratchPlan<float> plan = einvit::gemm::scratch_plan<float>(c.p.m, c.p.k, c.p.n, c.use);
        std::size_t taken[slots];
        const std::size_t allocations = run_cold(plan, [&](bool lending) {
            einvit::gemm::multiply(einvit::cpu{}, c.p.m, o.sa, packed, (lending ? lent : own).data(), c.p.n, ep);
        }, taken);
        CHECK(allocations == 0);
        for (std::size_t s = 0; s < slots; ++s) CHECK_MESSAGE(taken[s] <= plan.slots[s], "slot " << s);
        CHECK(taken[0] > 0);
        CHECK(std::memcmp(lent.data(), own.data(), lent.size() * sizeof(float)) == 0);
        if (c.p.m * c.p.n * c.p.k < 400'000'000) check_against_double(c.p, o, ep, lent.data(), c.p.n);
    }
    // A plan that is too small (Strassen's slots left out) costs allocations, not a wrong answer.
    {
        const Problem p{197, 768, 768, false, true};
        const einvit_test::StrassenSetting use(StrassenUse::wherever_it_fits);
        const Operands o = make(p, 62);
        const einvit::gemm::PackedB<float> packed(o.sb, p.k, p.n);
        std::vector<float> lent(p.m * p.n), own(p.m * p.n);
        const einvit::ScratchPlan<float> plan = einvit::gemm::scratch_plan<float>(p.m, p.k, p.n, StrassenUse::never);
        std::size_t taken[slots];
        const std::size_t allocations = run_cold(plan, [&](bool lending) {
            einvit::gemm::multiply(einvit::cpu{}, p.m, o.sa, packed, (lending ? lent : own).data(), p.n);
        }, taken);
        CHECK(allocations > 0);
        CHECK(taken[1] > plan.slots[1]);
        CHECK(std::memcmp(lent.data(), own.data(), lent.size() * sizeof(float)) == 0);
    }
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("scratch plans: attention, lent its plan, allocates nothing from a cold start; same bits") {
    using einvit::kernels::AttentionSize;
    using einvit::kernels::HeadTensor;
    // ViT-B's heads at one image, several key blocks with unequal head sizes, odd little heads
    const AttentionSize sizes[] = {{2, 12, 197, 197, 64, 64}, {1, 2, 50, 600, 32, 48}, {3, 1, 7, 9, 5, 3}};
    einvit::set_num_threads(1);
    for (const AttentionSize& s : sizes) {
        CAPTURE(s.keys);
        CAPTURE(s.dim);
        einvit_test::Rng rng(63);
        const auto values = [&](std::size_t n) {
            std::vector<float> v(n);
            for (float& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
            return v;
        };
        const std::size_t heads = s.batch * s.heads;
        const std::vector<float> q = values(heads * s.queries * s.dim), k = values(heads * s.keys * s.dim),
                                 v = values(heads * s.keys * s.dim_v);
        const auto in = [&](const std::vector<float>& x, std::size_t rows, std::size_t width) {
            return HeadTensor<const float>{x.data(), s.heads * rows * width, rows * width, width};
        };
        std::vector<float> lent(heads * s.queries * s.dim_v), own(lent.size()), want(lent.size());
        const auto out = [&](std::vector<float>& x) {
            return HeadTensor<float>{x.data(), s.heads * s.queries * s.dim_v, s.queries * s.dim_v, s.dim_v};
        };
        const einvit::ScratchPlan<float> plan = einvit::kernels::attention_scratch_plan<float>(s.dim, s.dim_v, s.queries, s.keys);
        std::size_t taken[slots];
        const std::size_t allocations = run_cold(plan, [&](bool lending) {
            einvit::kernels::attention(einvit::cpu{}, s, in(q, s.queries, s.dim), in(k, s.keys, s.dim), in(v, s.keys, s.dim_v),
                                       out(lending ? lent : own), 0.125f);
        }, taken);
        CHECK(allocations == 0);
        for (std::size_t slot = 0; slot < slots; ++slot) CHECK_MESSAGE(taken[slot] <= plan.slots[slot], "slot " << slot);
        CHECK(std::memcmp(lent.data(), own.data(), lent.size() * sizeof(float)) == 0);
        einvit::kernels::attention(einvit::reference{}, s, in(q, s.queries, s.dim), in(k, s.keys, s.dim), in(v, s.keys, s.dim_v),
                                   out(want), 0.125f);
        float worst = 0;
        for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(lent[i] - want[i]));
        CHECK(worst < 1e-5f);
    }
    einvit::set_num_threads(einvit::detail::default_threads());
}

TEST_CASE("scratch plans: the layout's size, and scopes that nest") {
    einvit::ScratchPlan<float> a;
    CHECK(a.elements() == 0);
    a.need(0, 1).need(7, 17);
    CHECK(a.elements() == 16 + 32 + 15);  // each slot a whole number of 64-byte lines, and room to align
    einvit::ScratchPlan<float> b;
    b.need(0, 40).need(a);
    CHECK(b.slots[0] == 40);
    CHECK(b.slots[7] == 17);
    std::vector<float> outer_memory(a.elements()), inner_memory(b.elements());
    {
        const einvit::ScratchScope<float> outer(a, outer_memory.data());
        float* const from_outer = einvit::gemm::detail::scratch<float>(7, 17);
        CHECK(from_outer >= outer_memory.data());
        CHECK(from_outer < outer_memory.data() + outer_memory.size());
        CHECK(reinterpret_cast<std::uintptr_t>(from_outer) % 64 == 0);
        {
            const einvit::ScratchScope<float> inner(b, inner_memory.data());
            float* const from_inner = einvit::gemm::detail::scratch<float>(0, 40);
            CHECK(from_inner >= inner_memory.data());
            CHECK(from_inner + 40 <= inner_memory.data() + inner_memory.size());
        }
        CHECK(einvit::gemm::detail::scratch<float>(7, 17) == from_outer);
        // beyond the plan's slot: the thread's own buffer
        float* const own = einvit::gemm::detail::scratch<float>(7, 18);
        CHECK((own < outer_memory.data() || own >= outer_memory.data() + outer_memory.size()));
    }
}

TEST_CASE("scratch plans: lent to the tasks of a job, each its own slots, the last slot the first task's alone") {
    einvit::ScratchPlan<float> plan;
    plan.need(0, 20).need(5, 3).need(8, 40);
    CHECK(plan.elements(1) == plan.elements());
    CHECK(plan.elements(3) == 32 + 16 + 48 + 2 * (32 + 16) + 15);  // slot 8 once, slots 0 to 7 for each task
    std::vector<float> memory(plan.elements(3));
    const auto inside = [&](const float* p, std::size_t n) { return p >= memory.data() && p + n <= memory.data() + memory.size(); };
    einvit::set_num_threads(3);
    {
        const einvit::ScratchScope<float> lend(plan, memory.data(), 3);
        float* slot0[3] = {};
        float* slot5[3] = {};
        float* slot8[3] = {};
        einvit::detail::pool().run(3, [&](std::size_t task) {  // whichever thread runs task i, task i's memory
            slot0[task] = einvit::gemm::detail::scratch<float>(0, 20);
            slot5[task] = einvit::gemm::detail::scratch<float>(5, 3);
            if (task == 0) slot8[task] = einvit::gemm::detail::scratch<float>(8, 40);
        });
        for (std::size_t t = 0; t < 3; ++t) {
            CAPTURE(t);
            CHECK(inside(slot0[t], 20));
            CHECK(inside(slot5[t], 3));
            CHECK(reinterpret_cast<std::uintptr_t>(slot0[t]) % 64 == 0);
        }
        CHECK(inside(slot8[0], 40));
        // no two tasks share memory: each task's slots lie apart from the others'
        CHECK(slot0[1] >= slot8[0] + 40);
        CHECK(slot0[2] >= slot5[1] + 3);
        CHECK(slot5[0] < slot8[0]);
        // a task past the lent ones, or slot 8 asked by another task than the first: their own buffers
        float* past = nullptr;
        float* other8 = nullptr;
        einvit::set_num_threads(4);
        einvit::detail::pool().run(4, [&](std::size_t task) {
            if (task == 3) past = einvit::gemm::detail::scratch<float>(0, 20);
            if (task == 1) other8 = einvit::gemm::detail::scratch<float>(8, 40);
        });
        CHECK_FALSE(inside(past, 20));
        CHECK_FALSE(inside(other8, 40));
    }
    // the scope over: nothing lent
    float* after = nullptr;
    einvit::detail::pool().run(2, [&](std::size_t task) {
        if (task == 1) after = einvit::gemm::detail::scratch<float>(0, 20);
    });
    CHECK_FALSE(inside(after, 20));
    einvit::set_num_threads(einvit::detail::default_threads());
}
