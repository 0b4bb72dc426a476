// einvit/expr/operators.hpp — building expressions: + - * / with tensors and scalars, unary math,
// max/min/pow, cast and broadcast_to. Shapes, element types and backends are checked here, at compile
// time; nothing is computed until the expression is assigned to a tensor.
#pragma once

#include <type_traits>
#include <utility>

#include "einvit/core/config.hpp"
#include "einvit/core/diagnostics.hpp"
#include "einvit/expr/functors.hpp"
#include "einvit/expr/nodes.hpp"

namespace einvit::inline EINVIT_ABI {

namespace expr {

/// Types that expose their data to expressions through leaf(): Tensor and TensorView.
template <class X>
concept TensorLike = requires(const X& x) {
    typename X::shape_type;
    x.leaf();
};

/// Anything that can be an operand: an expression node, a tensor or a view.
template <class X>
concept Operand = Node<std::remove_cvref_t<X>> || TensorLike<std::remove_cvref_t<X>>;

/// The expression node for an operand (tensors become leaves; nodes are copied, they are small).
template <class X>
auto as_node(const X& x) {
    if constexpr (Node<X>)
        return x;
    else
        return x.leaf();
}

template <class X>
using node_t = decltype(as_node(std::declval<const std::remove_cvref_t<X>&>()));

template <class S>
concept ScalarValue = std::is_arithmetic_v<std::remove_cvref_t<S>>;

// The scalar operand next to a tensor of element type T: converted to T, refusing a floating-point
// scalar next to integer elements (it would silently truncate).
template <class T, class S>
constexpr void check_scalar() {
    static_assert(!(std::is_integral_v<T> && std::is_floating_point_v<S>),
                  "einvit: a floating-point scalar next to integer tensor elements would be truncated; "
                  "convert the tensor first with einvit::cast<float>(x) or write an integer scalar");
}

template <class Op, class A, class B>
auto make_binary(const A& a, const B& b) {
    using NA = node_t<A>;
    using NB = node_t<B>;
    diagnostics::check_element_types<typename NA::value_type, typename NB::value_type>();
    if constexpr (!std::is_void_v<typename NA::backend_type> && !std::is_void_v<typename NB::backend_type>)
        diagnostics::check_backends<typename NA::backend_type, typename NB::backend_type>();
    diagnostics::check_operand_shapes<typename NA::shape_type, typename NB::shape_type>();
    return Binary<Op, NA, NB>{as_node(a), as_node(b)};
}

template <class Op, class A, class S>
auto make_binary_scalar_right(const A& a, S s) {
    using T = typename node_t<A>::value_type;
    check_scalar<T, S>();
    return make_binary<Op>(a, Scalar<T>{static_cast<T>(s)});
}

template <class Op, class S, class B>
auto make_binary_scalar_left(S s, const B& b) {
    using T = typename node_t<B>::value_type;
    check_scalar<T, S>();
    return make_binary<Op>(Scalar<T>{static_cast<T>(s)}, b);
}

template <class Op, class A>
auto make_unary(const A& a) {
    using NA = node_t<A>;
    if constexpr (requires { Op::floating_only; }) {
        if constexpr (Op::floating_only) diagnostics::check_floating_point<typename NA::value_type>();
    }
    return Unary<Op, NA>{as_node(a)};
}

}  // namespace expr

// ---- arithmetic operators -----------------------------------------------------------------------

#define EINVIT_DEFINE_OPERATOR(SYMBOL, FUNCTOR)                                              \
    template <expr::Operand A, expr::Operand B>                                              \
    auto operator SYMBOL(const A& a, const B& b) {                                           \
        return expr::make_binary<fn::FUNCTOR>(a, b);                                         \
    }                                                                                        \
    template <expr::Operand A, expr::ScalarValue S>                                          \
    auto operator SYMBOL(const A& a, S s) {                                                  \
        return expr::make_binary_scalar_right<fn::FUNCTOR>(a, s);                            \
    }                                                                                        \
    template <expr::ScalarValue S, expr::Operand B>                                          \
    auto operator SYMBOL(S s, const B& b) {                                                  \
        return expr::make_binary_scalar_left<fn::FUNCTOR>(s, b);                             \
    }

EINVIT_DEFINE_OPERATOR(+, plus)
EINVIT_DEFINE_OPERATOR(-, minus)
EINVIT_DEFINE_OPERATOR(*, multiplies)
EINVIT_DEFINE_OPERATOR(/, divides)
#undef EINVIT_DEFINE_OPERATOR

/// -a, elementwise.
template <expr::Operand A>
auto operator-(const A& a) {
    return expr::make_unary<fn::negate>(a);
}

// ---- elementwise math ---------------------------------------------------------------------------

#define EINVIT_DEFINE_UNARY_FUNCTION(NAME)             \
    template <expr::Operand A>                         \
    auto NAME(const A& a) {                            \
        return expr::make_unary<fn::NAME>(a);          \
    }

/// e^x, elementwise.
EINVIT_DEFINE_UNARY_FUNCTION(exp)
/// Natural logarithm, elementwise.
EINVIT_DEFINE_UNARY_FUNCTION(log)
/// Square root, elementwise.
EINVIT_DEFINE_UNARY_FUNCTION(sqrt)
/// Hyperbolic tangent, elementwise.
EINVIT_DEFINE_UNARY_FUNCTION(tanh)
/// Error function, elementwise (the exact GELU is x * (1 + erf(x / sqrt 2)) / 2).
EINVIT_DEFINE_UNARY_FUNCTION(erf)
/// Sine, elementwise.
EINVIT_DEFINE_UNARY_FUNCTION(sin)
/// Cosine, elementwise.
EINVIT_DEFINE_UNARY_FUNCTION(cos)
/// Absolute value, elementwise.
EINVIT_DEFINE_UNARY_FUNCTION(abs)
/// GELU with the exact erf form, x * (1 + erf(x / sqrt 2)) / 2, elementwise (PyTorch's nn.GELU()).
EINVIT_DEFINE_UNARY_FUNCTION(gelu)
/// GELU with the tanh approximation, elementwise (PyTorch's nn.GELU(approximate="tanh")).
EINVIT_DEFINE_UNARY_FUNCTION(gelu_tanh)
/// QuickGELU, x * sigmoid(1.702 x), elementwise (OpenAI's CLIP).
EINVIT_DEFINE_UNARY_FUNCTION(quick_gelu)
/// max(x, 0), elementwise.
EINVIT_DEFINE_UNARY_FUNCTION(relu)
#undef EINVIT_DEFINE_UNARY_FUNCTION

#define EINVIT_DEFINE_BINARY_FUNCTION(NAME, FN)                                              \
    template <expr::Operand A, expr::Operand B>                                              \
    auto NAME(const A& a, const B& b) {                                                      \
        return expr::make_binary<fn::FN>(a, b);                                              \
    }                                                                                        \
    template <expr::Operand A, expr::ScalarValue S>                                          \
    auto NAME(const A& a, S s) {                                                             \
        return expr::make_binary_scalar_right<fn::FN>(a, s);                                 \
    }                                                                                        \
    template <expr::ScalarValue S, expr::Operand B>                                          \
    auto NAME(S s, const B& b) {                                                             \
        return expr::make_binary_scalar_left<fn::FN>(s, b);                                  \
    }

/// The larger of a and b, elementwise (broadcast); NaN where either is NaN, as torch.maximum.
EINVIT_DEFINE_BINARY_FUNCTION(max, maximum)
/// The smaller of a and b, elementwise (broadcast); NaN where either is NaN, as torch.minimum.
EINVIT_DEFINE_BINARY_FUNCTION(min, minimum)
#undef EINVIT_DEFINE_BINARY_FUNCTION

/// a raised to the power b, elementwise (broadcast; floating-point elements).
template <expr::Operand A, expr::Operand B>
auto pow(const A& a, const B& b) {
    diagnostics::check_floating_point<typename expr::node_t<A>::value_type>();
    return expr::make_binary<fn::pow>(a, b);
}
template <expr::Operand A, expr::ScalarValue S>
auto pow(const A& a, S s) {
    diagnostics::check_floating_point<typename expr::node_t<A>::value_type>();
    return expr::make_binary_scalar_right<fn::pow>(a, s);
}

/// static_cast<To>(a), elementwise: the one way to mix element types.
template <class To, expr::Operand A>
auto cast(const A& a) {
    diagnostics::check_arithmetic<To>();
    using NA = expr::node_t<A>;
    return expr::Cast<To, NA>{expr::as_node(a)};
}

/// a repeated along new or unit dimensions to exactly shape S (numpy broadcasting), e.g. to assign a
/// bias of shape (768) to every row of a (197, 768) tensor.
template <class S, expr::Operand A>
auto broadcast_to(const A& a) {
    using NA = expr::node_t<A>;
    diagnostics::check_broadcast_to<typename NA::shape_type, S>();
    return expr::BroadcastTo<S, NA>{expr::as_node(a)};
}

}  // namespace einvit
