// Compile-time facts about shapes, layouts, tensors and expressions. This file only has to compile.
#include <einvit/einvit.hpp>

#include <type_traits>

namespace {
using einvit::Shape;
using einvit::Strides;
using einvit::Tensor;
using einvit::TensorView;

// Shape vocabulary.
using P = Shape<1, 197, 768>;
static_assert(P::rank() == 3);
static_assert(P::rank_dynamic() == 0);
static_assert(P::extent(1) == 197 && P::static_extent(2) == 768);
static_assert(P::size() == 197 * 768);
static_assert(P::strides[0] == 197 * 768 && P::strides[1] == 768 && P::strides[2] == 1);
static_assert(Shape<>::rank() == 0 && Shape<>::size() == 1);
static_assert(Shape<4, 0, 2>::size() == 0);
static_assert(einvit::is_shape_v<P> && !einvit::is_shape_v<int>);

// Layouts.
static_assert(std::is_same_v<einvit::row_major_strides_t<Shape<2, 3, 4>>, Strides<12, 4, 1>>);
static_assert(einvit::is_contiguous_layout<Shape<2, 3>, Strides<3, 1>>());
static_assert(!einvit::is_contiguous_layout<Shape<2, 3>, Strides<1, 2>>());
static_assert(einvit::is_contiguous_layout<Shape<1, 3>, Strides<99, 1>>());  // unit extents are free

// Broadcasting (numpy's rules).
static_assert(std::is_same_v<einvit::broadcast_shape_t<Shape<4, 1, 5>, Shape<3, 1>>, Shape<4, 3, 5>>);
static_assert(std::is_same_v<einvit::broadcast_shape_t<Shape<197, 768>, Shape<768>>, Shape<197, 768>>);
static_assert(std::is_same_v<einvit::broadcast_shape_t<Shape<>, Shape<2, 2>>, Shape<2, 2>>);
static_assert(einvit::broadcastable_v<Shape<8, 1, 6, 1>, Shape<7, 1, 5>>);
static_assert(std::is_same_v<einvit::broadcast_shape_t<Shape<8, 1, 6, 1>, Shape<7, 1, 5>>, Shape<8, 7, 6, 5>>);
static_assert(!einvit::broadcastable_v<Shape<2, 3>, Shape<3, 2>>);
static_assert(!einvit::broadcastable_v<Shape<4>, Shape<3>>);
static_assert(einvit::broadcasts_to_v<Shape<768>, Shape<197, 768>>);
static_assert(!einvit::broadcasts_to_v<Shape<197, 768>, Shape<768>>);
static_assert(einvit::broadcast_strides<Shape<3, 1>, Strides<1, 1>, Shape<4, 3, 5>>() ==
              std::array<std::size_t, 3>{0, 1, 0});

// Axis arithmetic.
static_assert(std::is_same_v<einvit::remove_axis_t<Shape<2, 3, 4>, 1>, Shape<2, 4>>);
static_assert(std::is_same_v<einvit::replace_axis_t<Shape<2, 3, 4>, 2, 1>, Shape<2, 3, 1>>);
static_assert(std::is_same_v<einvit::reduced_shape_t<Shape<2, 3, 4>, -1, true>, Shape<2, 3, 1>>);
static_assert(std::is_same_v<einvit::reduced_shape_t<Shape<2, 3, 4>, 0, false>, Shape<3, 4>>);

// Tensors: static facts, storage is a pointer (never the elements themselves, whatever the shape).
using Big = Tensor<float, Shape<1024, 1024, 64>>;
static_assert(Big::size() == 1024u * 1024u * 64u);
static_assert(sizeof(Big) <= 2 * sizeof(void*));
static_assert(sizeof(TensorView<float, Shape<1024, 1024>>) == sizeof(void*));
static_assert(std::is_same_v<Big::backend_type, einvit::cpu>);
static_assert(std::is_nothrow_move_constructible_v<Big>);
static_assert(TensorView<float, Shape<3, 2>, einvit::cpu, Strides<1, 3>>::stride(1) == 3);
static_assert(!TensorView<float, Shape<3, 2>, einvit::cpu, Strides<1, 3>>::is_contiguous());
static_assert(Tensor<double, Shape<2, 3>>::offset(1, 2) == 5);

// Expressions carry their broadcast shape and element type; nothing is computed to know them.
using A = Tensor<float, Shape<2, 1, 3>>;
using B = Tensor<float, Shape<4, 1>>;
using E = decltype(std::declval<const A&>() * std::declval<const B&>() + 1.0f);
static_assert(std::is_same_v<E::shape_type, Shape<2, 4, 3>>);
static_assert(std::is_same_v<E::value_type, float>);
static_assert(einvit::expr::Node<E>);
static_assert(std::is_same_v<decltype(einvit::exp(std::declval<const A&>()))::shape_type, Shape<2, 1, 3>>);
static_assert(std::is_same_v<decltype(einvit::cast<double>(std::declval<const A&>()))::value_type, double>);

// Backends: the fallback chain is inheritance.
static_assert(std::is_base_of_v<einvit::reference, einvit::cpu>);
static_assert(einvit::is_host_backend_v<einvit::cpu> && !einvit::is_host_backend_v<einvit::cuda>);

// Arena plan: sizes known at compile time.
static_assert(einvit::arena_bytes<float, Shape<197, 768>> == 197 * 768 * 4);  // already a multiple of 64
static_assert(einvit::arena_bytes<float, Shape<3>> == 64);

// fixed_string: patterns as template arguments.
template <einvit::fixed_string S>
struct Pattern {
    static constexpr auto text = S;
};
static_assert(Pattern<"b c (h p1) (w p2)">::text.size() == 17);
static_assert(Pattern<"b n d">::text[2] == 'n');
}  // namespace
