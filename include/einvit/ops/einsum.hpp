// einvit/ops/einsum.hpp — einsum with the pattern parsed at compile time.
//
//   auto scores = einvit::einsum<"bhid,bhjd->bhij">(q, k);          // torch style: one letter per axis
//   auto out    = einvit::einsum<"b h i j, b h j d -> b h i d">(attn, v);  // einops style
//
// 1 to 3 operands, an explicit "->", "..." (broadcast on the right), repeated indices within an
// operand (diagonals, traces). A contraction of two operands lowers to the strided GEMM kernel: batch
// indices, the row index and the column index become loops and strides, never transposed copies;
// everything else runs a generic loop. The output is a new contiguous tensor.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>

#include "einvit/backend/cpu/gemm.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/diagnostics.hpp"
#include "einvit/core/fixed_string.hpp"
#include "einvit/core/memory.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/core/tensor.hpp"
#include "einvit/pattern/einsum_plan.hpp"
#include "einvit/pattern/parse.hpp"
#include "einvit/pattern/report.hpp"

namespace einvit::inline EINVIT_ABI {

namespace detail {

inline constexpr std::size_t no_index = static_cast<std::size_t>(-1);

// How a two-operand contraction maps onto C = A · B.
struct GemmLowering {
    bool ok = false;
    bool swap = false;  // A is the second operand
    std::size_t m = 1, n = 1, k = 1;
    std::size_t a_row = 0, a_col = 0, b_row = 0, b_col = 0, ldc = 0;
    // Loops around the product: batch and extra row/column indices, then extra contraction indices.
    std::size_t loops = 0, k_loops = 0;
    std::size_t loop_length[pattern::max_elems]{};
    std::size_t loop_a[pattern::max_elems]{}, loop_b[pattern::max_elems]{}, loop_c[pattern::max_elems]{};
};

constexpr GemmLowering lower_to_gemm(const pattern::EinsumPlan& p) noexcept {
    GemmLowering g;
    if (p.operand_count != 2 || p.out_rank == 0) return g;
    std::size_t c_stride[pattern::max_elems]{};
    bool in_out[pattern::max_elems]{};
    std::size_t s = 1;
    for (std::size_t d = p.out_rank; d-- > 0;) {
        c_stride[p.out_index[d]] = s;
        in_out[p.out_index[d]] = true;
        s *= p.out_extent[d];
    }
    for (std::size_t id = 0; id < p.index_count; ++id) {
        if (p.uses[0][id] > 1 || p.uses[1][id] > 1) return g;  // a diagonal
        if (!in_out[id] && (p.uses[0][id] == 0 || p.uses[1][id] == 0) && (p.uses[0][id] || p.uses[1][id]))
            return g;  // summed in one operand only
    }
    const std::size_t last = p.out_index[p.out_rank - 1];
    const bool last_in0 = p.uses[0][last] > 0, last_in1 = p.uses[1][last] > 0;
    if (last_in0 && last_in1) return g;  // the contiguous output index is a batch index
    g.swap = last_in0;                   // the column index must come from B
    const std::size_t A = g.swap ? 1 : 0, B = 1 - A;

    std::size_t m_index = no_index, k_index = no_index;
    for (std::size_t d = 0; d < p.out_rank; ++d) {
        const std::size_t id = p.out_index[d];
        if (p.uses[A][id] && !p.uses[B][id]) m_index = id;
    }
    for (std::size_t id = 0; id < p.index_count; ++id)
        if (!in_out[id] && p.uses[A][id] && p.uses[B][id])
            if (k_index == no_index || p.stride[A][id] < p.stride[A][k_index]) k_index = id;

    g.n = p.length[last];
    g.b_col = p.stride[B][last];
    if (m_index != no_index) {
        g.m = p.length[m_index];
        g.a_row = p.stride[A][m_index];
        g.ldc = c_stride[m_index];
    }
    if (k_index != no_index) {
        g.k = p.length[k_index];
        g.a_col = p.stride[A][k_index];
        g.b_row = p.stride[B][k_index];
    }
    for (std::size_t id = 0; id < p.index_count; ++id) {  // loops over output indices
        if (!in_out[id] || id == last || id == m_index) continue;
        g.loop_length[g.loops] = p.length[id];
        g.loop_a[g.loops] = p.stride[A][id];
        g.loop_b[g.loops] = p.stride[B][id];
        g.loop_c[g.loops] = c_stride[id];
        ++g.loops;
    }
    for (std::size_t id = 0; id < p.index_count; ++id) {  // then extra contraction indices
        if (in_out[id] || id == k_index || !(p.uses[A][id] && p.uses[B][id])) continue;
        g.loop_length[g.loops + g.k_loops] = p.length[id];
        g.loop_a[g.loops + g.k_loops] = p.stride[A][id];
        g.loop_b[g.loops + g.k_loops] = p.stride[B][id];
        ++g.k_loops;
    }
    g.ok = true;
    return g;
}

template <fixed_string P, class... X>
struct EinsumPattern {
    static constexpr pattern::Expression expression = pattern::parse(P.view(), pattern::Dialect::einsum);
    template <class Xi>
    static constexpr pattern::OperandLayout layout() {
        pattern::OperandLayout l;
        using S = typename Xi::shape_type;
        using St = typename Xi::strides_type;
        l.rank = S::rank();  // over max_rank: plan_einsum refuses it (too_many_axes)
        for (std::size_t r = 0; r < l.rank && r < pattern::max_rank; ++r) {
            l.extent[r] = S::extents[r];
            l.stride[r] = St::values[r];
        }
        return l;
    }
    static constexpr pattern::EinsumPlan plan = [] {
        constexpr pattern::OperandLayout layouts[sizeof...(X)] = {layout<X>()...};
        return pattern::plan_einsum(expression, layouts, sizeof...(X));
    }();
    static constexpr bool ok = plan.error == pattern::Error::none;
    static constexpr void report() { pattern::report<plan.error, plan.error_a, plan.error_b, plan.error_name>(); }
    using out_shape = shape_from_array_t<pattern::take<plan.out_rank>(plan.out_extent)>;
    static constexpr GemmLowering gemm = lower_to_gemm(plan);
};

// Odometer over `count` loops with lengths `len`, calling f(index array).
template <std::size_t Max, class F>
void odometer(std::size_t count, const std::size_t* len, F&& f) {
    std::size_t index[Max + 1]{};
    std::size_t total = 1;
    for (std::size_t i = 0; i < count; ++i) total *= len[i];
    for (std::size_t n = 0; n < total; ++n) {
        f(static_cast<const std::size_t*>(index));
        for (std::size_t i = count; i-- > 0;) {
            if (++index[i] < len[i]) break;
            index[i] = 0;
        }
    }
}

// Every output element as a sum over the summed indices of the product of the operands.
template <const pattern::EinsumPlan& Plan, class T, std::size_t N>
void einsum_generic(T* out, const T* const (&in)[N]) {
    std::size_t out_len[pattern::max_out_rank]{}, sum_len[pattern::max_elems]{};
    for (std::size_t d = 0; d < Plan.out_rank; ++d) out_len[d] = Plan.out_extent[d];
    for (std::size_t i = 0; i < Plan.summed_count; ++i) sum_len[i] = Plan.length[Plan.summed[i]];
    std::size_t flat = 0;
    odometer<pattern::max_out_rank>(Plan.out_rank, out_len, [&](const std::size_t* oi) {
        std::size_t base[N]{};
        for (std::size_t k = 0; k < N; ++k)
            for (std::size_t d = 0; d < Plan.out_rank; ++d) base[k] += oi[d] * Plan.stride[k][Plan.out_index[d]];
        T acc = T(0);
        odometer<pattern::max_elems>(Plan.summed_count, sum_len, [&](const std::size_t* si) {
            T prod = T(1);
            for (std::size_t k = 0; k < N; ++k) {
                std::size_t off = base[k];
                for (std::size_t i = 0; i < Plan.summed_count; ++i) off += si[i] * Plan.stride[k][Plan.summed[i]];
                prod *= in[k][off];
            }
            acc += prod;
        });
        out[flat++] = acc;
    });
}

template <const GemmLowering& G, class T>
void einsum_gemm(T* out, const T* a_in, const T* b_in) {
    const T* a = G.swap ? b_in : a_in;
    const T* b = G.swap ? a_in : b_in;
    odometer<pattern::max_elems>(G.loops, G.loop_length, [&](const std::size_t* li) {
        std::size_t oa = 0, ob = 0, oc = 0;
        for (std::size_t i = 0; i < G.loops; ++i) {
            oa += li[i] * G.loop_a[i];
            ob += li[i] * G.loop_b[i];
            oc += li[i] * G.loop_c[i];
        }
        bool first = true;
        odometer<pattern::max_elems>(G.k_loops, G.loop_length + G.loops, [&](const std::size_t* ki) {
            std::size_t ka = oa, kb = ob;
            for (std::size_t i = 0; i < G.k_loops; ++i) {
                ka += ki[i] * G.loop_a[G.loops + i];
                kb += ki[i] * G.loop_b[G.loops + i];
            }
            gemm::multiply(cpu{}, G.m, G.n, G.k, gemm::Strided<T>{a + ka, G.a_row, G.a_col},
                           gemm::Strided<T>{b + kb, G.b_row, G.b_col}, out + oc, G.ldc, gemm::Epilogue<T>{}, !first);
            first = false;
        });
    });
}

}  // namespace detail

/// einsum over 1 to 3 tensors (or views) of the same element type and backend; returns a new tensor
/// whose shape the pattern's right side gives.
template <fixed_string Pattern, class... X>
auto einsum(const X&... x) {
    static_assert(sizeof...(X) >= 1 && sizeof...(X) <= pattern::max_operands, "einvit: einsum takes 1 to 3 tensors");
    using First = std::remove_cvref_t<std::tuple_element_t<0, std::tuple<X...>>>;
    using T = std::remove_const_t<typename First::value_type>;
    using B = typename First::backend_type;
    (diagnostics::check_element_types<T, std::remove_const_t<typename std::remove_cvref_t<X>::value_type>>(), ...);
    (diagnostics::check_backends<B, typename std::remove_cvref_t<X>::backend_type>(), ...);
    using E = detail::EinsumPattern<Pattern, std::remove_cvref_t<X>...>;
    E::report();
    if constexpr (E::ok) {
        Tensor<T, typename E::out_shape, B> out(uninitialized);
        const T* inputs[sizeof...(X)] = {x.data()...};
        if constexpr (std::is_base_of_v<cpu, B> && E::gemm.ok && std::is_floating_point_v<T>)
            detail::einsum_gemm<E::gemm>(out.data(), inputs[0], inputs[1]);
        else
            detail::einsum_generic<E::plan>(out.data(), inputs);
        return out;
    } else {
        return pattern::Failed{};
    }
}

}  // namespace einvit
