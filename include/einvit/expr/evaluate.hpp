// einvit/expr/evaluate.hpp — evaluating an expression into a destination, one pass, per backend.
//
// The driver walks the destination row by row (one row when every operand is contiguous and of the
// destination's shape, so a whole tensor is a single flat loop) and hands each row to the backend's
// row kernel: packets of xsimd lanes for `cpu`, plain scalar calls for `reference`. An operand that
// overlaps the destination in a way that could be overwritten before it is read is detected at run
// time and the expression is evaluated through a temporary instead.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include "einvit/backend/cpu/simd.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/diagnostics.hpp"
#include "einvit/core/memory.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/expr/nodes.hpp"

namespace einvit::inline EINVIT_ABI::expr {

/// Evaluates one row of n elements into d, d + DstStride, ...: scalar reference kernel.
template <std::size_t DstStride, class T, class Row>
void eval_row(reference, T* EINVIT_RESTRICT d, const Row& row, std::size_t n) noexcept {
    for (std::size_t j = 0; j < n; ++j) d[j * DstStride] = static_cast<T>(row.scalar(j));
}

/// Evaluates one row of n elements: SIMD kernel. Every element, tail included, goes through the same
/// packet arithmetic, so results do not depend on how rows are split. Integer tails are computed one
/// element at a time instead (the same values: integer arithmetic is exact): a padding lane holds 1,
/// and an expression can turn that into a zero divisor, which traps (SIGFPE) where float gives inf.
template <std::size_t DstStride, class T, class Row>
void eval_row(cpu, T* EINVIT_RESTRICT d, const Row& row, std::size_t n) noexcept {
    constexpr std::size_t W = simd::width<T>;
    std::size_t j = 0;
    if constexpr (std::is_integral_v<T> && W > 1) {
        for (; j + W <= n; j += W) {
            const auto p = row.packet(j);
            if constexpr (DstStride == 1) simd::store<T>(d + j, p);
            else
                for (std::size_t i = 0; i < W; ++i) d[(j + i) * DstStride] = simd::lane<T>(p, i);
        }
        for (; j < n; ++j) d[j * DstStride] = static_cast<T>(row.scalar(j));
    } else if constexpr (DstStride == 1) {
        for (; j + 2 * W <= n; j += 2 * W) {
            const auto p0 = row.packet(j);
            const auto p1 = row.packet(j + W);
            simd::store<T>(d + j, p0);
            simd::store<T>(d + j + W, p1);
        }
        for (; j + W <= n; j += W) simd::store<T>(d + j, row.packet(j));
        if (j < n) simd::store_partial<T>(d + j, row.packet_partial(j, n - j), n - j);
    } else {
        for (; j < n; j += W) {
            const std::size_t count = n - j < W ? n - j : W;
            const auto p = row.packet_partial(j, count);
            for (std::size_t i = 0; i < count; ++i) d[(j + i) * DstStride] = simd::lane<T>(p, i);
        }
    }
}

/// Writes expression `e` into the destination of shape Out and strides DstSt at `dst`, on backend B.
/// The caller has checked that e's shape is Out.
template <class B, class Out, class DstSt, class T, class E>
void assign_rows(T* dst, const E& e) noexcept {
    if constexpr (Out::size() == 0) {
        return;
    } else if constexpr (Out::rank() == 0 || (E::template flat_for<Out> && is_contiguous_layout<Out, DstSt>())) {
        eval_row<1>(B{}, dst, e.flat(), Out::size());
    } else {
        constexpr std::size_t R = Out::rank();
        constexpr std::size_t inner = Out::extents[R - 1];
        constexpr std::size_t dst_inner_stride = DstSt::values[R - 1];
        std::array<std::size_t, R> index{};  // outer indices; index[R - 1] stays 0
        constexpr std::size_t rows = Out::size() / inner;
        for (std::size_t r = 0; r < rows; ++r) {
            std::size_t offset = 0;
            for (std::size_t d = 0; d + 1 < R; ++d) offset += index[d] * DstSt::values[d];
            eval_row<dst_inner_stride>(B{}, dst + offset, e.template row<Out>(index.data()), inner);
            for (std::size_t d = R - 1; d-- > 0;) {  // odometer over the outer dimensions
                if (++index[d] < Out::extents[d]) break;
                index[d] = 0;
            }
        }
    }
}

/// The span of bytes [lo, hi) that a destination's elements occupy.
template <class Out, class DstSt, class T>
std::array<const void*, 2> byte_span(const T* dst) noexcept {
    std::size_t last = 0;
    for (std::size_t r = 0; r < Out::rank(); ++r) last += (Out::extents[r] - 1) * DstSt::values[r];
    return {static_cast<const void*>(dst), static_cast<const void*>(dst + last + 1)};
}

/// Assigns expression `e` to the destination (shape Out, strides DstSt, at dst) on backend B, through a
/// temporary when an operand overlaps the destination unsafely. Raises out_of_memory if that temporary
/// cannot be allocated.
template <class B, class Out, class DstSt, class T, class E>
void assign(T* dst, const E& e) {
    diagnostics::check_host_backend<B>();
    if constexpr (Out::size() != 0) {
        const auto span = byte_span<Out, DstSt>(dst);
        if (e.template unsafe_alias<Out, DstSt>(dst, span[0], span[1])) {
            using Contiguous = row_major_strides_t<Out>;
            void* raw = einvit::detail::heap_allocate(Out::size() * sizeof(T), false);
            if (!raw) raise(errc::out_of_memory, "no memory for the temporary of an aliased assignment");
            T* tmp = static_cast<T*>(raw);
            assign_rows<B, Out, Contiguous>(tmp, e);
            assign_rows<B, Out, DstSt>(dst, Leaf<const T, Out, Contiguous, B>{tmp});
            einvit::detail::heap_free(raw, Out::size() * sizeof(T));
            return;
        }
    }
    assign_rows<B, Out, DstSt>(dst, e);
}

}  // namespace einvit::expr
