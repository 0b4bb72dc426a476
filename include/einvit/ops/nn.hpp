// einvit/ops/nn.hpp — the operations of a transformer on tensors: matmul, linear, softmax, layer_norm,
// attention (gelu and relu are elementwise expressions, in expr/operators.hpp).
//
//   auto y = einvit::linear(x, w, b);                 // x (..., in), w (out, in) as PyTorch stores it
//   auto h = einvit::linear(x, w, b, einvit::gemm::Activation::gelu_erf);   // bias and GELU fused
//   einvit::linear_into(x, h, w2, b2, {}, einvit::accumulate);             // x += h w2ᵀ + b2, fused
//   auto p = einvit::softmax(scores);                 // along the last axis
//   auto n = einvit::layer_norm(x, gamma, beta, 1e-6f);
//   auto o = einvit::attention(q, k, v);              // (b, h, n, d) each; scale 1/sqrt(d)
//
// Every operation runs on the backend of its operands' type (einvit::cpu: SIMD and threads;
// einvit::reference: the scalar oracle; einvit::eigen: GEMM through Eigen, from einvit/backend/eigen.hpp).
// Shapes are checked at compile time. The last axis of every operand must be contiguous. GEMM calls
// are unqualified so that argument-dependent lookup (through gemm::Strided) finds backends declared
// after this header, such as einvit::eigen.
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
#include "einvit/core/diagnostics.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/core/tensor.hpp"

namespace einvit {

/// Passed to linear_into / matmul_into: add the product to what the output holds (a fused residual).
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

// ---- matmul ------------------------------------------------------------------------------------

/// a · b for a of shape (..., M, K) and b of shape (K, N) or (..., K, N) with the same leading axes.
template <class A, class B>
auto matmul(const A& a, const B& b) {
    using LA = detail::Layout<A>;
    using LB = detail::Layout<B>;
    using T = detail::elem_t<A>;
    using Backend = typename A::backend_type;
    static_assert(LA::rank >= 2 && LB::rank >= 2, "einvit::matmul: both operands need at least 2 dimensions");
    static_assert(LB::rank == 2 || LB::rank == LA::rank,
                  "einvit::matmul: b must be a matrix (K, N) or have a's leading (batch) axes");
    diagnostics::check_element_types<T, detail::elem_t<B>>();
    diagnostics::check_backends<Backend, typename B::backend_type>();
    constexpr std::size_t M = LA::extent(LA::rank - 2), K = LA::extent(LA::rank - 1);
    constexpr std::size_t K2 = LB::extent(LB::rank - 2), N = LB::extent(LB::rank - 1);
    static_assert(K == K2, "einvit::matmul: a's last extent (K) must equal b's second-to-last (a is (..., M, K), b is (K, N))");
    constexpr bool same_batch = [] {
        if constexpr (LB::rank == 2) {
            return true;
        } else {
            for (std::size_t r = 0; r + 2 < LA::rank; ++r)
                if (LA::extent(r) != LB::extent(r)) return false;
            return true;
        }
    }();
    static_assert(same_batch, "einvit::matmul: a and b must have the same leading (batch) extents");
    using Out = detail::with_last_t<typename A::shape_type, N>;
    Tensor<T, Out, Backend> c(uninitialized);
    constexpr std::size_t batches = LA::leading_count(2);
    if constexpr (LB::rank == 2 && LA::leading_collapse(1)) {
        // one product with all of a's rows
        multiply(Backend{}, batches * M, N, K, gemm::Strided<T>{a.data(), LA::stride(LA::rank - 2), LA::stride(LA::rank - 1)},
                       gemm::Strided<T>{b.data(), LB::stride(0), LB::stride(1)}, c.data(), N);
    } else {
        for (std::size_t i = 0; i < batches; ++i) {
            // offsets of batch i in a and b
            std::size_t oa = 0, ob = 0, rest = i;
            for (std::size_t r = LA::rank - 2; r-- > 0;) {
                const std::size_t idx = rest % LA::extent(r);
                rest /= LA::extent(r);
                oa += idx * LA::stride(r);
                if constexpr (LB::rank != 2) ob += idx * LB::stride(r);
            }
            multiply(Backend{}, M, N, K, gemm::Strided<T>{a.data() + oa, LA::stride(LA::rank - 2), LA::stride(LA::rank - 1)},
                           gemm::Strided<T>{b.data() + ob, LB::stride(LB::rank - 2), LB::stride(LB::rank - 1)},
                           c.data() + i * M * N, N);
        }
    }
    return c;
}

// ---- softmax and layer_norm ----------------------------------------------------------------------

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

/// softmax(scale * x) along the last axis into y (same shape; may be x itself). -inf entries are
/// masked out; a row that is all -inf gives zeros.
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
    std::vector<std::uint8_t> bytes(LM::extent(0) * LM::extent(1));
    for (std::size_t b = 0; b < LM::extent(0); ++b)
        for (std::size_t j = 0; j < LM::extent(1); ++j)
            bytes[b * LM::extent(1) + j] = keep.data()[b * LM::stride(0) + j * LM::stride(1)] != 0;
    kernels::AttentionMask mask{bytes.data(), LM::extent(1), mask_queries};
    return detail::attention_impl(q, k, v, mask, scale);
}

}  // namespace einvit
