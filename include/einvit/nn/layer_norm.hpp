// einvit/nn/layer_norm.hpp — LayerNorm over the last axis.
// Part of einvit's transformer operations; <einvit/ops/nn.hpp> includes them all.
#pragma once

#include "einvit/core/config.hpp"
#include "einvit/nn/common.hpp"

namespace einvit::inline EINVIT_ABI {

/// LayerNorm over the last axis into y: (x - mean) / sqrt(var + eps) * gamma + beta. gamma and beta
/// point to D values each, or are null (no scale, no shift).
template <class Y, class X>
void layer_norm_into(Y&& y, const X& x, const detail::elem_t<X>* gamma, const detail::elem_t<X>* beta,
                     detail::elem_t<X> eps = detail::elem_t<X>(1e-5)) {
    using R = detail::RowPair<std::remove_cvref_t<Y>, X>;
    static_assert(R::check());
    kernels::layer_norm_rows(typename X::backend_type{}, x.data(), R::ld_x, y.data(), R::ld_y, R::rows, R::cols, gamma,
                             beta, eps);
}

/// LayerNorm over the last axis with weight gamma and bias beta (both of shape (D,)), as a new tensor.
template <class X, class G, class Bt>
auto layer_norm(const X& x, const G& gamma, const Bt& beta, detail::elem_t<X> eps = detail::elem_t<X>(1e-5)) {
    using L = detail::Layout<X>;
    static_assert(std::is_same_v<typename G::shape_type, Shape<L::extent(L::rank - 1)>> &&
                      std::is_same_v<typename Bt::shape_type, Shape<L::extent(L::rank - 1)>>,
                  "einvit::layer_norm: gamma and beta must have shape (D,), D the input's last extent");
    Tensor<detail::elem_t<X>, typename X::shape_type, typename X::backend_type> y(uninitialized);
    layer_norm_into(y, x, gamma.data(), beta.data(), eps);
    return y;
}

}  // namespace einvit
