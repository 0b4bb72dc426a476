// einvit/pattern/parse.hpp — the einops grammar, parsed by constexpr code.
//
// One parser serves rearrange, repeat, reduce and einsum. It turns a pattern such as
// "b c (h p1) (w p2) -> b (h w) (p1 p2 c)" into an Expression: a table of axis names and, for each
// side, a list of groups of axes. It never fails by itself: a malformed pattern yields an Expression
// whose `error` says what is wrong, and the operation that asked reports it as a compile error with
// einops' own wording (see pattern/report.hpp). The grammar is written out in docs/pattern-syntax.md.
#pragma once

#include <cstddef>
#include <string_view>

namespace einvit::pattern {

/// Limits of a pattern, so that everything fits in constexpr arrays.
inline constexpr std::size_t max_name_length = 15;  ///< characters in one axis name
inline constexpr std::size_t max_names = 24;        ///< distinct axes in one pattern
inline constexpr std::size_t max_items = 24;        ///< axes written on one side of one operand
inline constexpr std::size_t max_operands = 3;      ///< inputs of einsum
inline constexpr std::size_t max_rank = 12;         ///< dimensions of a tensor an ellipsis may stand in for

/// An axis name (or the text of a numeric axis), held by value so it can be a template argument.
struct Name {
    char text[max_name_length + 1]{};
    std::size_t length = 0;

    constexpr bool equals(std::string_view s) const noexcept {
        if (s.size() != length) return false;
        for (std::size_t i = 0; i < length; ++i)
            if (text[i] != s[i]) return false;
        return true;
    }
    constexpr std::string_view view() const noexcept { return {text, length}; }
};

constexpr Name make_name(std::string_view s) noexcept {
    Name n;
    n.length = s.size() < max_name_length ? s.size() : max_name_length;
    for (std::size_t i = 0; i < n.length; ++i) n.text[i] = s[i];
    return n;
}

/// What can be wrong with a pattern, or with a pattern applied to a tensor.
enum class Error {
    none,
    // the text
    no_arrow,                 ///< no "->", or more than one
    unknown_character,        ///< a character outside letters, digits, _, space, (, ), ., ->, ","
    brackets_unbalanced,      ///< "(" without ")" or the reverse
    nested_brackets,          ///< "((" : axis composition is one level deep
    bad_dots,                 ///< dots that are not exactly "..."
    ellipsis_joined,          ///< "..." written against a name ("a...b"), where names are separated by spaces
    underscore_name,          ///< a name that starts or ends with "_" (einops reserves them)
    anonymous_zero,           ///< the number 0 as an axis
    two_ellipses,             ///< more than one "..." on one side
    duplicate_axis,           ///< the same name twice on one side
    too_many_operands,        ///< "," in a pattern that takes one input, or more than max_operands
    name_too_long,            ///< a name longer than max_name_length
    too_many_axes,            ///< more than max_names / max_items
    // the pattern as an operation
    one_side_only,            ///< rearrange: a name on one side only
    ellipsis_right_only,      ///< "..." on the right but not on the left
    ellipsis_left_only,       ///< "..." on the left but not on the right (rearrange, repeat, einsum)
    ellipsis_in_group_left,   ///< "(...)" on the left side
    anonymous_axis,           ///< a number where it is not allowed (other than 1; in einsum, any)
    repeat_size_missing,      ///< repeat: a new axis without a length
    repeat_left_only,         ///< repeat: a name on the left only
    reduce_right_only,        ///< reduce: a name on the right only
    einsum_output_unknown,    ///< einsum: an output index that no input has
    group_in_einsum,          ///< einsum: parentheses
    // the pattern applied to shapes
    wrong_rank,               ///< the tensor's rank does not match the left side
    shape_mismatch,           ///< a length given or implied differs from the tensor's
    cannot_divide,            ///< a group's length is not a multiple of its known part
    cannot_infer,             ///< more than one unknown length in a group
    axis_not_used,            ///< a length given for an axis the pattern does not have
    axis_given_twice,         ///< two lengths given for one axis (axis<"a", 2>, axis<"a", 3>)
    operand_count,            ///< einsum called with a number of tensors its pattern does not have
};

/// Marker for "..." among a side's items.
inline constexpr std::size_t ellipsis_item = static_cast<std::size_t>(-1);

/// One side of one operand: groups of axes. A plain axis is a group of one; "()" and "1" are
/// groups of none (a dimension of length 1).
struct Side {
    std::size_t group_count = 0;
    std::size_t group_start[max_items + 1]{};  // items of group g: [group_start[g], group_start[g + 1])
    bool grouped[max_items]{};                 // written with parentheses
    std::size_t items[max_items]{};            // name ids, or ellipsis_item
    std::size_t item_count = 0;
    bool has_ellipsis = false;
    std::size_t ellipsis_group = 0;

    constexpr std::size_t group_size(std::size_t g) const noexcept { return group_start[g + 1] - group_start[g]; }
    constexpr bool contains(std::size_t id) const noexcept {
        for (std::size_t i = 0; i < item_count; ++i)
            if (items[i] == id) return true;
        return false;
    }
};

/// A parsed pattern.
struct Expression {
    Name names[max_names]{};
    bool anonymous[max_names]{};         // a number written as an axis
    std::size_t anonymous_length[max_names]{};
    std::size_t name_count = 0;
    Side inputs[max_operands]{};
    std::size_t input_count = 0;
    Side output{};
    Error error = Error::none;
    Name error_name{};
};

/// How to read a pattern.
enum class Dialect {
    einops,  ///< names separated by spaces, groups in parentheses, one input
    einsum,  ///< comma-separated inputs; a term without spaces is read one letter per axis (torch style)
};

namespace detail {

constexpr bool is_letter(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

constexpr std::size_t find_arrow(std::string_view s, std::size_t& count) noexcept {
    std::size_t at = std::string_view::npos;
    count = 0;
    for (std::size_t i = 0; i + 1 < s.size(); ++i)
        if (s[i] == '-' && s[i + 1] == '>') {
            if (count++ == 0) at = i;
        }
    return at;
}

constexpr bool fail(Expression& e, Error err, std::string_view name = {}) noexcept {
    if (e.error == Error::none) {
        e.error = err;
        e.error_name = make_name(name);
    }
    return false;
}

// The id of `name`, adding it to the table if new. Numbers get a fresh id each time they appear.
constexpr std::size_t intern(Expression& e, std::string_view name, bool number) noexcept {
    if (!number)
        for (std::size_t i = 0; i < e.name_count; ++i)
            if (!e.anonymous[i] && e.names[i].equals(name)) return i;
    if (e.name_count == max_names) {
        fail(e, Error::too_many_axes, name);
        return 0;
    }
    const std::size_t id = e.name_count++;
    e.names[id] = make_name(name);
    if (number) {
        e.anonymous[id] = true;
        std::size_t v = 0;
        for (char c : name) v = v * 10 + static_cast<std::size_t>(c - '0');
        e.anonymous_length[id] = v;
    }
    return id;
}

// Ends the side's current group; false (too_many_axes) past max_items groups, which unit axes ("1",
// "()") can reach with no items.
constexpr bool close_group(Expression& e, Side& s) noexcept {
    if (s.group_count == max_items) return fail(e, Error::too_many_axes);
    s.group_start[++s.group_count] = s.item_count;
    return true;
}

// Parses one term (one operand's side) into `side`.
constexpr bool parse_term(Expression& e, Side& side, std::string_view t, bool letters, bool allow_duplicates) noexcept {
    bool in_group = false;
    auto add_item = [&](std::size_t id) -> bool {
        if (side.item_count == max_items) return fail(e, Error::too_many_axes);
        side.items[side.item_count++] = id;
        return in_group || close_group(e, side);
    };
    std::size_t i = 0;
    while (i < t.size()) {
        const char c = t[i];
        if (c == ' ') {
            ++i;
        } else if (c == '(') {
            if (in_group) return fail(e, Error::nested_brackets);
            in_group = true;
            ++i;
        } else if (c == ')') {
            if (!in_group) return fail(e, Error::brackets_unbalanced);
            in_group = false;
            if (side.group_count == max_items) return fail(e, Error::too_many_axes);
            side.grouped[side.group_count] = true;
            if (!close_group(e, side)) return false;
            ++i;
        } else if (c == '.') {
            if (t.substr(i, 3) != "...") return fail(e, Error::bad_dots);
            if (i + 3 < t.size() && t[i + 3] == '.') return fail(e, Error::bad_dots);
            // where names are separated by spaces, "a...b" is neither a name nor an ellipsis (einops:
            // "not a valid python identifier"); read a letter at a time (torch's einsum), "ab..." is fine
            if (!letters && ((i > 0 && (is_letter(t[i - 1]) || is_digit(t[i - 1]))) ||
                             (i + 3 < t.size() && (is_letter(t[i + 3]) || is_digit(t[i + 3])))))
                return fail(e, Error::ellipsis_joined);
            if (side.has_ellipsis) return fail(e, Error::two_ellipses);
            side.has_ellipsis = true;
            side.ellipsis_group = side.group_count;
            if (!add_item(ellipsis_item)) return false;
            i += 3;
        } else if (is_letter(c) || is_digit(c)) {
            std::size_t j = i + 1;
            if (!letters)
                while (j < t.size() && (is_letter(t[j]) || is_digit(t[j]))) ++j;
            const std::string_view word = t.substr(i, j - i);
            i = j;
            if (word.size() > max_name_length) return fail(e, Error::name_too_long, word.substr(0, max_name_length));
            if (is_digit(word[0])) {
                std::size_t value = 0;  // at most 15 digits: no overflow
                for (char d : word) {
                    if (!is_digit(d)) return fail(e, Error::unknown_character, word);
                    value = value * 10 + static_cast<std::size_t>(d - '0');
                }
                if (value == 0) return fail(e, Error::anonymous_zero, word);
                if (value == 1) {  // a unit axis ("1", "01"): nothing inside a group, an empty group outside
                    if (!in_group && !close_group(e, side)) return false;
                    continue;
                }
                if (!add_item(intern(e, word, true))) return false;
            } else {
                if (word.front() == '_' || word.back() == '_') return fail(e, Error::underscore_name, word);
                const std::size_t id = intern(e, word, false);
                if (e.error != Error::none) return false;
                if (!allow_duplicates && side.contains(id)) return fail(e, Error::duplicate_axis, word);
                if (!add_item(id)) return false;
            }
        } else {
            return fail(e, Error::unknown_character, t.substr(i, 1));
        }
    }
    if (in_group) return fail(e, Error::brackets_unbalanced);
    return true;
}

constexpr bool has_space(std::string_view t) noexcept {
    std::size_t b = 0, end = t.size();
    while (b < end && t[b] == ' ') ++b;
    while (end > b && t[end - 1] == ' ') --end;
    for (std::size_t i = b; i < end; ++i)
        if (t[i] == ' ') return true;
    return false;
}

}  // namespace detail

/// Parses `text` in the given dialect. Check `.error` before using the result.
constexpr Expression parse(std::string_view text, Dialect dialect) noexcept {
    Expression e;
    std::size_t arrows = 0;
    const std::size_t at = detail::find_arrow(text, arrows);
    if (arrows != 1) {
        detail::fail(e, Error::no_arrow);
        return e;
    }
    const std::string_view left = text.substr(0, at), right = text.substr(at + 2);
    const bool einsum = dialect == Dialect::einsum;

    std::size_t start = 0;
    for (std::size_t i = 0; i <= left.size(); ++i) {
        if (i < left.size() && left[i] != ',') continue;
        if (e.input_count == max_operands || (!einsum && e.input_count == 1)) {
            detail::fail(e, Error::too_many_operands);
            return e;
        }
        const std::string_view term = left.substr(start, i - start);
        const bool letters = einsum && !detail::has_space(term);
        if (!detail::parse_term(e, e.inputs[e.input_count++], term, letters, einsum)) return e;
        start = i + 1;
    }
    const bool letters = einsum && !detail::has_space(right);
    if (!detail::parse_term(e, e.output, right, letters, false)) return e;
    if (einsum) {
        // no parentheses, and no anonymous axes: neither numbers nor units (torch's einsum takes letters
        // only; einops' refuses both)
        const auto check = [&](const Side& side) {
            for (std::size_t g = 0; g < side.group_count; ++g) {
                if (side.grouped[g]) return detail::fail(e, Error::group_in_einsum);
                if (side.group_size(g) == 0) return detail::fail(e, Error::anonymous_axis, "1");
            }
            for (std::size_t i = 0; i < side.item_count; ++i)
                if (side.items[i] != ellipsis_item && e.anonymous[side.items[i]])
                    return detail::fail(e, Error::anonymous_axis, e.names[side.items[i]].view());
            return true;
        };
        for (std::size_t k = 0; k < e.input_count; ++k)
            if (!check(e.inputs[k])) return e;
        check(e.output);
    }
    return e;
}

}  // namespace einvit::pattern
