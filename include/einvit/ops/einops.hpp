// einvit/ops/einops.hpp — einops' rearrange, repeat and reduce, with the pattern parsed at compile time.
//
//   auto patches = einvit::rearrange<"b c (h p1) (w p2) -> b (h w) (p1 p2 c)",
//                                    einvit::axis<"p1", 16>, einvit::axis<"p2", 16>>(image);
//   auto heads   = einvit::rearrange<"b n (h d) -> b h n d", einvit::axis<"h", 12>>(qkv);   // a view
//   auto cls     = einvit::repeat<"() n d -> b n d", einvit::axis<"b", 8>>(cls_token);     // a view
//   auto pooled  = einvit::reduce<"b n d -> b d", einvit::op::mean>(tokens);
//
// The output shape is deduced by the compiler; a bad pattern, or one that does not fit the tensor's
// shape, is a compile error in einops' words. rearrange and repeat return a TensorView with computed
// strides whenever the input's layout allows (no copy), otherwise a new Tensor filled by a tiled SIMD
// copy; reduce returns a new Tensor. The `_into` forms write into caller memory and allocate nothing.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>

#include "einvit/backend/cpu/strided.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"
#include "einvit/core/fixed_string.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/core/tensor.hpp"
#include "einvit/expr/evaluate.hpp"
#include "einvit/expr/reduce.hpp"
#include "einvit/pattern/parse.hpp"
#include "einvit/pattern/plan.hpp"
#include "einvit/pattern/report.hpp"

namespace einvit::inline EINVIT_ABI {

/// The length of a named axis in a pattern: `einvit::axis<"p1", 16>`.
template <fixed_string Name, std::size_t Length>
struct axis {
    static constexpr pattern::AxisLength value{pattern::make_name(Name.view()), Length};
};

namespace detail {

template <class X>
concept StridedTensor = requires(const X& x) {
    typename X::shape_type;
    typename X::strides_type;
    typename X::backend_type;
    x.data();
};

template <class X>
inline constexpr bool is_owning_tensor_v = false;
template <class T, class S, class B>
inline constexpr bool is_owning_tensor_v<Tensor<T, S, B>> = true;

// Everything a rearrange, repeat or reduce of pattern P over a tensor X with the given axes knows
// at compile time.
template <fixed_string P, pattern::Kind K, class X, class... Axes>
struct UnaryPattern {
    using S = typename X::shape_type;
    using St = typename X::strides_type;
    static constexpr pattern::Expression expression = pattern::parse(P.view(), pattern::Dialect::einops);
    static constexpr pattern::UnaryPlan plan = [] {
        constexpr pattern::AxisLength given[sizeof...(Axes) + 1] = {Axes::value..., pattern::AxisLength{}};
        return pattern::plan_unary(expression, K, S::extents.data(), St::values.data(), S::rank(), given,
                                   sizeof...(Axes));
    }();
    static constexpr bool ok = plan.error == pattern::Error::none;

    static constexpr void report() { pattern::report<plan.error, plan.error_a, plan.error_b, plan.error_name>(); }

    using out_shape = shape_from_array_t<pattern::take<plan.out_rank>(plan.out_extent)>;
    using view_strides = strides_from_array_t<pattern::take<plan.out_rank>(plan.out_stride)>;

    // The lengths and input strides of N elementary axes, simplified (sorted by stride first when the
    // loop order is free, as for the reduced axes).
    template <std::size_t N>
    static constexpr auto layout_of(const std::size_t* ids, bool sort) {
        std::array<std::size_t, N> length{}, stride{};
        for (std::size_t i = 0; i < N; ++i) {
            length[i] = plan.elem_length[ids[i]];
            stride[i] = plan.elem_stride[ids[i]];
        }
        return sort ? strided::sort_and_simplify(length, stride) : strided::simplify(length, stride);
    }
    // The output's elementary axes in output order, and the axes a reduce removes.
    static constexpr auto copy_layout = layout_of<plan.out_elem_count>(plan.out_elems, false);
    static constexpr auto reduced_layout = layout_of<plan.reduced_count>(plan.reduced, true);
};

template <class B>
using host_kernel_backend_t = std::conditional_t<std::is_base_of_v<cpu, B>, cpu, reference>;

template <fixed_string P, pattern::Kind K, class X, class... Axes>
auto unary_pattern(X&& x) {
    using Xr = std::remove_cvref_t<X>;
    static_assert(StridedTensor<Xr>, "einvit: rearrange, repeat and reduce take a Tensor or a TensorView");
    using U = UnaryPattern<P, K, Xr, Axes...>;
    U::report();
    if constexpr (U::ok) {
        using T = std::remove_const_t<typename Xr::value_type>;
        using B = typename Xr::backend_type;
        using Out = typename U::out_shape;
        // A view of a tensor that is about to be destroyed would dangle: such inputs are copied.
        constexpr bool temporary = is_owning_tensor_v<Xr> && !std::is_lvalue_reference_v<X>;
        if constexpr (U::plan.is_view && !temporary) {
            using Elem = std::remove_pointer_t<decltype(x.data())>;
            return TensorView<Elem, Out, B, typename U::view_strides>(x.data());
        } else {
            Tensor<T, Out, B> out(uninitialized);
            strided::copy<U::copy_layout>(host_kernel_backend_t<B>{}, out.data(), x.data());
            return out;
        }
    } else {
        return pattern::Failed{};  // report() has failed the compilation
    }
}

}  // namespace detail

/// einops rearrange: reorders, splits and merges axes. Returns a view when the layout allows, otherwise
/// a new contiguous tensor.
template <fixed_string Pattern, class... Axes, class X>
auto rearrange(X&& x) {
    return detail::unary_pattern<Pattern, pattern::Kind::rearrange, X, Axes...>(static_cast<X&&>(x));
}

/// einops repeat: rearrange that may add new axes (their lengths given as einvit::axis). Returns a view
/// with stride 0 along repeated axes when the layout allows, otherwise a new tensor.
template <fixed_string Pattern, class... Axes, class X>
auto repeat(X&& x) {
    return detail::unary_pattern<Pattern, pattern::Kind::repeat, X, Axes...>(static_cast<X&&>(x));
}

namespace detail {
template <fixed_string P, class Op, class X, class... Axes>
struct ReducePattern : UnaryPattern<P, pattern::Kind::reduce, X, Axes...> {
    using op_type = Op;
};
}  // namespace detail

/// einops reduce: axes on the left that are missing on the right are reduced with Op (einvit::op::sum,
/// mean, max, min or prod). Returns a new tensor.
template <fixed_string Pattern, class Op, class... Axes, class X>
auto reduce(const X& x) {
    using Xr = std::remove_cvref_t<X>;
    static_assert(detail::StridedTensor<Xr>, "einvit: reduce takes a Tensor or a TensorView");
    using U = detail::ReducePattern<Pattern, Op, Xr, Axes...>;
    U::report();
    if constexpr (U::ok) {
        using T = std::remove_const_t<typename Xr::value_type>;
        using B = typename Xr::backend_type;
        if constexpr (requires { Op::floating_only; }) diagnostics::check_floating_point<T>();
        Tensor<T, typename U::out_shape, B> out(uninitialized);
        strided::reduce<Op, U::copy_layout, U::reduced_layout>(detail::host_kernel_backend_t<B>{}, out.data(), x.data());
        return out;
    } else {
        return pattern::Failed{};
    }
}

/// rearrange into caller memory: always copies, allocates nothing. dst's shape must be the output's,
/// and dst may not overlap x (the copy would read elements it has already overwritten): raises
/// errc::invalid_argument if it does.
template <fixed_string Pattern, class... Axes, class Dst, class X>
void rearrange_into(Dst&& dst, const X& x) {
    using Xr = std::remove_cvref_t<X>;
    using D = std::remove_cvref_t<Dst>;
    using U = detail::UnaryPattern<Pattern, pattern::Kind::rearrange, Xr, Axes...>;
    U::report();
    if constexpr (U::ok) {
        diagnostics::check_assigned_shape<typename D::shape_type, typename U::out_shape>();
        static_assert(D::is_contiguous(), "einvit: rearrange_into needs a contiguous destination");
        if constexpr (Xr::shape_type::size() != 0) {
            const auto xs = expr::byte_span<typename Xr::shape_type, typename Xr::strides_type>(x.data());
            const auto ds = expr::byte_span<typename D::shape_type, typename D::strides_type>(dst.data());
            if (std::less<const void*>{}(xs[0], ds[1]) && std::less<const void*>{}(ds[0], xs[1]))
                raise(errc::invalid_argument, "rearrange_into: the destination overlaps the source");
        }
        strided::copy<U::copy_layout>(detail::host_kernel_backend_t<typename Xr::backend_type>{}, dst.data(), x.data());
    }
}

}  // namespace einvit
