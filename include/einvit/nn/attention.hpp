// einvit/nn/attention.hpp — multi-head attention, fused flash-style, with an optional keep mask.
// Part of einvit's transformer operations; <einvit/ops/nn.hpp> includes them all.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "einvit/core/config.hpp"
#include "einvit/nn/common.hpp"

namespace einvit::inline EINVIT_ABI {

// ---- attention ---------------------------------------------------------------------------------

namespace detail {

// (b, h, n, d) or (h, n, d) as a HeadTensor.
template <class T, class X>
kernels::HeadTensor<T> head_tensor(T* data) {
    using L = Layout<X>;
    static_assert(L::rank == 3 || L::rank == 4, "einvit::attention: q, k and v must have shape (b, h, n, d) or (h, n, d)");
    static_assert(L::last_contiguous, "einvit::attention: the last axis (d) of q, k and v must be contiguous");
    if constexpr (L::rank == 4)
        return {data, L::stride(0), L::stride(1), L::stride(2)};
    else
        return {data, 0, L::stride(0), L::stride(1)};
}

template <class Q, class K, class V>
constexpr void check_attention_shapes() {
    using LQ = Layout<Q>;
    using LK = Layout<K>;
    using LV = Layout<V>;
    static_assert(LQ::rank == LK::rank && LQ::rank == LV::rank, "einvit::attention: q, k and v must have the same rank");
    constexpr std::size_t r = LQ::rank;
    static_assert(LQ::extent(r - 1) == LK::extent(r - 1), "einvit::attention: q and k must have the same head dimension d");
    static_assert(LK::extent(r - 2) == LV::extent(r - 2), "einvit::attention: k and v must have the same number of tokens");
    static_assert(LQ::extent(r - 3) == LK::extent(r - 3) && LK::extent(r - 3) == LV::extent(r - 3),
                  "einvit::attention: q, k and v must have the same number of heads");
    if constexpr (r == 4)
        static_assert(LQ::extent(0) == LK::extent(0) && LK::extent(0) == LV::extent(0),
                      "einvit::attention: q, k and v must have the same batch size");
}

template <class Q, class K, class V>
auto attention_impl(const Q& q, const K& k, const V& v, kernels::AttentionMask mask, elem_t<Q> scale) {
    using T = elem_t<Q>;
    using B = typename Q::backend_type;
    check_attention_shapes<Q, K, V>();
    diagnostics::check_floating_point<T>();
    diagnostics::check_element_types<T, elem_t<K>>();
    diagnostics::check_element_types<T, elem_t<V>>();
    using LQ = Layout<Q>;
    using LV = Layout<V>;
    constexpr std::size_t r = LQ::rank;
    using Out = with_last_t<typename Q::shape_type, LV::extent(r - 1)>;
    Tensor<T, Out, B> out(uninitialized);
    const kernels::AttentionSize size{r == 4 ? LQ::extent(0) : 1, LQ::extent(r - 3), LQ::extent(r - 2),
                                      Layout<K>::extent(r - 2), LQ::extent(r - 1), LV::extent(r - 1)};
    kernels::attention(B{}, size, head_tensor<const T, Q>(q.data()), head_tensor<const T, K>(k.data()),
                       head_tensor<const T, V>(v.data()), head_tensor<T, decltype(out)>(out.data()), scale, mask);
    return out;
}

}  // namespace detail

/// Multi-head attention softmax(scale · q kᵀ) v for q (b, h, n, d), k (b, h, m, d), v (b, h, m, e) (or
/// without the batch axis); scale defaults to 1/sqrt(d). Returns (b, h, n, e).
template <class Q, class K, class V>
auto attention(const Q& q, const K& k, const V& v, detail::elem_t<Q> scale = 0) {
    using L = detail::Layout<Q>;
    if (scale == 0) scale = detail::elem_t<Q>(1) / std::sqrt(static_cast<detail::elem_t<Q>>(L::extent(L::rank - 1)));
    return detail::attention_impl(q, k, v, {}, scale);
}

/// Attention with a per-token keep mask of shape (b, m) (any integer or bool elements; nonzero keeps
/// the token): masked keys get no weight, and with `mask_queries` (vit-pytorch's 2-D padding mask)
/// a masked query row becomes the mean of v, as PyTorch's masked_fill with -finfo.max gives.
template <class Q, class K, class V, class Mask>
auto attention(const Q& q, const K& k, const V& v, const Mask& keep, bool mask_queries = true, detail::elem_t<Q> scale = 0) {
    using L = detail::Layout<Q>;
    using LM = detail::Layout<Mask>;
    static_assert(LM::rank == 2 && L::rank == 4 && LM::extent(0) == L::extent(0) &&
                      LM::extent(1) == detail::Layout<K>::extent(2),
                  "einvit::attention: the keep mask must have shape (b, m): batch and tokens of k");
    static_assert(std::is_integral_v<detail::elem_t<Mask>>, "einvit::attention: the keep mask must hold integers or bools");
    if (scale == 0) scale = detail::elem_t<Q>(1) / std::sqrt(static_cast<detail::elem_t<Q>>(L::extent(L::rank - 1)));
    // the mask as bytes: on the stack when small (no heap needed), else from the heap
    constexpr std::size_t n = LM::extent(0) * LM::extent(1);
    std::conditional_t<(n <= 16384), std::array<std::uint8_t, n>, std::vector<std::uint8_t>> bytes{};
    if constexpr (n > 16384) bytes.resize(n);
    for (std::size_t b = 0; b < LM::extent(0); ++b)
        for (std::size_t j = 0; j < LM::extent(1); ++j)
            bytes[b * LM::extent(1) + j] = keep.data()[b * LM::stride(0) + j * LM::stride(1)] != 0;
    kernels::AttentionMask mask{bytes.data(), LM::extent(1), mask_queries};
    return detail::attention_impl(q, k, v, mask, scale);
}

}  // namespace einvit
