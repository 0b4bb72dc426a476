// Reductions along an axis, against loops in double precision.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include <einvit/einvit.hpp>

#include "alloc_counter.hpp"
#include "test_util.hpp"

using einvit::Shape;
using einvit::Tensor;
using einvit_test::close;
using einvit_test::fill_uniform;

namespace {

enum class Kind { sum, mean, max, min, prod };

// Reference reduction of a (D0, D1, D2) tensor along `axis`, in double.
template <class TensorT>
double reference(const TensorT& x, std::size_t axis, std::size_t i, std::size_t j, Kind kind) {
    const std::size_t n = TensorT::extent(axis);
    double acc = kind == Kind::max ? -INFINITY : kind == Kind::min ? INFINITY : kind == Kind::prod ? 1.0 : 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t idx[3] = {axis == 0 ? k : i, axis == 0 ? i : axis == 1 ? k : j, axis == 2 ? k : j};
        const double v = x(idx[0], idx[1], idx[2]);
        if (kind == Kind::max) acc = std::max(acc, v);
        else if (kind == Kind::min) acc = std::min(acc, v);
        else if (kind == Kind::prod) acc *= v;
        else acc += v;
    }
    return kind == Kind::mean ? acc / double(n) : acc;
}

template <int Axis, class B, class X>
void check_axis(const X& x) {
    constexpr std::size_t a = static_cast<std::size_t>(Axis < 0 ? Axis + 3 : Axis);
    const auto s = einvit::sum<Axis>(x);
    const auto m = einvit::mean<Axis>(x);
    const auto hi = einvit::max<Axis>(x);
    const auto lo = einvit::min<Axis>(x);
    const auto p = einvit::prod<Axis>(x);
    using Out = einvit::remove_axis_t<typename X::shape_type, a>;
    static_assert(std::is_same_v<typename std::remove_cvref_t<decltype(s)>::shape_type, Out>);
    static_assert(std::is_same_v<typename std::remove_cvref_t<decltype(s)>::backend_type, B>);
    const double n = double(X::extent(a));
    for (std::size_t i = 0; i < Out::extent(0); ++i) {
        for (std::size_t j = 0; j < Out::extent(1); ++j) {
            CAPTURE(i);
            CAPTURE(j);
            CHECK(close(s(i, j), reference(x, a, i, j, Kind::sum), 1e-5, 1e-5 * n));
            CHECK(close(m(i, j), reference(x, a, i, j, Kind::mean), 1e-5, 1e-5));
            CHECK(hi(i, j) == float(reference(x, a, i, j, Kind::max)));
            CHECK(lo(i, j) == float(reference(x, a, i, j, Kind::min)));
            CHECK(close(p(i, j), reference(x, a, i, j, Kind::prod), 1e-5, 1e-30));
        }
    }
}

}  // namespace

TEST_CASE_TEMPLATE("sum, mean, max, min and prod along every axis, tails included", B, einvit::cpu, einvit::reference) {
    Tensor<float, Shape<3, 5, 37>, B> x;
    fill_uniform(x, 101, 0.5, 1.5);  // near 1, so products stay finite
    SUBCASE("axis 0") { check_axis<0, B>(x); }
    SUBCASE("axis 1") { check_axis<1, B>(x); }
    SUBCASE("axis 2 (contiguous)") { check_axis<2, B>(x); }
    SUBCASE("axis -1") { check_axis<-1, B>(x); }
    SUBCASE("axis -3") { check_axis<-3, B>(x); }
}

TEST_CASE("keeping the reduced axis, and broadcasting the result back") {
    Tensor<float, Shape<197, 768>> x;
    fill_uniform(x, 111, -3.0, 3.0);
    auto mu = einvit::mean<-1, true>(x);
    static_assert(std::is_same_v<decltype(mu)::shape_type, Shape<197, 1>>);
    Tensor<float, Shape<197, 768>> centred = x - mu;
    auto var = einvit::mean<-1, true>(centred * centred);
    for (std::size_t r : {0u, 100u, 196u}) {
        double m = 0, v = 0;
        for (std::size_t c = 0; c < 768; ++c) m += x(r, c);
        m /= 768;
        for (std::size_t c = 0; c < 768; ++c) v += (x(r, c) - m) * (x(r, c) - m);
        v /= 768;
        CHECK(close(mu(r, 0), m, 1e-5, 1e-6));
        CHECK(close(var(r, 0), v, 1e-5, 1e-6));
        CHECK(close(centred(r, 7), x(r, 7) - m, 1e-5, 1e-5));
    }
    auto col = einvit::sum<0, true>(x);
    static_assert(std::is_same_v<decltype(col)::shape_type, Shape<1, 768>>);
}

TEST_CASE("a reduction reads an expression on the fly and reduce_axis_into allocates nothing") {
    Tensor<float, Shape<16, 33>> a, b;
    fill_uniform(a, 121);
    fill_uniform(b, 122);
    Tensor<float, Shape<16>> dot;
    Tensor<float, Shape<33>> col_max;
    {
        einvit_test::AllocationScope scope;
        einvit::reduce_axis_into<einvit::op::sum, 1>(dot, a * b);
        einvit::reduce_axis_into<einvit::op::max, 0>(col_max, einvit::abs(a - b));
        CHECK(scope.count() == 0);
    }
    for (std::size_t i = 0; i < 16; ++i) {
        double want = 0;
        for (std::size_t j = 0; j < 33; ++j) want += double(a(i, j)) * b(i, j);
        CHECK(close(dot(i), want, 1e-5, 1e-5));
    }
    for (std::size_t j = 0; j < 33; ++j) {
        float want = 0;
        for (std::size_t i = 0; i < 16; ++i) want = std::max(want, std::fabs(a(i, j) - b(i, j)));
        CHECK(col_max(j) == want);
    }
}

TEST_CASE("reduce_axis_into and rearrange_into refuse a destination that overlaps their operand") {
    Tensor<float, Shape<3, 4>> x;
    std::iota(x.begin(), x.end(), 0.0f);
    einvit::TensorView<float, Shape<4>> row0(x.data());
    CHECK_THROWS_WITH_AS((einvit::reduce_axis_into<einvit::op::sum, 0>(row0, x)), doctest::Contains("overlaps"), einvit::error);
    CHECK_THROWS_WITH_AS((einvit::reduce_axis_into<einvit::op::max, 1>(einvit::TensorView<float, Shape<3>>(x.data() + 9), x * 2.0f)),
                         doctest::Contains("overlaps"), einvit::error);
    CHECK(x(0, 1) == 1.0f);  // nothing written
    Tensor<float, Shape<3, 3>> m;
    std::iota(m.begin(), m.end(), 0.0f);
    CHECK_THROWS_WITH_AS((einvit::rearrange_into<"a b -> b a">(m, m)), doctest::Contains("overlaps"), einvit::error);
    CHECK(m(0, 1) == 1.0f);
    // beside each other, not overlapping: fine
    Tensor<float, Shape<5, 4>> both;
    std::iota(both.begin(), both.begin() + 12, 0.0f);
    einvit::TensorView<float, Shape<3, 4>> src(both.data());
    einvit::TensorView<float, Shape<4>> sums(both.data() + 12), last(both.data() + 16);
    einvit::reduce_axis_into<einvit::op::sum, 0>(sums, src);
    CHECK(sums(3) == 3.0f + 7.0f + 11.0f);
    // one axis of extent 1 kept: each element reads only the one it writes, in the same place
    Tensor<float, Shape<4, 1>> col;
    std::iota(col.begin(), col.end(), 1.0f);
    einvit::reduce_axis_into<einvit::op::sum, 1>(col, col);
    CHECK(col(3, 0) == 4.0f);
    (void)last;
}

TEST_CASE_TEMPLATE("max and min propagate NaN wherever it sits in a row, as numpy and PyTorch do", B, einvit::cpu, einvit::reference) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    // rows of 37: a NaN first, in the SIMD body, in the tail, last; and a row without one
    for (std::size_t at : {std::size_t{0}, std::size_t{5}, std::size_t{17}, std::size_t{33}, std::size_t{36}}) {
        Tensor<float, Shape<3, 37>, B> x;
        for (std::size_t r = 0; r < 3; ++r)
            for (std::size_t j = 0; j < 37; ++j) x(r, j) = static_cast<float>((r * 37 + j) % 11) - 5.0f;
        x(1, at) = nan;
        const auto mx = einvit::max<1>(x);
        const auto mn = einvit::min<1>(x);
        CHECK(std::isnan(mx(1)));
        CHECK(std::isnan(mn(1)));
        CHECK(mx(0) == 5.0f);
        CHECK(mn(2) == -5.0f);
        // along the other axis (the rows combined element by element), and through einops' reduce
        const auto cols = einvit::max<0>(x);
        for (std::size_t j = 0; j < 37; ++j) CHECK(std::isnan(cols(j)) == (j == at));
        const auto r = einvit::reduce<"a b -> a", einvit::op::max>(x);
        CHECK(std::isnan(r(1)));
        CHECK(!std::isnan(r(0)));
    }
}

TEST_CASE("integer and rank-1 reductions") {
    Tensor<std::int32_t, Shape<4, 9>> a;
    std::iota(a.begin(), a.end(), -10);
    auto s = einvit::sum<1>(a);
    auto mx = einvit::max<0>(a);
    for (std::size_t i = 0; i < 4; ++i) CHECK(s(i) == 9 * (-10 + int(i) * 9) + 36);
    for (std::size_t j = 0; j < 9; ++j) CHECK(mx(j) == -10 + 27 + int(j));
    Tensor<double, Shape<1000>> v;
    fill_uniform(v, 131);
    auto total = einvit::sum<0>(v);
    static_assert(std::is_same_v<decltype(total)::shape_type, Shape<>>);
    double want = 0;
    for (double x : v) want += x;
    CHECK(close(total(), want, 1e-12, 1e-12));
    Tensor<float, Shape<3, 0>> empty;
    auto zero = einvit::sum<1>(empty);
    auto lowest = einvit::max<1>(empty);
    CHECK(zero(2) == 0.0f);
    CHECK(lowest(0) == -std::numeric_limits<float>::infinity());
}
