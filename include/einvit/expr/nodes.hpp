// einvit/expr/nodes.hpp — expression nodes: they hold operands and know shapes; they compute nothing
// until an evaluator asks.
//
// Every node N has `value_type`, `shape_type`, `backend_type` (void for a bare scalar) and two ways of
// being read, both yielding a *row reader* with `scalar(j)`, `packet(j)` and `packet_partial(j, n)`:
//   - `N::flat_for<Out>` is true when the node can be read as one contiguous row of Out::size()
//     elements (every leaf has shape Out and row-major layout, or holds a single element); `flat()`
//     returns that reader.
//   - `row<Out>(outer)` returns the reader for the row of the output shape Out whose outer indices
//     (all but the last) are `outer`; each leaf turns them into an offset with its broadcast strides.
// Leaves are views: an expression refers to the tensors it was built from, so it must not outlive them
// (write `auto` only for a result you evaluate at once, as with any expression-template library).
#pragma once

#include <cstddef>
#include <type_traits>

#include "einvit/backend/cpu/simd.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/diagnostics.hpp"
#include "einvit/core/shape.hpp"

namespace einvit::inline EINVIT_ABI::expr {

/// Marker: a type with this member alias is an einvit expression node.
template <class E>
concept Node = requires { typename E::einvit_expression; };

// ---- row readers --------------------------------------------------------------------------------

/// Reads elements p[0], p[Stride], p[2 * Stride], ... (Stride 0: one element repeated).
template <class T, std::size_t Stride>
struct LeafRow {
    const T* p;
    EINVIT_ALWAYS_INLINE T scalar(std::size_t j) const noexcept { return p[j * Stride]; }
    EINVIT_ALWAYS_INLINE simd::packet<T> packet(std::size_t j) const noexcept {
        if constexpr (Stride == 0)
            return simd::broadcast<T>(p[0]);
        else if constexpr (Stride == 1)
            return simd::load<T>(p + j);
        else
            return simd::load_strided<T>(p + j * Stride, Stride);
    }
    EINVIT_ALWAYS_INLINE simd::packet<T> packet_partial(std::size_t j, std::size_t n) const noexcept {
        if constexpr (Stride == 0)
            return simd::broadcast<T>(p[0]);
        else
            return simd::load_partial<T>(p + j * Stride, Stride, n);
    }
};

template <class T>
struct ScalarRow {
    T v;
    EINVIT_ALWAYS_INLINE T scalar(std::size_t) const noexcept { return v; }
    EINVIT_ALWAYS_INLINE simd::packet<T> packet(std::size_t) const noexcept { return simd::broadcast<T>(v); }
    EINVIT_ALWAYS_INLINE simd::packet<T> packet_partial(std::size_t, std::size_t) const noexcept {
        return simd::broadcast<T>(v);
    }
};

template <class Op, class A>
struct UnaryRow {
    A a;
    EINVIT_ALWAYS_INLINE auto scalar(std::size_t j) const noexcept { return Op{}(a.scalar(j)); }
    EINVIT_ALWAYS_INLINE auto packet(std::size_t j) const noexcept { return Op{}(a.packet(j)); }
    EINVIT_ALWAYS_INLINE auto packet_partial(std::size_t j, std::size_t n) const noexcept {
        return Op{}(a.packet_partial(j, n));
    }
};

template <class Op, class A, class B>
struct BinaryRow {
    A a;
    B b;
    EINVIT_ALWAYS_INLINE auto scalar(std::size_t j) const noexcept { return Op{}(a.scalar(j), b.scalar(j)); }
    EINVIT_ALWAYS_INLINE auto packet(std::size_t j) const noexcept { return Op{}(a.packet(j), b.packet(j)); }
    EINVIT_ALWAYS_INLINE auto packet_partial(std::size_t j, std::size_t n) const noexcept {
        return Op{}(a.packet_partial(j, n), b.packet_partial(j, n));
    }
};

// Converts element by element; packets are assembled lane by lane because the two types' registers
// hold different numbers of lanes.
template <class To, class From, class A>
struct CastRow {
    A a;
    EINVIT_ALWAYS_INLINE To scalar(std::size_t j) const noexcept { return static_cast<To>(a.scalar(j)); }
    EINVIT_ALWAYS_INLINE simd::packet<To> packet_partial(std::size_t j, std::size_t n) const noexcept {
        if constexpr (simd::width<To> == 1) {
            return scalar(j);
        } else {
            alignas(64) To lanes[simd::width<To>];
            for (std::size_t i = 0; i < simd::width<To>; ++i) lanes[i] = i < n ? scalar(j + i) : To(1);
            return simd::packet<To>::load_aligned(lanes);
        }
    }
    EINVIT_ALWAYS_INLINE simd::packet<To> packet(std::size_t j) const noexcept {
        return packet_partial(j, simd::width<To>);
    }
};

// ---- nodes --------------------------------------------------------------------------------------

/// A tensor's data as seen by an expression: a pointer and a static layout.
template <class T, class S, class St, class B>
struct Leaf {
    using einvit_expression = void;
    using value_type = std::remove_const_t<T>;
    using shape_type = S;
    using strides_type = St;
    using backend_type = B;

    static constexpr bool contiguous = is_contiguous_layout<S, St>();

    template <class Out>
    static constexpr bool flat_for = (contiguous && std::is_same_v<S, Out>) || S::size() == 1;

    const value_type* ptr;

    auto flat() const noexcept { return LeafRow<value_type, (S::size() == 1 ? 0 : 1)>{ptr}; }

    template <class Out>
    auto row(const std::size_t* outer) const noexcept {
        constexpr auto bs = broadcast_strides<S, St, Out>();
        std::size_t offset = 0;
        for (std::size_t d = 0; d + 1 < Out::rank(); ++d) offset += outer[d] * bs[d];
        return LeafRow<value_type, bs[Out::rank() - 1]>{ptr + offset};
    }

    /// Whether writing a destination of shape Out and strides DstSt at dst, whose elements span the
    /// bytes [lo, hi), could change what this leaf reads before it is read: true when the leaf overlaps
    /// that span and does not read exactly the element being written at every position.
    template <class Out, class DstSt>
    bool unsafe_alias(const void* dst, const void* lo, const void* hi) const noexcept {
        if constexpr (S::size() == 0) {
            return false;
        } else {
            std::size_t last = 0;  // offset of the last element this leaf reads
            for (std::size_t r = 0; r < S::rank(); ++r) last += (S::extents[r] - 1) * St::values[r];
            const auto* first = reinterpret_cast<const char*>(ptr);
            const auto* stop = reinterpret_cast<const char*>(ptr + last + 1);
            const bool overlap = first < static_cast<const char*>(hi) && static_cast<const char*>(lo) < stop;
            constexpr bool same_layout = std::is_same_v<S, Out> && std::is_same_v<St, DstSt>;
            return overlap && !(same_layout && static_cast<const void*>(ptr) == dst);
        }
    }
};

/// A scalar operand, repeated across the whole shape.
template <class T>
struct Scalar {
    using einvit_expression = void;
    using value_type = T;
    using shape_type = Shape<>;
    using backend_type = void;
    template <class Out>
    static constexpr bool flat_for = true;

    T value;

    auto flat() const noexcept { return ScalarRow<T>{value}; }
    template <class Out>
    auto row(const std::size_t*) const noexcept {
        return ScalarRow<T>{value};
    }
    template <class Out, class DstSt>
    bool unsafe_alias(const void*, const void*, const void*) const noexcept {
        return false;
    }
};

namespace detail {
template <class A, class B>
using common_backend_t = std::conditional_t<std::is_void_v<A>, B, A>;
}

/// op(a): an elementwise function of one operand.
template <class Op, class A>
struct Unary {
    using einvit_expression = void;
    using value_type = typename A::value_type;
    using shape_type = typename A::shape_type;
    using backend_type = typename A::backend_type;
    template <class Out>
    static constexpr bool flat_for = A::template flat_for<Out>;

    A a;

    auto flat() const noexcept { return UnaryRow<Op, decltype(a.flat())>{a.flat()}; }
    template <class Out>
    auto row(const std::size_t* outer) const noexcept {
        return UnaryRow<Op, decltype(a.template row<Out>(outer))>{a.template row<Out>(outer)};
    }
    template <class Out, class DstSt>
    bool unsafe_alias(const void* dst, const void* lo, const void* hi) const noexcept {
        return a.template unsafe_alias<Out, DstSt>(dst, lo, hi);
    }
};

/// op(a, b): an elementwise function of two operands, broadcast together.
template <class Op, class A, class B>
struct Binary {
    using einvit_expression = void;
    using value_type = typename A::value_type;
    using shape_type = broadcast_shape_t<typename A::shape_type, typename B::shape_type>;
    using backend_type = detail::common_backend_t<typename A::backend_type, typename B::backend_type>;
    template <class Out>
    static constexpr bool flat_for = A::template flat_for<Out> && B::template flat_for<Out>;

    A a;
    B b;

    auto flat() const noexcept { return BinaryRow<Op, decltype(a.flat()), decltype(b.flat())>{a.flat(), b.flat()}; }
    template <class Out>
    auto row(const std::size_t* outer) const noexcept {
        using RA = decltype(a.template row<Out>(outer));
        using RB = decltype(b.template row<Out>(outer));
        return BinaryRow<Op, RA, RB>{a.template row<Out>(outer), b.template row<Out>(outer)};
    }
    template <class Out, class DstSt>
    bool unsafe_alias(const void* dst, const void* lo, const void* hi) const noexcept {
        return a.template unsafe_alias<Out, DstSt>(dst, lo, hi) || b.template unsafe_alias<Out, DstSt>(dst, lo, hi);
    }
};

/// static_cast<To>(a), element by element.
template <class To, class A>
struct Cast {
    using einvit_expression = void;
    using value_type = To;
    using shape_type = typename A::shape_type;
    using backend_type = typename A::backend_type;
    template <class Out>
    static constexpr bool flat_for = A::template flat_for<Out>;

    A a;

    auto flat() const noexcept { return CastRow<To, typename A::value_type, decltype(a.flat())>{a.flat()}; }
    template <class Out>
    auto row(const std::size_t* outer) const noexcept {
        using RA = decltype(a.template row<Out>(outer));
        return CastRow<To, typename A::value_type, RA>{a.template row<Out>(outer)};
    }
    template <class Out, class DstSt>
    bool unsafe_alias(const void* dst, const void* lo, const void* hi) const noexcept {
        return a.template unsafe_alias<Out, DstSt>(dst, lo, hi);
    }
};

/// a, repeated (numpy broadcasting) to the larger shape S.
template <class S, class A>
struct BroadcastTo {
    using einvit_expression = void;
    using value_type = typename A::value_type;
    using shape_type = S;
    using backend_type = typename A::backend_type;
    template <class Out>
    static constexpr bool flat_for = A::template flat_for<Out> && std::is_same_v<typename A::shape_type, S>;

    A a;

    auto flat() const noexcept { return a.flat(); }
    // Broadcasting is transitive: each leaf maps straight onto the output shape.
    template <class Out>
    auto row(const std::size_t* outer) const noexcept {
        return a.template row<Out>(outer);
    }
    template <class Out, class DstSt>
    bool unsafe_alias(const void* dst, const void* lo, const void* hi) const noexcept {
        return a.template unsafe_alias<Out, DstSt>(dst, lo, hi);
    }
};

}  // namespace einvit::expr
