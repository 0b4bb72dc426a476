// einvit/core/diagnostics.hpp — the catalogue of compile-time diagnostics.
//
// Every compile-time check einvit makes is here, once. Each is a predicate whose name reads as the
// fact that must hold, and a static_assert whose message says what is wrong and what to do. Both
// g++ and clang print the failed predicate with its template arguments filled in, e.g.
//     note: 'einvit::diagnostics::operand_shapes_broadcast<einvit::Shape<2, 3>, einvit::Shape<3, 2> >'
//           evaluates to false
// so the message names the shapes involved without any formatting at compile time. The diagnostics
// users meet have compile-fail tests (tests/compile_fail/) that match their text; check_arithmetic
// (a tensor of a non-arithmetic element type) has none.
#pragma once

#include <cstddef>
#include <type_traits>

#include "einvit/backend/tags.hpp"
#include "einvit/core/shape.hpp"

namespace einvit {

/// Element types a tensor may hold. Arithmetic types by default; specialise it (to std::true_type) for
/// a numeric type of your own, as the bf16 precision policy does for its storage type.
template <class T>
struct is_element : std::is_arithmetic<T> {};

}  // namespace einvit

namespace einvit::diagnostics {

// ---- predicates ---------------------------------------------------------------------------------

template <class Lhs, class Rhs>
inline constexpr bool operand_shapes_broadcast = broadcastable_v<Lhs, Rhs>;

template <class TensorShape, std::size_t IndexCount>
inline constexpr bool index_count_equals_rank = TensorShape::rank() == IndexCount;

template <class DestinationShape, class ExpressionShape>
inline constexpr bool assigned_shape_matches = same_shape_v<DestinationShape, ExpressionShape>;

template <class FromShape, class ToShape>
inline constexpr bool shape_broadcasts_to = broadcasts_to_v<FromShape, ToShape>;

template <class Lhs, class Rhs>
inline constexpr bool same_element_type = std::is_same_v<Lhs, Rhs>;

template <class Lhs, class Rhs>
inline constexpr bool same_backend = std::is_same_v<Lhs, Rhs>;

template <class T>
inline constexpr bool floating_point_element = std::is_floating_point_v<T>;

template <class TensorShape, int Axis>
inline constexpr bool axis_in_range = normalize_axis(Axis, TensorShape::rank()) < TensorShape::rank();

template <class TensorShape, class TensorStrides>
inline constexpr bool strides_match_rank = TensorShape::rank() == TensorStrides::rank();

template <class B>
inline constexpr bool backend_runs_on_host = is_host_backend_v<B>;

template <class T>
inline constexpr bool arithmetic_element = is_element<std::remove_const_t<T>>::value;

// Dependent false, for branches that must only fail when instantiated.
template <class...>
inline constexpr bool always_false = false;

// ---- checks -------------------------------------------------------------------------------------

template <class Lhs, class Rhs>
constexpr void check_operand_shapes() {
    static_assert(operand_shapes_broadcast<Lhs, Rhs>,
                  "einvit: the shapes of the two operands cannot be broadcast together: aligned on the right, "
                  "each pair of extents must be equal or one of them 1 (both shapes are named above)");
}

template <class TensorShape, std::size_t IndexCount>
constexpr void check_index_count() {
    static_assert(index_count_equals_rank<TensorShape, IndexCount>,
                  "einvit: wrong number of indices: a tensor takes exactly one index per dimension "
                  "(the tensor's shape and the number of indices given are named above)");
}

template <class DestinationShape, class ExpressionShape>
constexpr void check_assigned_shape() {
    static_assert(assigned_shape_matches<DestinationShape, ExpressionShape>,
                  "einvit: cannot assign an expression of one shape to a tensor of another "
                  "(destination shape first, expression shape second); use einvit::broadcast_to<Shape<...>>(x) "
                  "to repeat a smaller operand on purpose");
}

template <class FromShape, class ToShape>
constexpr void check_broadcast_to() {
    static_assert(shape_broadcasts_to<FromShape, ToShape>,
                  "einvit: broadcast_to cannot stretch this shape to the requested one: aligned on the right, "
                  "each extent must equal the target's or be 1 (source shape first, target second)");
}

template <class Lhs, class Rhs>
constexpr void check_element_types() {
    static_assert(same_element_type<Lhs, Rhs>,
                  "einvit: the operands have different element types; convert one explicitly with "
                  "einvit::cast<T>(x) (both types are named above)");
}

template <class Lhs, class Rhs>
constexpr void check_backends() {
    static_assert(same_backend<Lhs, Rhs>,
                  "einvit: the operands live on different backends; copy one to the other's backend first "
                  "(both backends are named above)");
}

template <class T>
constexpr void check_floating_point() {
    static_assert(floating_point_element<T>,
                  "einvit: this math function needs floating-point elements; convert integers first with "
                  "einvit::cast<float>(x)");
}

template <class TensorShape, int Axis>
constexpr void check_axis() {
    static_assert(axis_in_range<TensorShape, Axis>,
                  "einvit: reduction axis out of range: it must be in [-rank, rank) for the tensor's shape "
                  "(shape and axis are named above)");
}

template <class TensorShape, class TensorStrides>
constexpr void check_strides() {
    static_assert(strides_match_rank<TensorShape, TensorStrides>,
                  "einvit: a view needs exactly one stride per dimension of its shape");
}

template <class B>
constexpr void check_host_backend() {
    static_assert(backend_runs_on_host<B>,
                  "einvit: tensors on this backend cannot be evaluated by host code: the CUDA backend "
                  "(einvit::cuda) has no kernels in this build; use einvit::cpu");
}

template <class T>
constexpr void check_arithmetic() {
    static_assert(arithmetic_element<T>,
                  "einvit: tensor elements must be arithmetic types (float, double, integers) or types for which "
                  "einvit::is_element is specialised");
}

}  // namespace einvit::diagnostics
