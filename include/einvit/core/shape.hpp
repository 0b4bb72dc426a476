// einvit/core/shape.hpp — static extents, row-major strides and shape arithmetic.
//
// A shape is a type: Shape<1, 197, 768>. Everything about it is constexpr, in the vocabulary of
// std::mdspan's extents (rank(), rank_dynamic(), static_extent(r), extent(r)) plus size() and the
// row-major strides. Shape arithmetic (broadcasting, removing or replacing an axis) produces new
// Shape types, so mismatches are compile errors.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"

namespace einvit {

/// A compile-time list of extents, outermost first (row-major).
template <std::size_t... N>
struct Shape {
    /// Number of dimensions.
    static constexpr std::size_t rank() noexcept { return sizeof...(N); }
    /// Number of run-time extents: always 0, every extent is static.
    static constexpr std::size_t rank_dynamic() noexcept { return 0; }
    /// All extents, as an array.
    static constexpr std::array<std::size_t, sizeof...(N)> extents{N...};
    /// Extent of dimension r (0 <= r < rank()).
    static constexpr std::size_t static_extent(std::size_t r) noexcept { return extents[r]; }
    /// Extent of dimension r; the same as static_extent(r), named as std::mdspan names it.
    static constexpr std::size_t extent(std::size_t r) noexcept { return extents[r]; }
    /// Number of elements: the product of the extents (1 for rank 0).
    static constexpr std::size_t size() noexcept { return (std::size_t{1} * ... * N); }
    /// Row-major strides in elements: the last dimension is contiguous.
    static constexpr std::array<std::size_t, sizeof...(N)> strides = [] {
        std::array<std::size_t, sizeof...(N)> s{};
        std::size_t running = 1;
        for (std::size_t r = sizeof...(N); r-- > 0;) {
            s[r] = running;
            running *= extents[r];
        }
        return s;
    }();
};

/// A compile-time list of strides, in elements, one per dimension: the layout of a view.
template <std::size_t... S>
struct Strides {
    static constexpr std::size_t rank() noexcept { return sizeof...(S); }
    static constexpr std::array<std::size_t, sizeof...(S)> values{S...};
};

namespace shape_detail {

template <class T>
struct is_shape : std::false_type {};
template <std::size_t... N>
struct is_shape<Shape<N...>> : std::true_type {};

template <class T>
struct is_strides : std::false_type {};
template <std::size_t... S>
struct is_strides<Strides<S...>> : std::true_type {};

template <auto Array, class Seq>
struct shape_from_array_impl;
template <auto Array, std::size_t... I>
struct shape_from_array_impl<Array, std::index_sequence<I...>> {
    using type = Shape<Array[I]...>;
};

template <auto Array, class Seq>
struct strides_from_array_impl;
template <auto Array, std::size_t... I>
struct strides_from_array_impl<Array, std::index_sequence<I...>> {
    using type = Strides<Array[I]...>;
};

}  // namespace shape_detail

/// True for Shape<...> types.
template <class T>
inline constexpr bool is_shape_v = shape_detail::is_shape<T>::value;

/// True for Strides<...> types.
template <class T>
inline constexpr bool is_strides_v = shape_detail::is_strides<T>::value;

/// Shape whose extents are the elements of a constexpr std::array.
template <auto Array>
using shape_from_array_t = typename shape_detail::shape_from_array_impl<Array, std::make_index_sequence<Array.size()>>::type;

/// Strides whose values are the elements of a constexpr std::array.
template <auto Array>
using strides_from_array_t =
    typename shape_detail::strides_from_array_impl<Array, std::make_index_sequence<Array.size()>>::type;

/// The row-major (contiguous) strides of a shape.
template <class S>
using row_major_strides_t = strides_from_array_t<S::strides>;

/// True when two shapes have the same extents.
template <class A, class B>
inline constexpr bool same_shape_v = std::is_same_v<A, B>;

namespace shape_detail {

// Broadcasting follows numpy: align the shapes on the right; each pair of extents must be equal or
// contain a 1, and the result takes the larger extent.
template <class A, class B>
constexpr bool broadcastable_impl() {
    constexpr std::size_t ra = A::rank(), rb = B::rank();
    for (std::size_t i = 0; i < (ra < rb ? ra : rb); ++i) {
        const std::size_t ea = A::extents[ra - 1 - i], eb = B::extents[rb - 1 - i];
        if (ea != eb && ea != 1 && eb != 1) return false;
    }
    return true;
}

template <class A, class B>
constexpr auto broadcast_extents() {
    constexpr std::size_t ra = A::rank(), rb = B::rank();
    constexpr std::size_t r = ra > rb ? ra : rb;
    std::array<std::size_t, r> out{};
    for (std::size_t i = 0; i < r; ++i) {
        const std::size_t ea = i < ra ? A::extents[ra - 1 - i] : 1;
        const std::size_t eb = i < rb ? B::extents[rb - 1 - i] : 1;
        out[r - 1 - i] = ea == 1 ? eb : ea;
    }
    return out;
}

template <class S, std::size_t Axis>
constexpr auto remove_axis_extents() {
    std::array<std::size_t, S::rank() - 1> out{};
    for (std::size_t r = 0, o = 0; r < S::rank(); ++r)
        if (r != Axis) out[o++] = S::extents[r];
    return out;
}

template <class S, std::size_t Axis, std::size_t Value>
constexpr auto replace_axis_extents() {
    std::array<std::size_t, S::rank()> out = S::extents;
    out[Axis] = Value;
    return out;
}

}  // namespace shape_detail

/// True when shapes A and B broadcast together under numpy's rules.
template <class A, class B>
inline constexpr bool broadcastable_v = shape_detail::broadcastable_impl<A, B>();

/// The shape of broadcasting A with B (only valid when broadcastable_v<A, B>).
template <class A, class B>
using broadcast_shape_t = shape_from_array_t<shape_detail::broadcast_extents<A, B>()>;

/// True when a value of shape From can be broadcast to exactly shape To.
template <class From, class To>
inline constexpr bool broadcasts_to_v =
    From::rank() <= To::rank() && broadcastable_v<From, To> && std::is_same_v<broadcast_shape_t<From, To>, To>;

/// The shape S without dimension Axis.
template <class S, std::size_t Axis>
using remove_axis_t = shape_from_array_t<shape_detail::remove_axis_extents<S, Axis>()>;

/// The shape S with dimension Axis set to Value.
template <class S, std::size_t Axis, std::size_t Value>
using replace_axis_t = shape_from_array_t<shape_detail::replace_axis_extents<S, Axis, Value>()>;

/// Resolves a possibly negative axis (-1 is the last) against a rank; returns rank when out of range.
constexpr std::size_t normalize_axis(int axis, std::size_t rank) noexcept {
    const long long a = axis < 0 ? static_cast<long long>(rank) + axis : axis;
    return (a < 0 || a >= static_cast<long long>(rank)) ? rank : static_cast<std::size_t>(a);
}

/// The strides a value of shape From, laid out with strides FromStrides, takes on when broadcast to
/// shape To: 0 along every dimension it is repeated in.
template <class From, class FromStrides, class To>
constexpr std::array<std::size_t, To::rank()> broadcast_strides() noexcept {
    std::array<std::size_t, To::rank()> out{};
    constexpr std::size_t offset = To::rank() - From::rank();
    for (std::size_t r = 0; r < From::rank(); ++r)
        out[offset + r] = (From::extents[r] == 1 && To::extents[offset + r] != 1) ? 0 : FromStrides::values[r];
    return out;
}

/// True when strides St are the row-major strides of shape S (ignoring dimensions of extent 1).
template <class S, class St>
constexpr bool is_contiguous_layout() noexcept {
    for (std::size_t r = 0; r < S::rank(); ++r)
        if (S::extents[r] != 1 && St::values[r] != S::strides[r]) return false;
    return true;
}

}  // namespace einvit

// Run-time code, compiled for each build of einvit (see EINVIT_ABI in config.hpp).
namespace einvit::inline EINVIT_ABI {

namespace detail {
/// Appends "(2, 3, 4)" to `text` (errors name shapes so, with no heap to spare).
template <class S>
message& append_shape(message& text) noexcept {
    text += "(";
    for (std::size_t r = 0; r < S::rank(); ++r) {
        if (r) text += ", ";
        text += S::extents[r];
    }
    return text += S::rank() == 1 ? ",)" : ")";
}
}  // namespace detail

/// "(2, 3, 4)": a shape as people write it.
template <class S>
std::string to_string() {
    message text;
    return std::string(detail::append_shape<S>(text).view());
}

}  // namespace einvit::inline EINVIT_ABI
