// einvit/nn/common.hpp — what the operations in einvit/nn/ share: the accumulate tag and the layout facts they check
// their operands with.
// Part of einvit's transformer operations; <einvit/ops/nn.hpp> includes them all.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "einvit/backend/cpu/attention.hpp"
#include "einvit/backend/cpu/gemm.hpp"
#include "einvit/backend/cpu/rows.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/diagnostics.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/core/tensor.hpp"

namespace einvit::inline EINVIT_ABI {

/// Passed to linear_into: add the product to what the output holds (a fused residual).
struct accumulate_t {
    explicit constexpr accumulate_t() = default;
};
inline constexpr accumulate_t accumulate{};

namespace detail {

template <class X>
using elem_t = std::remove_const_t<typename X::value_type>;

// Facts about a tensor type's layout, for the operations here.
template <class X>
struct Layout {
    using S = typename X::shape_type;
    using St = typename X::strides_type;
    static constexpr std::size_t rank = S::rank();
    static constexpr std::size_t extent(std::size_t r) { return S::extents[r]; }
    static constexpr std::size_t stride(std::size_t r) { return St::values[r]; }
    static constexpr bool last_contiguous = rank == 0 || St::values[rank - 1] == 1;
    // The dimensions before the last `keep` collapse into one with a single stride.
    static constexpr bool leading_collapse(std::size_t keep) {
        for (std::size_t r = 0; r + keep + 1 < rank; ++r)
            if (extent(r) != 1 && St::values[r] != St::values[r + 1] * extent(r + 1)) return false;
        return true;
    }
    static constexpr std::size_t leading_count(std::size_t keep) {
        std::size_t n = 1;
        for (std::size_t r = 0; r + keep < rank; ++r) n *= extent(r);
        return n;
    }
};

// A shape with the last extent replaced by N.
template <class S, std::size_t N>
using with_last_t = replace_axis_t<S, S::rank() - 1, N>;

template <class X>
constexpr void check_rows_operand() {
    static_assert(Layout<X>::rank >= 1, "einvit: this operation needs a tensor of rank 1 or more");
    static_assert(Layout<X>::last_contiguous, "einvit: the last axis of this operand must be contiguous (stride 1)");
    static_assert(Layout<X>::leading_collapse(1),
                  "einvit: the leading axes of this operand must collapse into rows of one stride; copy it into a "
                  "contiguous tensor first");
}

}  // namespace detail

namespace detail {

// Rows of y and x for a row kernel: checked to be the same shape with contiguous last axes.
template <class Y, class X>
struct RowPair {
    using L = Layout<X>;
    static constexpr std::size_t cols = L::extent(L::rank - 1);
    static constexpr std::size_t rows = L::leading_count(1);
    static constexpr std::size_t ld_x = L::rank >= 2 ? L::stride(L::rank - 2) : cols;
    static constexpr std::size_t ld_y = Layout<Y>::rank >= 2 ? Layout<Y>::stride(L::rank - 2) : cols;
    static constexpr bool check() {
        check_rows_operand<X>();
        check_rows_operand<Y>();
        static_assert(std::is_same_v<typename Y::shape_type, typename X::shape_type>,
                      "einvit: the output's shape must be the input's (softmax, layer_norm)");
        diagnostics::check_element_types<elem_t<Y>, elem_t<X>>();
        diagnostics::check_floating_point<elem_t<X>>();
        return true;
    }
};

}  // namespace detail

}  // namespace einvit
