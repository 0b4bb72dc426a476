// einvit/pattern/einsum_plan.hpp — an einsum pattern applied to its operands' shapes: every index's
// length, each operand's stride along it, the output's indices and the summed ones.
#pragma once

#include <cstddef>

#include "einvit/pattern/parse.hpp"
#include "einvit/pattern/plan.hpp"

namespace einvit::pattern {

/// The shape and layout of one einsum operand.
struct OperandLayout {
    std::size_t rank = 0;
    std::size_t extent[max_rank]{};
    std::size_t stride[max_rank]{};
};

/// What einsum computes.
struct EinsumPlan : PlanError {

    std::size_t index_count = 0;          // names, then one per dimension "..." stands for
    std::size_t length[max_elems]{};
    std::size_t operand_count = 0;
    std::size_t stride[max_operands][max_elems]{};  // summed over repeats of an index (a diagonal)
    std::size_t uses[max_operands][max_elems]{};    // how often each operand names each index

    std::size_t out_rank = 0;
    std::size_t out_index[max_out_rank]{};
    std::size_t out_extent[max_out_rank]{};

    std::size_t summed[max_elems]{};
    std::size_t summed_count = 0;
};

/// Applies a parsed einsum pattern to `count` operands.
constexpr EinsumPlan plan_einsum(const Expression& e, const OperandLayout* ops, std::size_t count) noexcept {
    constexpr auto einsum_error = [](Error err, std::size_t a = 0, std::size_t b = 0, Name name = {}) {
        return failed_plan<EinsumPlan>(err, a, b, name);
    };
    if (e.error != Error::none) return einsum_error(e.error, 0, 0, e.error_name);
    if (e.input_count != count) return einsum_error(Error::operand_count, e.input_count, count);
    bool any_ellipsis = false;
    for (std::size_t k = 0; k < count; ++k) any_ellipsis = any_ellipsis || e.inputs[k].has_ellipsis;
    if (e.output.has_ellipsis && !any_ellipsis) return einsum_error(Error::ellipsis_right_only);
    if (any_ellipsis && !e.output.has_ellipsis) return einsum_error(Error::ellipsis_left_only);

    // How many dimensions "..." stands for in each operand, and in all (aligned on the right).
    std::size_t ell[max_operands]{};
    std::size_t ellipsis_dims = 0;
    for (std::size_t k = 0; k < count; ++k) {
        const Side& s = e.inputs[k];
        if (ops[k].rank > max_rank) return einsum_error(Error::too_many_axes);
        for (std::size_t g = 0; g < s.group_count; ++g)
            if (s.group_size(g) == 0) return einsum_error(Error::group_in_einsum);
        const std::size_t named = s.group_count - (s.has_ellipsis ? 1 : 0);
        if (s.has_ellipsis) {
            if (ops[k].rank < named) return einsum_error(Error::wrong_rank, named, ops[k].rank);
            ell[k] = ops[k].rank - named;
        } else if (ops[k].rank != named) {
            return einsum_error(Error::wrong_rank, named, ops[k].rank);
        }
        if (ell[k] > ellipsis_dims) ellipsis_dims = ell[k];
    }
    if (e.name_count + ellipsis_dims > max_elems) return einsum_error(Error::too_many_axes);

    EinsumPlan p;
    p.operand_count = count;
    p.index_count = e.name_count + ellipsis_dims;
    std::size_t extent_seen[max_operands][max_elems]{};
    bool seen[max_elems]{};  // whether an operand has given index id its length yet (a length may be 0)
    for (std::size_t k = 0; k < count; ++k) {
        const Side& s = e.inputs[k];
        std::size_t dim = 0;
        for (std::size_t g = 0; g < s.group_count; ++g) {
            const std::size_t item = s.items[s.group_start[g]];
            const std::size_t first = item == ellipsis_item ? 0 : 1;
            const std::size_t n = item == ellipsis_item ? ell[k] : 1;
            for (std::size_t t = 0; t < n; ++t, ++dim) {
                const std::size_t id = first ? item : e.name_count + (ellipsis_dims - ell[k]) + t;
                const std::size_t len = ops[k].extent[dim];
                if (item != ellipsis_item) {
                    if (seen[id] && p.length[id] != len) return einsum_error(Error::shape_mismatch, len, p.length[id]);
                    p.length[id] = len;
                } else if (len != 1) {  // "..." dimensions broadcast: a length of 1 repeats
                    if (seen[id] && p.length[id] != 1 && p.length[id] != len)
                        return einsum_error(Error::shape_mismatch, len, p.length[id]);
                    p.length[id] = len;
                } else if (!seen[id]) {
                    p.length[id] = 1;
                }
                seen[id] = true;
                extent_seen[k][id] = len;
                p.stride[k][id] += ops[k].stride[dim];
                ++p.uses[k][id];
            }
        }
    }
    // A "..." dimension of length 1 against a longer one is read with stride 0.
    for (std::size_t k = 0; k < count; ++k)
        for (std::size_t id = e.name_count; id < p.index_count; ++id)
            if (p.uses[k][id] && extent_seen[k][id] == 1) p.stride[k][id] = 0;
    for (std::size_t id = e.name_count; id < p.index_count; ++id)
        if (!seen[id]) p.length[id] = 1;

    // The output.
    const Side& out = e.output;
    for (std::size_t g = 0; g < out.group_count; ++g) {
        if (out.group_size(g) == 0) return einsum_error(Error::group_in_einsum);
        const std::size_t item = out.items[out.group_start[g]];
        if (item == ellipsis_item) {
            for (std::size_t t = 0; t < ellipsis_dims; ++t) p.out_index[p.out_rank++] = e.name_count + t;
            continue;
        }
        bool known = false;
        for (std::size_t k = 0; k < count; ++k) known = known || p.uses[k][item] > 0;
        if (!known) return einsum_error(Error::einsum_output_unknown, 0, 0, e.names[item]);
        p.out_index[p.out_rank++] = item;
    }
    for (std::size_t d = 0; d < p.out_rank; ++d) p.out_extent[d] = p.length[p.out_index[d]];
    for (std::size_t id = 0; id < p.index_count; ++id) {
        bool in_out = false;
        for (std::size_t d = 0; d < p.out_rank; ++d) in_out = in_out || p.out_index[d] == id;
        bool used = false;
        for (std::size_t k = 0; k < count; ++k) used = used || p.uses[k][id] > 0;
        if (used && !in_out) p.summed[p.summed_count++] = id;
    }
    return p;
}

}  // namespace einvit::pattern
