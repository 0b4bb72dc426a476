// einvit/core/fixed_string.hpp — a string usable as a template argument: einops patterns are passed as
// `rearrange<"b c (h p1) (w p2) -> b (h w) (p1 p2 c)">` and parsed by the compiler.
#pragma once

#include <cstddef>
#include <string_view>

namespace einvit {

/// A string literal of N - 1 characters held by value, so that it can be a template argument.
template <std::size_t N>
struct fixed_string {
    char chars[N]{};

    constexpr fixed_string(const char (&text)[N]) noexcept {  // NOLINT: implicit from a literal by design
        for (std::size_t i = 0; i < N; ++i) chars[i] = text[i];
    }
    /// Number of characters, without the terminating zero.
    static constexpr std::size_t size() noexcept { return N - 1; }
    constexpr char operator[](std::size_t i) const noexcept { return chars[i]; }
    constexpr std::string_view view() const noexcept { return {chars, N - 1}; }
    constexpr const char* c_str() const noexcept { return chars; }
};

}  // namespace einvit
