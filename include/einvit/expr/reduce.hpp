// einvit/expr/reduce.hpp — reductions along one axis: sum, mean, max, min, prod.
//
//   auto s = einvit::sum<1>(x);              // Shape<2, 3, 4> -> Shape<2, 4>
//   auto m = einvit::mean<-1, true>(x);      // keep the axis: Shape<2, 3, 4> -> Shape<2, 3, 1>
//   einvit::reduce_axis_into<einvit::op::max, 0>(out, a * b);   // into caller memory, no allocation
//
// Reductions are evaluated eagerly, in one pass over their operand, which may be any expression (it
// is computed on the fly, never materialised). They return a tensor, so a reduction can then take part
// in another expression with broadcasting, e.g. `x - einvit::mean<-1, true>(x)`: a lazy reduction
// nested inside an elementwise expression would be recomputed for every element it is broadcast to.
#pragma once

#include <array>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "einvit/backend/cpu/simd.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/diagnostics.hpp"
#include "einvit/core/error.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/core/tensor.hpp"
#include "einvit/expr/evaluate.hpp"
#include "einvit/expr/functors.hpp"
#include "einvit/expr/nodes.hpp"
#include "einvit/expr/operators.hpp"

namespace einvit::inline EINVIT_ABI {

/// Reduction operations, for reduce_axis (one axis) and einops-style reduce patterns.
namespace op {
/// Sum of the elements.
struct sum {
    template <class T>
    static constexpr T identity() noexcept { return T(0); }
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept { return a + b; }
    template <class T>
    static constexpr T finish(T acc, std::size_t) noexcept { return acc; }
};
/// Arithmetic mean (floating-point elements).
struct mean : sum {
    static constexpr bool floating_only = true;
    template <class T>
    static constexpr T finish(T acc, std::size_t n) noexcept { return acc / static_cast<T>(n); }
};
/// Product of the elements.
struct prod {
    template <class T>
    static constexpr T identity() noexcept { return T(1); }
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept { return a * b; }
    template <class T>
    static constexpr T finish(T acc, std::size_t) noexcept { return acc; }
};

/// Largest element (NaN if any element is NaN).
struct max {
    template <class T>
    static constexpr T identity() noexcept {
        return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    }
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept { return fn::maximum{}(a, b); }
    template <class T>
    static constexpr T finish(T acc, std::size_t) noexcept { return acc; }
};
/// Smallest element (NaN if any element is NaN).
struct min {
    template <class T>
    static constexpr T identity() noexcept {
        return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
    }
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept { return fn::minimum{}(a, b); }
    template <class T>
    static constexpr T finish(T acc, std::size_t) noexcept { return acc; }
};
}  // namespace op

namespace expr {

// Combines the n elements of a row into one value.
template <class Op, class T, class Row>
T reduce_row(reference, const Row& row, std::size_t n) noexcept {
    T acc = Op::template identity<T>();
    for (std::size_t j = 0; j < n; ++j) acc = Op{}(acc, static_cast<T>(row.scalar(j)));
    return acc;
}

template <class Op, class T, class Row>
T reduce_row(cpu, const Row& row, std::size_t n) noexcept {
    constexpr std::size_t W = simd::width<T>;
    auto acc = simd::broadcast<T>(Op::template identity<T>());
    std::size_t j = 0;
    for (; j + W <= n; j += W) acc = Op{}(acc, row.packet(j));
    alignas(64) T lanes[W];
    simd::store<T>(lanes, acc);
    if (j < n) {  // the tail, with the lanes past the end left out
        alignas(64) T tail[W];
        if constexpr (std::is_integral_v<T>)  // one at a time: padding lanes could divide by zero (eval_row)
            for (std::size_t i = 0; i < n - j; ++i) tail[i] = static_cast<T>(row.scalar(j + i));
        else
            simd::store<T>(tail, row.packet_partial(j, n - j));
        for (std::size_t i = 0; i < n - j; ++i) lanes[i] = Op{}(lanes[i], tail[i]);
    }
    T out = lanes[0];
    for (std::size_t i = 1; i < W; ++i) out = Op{}(out, lanes[i]);
    return out;
}

// d[j] = op(d[j], row[j]) for j < n.
template <class Op, class T, class Row>
void combine_row(reference, T* EINVIT_RESTRICT d, const Row& row, std::size_t n) noexcept {
    for (std::size_t j = 0; j < n; ++j) d[j] = Op{}(d[j], static_cast<T>(row.scalar(j)));
}

template <class Op, class T, class Row>
void combine_row(cpu, T* EINVIT_RESTRICT d, const Row& row, std::size_t n) noexcept {
    constexpr std::size_t W = simd::width<T>;
    std::size_t j = 0;
    for (; j + W <= n; j += W) simd::store<T>(d + j, Op{}(simd::load<T>(d + j), row.packet(j)));
    if constexpr (std::is_integral_v<T>) {  // one at a time: padding lanes could divide by zero (eval_row)
        for (; j < n; ++j) d[j] = Op{}(d[j], static_cast<T>(row.scalar(j)));
    } else if (j < n) {
        const auto merged = Op{}(simd::load_partial<T>(d + j, 1, n - j), row.packet_partial(j, n - j));
        simd::store_partial<T>(d + j, merged, n - j);
    }
}

/// Reduces expression e along axis A (already normalised) into the contiguous buffer dst, which holds
/// e's shape without that axis.
template <class Op, std::size_t A, class B, class T, class E>
void reduce_rows(T* dst, const E& e) {
    using C = typename E::shape_type;
    constexpr std::size_t R = C::rank();
    constexpr std::size_t n = C::extents[A];
    if constexpr (C::size() == 0) {
        if constexpr (n == 0)  // reducing an empty axis gives the identity
            for (std::size_t i = 0; i < remove_axis_t<C, A>::size(); ++i) dst[i] = Op::template identity<T>();
        return;
    } else if constexpr (A == R - 1) {
        std::array<std::size_t, R> index{};
        constexpr std::size_t rows = C::size() / n;
        for (std::size_t r = 0; r < rows; ++r) {
            dst[r] = Op::finish(reduce_row<Op, T>(B{}, e.template row<C>(index.data()), n), n);
            for (std::size_t d = R - 1; d-- > 0;) {
                if (++index[d] < C::extents[d]) break;
                index[d] = 0;
            }
        }
    } else {
        constexpr std::size_t m = C::extents[R - 1];
        constexpr std::size_t rows = C::size() / (n * m);
        std::array<std::size_t, R> index{};  // index[A] and index[R - 1] are driven separately
        for (std::size_t r = 0; r < rows; ++r) {
            T* d = dst + r * m;
            for (std::size_t j = 0; j < m; ++j) d[j] = Op::template identity<T>();
            for (std::size_t k = 0; k < n; ++k) {
                index[A] = k;
                combine_row<Op>(B{}, d, e.template row<C>(index.data()), m);
            }
            for (std::size_t j = 0; j < m; ++j) d[j] = Op::finish(d[j], n);
            index[A] = 0;
            for (std::size_t dim = R - 1; dim-- > 0;) {
                if (dim == A) continue;
                if (++index[dim] < C::extents[dim]) break;
                index[dim] = 0;
            }
        }
    }
}

template <class N>
using reduction_backend_t = std::conditional_t<std::is_void_v<typename N::backend_type>, cpu, typename N::backend_type>;

}  // namespace expr

/// The shape of reducing shape S along Axis (negative counts from the end), keeping it as extent 1 or not.
template <class S, int Axis, bool KeepDims>
using reduced_shape_t = std::conditional_t<KeepDims, replace_axis_t<S, normalize_axis(Axis, S::rank()), 1>,
                                           remove_axis_t<S, normalize_axis(Axis, S::rank())>>;

/// Reduces e along Axis with Op into dst, whose shape is e's without that axis (or with it as 1 when
/// keeping dimensions) and whose layout is contiguous. Allocates nothing, so dst may not overlap what
/// e reads (an element of dst would be written before all of its inputs are read): raises
/// errc::invalid_argument if it does.
template <class Op, int Axis, class Dst, expr::Operand E>
void reduce_axis_into(Dst&& dst, const E& e) {
    using N = expr::node_t<E>;
    using S = typename N::shape_type;
    using T = typename N::value_type;
    using D = std::remove_cvref_t<Dst>;
    diagnostics::check_axis<S, Axis>();
    if constexpr (requires { Op::floating_only; }) diagnostics::check_floating_point<T>();
    constexpr std::size_t a = normalize_axis(Axis, S::rank());
    static_assert(D::is_contiguous(), "einvit: reduce_axis_into needs a contiguous destination");
    static_assert(std::is_same_v<typename D::shape_type, reduced_shape_t<S, Axis, false>> ||
                      std::is_same_v<typename D::shape_type, reduced_shape_t<S, Axis, true>>,
                  "einvit: the destination of reduce_axis_into must have the operand's shape without the reduced axis "
                  "(or with it as 1)");
    diagnostics::check_element_types<typename D::value_type, T>();
    if constexpr (a < S::rank() && D::shape_type::size() != 0) {
        using Out = typename D::shape_type;
        const auto node = expr::as_node(e);
        const auto span = expr::byte_span<Out, row_major_strides_t<Out>>(dst.data());
        if (node.template unsafe_alias<Out, row_major_strides_t<Out>>(dst.data(), span[0], span[1]))
            raise(errc::invalid_argument, "reduce_axis_into: the destination overlaps the operand");
        expr::reduce_rows<Op, a, expr::reduction_backend_t<N>>(dst.data(), node);
    }
}

/// e reduced along Axis with Op, as a new tensor (see reduce_axis_into for a form that allocates nothing).
template <class Op, int Axis, bool KeepDims = false, expr::Operand E>
auto reduce_axis(const E& e) {
    using N = expr::node_t<E>;
    using S = typename N::shape_type;
    diagnostics::check_axis<S, Axis>();
    Tensor<typename N::value_type, reduced_shape_t<S, Axis, KeepDims>, expr::reduction_backend_t<N>> out(uninitialized);
    reduce_axis_into<Op, Axis>(out, e);
    return out;
}

/// Sum along Axis (negative counts from the end); KeepDims keeps it as extent 1.
template <int Axis, bool KeepDims = false, expr::Operand E>
auto sum(const E& e) {
    return reduce_axis<op::sum, Axis, KeepDims>(e);
}
/// Mean along Axis (floating-point elements).
template <int Axis, bool KeepDims = false, expr::Operand E>
auto mean(const E& e) {
    return reduce_axis<op::mean, Axis, KeepDims>(e);
}
/// Maximum along Axis.
template <int Axis, bool KeepDims = false, expr::Operand E>
auto max(const E& e) {
    return reduce_axis<op::max, Axis, KeepDims>(e);
}
/// Minimum along Axis.
template <int Axis, bool KeepDims = false, expr::Operand E>
auto min(const E& e) {
    return reduce_axis<op::min, Axis, KeepDims>(e);
}
/// Product along Axis.
template <int Axis, bool KeepDims = false, expr::Operand E>
auto prod(const E& e) {
    return reduce_axis<op::prod, Axis, KeepDims>(e);
}

}  // namespace einvit
