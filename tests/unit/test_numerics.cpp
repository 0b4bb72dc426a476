// Numerical edge cases at release flags (the build never uses -ffinite-math-only): what einvit's
// kernels do with large offsets, masked rows, NaN, infinities and subnormals, stated and checked.
// Tolerances per operation: abs 1e-5, rel 1e-4 (ONNX Runtime's defaults) unless a tighter one is
// stated.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if defined(__unix__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <einvit/einvit.hpp>

#include "test_util.hpp"

using einvit::Shape;
using einvit::Tensor;

namespace {

constexpr float inf = std::numeric_limits<float>::infinity();
const float nan = std::numeric_limits<float>::quiet_NaN();
constexpr float denorm = std::numeric_limits<float>::denorm_min();

// |got - want| within n ulps of want, or both NaN, or both the same infinity; a subnormal `want`
// (below FLT_MIN) is compared absolutely to n subnormal steps.
bool same_within_ulps(float got, double want, double n) {
    if (std::isnan(want)) return std::isnan(got);
    if (std::isinf(want)) return std::isinf(got) && (got > 0) == (want > 0);
    if (std::isnan(got) || std::isinf(got)) return false;
    const double scale = std::max(std::fabs(want), double(std::numeric_limits<float>::min()));
    return std::fabs(double(got) - want) <= n * scale * std::numeric_limits<float>::epsilon() + n * denorm;
}

// A vector of special inputs long enough to go through the SIMD path and its tail.
const std::vector<float>& specials() {
    static const std::vector<float> v = {nan,    inf,   -inf,  0.0f,   -0.0f,   denorm, -denorm, 1e-40f, -1e-40f, 1e-38f,
                                         88.7f,  89.0f, 100.f, -87.0f, -103.0f, -200.f, 10.0f,   -10.0f, 0.5f,    -0.5f,
                                         1e-20f, 3.0f,  -3.0f, 20.0f,  -20.0f,  1e30f,  -1e30f,  2.2f,   -2.2f,   7.0f,
                                         -7.0f,  1.0f,  -1.0f, 1e-30f, -1e-30f, 0.1f,   -0.1f};
    return v;
}

// The bound: `ulps_bound` ulps, or, when `loose`, the per-operation tolerances (abs 1e-5, rel 1e-4);
// `also_right`, when given, accepts a stated deviation.
template <class Eval, class Ref>
void check_special(const char* name, Eval eval, Ref ref, double ulps_bound, bool loose = false,
                   bool (*also_right)(float x, float got) = nullptr) {
    constexpr std::size_t N = 37;
    Tensor<float, Shape<N>> x, y;
    REQUIRE(specials().size() == N);
    std::memcpy(x.data(), specials().data(), N * sizeof(float));
    eval(y, x);
    for (std::size_t i = 0; i < N; ++i) {
        const double want = ref(double(x(i)));
        INFO(name, "(", x(i), ") = ", y(i), ", std:: says ", want);
        const bool right = (also_right && also_right(x(i), y(i))) ||
                           (loose && std::isfinite(want) ? einvit_test::close(y(i), want, 1e-4, 1e-5)
                                                         : same_within_ulps(y(i), want, ulps_bound));
        CHECK(right);
    }
}

}  // namespace

TEST_CASE("numerics: exp, tanh, erf on NaN, infinities, subnormals, overflow and underflow, as std:: does") {
    // bound: 4 ulps (xsimd's float exp, tanh and erf measure within 2). One stated difference: the
    // SIMD exp overflows to inf from x > 88.3763 (xsimd's threshold), where std::exp stays finite up to
    // ln(FLT_MAX) = 88.7228; softmax and GELU never take exp of a positive number that large.
    check_special(
        "exp", [](auto& y, const auto& x) { y = einvit::exp(x); }, [](double v) { return double(std::exp(float(v))); }, 4, false,
        [](float x, float got) { return x > 88.3763f && x <= 88.7228f && std::isinf(got) && got > 0; });
    check_special("tanh", [](auto& y, const auto& x) { y = einvit::tanh(x); }, [](double v) { return double(std::tanh(float(v))); }, 4);
    check_special("erf", [](auto& y, const auto& x) { y = einvit::erf(x); }, [](double v) { return double(std::erf(float(v))); }, 4);
}

TEST_CASE_TEMPLATE("numerics: exp where std::exp is subnormal: the subnormal, within 4 ulps of the smallest normal number", T, float,
                   double) {
    // the SIMD exp alone flushed e^x to 0 below the smallest normal number (x < -87.4 for float)
    const double low = std::log(double(std::numeric_limits<T>::min())), last = std::log(double(std::numeric_limits<T>::denorm_min()));
    std::vector<T> xs;
    for (double x = low + 2; x > last - 2; x -= (low - last + 4) / 990) xs.push_back(static_cast<T>(x));
    xs.push_back(-std::numeric_limits<T>::infinity());
    Tensor<T, Shape<1001>> x, y;
    REQUIRE(xs.size() <= 1001);
    for (std::size_t i = 0; i < 1001; ++i) x(i) = i < xs.size() ? xs[i] : T(-1);
    y = einvit::exp(x);
    const double step = double(std::numeric_limits<T>::denorm_min());
    std::size_t subnormals = 0;
    for (std::size_t i = 0; i < 1001; ++i) {
        const T want = std::exp(x(i));
        subnormals += want > 0 && want < std::numeric_limits<T>::min();
        const double scale = std::max(double(want), double(std::numeric_limits<T>::min()));
        INFO("exp(", x(i), ") = ", y(i), ", std:: says ", want);
        CHECK(std::fabs(double(y(i)) - double(want)) <= 4 * scale * double(std::numeric_limits<T>::epsilon()) + 4 * step);
    }
    CHECK(subnormals > 500);  // the sweep is mostly where the result is subnormal
}

TEST_CASE("numerics: the attention softmax's exp((x - shift) * scale) for x <= shift: within 2 ulps, or 1e-7 of the largest term") {
    // On AVX-512 and AVX2 the attention kernel's own 2^t (kernels::detail::exp2_nonpositive) of t = (x -
    // shift) * scale * log2(e), elsewhere the general exp. Rounding t costs a relative error of about |t| * 6e-8,
    // as rounding the general exp's argument does, so far from the maximum the bound is absolute: 1e-7
    // of the row's largest term, exp(0) = 1, which every softmax row holds.
    using P = einvit::simd::packet<float>;
    constexpr std::size_t W = einvit::simd::width<float>;
    const float scale = 0.125f, shift = 3.5f;
    const P vshift = einvit::simd::broadcast<float>(shift), vscale = einvit::simd::broadcast<float>(scale),
            vscale2 = einvit::simd::broadcast<float>(scale * 1.4426950408889634f);
    std::vector<float> xs;
    for (double d = 0; d < 900; d += 0.0137) xs.push_back(static_cast<float>(shift - d));  // t from 0 to about -162
    for (float v : {-inf, shift, nextafterf(shift, 0.0f), -1e30f, -700.0f, -810.0f, -840.0f}) xs.push_back(v);
    const float qnan = std::numeric_limits<float>::quiet_NaN();
    xs.push_back(qnan);
    while (xs.size() % W) xs.push_back(shift);
    std::size_t bad = 0;
    double worst_near_max = 0;  // in ulps, where the result is above 1/8
    for (std::size_t i = 0; i < xs.size(); i += W) {
        alignas(64) float got[W];
        einvit::simd::store<float>(got, einvit::kernels::detail::exp_shifted(einvit::simd::load<float>(xs.data() + i), vshift,
                                                                              vscale, vscale2));
        for (std::size_t l = 0; l < W; ++l) {
            const float x = xs[i + l];
            const double want = std::exp((double(x) - double(shift)) * double(scale));
            const bool right = std::isnan(x) ? std::isnan(got[l])
                                             : same_within_ulps(got[l], want, 2) || std::fabs(double(got[l]) - want) <= 1e-7;
            if (want > 0.125) worst_near_max = std::max(worst_near_max, std::fabs(double(got[l]) - want) / (want * 0x1p-23));
            if (!right) {
                ++bad;
                INFO("x = ", x, ": ", got[l], ", want ", want);
                CHECK(right);
            }
        }
    }
    CHECK(bad == 0);
    CHECK(worst_near_max <= 2.0);
}

TEST_CASE("numerics: GELU and ReLU of NaN and infinities are PyTorch's") {
    // PyTorch 1.13: gelu(nan) = nan, gelu(inf) = inf, gelu(-inf) = nan (0.5 x (1 + erf) is -inf * 0),
    // gelu of a large negative number is -0; relu(nan) = nan.
    check_special("gelu", [](auto& y, const auto& x) { y = einvit::gelu(x); },
                  [](double v) { return 0.5 * double(float(v)) * (1.0 + std::erf(double(float(v)) / std::sqrt(2.0))); }, 0, true);
    check_special("relu", [](auto& y, const auto& x) { y = einvit::relu(x); },
                  [](double v) { return std::isnan(v) ? v : (v > 0 ? v : 0.0); }, 0);
}

TEST_CASE("numerics: softmax of [10000 .. 10003] equals softmax of [0 .. 3]; fully masked rows give zeros") {
    Tensor<float, Shape<3, 4>> x;
    for (std::size_t j = 0; j < 4; ++j) {
        x(0, j) = 10000.0f + float(j);
        x(1, j) = float(j);
        x(2, j) = -inf;
    }
    auto p = einvit::softmax(x);
    double sum = 0;
    for (std::size_t j = 0; j < 4; ++j) sum += std::exp(double(j));
    for (std::size_t j = 0; j < 4; ++j) {
        CHECK(p(0, j) == p(1, j));
        CHECK(einvit_test::close(p(1, j), std::exp(double(j)) / sum, 1e-6));
        CHECK(p(2, j) == 0.0f);
    }
    auto pr = einvit::softmax(einvit_test::on<einvit::reference>(x));
    for (std::size_t j = 0; j < 4; ++j) CHECK(pr(0, j) == doctest::Approx(pr(1, j)).epsilon(1e-6));
}

TEST_CASE("numerics: a fully masked attention row gives zeros, not NaN") {
    Tensor<float, Shape<1, 2, 20, 8>> q, k, v;
    einvit_test::fill_uniform(q, 51);
    einvit_test::fill_uniform(k, 52);
    einvit_test::fill_uniform(v, 53);
    Tensor<std::uint8_t, Shape<1, 20>> keep;
    for (std::size_t j = 0; j < 20; ++j) keep(0, j) = 0;
    auto o = einvit::attention(q, k, v, keep, false);
    for (float e : o) REQUIRE(e == 0.0f);
}

TEST_CASE("numerics: LayerNorm of a constant row of 1234 is beta; of [40000 .. 40003] matches float64") {
    Tensor<float, Shape<2, 4>> x;
    Tensor<float, Shape<4>> g, b;
    for (std::size_t j = 0; j < 4; ++j) {
        x(0, j) = 1234.0f;
        x(1, j) = 40000.0f + float(j);
        g(j) = 1.0f + 0.25f * float(j);
        b(j) = 0.5f - 0.125f * float(j);
    }
    auto y = einvit::layer_norm(x, g, b, 1e-5f);
    for (std::size_t j = 0; j < 4; ++j) CHECK(y(0, j) == b(j));
    // float64: mean 40001.5, variance 1.25
    for (std::size_t j = 0; j < 4; ++j) {
        const double want = (double(j) - 1.5) / std::sqrt(1.25 + 1e-5) * g(j) + b(j);
        CHECK(einvit_test::close(y(1, j), want, 1e-4, 1e-5));
    }
    auto yr = einvit::layer_norm(einvit_test::on<einvit::reference>(x), einvit_test::on<einvit::reference>(g),
                                 einvit_test::on<einvit::reference>(b), 1e-5f);
    for (std::size_t j = 0; j < 4; ++j) {
        CHECK(yr(0, j) == b(j));
        CHECK(einvit_test::close(yr(1, j), (double(j) - 1.5) / std::sqrt(1.25 + 1e-5) * g(j) + b(j), 1e-4, 1e-5));
    }
}

TEST_CASE("numerics: the GEMM's fused GELU, QuickGELU and ReLU epilogues and the expressions agree on NaN, infinities and subnormals") {
    // y = x w^T + 0 with one input feature and w = 1: the epilogue sees each special value alone
    constexpr std::size_t N = 37;
    Tensor<float, Shape<N, 1>> x;
    std::memcpy(x.data(), specials().data(), N * sizeof(float));
    Tensor<float, Shape<1, 1>> one;
    one(0, 0) = 1.0f;
    Tensor<float, Shape<1>> zero;
    zero(0) = 0.0f;
    using A = einvit::gemm::Activation;
    for (auto act : {A::gelu_erf, A::gelu_tanh, A::relu, A::quick_gelu}) {
        auto fused = einvit::linear(x, one, zero, act);
        Tensor<float, Shape<N, 1>> expr;
        if (act == A::gelu_erf)
            expr = einvit::gelu(x);
        else if (act == A::gelu_tanh)
            expr = einvit::gelu_tanh(x);
        else if (act == A::quick_gelu)
            expr = einvit::quick_gelu(x);
        else
            expr = einvit::relu(x);
        for (std::size_t i = 0; i < N; ++i) {
            INFO("gelu(", x(i, 0), "): fused ", fused(i, 0), ", expression ", expr(i, 0));
            if (std::isfinite(expr(i, 0)))
                CHECK(einvit_test::close(fused(i, 0), expr(i, 0), 1e-4, 1e-5));
            else
                CHECK(same_within_ulps(fused(i, 0), double(expr(i, 0)), 0));
        }
    }
}

#if defined(__unix__)
TEST_CASE("simd: the packets are as wide as the instruction set the build targets (never a silent scalar build)") {
    // The builds for other instruction sets (tests/CMakeLists.txt: x86-64-v2, v3, v4, aarch64) are
    // only worth running if their kernels take that instruction set's packets.
#if !EINVIT_USE_XSIMD
    constexpr std::size_t lanes = 1;
#elif defined(__AVX512F__)
    constexpr std::size_t lanes = 16;
#elif defined(__AVX__)
    constexpr std::size_t lanes = 8;
#elif defined(__SSE2__) || defined(__ARM_NEON)
    constexpr std::size_t lanes = 4;
#else
    constexpr std::size_t lanes = einvit::simd::width<float>;  // an instruction set not listed here
#endif
    MESSAGE("instruction set: " << std::string(einvit::simd::instruction_set()) << ", " << einvit::simd::width<float> << " floats a packet");
    CHECK(einvit::simd::width<float> == lanes);
}

TEST_CASE("simd: a partial load, store or keep touches only the first n lanes, up to the end of mapped memory") {
    // n floats end exactly where a page with no access begins: a read or write of any lane past n faults
    using einvit::simd::packet;
    constexpr std::size_t W = einvit::simd::width<float>;
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* const map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(map != MAP_FAILED);
    REQUIRE(mprotect(static_cast<char*>(map) + page, page, PROT_NONE) == 0);
    float* const end = reinterpret_cast<float*>(static_cast<char*>(map) + page);
    for (std::size_t n = 1; n < W; ++n) {
        CAPTURE(n);
        float* const p = end - n;
        for (std::size_t i = 0; i < n; ++i) p[i] = -2.5f * static_cast<float>(i + 1);
        alignas(64) float lanes[W];
        einvit::simd::store<float>(lanes, einvit::simd::load_partial<float>(p, 1, n));
        for (std::size_t i = 0; i < W; ++i) CHECK(lanes[i] == (i < n ? -2.5f * static_cast<float>(i + 1) : 1.0f));
        // a strided partial load reads p[0], p[2], ...: the lanes past n, which would cross the end, are not read
        const std::size_t strided = (n + 1) / 2;
        einvit::simd::store<float>(lanes, einvit::simd::load_partial<float>(p, 2, strided));
        for (std::size_t i = 0; i < W; ++i) CHECK(lanes[i] == (i < strided ? p[2 * i] : 1.0f));
        std::vector<float> values(W);
        for (std::size_t i = 0; i < W; ++i) values[i] = 100.0f + static_cast<float>(i);
        const packet<float> v = einvit::simd::load<float>(values.data());
        einvit::simd::store_partial<float>(p, v, n);
        for (std::size_t i = 0; i < n; ++i) CHECK(p[i] == 100.0f + static_cast<float>(i));
        einvit::simd::store<float>(lanes, einvit::simd::keep_first<float>(einvit::simd::broadcast<float>(std::numeric_limits<float>::quiet_NaN()), n));
        for (std::size_t i = 0; i < W; ++i) {
            if (i < n) CHECK(std::isnan(lanes[i]));
            else CHECK(lanes[i] == 0.0f);
        }
    }
    munmap(map, 2 * page);
}
#endif
