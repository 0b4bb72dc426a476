// einvit/pattern/plan.hpp — a parsed pattern applied to a tensor's shape: elementary axes, their
// lengths and strides, and the output's shape and layout. All constexpr; the operations in ops/
// turn a plan into a view or a copy loop.
#pragma once

#include <array>
#include <cstddef>

#include "einvit/pattern/parse.hpp"

namespace einvit::pattern {

inline constexpr std::size_t max_elems = max_names + max_rank;  ///< elementary axes after "..." is expanded
inline constexpr std::size_t max_out_rank = max_items + max_rank;

/// Which operation a plan is for.
enum class Kind { rearrange, repeat, reduce };

/// A length given for a named axis: einvit::axis<"p1", 16>.
struct AxisLength {
    Name name;
    std::size_t length;
};

/// What went wrong while applying a pattern: the error, the two numbers and the name it concerns.
struct PlanError {
    Error error = Error::none;
    std::size_t error_a = 0, error_b = 0;
    Name error_name{};
};

/// A plan of type P holding only an error.
template <class P>
constexpr P failed_plan(Error err, std::size_t a = 0, std::size_t b = 0, Name name = {}) noexcept {
    P p;
    p.error = err;
    p.error_a = a;
    p.error_b = b;
    p.error_name = name;
    return p;
}

/// What a rearrange, repeat or reduce does to one tensor.
struct UnaryPlan : PlanError {

    // Elementary axes: name ids first, then one per dimension "..." stands for.
    std::size_t elem_count = 0;
    std::size_t elem_length[max_elems]{};
    std::size_t elem_stride[max_elems]{};  // in the input, in elements; 0 for a new axis of repeat

    // The output: groups of elementary axes.
    std::size_t out_rank = 0;
    std::size_t out_extent[max_out_rank]{};
    std::size_t out_group_start[max_out_rank + 1]{};
    std::size_t out_elems[max_elems]{};
    std::size_t out_elem_count = 0;

    // Whether the output is a strided view of the input, and its strides if so.
    bool is_view = false;
    std::size_t out_stride[max_out_rank]{};

    // reduce: the elementary axes that disappear.
    std::size_t reduced[max_elems]{};
    std::size_t reduced_count = 0;
};

/// Applies a parsed einops pattern to a tensor of the given extents and strides (rank entries each).
constexpr UnaryPlan plan_unary(const Expression& e, Kind kind, const std::size_t* extents, const std::size_t* strides,
                               std::size_t rank, const AxisLength* given, std::size_t given_count) noexcept {
    constexpr auto plan_error = [](Error err, std::size_t a = 0, std::size_t b = 0, Name name = {}) {
        return failed_plan<UnaryPlan>(err, a, b, name);
    };
    if (e.error != Error::none) return plan_error(e.error, 0, 0, e.error_name);
    if (e.input_count != 1) return plan_error(Error::too_many_operands);
    const Side& L = e.inputs[0];
    const Side& R = e.output;

    if (R.has_ellipsis && !L.has_ellipsis) return plan_error(Error::ellipsis_right_only);
    if (L.has_ellipsis && !R.has_ellipsis && kind != Kind::reduce) return plan_error(Error::ellipsis_left_only);
    if (L.has_ellipsis && L.grouped[L.ellipsis_group]) return plan_error(Error::ellipsis_in_group_left);
    for (std::size_t id = 0; id < e.name_count; ++id) {
        const bool in_left = L.contains(id), in_right = R.contains(id);
        if (e.anonymous[id] && (in_left || kind != Kind::repeat))
            return plan_error(Error::anonymous_axis, 0, 0, e.names[id]);
        if (kind == Kind::rearrange && in_left != in_right) return plan_error(Error::one_side_only, 0, 0, e.names[id]);
        if (kind == Kind::repeat && in_left && !in_right) return plan_error(Error::repeat_left_only, 0, 0, e.names[id]);
        if (kind == Kind::reduce && in_right && !in_left) return plan_error(Error::reduce_right_only, 0, 0, e.names[id]);
    }

    // How many dimensions "..." stands for.
    const std::size_t named_groups = L.group_count - (L.has_ellipsis ? 1 : 0);
    std::size_t ellipsis_dims = 0;
    if (L.has_ellipsis) {
        if (rank < named_groups) return plan_error(Error::wrong_rank, named_groups, rank);
        ellipsis_dims = rank - named_groups;
        if (ellipsis_dims > max_rank) return plan_error(Error::too_many_axes);
    } else if (rank != L.group_count) {
        return plan_error(Error::wrong_rank, L.group_count, rank);
    }

    UnaryPlan p;
    p.elem_count = e.name_count + ellipsis_dims;
    bool known[max_elems]{};
    for (std::size_t id = 0; id < e.name_count; ++id)
        if (e.anonymous[id]) {
            p.elem_length[id] = e.anonymous_length[id];
            known[id] = true;
        }
    for (std::size_t k = 0; k < given_count; ++k) {
        std::size_t id = e.name_count;
        for (std::size_t j = 0; j < e.name_count; ++j)
            if (!e.anonymous[j] && e.names[j].equals(given[k].name.view())) id = j;
        if (id == e.name_count) return plan_error(Error::axis_not_used, 0, 0, given[k].name);
        if (known[id]) return plan_error(Error::axis_given_twice, 0, 0, given[k].name);
        p.elem_length[id] = given[k].length;
        known[id] = true;
    }

    // Match the left side's groups with the tensor's dimensions.
    std::size_t dim = 0;
    for (std::size_t g = 0; g < L.group_count; ++g) {
        if (L.has_ellipsis && g == L.ellipsis_group) {
            for (std::size_t k = 0; k < ellipsis_dims; ++k, ++dim) {
                p.elem_length[e.name_count + k] = extents[dim];
                p.elem_stride[e.name_count + k] = strides[dim];
                known[e.name_count + k] = true;
            }
            continue;
        }
        const std::size_t extent = extents[dim], stride = strides[dim];
        std::size_t product = 1, unknown = 0, unknown_id = 0;
        for (std::size_t i = L.group_start[g]; i < L.group_start[g + 1]; ++i) {
            const std::size_t id = L.items[i];
            if (known[id]) {
                product *= p.elem_length[id];
            } else {
                if (unknown++ == 0) unknown_id = id;
            }
        }
        if (unknown == 0 && product != extent) return plan_error(Error::shape_mismatch, extent, product);
        if (unknown == 1) {
            if (product == 0 || extent % product != 0) return plan_error(Error::cannot_divide, extent, product);
            p.elem_length[unknown_id] = extent / product;
            known[unknown_id] = true;
        }
        if (unknown > 1) return plan_error(Error::cannot_infer, 0, 0, e.names[unknown_id]);
        std::size_t s = stride;
        for (std::size_t i = L.group_start[g + 1]; i-- > L.group_start[g];) {
            p.elem_stride[L.items[i]] = s;
            s *= p.elem_length[L.items[i]];
        }
        ++dim;
    }

    // New axes of repeat: a given length, stride 0.
    for (std::size_t id = 0; id < e.name_count; ++id)
        if (R.contains(id) && !L.contains(id)) {
            if (!known[id]) return plan_error(Error::repeat_size_missing, 0, 0, e.names[id]);
            p.elem_stride[id] = 0;
        }

    // The output's groups.
    auto open_group = [&]() {
        if (p.out_rank == max_out_rank) return false;
        p.out_group_start[p.out_rank] = p.out_elem_count;
        p.out_extent[p.out_rank] = 1;
        return true;
    };
    auto add_elem = [&](std::size_t id) {
        p.out_elems[p.out_elem_count++] = id;
        p.out_extent[p.out_rank] *= p.elem_length[id];
    };
    for (std::size_t g = 0; g < R.group_count; ++g) {
        if (R.has_ellipsis && g == R.ellipsis_group && !R.grouped[g]) {
            for (std::size_t k = 0; k < ellipsis_dims; ++k) {  // "..." alone: one output dimension each
                if (!open_group()) return plan_error(Error::too_many_axes);
                add_elem(e.name_count + k);
                ++p.out_rank;
            }
            continue;
        }
        if (!open_group()) return plan_error(Error::too_many_axes);
        for (std::size_t i = R.group_start[g]; i < R.group_start[g + 1]; ++i) {
            if (R.items[i] == ellipsis_item) {
                for (std::size_t k = 0; k < ellipsis_dims; ++k) add_elem(e.name_count + k);
            } else {
                add_elem(R.items[i]);
            }
        }
        ++p.out_rank;
    }
    p.out_group_start[p.out_rank] = p.out_elem_count;

    if (kind == Kind::reduce) {
        for (std::size_t id = 0; id < p.elem_count; ++id) {
            const bool in_left = id < e.name_count ? L.contains(id) : true;
            bool in_right = false;
            for (std::size_t i = 0; i < p.out_elem_count; ++i) in_right = in_right || p.out_elems[i] == id;
            if (in_left && !in_right) p.reduced[p.reduced_count++] = id;
        }
        return p;
    }

    // A view when every output group's axes are laid out as one dimension of the input: going right
    // to left, each axis' stride is the next one's stride times its length (unit axes do not count).
    p.is_view = true;
    for (std::size_t g = 0; g < p.out_rank; ++g) {
        std::size_t expect = 0;
        bool have = false;
        for (std::size_t i = p.out_group_start[g + 1]; i-- > p.out_group_start[g];) {
            const std::size_t id = p.out_elems[i];
            if (p.elem_length[id] == 1) continue;
            if (!have) {
                p.out_stride[g] = p.elem_stride[id];
                have = true;
            } else if (p.elem_stride[id] != expect) {
                p.is_view = false;
            }
            expect = p.elem_stride[id] * p.elem_length[id];
        }
    }
    return p;
}

/// The first N values of a plan's array, as a std::array (to make a Shape or Strides type).
template <std::size_t N>
constexpr std::array<std::size_t, N> take(const std::size_t* values) noexcept {
    std::array<std::size_t, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = values[i];
    return out;
}

}  // namespace einvit::pattern
