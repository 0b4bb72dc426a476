// einvit/nn/linear.hpp — linear layers with PyTorch's (out, in) weights: linear, linear_into (fused bias, activation,
// residual), PackedLinear (weights packed once).
// Part of einvit's transformer operations; <einvit/ops/nn.hpp> includes them all.
#pragma once

#include "einvit/core/config.hpp"
#include "einvit/nn/common.hpp"

namespace einvit::inline EINVIT_ABI {

// ---- linear ------------------------------------------------------------------------------------

/// A linear layer's weight (out, in), packed once for the CPU GEMM, as a loaded model holds it.
template <class T, std::size_t Out, std::size_t In>
class PackedLinear {
public:
    /// Packs a weight tensor or view of shape (Out, In) (PyTorch's nn.Linear layout).
    template <class W>
    explicit PackedLinear(const W& w)
        : packed_(gemm::Strided<T>{w.data(), detail::Layout<W>::stride(1), detail::Layout<W>::stride(0)}, In, Out) {
        static_assert(std::is_same_v<typename W::shape_type, Shape<Out, In>>,
                      "einvit::PackedLinear: the weight's shape must be (out, in) as declared");
        diagnostics::check_element_types<T, detail::elem_t<W>>();
    }
    const gemm::PackedB<T>& packed() const noexcept { return packed_; }
    static constexpr std::size_t out_features = Out, in_features = In;

private:
    gemm::PackedB<T> packed_;
};

namespace detail {

template <class Y, class X, class W>
constexpr void check_linear() {
    using LX = Layout<X>;
    check_rows_operand<X>();
    check_rows_operand<Y>();
    diagnostics::check_element_types<elem_t<Y>, elem_t<X>>();
    diagnostics::check_backends<typename Y::backend_type, typename X::backend_type>();
    static_assert(std::is_same_v<typename Y::shape_type, with_last_t<typename X::shape_type, W::out_features>>,
                  "einvit::linear: the output's shape must be the input's with the last extent replaced by out_features");
    static_assert(LX::extent(LX::rank - 1) == W::in_features,
                  "einvit::linear: the input's last extent must equal the weight's in_features (weight is (out, in))");
}

// Weight facts for a plain (out, in) tensor.
template <class W>
struct WeightInfo {
    static_assert(Layout<W>::rank == 2, "einvit::linear: the weight must have shape (out, in)");
    static constexpr std::size_t out_features = Layout<W>::extent(0), in_features = Layout<W>::extent(1);
};
template <class T, std::size_t Out, std::size_t In>
struct WeightInfo<PackedLinear<T, Out, In>> {
    static constexpr std::size_t out_features = Out, in_features = In;
};

template <class Y, class X, class W>
void linear_impl(Y& y, const X& x, const W& w, const elem_t<X>* bias, gemm::Activation act, bool acc) {
    using T = elem_t<X>;
    using B = typename X::backend_type;
    using Info = WeightInfo<W>;
    check_linear<Y, X, Info>();
    constexpr std::size_t m = Layout<X>::leading_count(1);
    constexpr std::size_t lda = Layout<X>::rank >= 2 ? Layout<X>::stride(Layout<X>::rank - 2) : 0;
    constexpr std::size_t ldc = Layout<Y>::rank >= 2 ? Layout<Y>::stride(Layout<Y>::rank - 2) : 0;
    gemm::Epilogue<T> ep;
    ep.bias = bias;
    ep.activation = act;
    const gemm::Strided<T> a{x.data(), lda, 1};
    if constexpr (requires { w.packed(); }) {
        if constexpr (std::is_base_of_v<cpu, B> && !requires { typename B::einvit_eigen_backend; })
            multiply(cpu{}, m, a, w.packed(), y.data(), ldc, ep, acc);
        else
            static_assert(sizeof(W) == 0, "einvit::linear: a PackedLinear weight is for the einvit::cpu backend");
    } else {
        diagnostics::check_element_types<T, elem_t<W>>();
        diagnostics::check_backends<B, typename W::backend_type>();
        const gemm::Strided<T> b{w.data(), Layout<W>::stride(1), Layout<W>::stride(0)};
        multiply(B{}, m, Info::out_features, Info::in_features, a, b, y.data(), ldc, ep, acc);
    }
}

template <class X, class W>
using linear_out_t = Tensor<elem_t<X>, with_last_t<typename X::shape_type, WeightInfo<W>::out_features>, typename X::backend_type>;

}  // namespace detail

/// y = act(x · wᵀ + bias) for x of shape (..., in) and w of shape (out, in) (or a PackedLinear).
template <class X, class W, class Bias>
auto linear(const X& x, const W& w, const Bias& bias, gemm::Activation act = gemm::Activation::none) {
    static_assert(std::is_same_v<typename Bias::shape_type, Shape<detail::WeightInfo<W>::out_features>>,
                  "einvit::linear: the bias must have shape (out,)");
    detail::linear_out_t<X, W> y(uninitialized);
    detail::linear_impl(y, x, w, bias.data(), act, false);
    return y;
}

/// y = x · wᵀ for x of shape (..., in) and w of shape (out, in) (or a PackedLinear).
template <class X, class W>
auto linear(const X& x, const W& w) {
    detail::linear_out_t<X, W> y(uninitialized);
    detail::linear_impl(y, x, w, nullptr, gemm::Activation::none, false);
    return y;
}

/// y = act(x · wᵀ + bias) written into y (a tensor or view of shape (..., out)); bias may be null.
template <class Y, class X, class W>
void linear_into(Y&& y, const X& x, const W& w, const detail::elem_t<X>* bias, gemm::Activation act = gemm::Activation::none) {
    detail::linear_impl(y, x, w, bias, act, false);
}

/// y = y + x · wᵀ + bias, fused in the GEMM's epilogue (a residual connection); bias may be null.
template <class Y, class X, class W>
void linear_into(Y&& y, const X& x, const W& w, const detail::elem_t<X>* bias, accumulate_t) {
    detail::linear_impl(y, x, w, bias, gemm::Activation::none, true);
}

}  // namespace einvit
