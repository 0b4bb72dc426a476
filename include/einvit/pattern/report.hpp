// einvit/pattern/report.hpp — turns a pattern's error into a compile error worded as einops words it.
//
// Each error is a static_assert whose message is einops' own sentence, and whose condition names the
// numbers or the axis involved, which both g++ and clang print, e.g.
//     error: static assertion failed: einvit: Shape mismatch, length in the tensor != product of the ...
//     note: 'einvit::pattern::lengths_equal<8, 9>' evaluates to false
// (einops: "Shape mismatch, 8 != 9").
#pragma once

#include <cstddef>

#include "einvit/core/shape.hpp"
#include "einvit/pattern/parse.hpp"

namespace einvit::pattern {

// Predicates whose printed form carries the detail of an error.
template <std::size_t TensorLength, std::size_t PatternLength>
inline constexpr bool lengths_equal = TensorLength == PatternLength;
template <std::size_t Length, std::size_t Chunk>
inline constexpr bool length_divisible = Chunk != 0 && Length % Chunk == 0;
template <std::size_t PatternRank, std::size_t TensorRank>
inline constexpr bool ranks_equal = PatternRank == TensorRank;
template <Name Axis>
inline constexpr bool identifier_on_both_sides = false;
template <Name Axis>
inline constexpr bool no_duplicate_dimension = false;
template <Name Character>
inline constexpr bool known_character = false;
template <Name Axis>
inline constexpr bool size_given_for_new_axis = false;
template <Name Axis>
inline constexpr bool single_unknown_per_group = false;
template <Name Axis>
inline constexpr bool axis_used_in_pattern = false;
template <Name Axis>
inline constexpr bool axis_length_given_once = false;
template <Name Axis>
inline constexpr bool anonymous_axis_allowed = false;
template <Name Axis>
inline constexpr bool valid_axis_name = false;
template <Name Axis>
inline constexpr bool positive_anonymous_length = false;
template <Error E>
inline constexpr bool pattern_is_valid = E == Error::none;

/// What an operation whose pattern failed returns, so that the compiler reports the pattern's error and
/// little else (every use of it compiles).
struct Failed {
    using shape_type = Shape<>;
    using value_type = float;
    template <class... I>
    constexpr float operator()(I...) const noexcept {
        return 0.0f;
    }
    constexpr const float* data() const noexcept { return nullptr; }
};

/// Reports error E (with its numbers A, B and name N) as a compile error; does nothing for Error::none.
template <Error E, std::size_t A, std::size_t B, Name N>
constexpr void report() {
    if constexpr (E == Error::shape_mismatch) {
        static_assert(lengths_equal<A, B>,
                      "einvit: Shape mismatch, length in the tensor != product of the lengths in the pattern (both in the note)");
    } else if constexpr (E == Error::cannot_divide) {
        static_assert(length_divisible<A, B>,
                      "einvit: Shape mismatch, can't divide axis of length (first number) in chunks of (second number)");
    } else if constexpr (E == Error::wrong_rank) {
        static_assert(ranks_equal<A, B>,
                      "einvit: Wrong shape: the pattern expects (first number) dims, the tensor has (second number)");
    } else if constexpr (E == Error::one_side_only) {
        static_assert(identifier_on_both_sides<N>, "einvit: Identifiers only on one side of expression (should be on both)");
    } else if constexpr (E == Error::duplicate_axis) {
        static_assert(no_duplicate_dimension<N>, "einvit: Indexing expression contains duplicate dimension");
    } else if constexpr (E == Error::unknown_character) {
        static_assert(known_character<N>,
                      "einvit: Unknown character: a pattern holds names, digits, _, spaces, (, ), ..., -> and ,");
    } else if constexpr (E == Error::repeat_size_missing) {
        static_assert(size_given_for_new_axis<N>, "einvit: Specify sizes for new axes in repeat");
    } else if constexpr (E == Error::cannot_infer) {
        static_assert(single_unknown_per_group<N>, "einvit: Could not infer sizes: give the length of all but one axis of a group");
    } else if constexpr (E == Error::axis_not_used) {
        static_assert(axis_used_in_pattern<N>, "einvit: a length was given for an axis that is not in the pattern");
    } else if constexpr (E == Error::axis_given_twice) {
        static_assert(axis_length_given_once<N>, "einvit: a length was given twice for one axis");
    } else if constexpr (E == Error::anonymous_axis) {
        static_assert(anonymous_axis_allowed<N>,
                      "einvit: Anonymous axes are not supported here: a number other than 1 only as a new axis of repeat, "
                      "and in einsum neither numbers nor units");
    } else if constexpr (E == Error::anonymous_zero) {
        static_assert(positive_anonymous_length<N>, "einvit: Anonymous axis should have positive length, not 0");
    } else if constexpr (E == Error::underscore_name) {
        static_assert(valid_axis_name<N>, "einvit: Invalid axis identifier: axis name should not start or end with underscore");
    } else if constexpr (E == Error::ellipsis_joined) {
        static_assert(pattern_is_valid<E>,
                      "einvit: Invalid axis identifier: '...' written against a name; separate them with a space");
    } else if constexpr (E == Error::repeat_left_only) {
        static_assert(identifier_on_both_sides<N>, "einvit: Unexpected identifiers on the left side of repeat");
    } else if constexpr (E == Error::reduce_right_only) {
        static_assert(identifier_on_both_sides<N>, "einvit: Unexpected identifiers on the right side of reduce");
    } else if constexpr (E == Error::einsum_output_unknown) {
        static_assert(identifier_on_both_sides<N>, "einvit: Identifiers only on one side of expression (should be on both)");
    } else if constexpr (E == Error::no_arrow) {
        static_assert(pattern_is_valid<E>, "einvit: a pattern has exactly one '->'");
    } else if constexpr (E == Error::brackets_unbalanced) {
        static_assert(pattern_is_valid<E>, "einvit: Imbalanced parentheses in expression (brackets are not balanced)");
    } else if constexpr (E == Error::nested_brackets) {
        static_assert(pattern_is_valid<E>, "einvit: Axis composition is one-level (brackets inside brackets not allowed)");
    } else if constexpr (E == Error::bad_dots) {
        static_assert(pattern_is_valid<E>, "einvit: Expression may contain dots only inside ellipsis (...)");
    } else if constexpr (E == Error::two_ellipses) {
        static_assert(pattern_is_valid<E>, "einvit: Expression may contain dots only inside ellipsis (...); only one ellipsis per side");
    } else if constexpr (E == Error::too_many_operands) {
        static_assert(pattern_is_valid<E>, "einvit: too many operands: ',' separates einsum's inputs, at most 3");
    } else if constexpr (E == Error::name_too_long) {
        static_assert(pattern_is_valid<E>, "einvit: an axis name is longer than 15 characters");
    } else if constexpr (E == Error::too_many_axes) {
        static_assert(pattern_is_valid<E>, "einvit: the pattern has more axes than einvit supports (24 names, 12 dims per ...)");
    } else if constexpr (E == Error::ellipsis_right_only) {
        static_assert(pattern_is_valid<E>, "einvit: Ellipsis found in right side, but not left side of a pattern");
    } else if constexpr (E == Error::ellipsis_left_only) {
        static_assert(pattern_is_valid<E>, "einvit: Ellipsis found in left side, but not right side of a pattern");
    } else if constexpr (E == Error::ellipsis_in_group_left) {
        static_assert(pattern_is_valid<E>, "einvit: Ellipsis inside parenthesis in the left side is not allowed");
    } else if constexpr (E == Error::group_in_einsum) {
        static_assert(pattern_is_valid<E>, "einvit: einsum patterns have no parentheses (axis composition)");
    } else if constexpr (E == Error::operand_count) {
        static_assert(ranks_equal<A, B>, "einvit: einsum got a number of tensors (second number) other than its pattern has (first)");
    }
}

}  // namespace einvit::pattern
