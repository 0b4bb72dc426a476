// einvit/nn/softmax.hpp — softmax along the last axis (masked -inf entries; all-masked rows give zeros).
// Part of einvit's transformer operations; <einvit/ops/nn.hpp> includes them all.
#pragma once

#include "einvit/core/config.hpp"
#include "einvit/nn/common.hpp"

namespace einvit::inline EINVIT_ABI {

/// softmax(scale * x) along the last axis into y (same shape; may be x itself), for a scale of either
/// sign. With scale >= 0, -inf entries are masked out; a row that is all -inf gives zeros.
template <class Y, class X>
void softmax_into(Y&& y, const X& x, detail::elem_t<X> scale = 1) {
    using R = detail::RowPair<std::remove_cvref_t<Y>, X>;
    static_assert(R::check());
    kernels::softmax_rows(typename X::backend_type{}, x.data(), R::ld_x, y.data(), R::ld_y, R::rows, R::cols, scale);
}

/// softmax(scale * x) along the last axis, as a new tensor.
template <class X>
auto softmax(const X& x, detail::elem_t<X> scale = 1) {
    Tensor<detail::elem_t<X>, typename X::shape_type, typename X::backend_type> y(uninitialized);
    softmax_into(y, x, scale);
    return y;
}

}  // namespace einvit
