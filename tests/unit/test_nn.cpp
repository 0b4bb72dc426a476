// matmul, linear (plain, pre-packed, fused epilogues, residual), softmax, layer_norm, gelu and
// attention: each fast kernel against a double-precision loop written here and against the scalar
// reference backend, on real ViT sizes and odd ones, with 1 and 2 threads.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <einvit/einvit.hpp>
#include <limits>
#include <vector>

#include "test_util.hpp"

namespace {

using einvit::Shape;
using einvit::Tensor;
using einvit_test::fill_uniform;
using einvit_test::on;

template <class X>
double max_abs_diff(const X& a, const std::vector<double>& want) {
    double worst = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double d = std::fabs(double(a.data()[i]) - want[i]);
        worst = (d > worst || std::isnan(d)) ? d : worst;
    }
    return worst;
}

}  // namespace

TEST_CASE("linear: y = x wᵀ + b on ViT-S's qkv shape, plain, pre-packed and reference agree with double") {
    Tensor<float, Shape<197, 384>> x;
    Tensor<float, Shape<1152, 384>> w;
    Tensor<float, Shape<1152>> b;
    fill_uniform(x, 1, -1, 1);
    fill_uniform(w, 2, -0.1, 0.1);
    fill_uniform(b, 3, -1, 1);
    std::vector<double> want(197 * 1152);
    for (std::size_t i = 0; i < 197; ++i)
        for (std::size_t o = 0; o < 1152; ++o) {
            double acc = b(o);
            for (std::size_t k = 0; k < 384; ++k) acc += double(x(i, k)) * double(w(o, k));
            want[i * 1152 + o] = acc;
        }
    auto y = einvit::linear(x, w, b);
    static_assert(std::is_same_v<decltype(y), Tensor<float, Shape<197, 1152>>>);
    CHECK(max_abs_diff(y, want) < 2e-5);

    // a pre-packed weight takes Strassen's products (gemm::set_strassen): within the same bound, and
    // bit for bit the plain product without them
    const einvit::PackedLinear<float, 1152, 384> packed(w);
    {
        const einvit_test::StrassenSetting on(true);
        auto yp = einvit::linear(x, packed, b);
        CHECK(max_abs_diff(yp, want) < 2e-5);
    }
    const einvit_test::StrassenSetting plain(false);
    auto yplain = einvit::linear(x, packed, b);
    CHECK(std::memcmp(y.data(), yplain.data(), y.bytes()) == 0);

    auto xr = on<einvit::reference>(x);
    auto wr = on<einvit::reference>(w);
    auto br = on<einvit::reference>(b);
    CHECK(max_abs_diff(einvit::linear(xr, wr, br), want) < 2e-5);
}

TEST_CASE("linear: batched input, fused GELU, and the fused residual x += h wᵀ + b") {
    Tensor<float, Shape<2, 7, 48>> x;
    Tensor<float, Shape<130, 48>> w1;
    Tensor<float, Shape<130>> b1;
    Tensor<float, Shape<48, 130>> w2;
    Tensor<float, Shape<48>> b2;
    fill_uniform(x, 4, -1, 1);
    fill_uniform(w1, 5, -0.3, 0.3);
    fill_uniform(b1, 6, -0.5, 0.5);
    fill_uniform(w2, 7, -0.2, 0.2);
    fill_uniform(b2, 8, -0.5, 0.5);
    auto h = einvit::linear(x, w1, b1, einvit::gemm::Activation::gelu_erf);
    static_assert(std::is_same_v<decltype(h), Tensor<float, Shape<2, 7, 130>>>);
    std::vector<double> hw(2 * 7 * 130);
    for (std::size_t t = 0; t < 14; ++t)
        for (std::size_t o = 0; o < 130; ++o) {
            double acc = b1(o);
            for (std::size_t k = 0; k < 48; ++k) acc += double(x.data()[t * 48 + k]) * double(w1(o, k));
            hw[t * 130 + o] = 0.5 * acc * (1 + std::erf(acc / std::sqrt(2.0)));
        }
    CHECK(max_abs_diff(h, hw) < 1e-5);

    std::vector<double> want(14 * 48);
    for (std::size_t t = 0; t < 14; ++t)
        for (std::size_t o = 0; o < 48; ++o) {
            double acc = double(x.data()[t * 48 + o]) + b2(o);
            for (std::size_t k = 0; k < 130; ++k) acc += double(h.data()[t * 130 + k]) * double(w2(o, k));
            want[t * 48 + o] = acc;
        }
    einvit::linear_into(x, h, w2, b2.data(), einvit::accumulate);
    CHECK(max_abs_diff(x, want) < 2e-5);
}

TEST_CASE("matmul: matrix, batched with a shared right operand, batched with batched operands, strided views") {
    Tensor<float, Shape<3, 5, 33>> a;
    Tensor<float, Shape<33, 17>> b;
    Tensor<float, Shape<3, 33, 17>> bb;
    fill_uniform(a, 9, -1, 1);
    fill_uniform(b, 10, -1, 1);
    fill_uniform(bb, 11, -1, 1);
    auto c = einvit::matmul(a, b);
    auto cb = einvit::matmul(a, bb);
    static_assert(std::is_same_v<decltype(c), Tensor<float, Shape<3, 5, 17>>>);
    std::vector<double> want(3 * 5 * 17), want_b(3 * 5 * 17);
    for (std::size_t z = 0; z < 3; ++z)
        for (std::size_t i = 0; i < 5; ++i)
            for (std::size_t j = 0; j < 17; ++j) {
                double s = 0, sb = 0;
                for (std::size_t k = 0; k < 33; ++k) {
                    s += double(a(z, i, k)) * double(b(k, j));
                    sb += double(a(z, i, k)) * double(bb(z, k, j));
                }
                want[(z * 5 + i) * 17 + j] = s;
                want_b[(z * 5 + i) * 17 + j] = sb;
            }
    CHECK(max_abs_diff(c, want) < 1e-5);
    CHECK(max_abs_diff(cb, want_b) < 1e-5);
    // strided views as operands, each against the product in double of what the view reads:
    // a transposed right operand (a (17, 33) matrix read as (33, 17)), a left one whose rows are
    // columns of its tensor, one whose batch axis is not outermost, and a batched transposed right one
    Tensor<float, Shape<17, 33>> b_rows;
    Tensor<float, Shape<3, 33, 5>> a_cols;
    Tensor<float, Shape<5, 3, 33>> a_inner;
    Tensor<float, Shape<3, 17, 33>> bb_rows;
    fill_uniform(b_rows, 13, -1, 1);
    fill_uniform(a_cols, 14, -1, 1);
    fill_uniform(a_inner, 15, -1, 1);
    fill_uniform(bb_rows, 16, -1, 1);
    auto bt = einvit::rearrange<"n k -> k n">(b_rows);     // (33, 17), strides (1, 33)
    auto at = einvit::rearrange<"z k i -> z i k">(a_cols);  // (3, 5, 33), strides (165, 1, 5)
    auto ai = einvit::rearrange<"i z k -> z i k">(a_inner); // (3, 5, 33), strides (33, 99, 1)
    auto bbt = einvit::rearrange<"z n k -> z k n">(bb_rows);  // (3, 33, 17), strides (561, 1, 33)
    static_assert(!decltype(bt)::is_contiguous() && !decltype(at)::is_contiguous() && !decltype(ai)::is_contiguous() &&
                  !decltype(bbt)::is_contiguous());
    const auto product = [](const auto& l, const auto& r) {
        std::vector<double> w(3 * 5 * 17);
        for (std::size_t z = 0; z < 3; ++z)
            for (std::size_t i = 0; i < 5; ++i)
                for (std::size_t j = 0; j < 17; ++j) {
                    double sum = 0;
                    for (std::size_t k = 0; k < 33; ++k) {
                        if constexpr (std::remove_cvref_t<decltype(r)>::rank() == 3)
                            sum += double(l(z, i, k)) * double(r(z, k, j));
                        else
                            sum += double(l(z, i, k)) * double(r(k, j));
                    }
                    w[(z * 5 + i) * 17 + j] = sum;
                }
        return w;
    };
    CHECK(max_abs_diff(einvit::matmul(a, bt), product(a, bt)) < 1e-5);
    CHECK(max_abs_diff(einvit::matmul(at, b), product(at, b)) < 1e-5);
    CHECK(max_abs_diff(einvit::matmul(at, bt), product(at, bt)) < 1e-5);
    CHECK(max_abs_diff(einvit::matmul(ai, bt), product(ai, bt)) < 1e-5);
    CHECK(max_abs_diff(einvit::matmul(ai, bbt), product(ai, bbt)) < 1e-5);
    CHECK(max_abs_diff(einvit::matmul(at, bbt), product(at, bbt)) < 1e-5);
}

TEST_CASE("softmax: rows sum to 1, large offsets change nothing, -inf entries and fully masked rows") {
    Tensor<float, Shape<12, 197>> x;
    fill_uniform(x, 12, -8, 8);
    auto p = einvit::softmax(x);
    for (std::size_t r = 0; r < 12; ++r) {
        double m = -1e300, sum = 0;
        for (std::size_t j = 0; j < 197; ++j) m = std::max(m, double(x(r, j)));
        for (std::size_t j = 0; j < 197; ++j) sum += std::exp(double(x(r, j)) - m);
        for (std::size_t j = 0; j < 197; ++j)
            REQUIRE(einvit_test::close(p(r, j), std::exp(double(x(r, j)) - m) / sum, 1e-5, 1e-9));
    }
    Tensor<float, Shape<2, 4>> big;
    for (std::size_t j = 0; j < 4; ++j) {
        big(0, j) = 10000.0f + float(j);
        big(1, j) = float(j);
    }
    auto pb = einvit::softmax(big);
    for (std::size_t j = 0; j < 4; ++j) CHECK(pb(0, j) == doctest::Approx(pb(1, j)).epsilon(1e-6));
    Tensor<float, Shape<2, 37>> masked;
    fill_uniform(masked, 13);
    const float inf = std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < 37; ++j) {
        masked(1, j) = -inf;
        if (j % 3) masked(0, j) = -inf;
    }
    auto pm = einvit::softmax(masked);
    double sum0 = 0;
    for (std::size_t j = 0; j < 37; ++j) {
        if (j % 3) CHECK(pm(0, j) == 0.0f);
        sum0 += pm(0, j);
        CHECK(pm(1, j) == 0.0f);
    }
    CHECK(sum0 == doctest::Approx(1.0).epsilon(1e-6));
    auto pr = einvit::softmax(on<einvit::reference>(masked));
    for (std::size_t i = 0; i < 74; ++i) CHECK(pr.data()[i] == doctest::Approx(pm.data()[i]).epsilon(1e-6));
    // a NaN makes its row NaN, as in PyTorch, also where every other element is -inf (the maximum
    // passes NaNs over, and such a row must not pass for a masked one)
    Tensor<float, Shape<3, 21>> nans;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (std::size_t j = 0; j < 21; ++j) {
        nans(0, j) = nan;
        nans(1, j) = j == 17 ? nan : -inf;
        nans(2, j) = j == 4 ? nan : float(j);
    }
    auto pn = einvit::softmax(nans);
    auto pnr = einvit::softmax(on<einvit::reference>(nans));
    for (std::size_t i = 0; i < nans.size(); ++i) {
        CHECK(std::isnan(pn.data()[i]));
        CHECK(std::isnan(pnr.data()[i]));
    }
    // scale: softmax(0.125 x)
    auto ps = einvit::softmax(x, 0.125f);
    auto px = einvit::softmax(Tensor<float, Shape<12, 197>>(x * 0.125f));
    for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(ps.data()[i] == doctest::Approx(px.data()[i]).epsilon(1e-5));
}

TEST_CASE("softmax: a negative scale is softmax of the negated row, with no overflow however wide the row") {
    // rows spread over [-500, 500]: with the maximum subtracted and a scale of -1 the exponents would
    // reach 1000 (exp overflows past 88); the smallest element is subtracted instead
    Tensor<float, Shape<12, 197>> x;
    fill_uniform(x, 21, -500, 500);
    x(3, 7) = std::numeric_limits<float>::infinity();  // weight 0 under a negative scale
    for (const float scale : {-1.0f, -0.125f, -3.0f}) {
        auto p = einvit::softmax(x, scale);
        auto pr = einvit::softmax(on<einvit::reference>(x), scale);
        for (std::size_t r = 0; r < 12; ++r) {
            double m = 1e300, sum = 0;  // the smallest element: the largest of scale * x
            for (std::size_t j = 0; j < 197; ++j)
                if (std::isfinite(x(r, j))) m = std::min(m, double(x(r, j)));
            const auto weight = [&](std::size_t j) {
                return std::isfinite(x(r, j)) ? std::exp((double(x(r, j)) - m) * double(scale)) : 0.0;
            };
            for (std::size_t j = 0; j < 197; ++j) sum += weight(j);
            for (std::size_t j = 0; j < 197; ++j) {
                INFO("scale ", scale, ", row ", r, ", column ", j);
                REQUIRE(std::isfinite(p(r, j)));
                REQUIRE(einvit_test::close(p(r, j), weight(j) / sum, 1e-5, 1e-9));
                REQUIRE(einvit_test::close(pr(r, j), weight(j) / sum, 1e-5, 1e-9));
            }
        }
    }
    // scale 0: every element of a finite row weighs the same
    auto p0 = einvit::softmax(x, 0.0f);
    for (std::size_t j = 0; j < 197; ++j) CHECK(p0(0, j) == doctest::Approx(1.0 / 197).epsilon(1e-6));
}

TEST_CASE("layer_norm: against double, offsets around 1e4, a constant row gives beta") {
    Tensor<float, Shape<197, 768>> x;
    Tensor<float, Shape<768>> g, b;
    fill_uniform(x, 14, -3, 3);
    fill_uniform(g, 15, 0.5, 1.5);
    fill_uniform(b, 16, -1, 1);
    for (std::size_t i = 0; i < 768; ++i) x(5, i) += 10000.0f;  // a row around 1e4
    for (std::size_t i = 0; i < 768; ++i) x(6, i) = 1234.0f;    // a constant row
    auto y = einvit::layer_norm(x, g, b, 1e-6f);
    std::vector<double> want(197 * 768);
    for (std::size_t r = 0; r < 197; ++r) {
        double mean = 0, var = 0;
        for (std::size_t i = 0; i < 768; ++i) mean += x(r, i);
        mean /= 768;
        for (std::size_t i = 0; i < 768; ++i) var += (x(r, i) - mean) * (x(r, i) - mean);
        var /= 768;
        for (std::size_t i = 0; i < 768; ++i) want[r * 768 + i] = (x(r, i) - mean) / std::sqrt(var + 1e-6) * g(i) + b(i);
    }
    CHECK(max_abs_diff(y, want) < 2e-4);  // row 5 holds 1e4 + u: its float inputs carry 1e-3 of rounding
    for (std::size_t i = 0; i < 768; ++i) REQUIRE(y(6, i) == b(i));
    double worst_ordinary = 0;
    for (std::size_t i = 0; i < 768 * 5; ++i) worst_ordinary = std::max(worst_ordinary, std::fabs(y.data()[i] - want[i]));
    CHECK(worst_ordinary < 1e-5);
    CHECK(max_abs_diff(einvit::layer_norm(on<einvit::reference>(x), on<einvit::reference>(g), on<einvit::reference>(b), 1e-6f), want) < 2e-4);
}

TEST_CASE("gelu: exact and tanh forms, QuickGELU, against the formulas in double") {
    Tensor<float, Shape<3, 1000>> x;
    fill_uniform(x, 17, -6, 6);
    Tensor<float, Shape<3, 1000>> e = einvit::gelu(x), t = einvit::gelu_tanh(x), r = einvit::relu(x), q = einvit::quick_gelu(x);
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = x.data()[i];
        REQUIRE(einvit_test::close(e.data()[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-5, 1e-7));
        REQUIRE(einvit_test::close(t.data()[i], 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))), 1e-5, 1e-7));
        REQUIRE(r.data()[i] == (v > 0 ? float(v) : 0.0f));
        REQUIRE(einvit_test::close(q.data()[i], v / (1 + std::exp(-1.702 * v)), 1e-5, 1e-7));
    }
    // the tails: x itself far right, -0 far left (e^(-1.702 x) overflows), NaN kept
    Tensor<float, Shape<4>> tails;
    tails(0) = 1000.0f;
    tails(1) = -1000.0f;
    tails(2) = std::numeric_limits<float>::quiet_NaN();
    tails(3) = 0.0f;
    Tensor<float, Shape<4>> qt = einvit::quick_gelu(tails);
    CHECK(qt(0) == 1000.0f);
    CHECK(qt(1) == 0.0f);
    CHECK(std::isnan(qt(2)));
    CHECK(qt(3) == 0.0f);
}

TEST_CASE("swiglu: silu(gate) x value row by row, apart and in place, 1 and 2 threads, the reference, against double") {
    // DINOv2 giant's fc1 rows (2 x 4096), an odd width (88: packets and a tail) and a width under one packet
    for (const std::size_t cols : {std::size_t{4096}, std::size_t{88}, std::size_t{3}}) {
        CAPTURE(cols);
        const std::size_t rows = 37, ld = 2 * cols;
        Tensor<float, Shape<37, 8192>> x;  // rows of ld values, ld <= 8192
        fill_uniform(x, 40 + cols, -8, 8);
        float* in = x.data();
        // the tails in row 0: silu(-1000) is -0 (e^1000 overflows), NaN stays NaN, silu(1000) is 1000
        in[0] = -1000.0f;
        in[1 % cols] = std::numeric_limits<float>::quiet_NaN();
        if (cols > 2) in[2] = 1000.0f, in[cols + 2] = 0.5f;
        std::vector<double> want(rows * cols);
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t i = 0; i < cols; ++i) {
                const double g = in[r * ld + i];
                want[r * cols + i] = g / (1 + std::exp(-g)) * in[r * ld + cols + i];
            }
        std::vector<float> one(rows * cols), two(rows * cols), ref(rows * cols);
        einvit::set_num_threads(1);
        einvit::kernels::swiglu_rows(einvit::cpu{}, static_cast<const float*>(in), ld, one.data(), cols, rows, cols);
        einvit::set_num_threads(2);
        einvit::kernels::swiglu_rows(einvit::cpu{}, static_cast<const float*>(in), ld, two.data(), cols, rows, cols);
        einvit::set_num_threads(einvit::detail::default_threads());
        CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
        einvit::kernels::swiglu_rows(einvit::reference{}, static_cast<const float*>(in), ld, ref.data(), cols, rows, cols);
        for (std::size_t i = 0; i < want.size(); ++i) {
            if (std::isnan(want[i])) {
                REQUIRE(std::isnan(one[i]));
                REQUIRE(std::isnan(ref[i]));
                continue;
            }
            REQUIRE(einvit_test::close(one[i], want[i], 1e-6, 1e-30));
            REQUIRE(einvit_test::close(ref[i], want[i], 1e-7, 1e-30));
        }
        CHECK(one[0] == 0.0f);
        if (cols > 2) CHECK(one[2] == 500.0f);
        // in place, as the model runs it: each row's first cols values become the gated ones
        einvit::kernels::swiglu_rows(einvit::cpu{}, static_cast<const float*>(in), ld, in, ld, rows, cols);
        for (std::size_t r = 0; r < rows; ++r)
            REQUIRE(std::memcmp(in + r * ld, one.data() + r * cols, cols * sizeof(float)) == 0);
    }
}

TEST_CASE("gelu: the SIMD form is within one float rounding of the double formula on [-20, 20], tails included") {
    // The packet path computes x·Φ(x) from polynomial pieces (16-lane AVX-512, 8-lane AVX2) or a rational approximation
    // of erfc (other packets; see fn::detail::gelu_float_packet); 100,000 points through the tensor
    // expression and through the GEMM's fused epilogue, and the rational form called on this build's packets.
    constexpr std::size_t N = 100000;
    Tensor<float, Shape<N, 1>> x;
    for (std::size_t i = 0; i < N; ++i) x(i, 0) = -20.0f + 40.0f * float(i) / float(N);
    Tensor<float, Shape<N, 1>> e = einvit::gelu(x);
    Tensor<float, Shape<1, 1>> one;
    one(0, 0) = 1.0f;
    Tensor<float, Shape<1>> zero;
    zero(0) = 0.0f;
    auto fused = einvit::linear(x, one, zero, einvit::gemm::Activation::gelu_erf);
    std::vector<float> rational(N, 0.0f);
#if EINVIT_USE_XSIMD
    constexpr std::size_t W = einvit::simd::width<float>;
    for (std::size_t i = 0; i + W <= N; i += W)
        einvit::simd::store<float>(rational.data() + i,
                                   einvit::fn::detail::gelu_rational_packet(einvit::simd::load<float>(x.data() + i)));
    const bool check_rational = true;
#else
    const bool check_rational = false;
#endif
    double worst = 0, worst_rational = 0;
    for (std::size_t i = 0; i < N; ++i) {
        const double v = x(i, 0), want = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
        const double bound = 1e-7 * (1.0 + 4.0 * std::fabs(want));
        worst = std::max(worst, std::fabs(e(i, 0) - want) / bound);
        if (check_rational) worst_rational = std::max(worst_rational, std::fabs(rational[i] - want) / bound);
        if (std::fabs(e(i, 0) - want) > bound || std::fabs(fused(i, 0) - want) > bound ||
            (check_rational && std::fabs(rational[i] - want) > bound)) {
            INFO("gelu(", v, "): expression ", e(i, 0), ", fused ", fused(i, 0), ", rational form ", rational[i], ", double ", want);
            REQUIRE(false);
        }
    }
    MESSAGE("worst error / bound: ", worst, "; the rational form's: ", worst_rational);
}

namespace {

// Attention in double over (b, h, n, d) arrays with vit-pytorch's mask semantics.
template <class Q, class K, class V, class O>
double attention_error(const Q& q, const K& k, const V& v, const O& out, const std::uint8_t* keep, bool mask_queries) {
    using LQ = einvit::detail::Layout<Q>;
    const std::size_t B = LQ::extent(0), H = LQ::extent(1), N = LQ::extent(2), D = LQ::extent(3);
    const std::size_t M = einvit::detail::Layout<K>::extent(2), E = einvit::detail::Layout<V>::extent(3);
    double worst = 0;
    std::vector<double> s(M);
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t i = 0; i < N; ++i) {
                double m = -1e300;
                bool any = false;
                for (std::size_t j = 0; j < M; ++j) {
                    double dot = 0;
                    for (std::size_t d = 0; d < D; ++d) dot += double(q(b, h, i, d)) * double(k(b, h, j, d));
                    const bool kept = !keep || (keep[b * M + j] && (!mask_queries || keep[b * M + i]));
                    any = any || !keep || keep[b * M + j];
                    s[j] = kept ? dot / std::sqrt(double(D)) : -3.4028234663852886e38;
                    m = std::max(m, s[j]);
                }
                double sum = 0;
                for (std::size_t j = 0; j < M; ++j) sum += (s[j] = std::exp(s[j] - m));
                for (std::size_t e = 0; e < E; ++e) {
                    double acc = 0;
                    for (std::size_t j = 0; j < M; ++j) acc += s[j] / sum * double(v(b, h, j, e));
                    const bool query_masked = keep && mask_queries && !keep[b * M + i];  // its scores all -max: the mean of v
                    if (!any && !query_masked) acc = 0;
                    const double d = std::fabs(acc - double(out(b, h, i, e)));
                    worst = (d > worst || std::isnan(d)) ? d : worst;
                }
            }
    return worst;
}

}  // namespace

TEST_CASE("attention: ViT-B's 12 heads at N = 197, d = 64, with 1 and 2 threads, bit-identical") {
    Tensor<float, Shape<1, 12, 197, 64>> q, k, v;
    fill_uniform(q, 18, -2, 2);
    fill_uniform(k, 19, -2, 2);
    fill_uniform(v, 20, -1, 1);
    einvit::set_num_threads(1);
    auto o1 = einvit::attention(q, k, v);
    einvit::set_num_threads(2);
    auto o2 = einvit::attention(q, k, v);
    einvit::set_num_threads(einvit::detail::default_threads());
    CHECK(std::memcmp(o1.data(), o2.data(), o1.bytes()) == 0);
    CHECK(attention_error(q, k, v, o1, nullptr, false) < 2e-5);
}

TEST_CASE("attention: several key blocks (online softmax), odd sizes, d != e, and the reference backend") {
    Tensor<float, Shape<2, 3, 61, 20>> q;
    Tensor<float, Shape<2, 3, 600, 20>> k;
    Tensor<float, Shape<2, 3, 600, 36>> v;
    fill_uniform(q, 21, -3, 3);
    fill_uniform(k, 22, -3, 3);
    fill_uniform(v, 23, -1, 1);
    auto o = einvit::attention(q, k, v);
    static_assert(std::is_same_v<decltype(o), Tensor<float, Shape<2, 3, 61, 36>>>);
    CHECK(attention_error(q, k, v, o, nullptr, false) < 2e-5);
    auto ref = einvit::attention(on<einvit::reference>(q), on<einvit::reference>(k), on<einvit::reference>(v));
    CHECK(attention_error(q, k, v, ref, nullptr, false) < 2e-6);
}

TEST_CASE("attention: vit-pytorch's padding mask (class token kept), masked queries, all keys masked") {
    Tensor<float, Shape<2, 4, 50, 16>> q, k, v;
    fill_uniform(q, 24, -2, 2);
    fill_uniform(k, 25, -2, 2);
    fill_uniform(v, 26, -1, 1);
    Tensor<std::uint8_t, Shape<2, 50>> keep;
    for (std::size_t j = 0; j < 50; ++j) {
        keep(0, j) = j == 0 || j % 4 != 1;  // class token kept, every fourth patch dropped
        keep(1, j) = j < 30;                // a padded sequence
    }
    auto o = einvit::attention(q, k, v, keep);
    CHECK(attention_error(q, k, v, o, keep.data(), true) < 2e-5);
    auto o_keys = einvit::attention(q, k, v, keep, false);
    CHECK(attention_error(q, k, v, o_keys, keep.data(), false) < 2e-5);
    Tensor<std::uint8_t, Shape<2, 50>> none;  // nothing kept: zeros, not NaN
    auto z = einvit::attention(q, k, v, none, false);
    for (float e : z) REQUIRE(e == 0.0f);
    // ... unless the queries are masked too: every score of a row is then -max, and PyTorch gives the
    // mean of v (the cpu kernel and the reference alike)
    auto zq = einvit::attention(q, k, v, none);
    CHECK(attention_error(q, k, v, zq, none.data(), true) < 2e-6);
    CHECK(zq(1, 2, 7, 3) != 0.0f);
    auto zr = einvit::attention(on<einvit::reference>(q), on<einvit::reference>(k), on<einvit::reference>(v), none);
    CHECK(attention_error(q, k, v, zr, none.data(), true) < 2e-6);
    auto o_ref = einvit::attention(on<einvit::reference>(q), on<einvit::reference>(k), on<einvit::reference>(v), keep);
    CHECK(attention_error(q, k, v, o_ref, keep.data(), true) < 2e-6);
}

TEST_CASE("attention: a keep mask masks the queries only where each query has a token's entry") {
    Tensor<float, Shape<2, 1, 8, 4>> q;
    Tensor<float, Shape<2, 1, 3, 4>> k, v;
    fill_uniform(q, 31, -2, 2);
    fill_uniform(k, 32, -2, 2);
    fill_uniform(v, 33, -1, 1);
    Tensor<std::uint8_t, Shape<2, 3>> keep;
    keep(0, 0) = keep(1, 0) = keep(1, 2) = 1;
    // query 5 has no entry in a mask of 3 tokens: refused, not read from the next image's mask
    CHECK_THROWS_WITH_AS(einvit::attention(q, k, v, keep), doctest::Contains("no more queries than keys"), einvit::error);
    CHECK_THROWS_WITH_AS(einvit::attention(on<einvit::reference>(q), on<einvit::reference>(k), on<einvit::reference>(v), keep),
                         doctest::Contains("no more queries than keys"), einvit::error);
    auto o = einvit::attention(q, k, v, keep, false);  // keys only: fine
    CHECK(attention_error(q, k, v, o, keep.data(), false) < 2e-5);
}

TEST_CASE("attention: a first key block with every key masked, then kept keys (online softmax from -inf)") {
    Tensor<float, Shape<1, 2, 600, 24>> q, k, v;
    fill_uniform(q, 28, -3, 3);
    fill_uniform(k, 29, -3, 3);
    fill_uniform(v, 30, -1, 1);
    Tensor<std::uint8_t, Shape<1, 600>> keep;
    for (std::size_t j = 0; j < 600; ++j) keep(0, j) = j >= 280 && j % 7 != 3;
    auto o = einvit::attention(q, k, v, keep, false);
    CHECK(attention_error(q, k, v, o, keep.data(), false) < 2e-5);
    for (float e : o) REQUIRE(std::isfinite(e));
}

TEST_CASE("attention: strided views straight out of a qkv projection (b, n, (3 h d)) -> (b, h, n, d)") {
    Tensor<float, Shape<1, 197, 3 * 3 * 64>> qkv;
    fill_uniform(qkv, 27, -2, 2);
    auto q = einvit::rearrange<"b n (t h d) -> t b h n d", einvit::axis<"t", 3>, einvit::axis<"h", 3>>(qkv);
    static_assert(!einvit::detail::is_owning_tensor_v<decltype(q)>, "a view, not a copy");
    using View = einvit::TensorView<const float, Shape<1, 3, 197, 64>, einvit::cpu, einvit::Strides<197 * 576, 64, 576, 1>>;
    const View qv(qkv.data()), kv(qkv.data() + 192), vv(qkv.data() + 384);
    auto o = einvit::attention(qv, kv, vv);
    Tensor<float, Shape<1, 3, 197, 64>> qc(qv), kc(kv), vc(vv);
    auto oc = einvit::attention(qc, kc, vc);
    CHECK(std::memcmp(o.data(), oc.data(), o.bytes()) == 0);
    CHECK(attention_error(qc, kc, vc, o, nullptr, false) < 2e-5);
}
