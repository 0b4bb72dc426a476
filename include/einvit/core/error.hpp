// einvit/core/error.hpp — run-time errors: a kind, a message, and a result type for builds without
// exceptions.
//
// Shapes and patterns are checked at compile time; what can only be known at run time (a file, an
// image, an index, the room left in an arena) is reported as an einvit::error. With exceptions it is
// thrown. The operations that meet bad data at run time have a try_ twin that returns
// einvit::result<T> instead (SafeTensors::try_open and try_from_memory, ShardedCheckpoint::try_open,
// vit::try_load and try_load_weights, Tensor::try_create, Arena::try_allocate); the others (at(),
// the _into forms' overlap checks, set_num_threads from a task) raise, which without exceptions
// prints the error and aborts.
//
// A message is built in an einvit::message, a fixed buffer, so that a target with no heap (a Cortex-M
// board) can still say what went wrong: without exceptions an error carries one, and what the
// kernels, the model and the arena report is built without std::string.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "einvit/core/config.hpp"

#if EINVIT_HAS_EXCEPTIONS
#include <stdexcept>
#elif defined(EINVIT_FATAL_ERROR_HANDLER)
/// The program's handler of an error raised without exceptions (see einvit::raise); it must not return.
[[noreturn]] void EINVIT_FATAL_ERROR_HANDLER(const char* kind, const char* what) noexcept;
#endif

namespace einvit::inline EINVIT_ABI {

/// What went wrong, coarsely; the message says exactly what.
enum class errc {
    out_of_range,      ///< an index past an extent
    out_of_memory,     ///< the heap or an arena could not supply a buffer
    invalid_argument,  ///< a value that does not fit what was asked
    io,                ///< a file could not be opened, read or mapped
    format,            ///< a file's contents are not what its format requires
};

/// Name of an error kind, for messages.
[[nodiscard]] constexpr const char* to_string(errc kind) noexcept {
    switch (kind) {
        case errc::out_of_range: return "out of range";
        case errc::out_of_memory: return "out of memory";
        case errc::invalid_argument: return "invalid argument";
        case errc::io: return "i/o error";
        case errc::format: return "format error";
    }
    return "error";
}

/// Text for an error, built without the heap: at most `capacity` characters (longer text ends in
/// "..."), made of parts (text, and integers in decimal) and appended to with +=.
///     raise(errc::out_of_range, message("index ", i, " is past ", n));
/// (One object for the whole text: a chain of + would copy it at each step, which costs a board's stack.)
class message {
public:
    static constexpr std::size_t capacity = 320;

    message() noexcept = default;
    message(const char* text) noexcept { put(text ? std::string_view(text) : std::string_view()); }  // NOLINT: implicit by design
    message(std::string_view text) noexcept { put(text); }                                                 // NOLINT
    message(const std::string& text) noexcept { put(text); }                                               // NOLINT
    template <class First, class Second, class... More>
    message(const First& first, const Second& second, const More&... more) noexcept {
        append(first, second, more...);
    }

    /// Appends each part in turn.
    template <class... Parts>
    message& append(const Parts&... parts) noexcept {
        ((*this += parts), ...);
        return *this;
    }

    [[nodiscard]] const char* c_str() const noexcept { return text_; }
    [[nodiscard]] std::string_view view() const noexcept { return {text_, size_}; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    message& operator+=(std::string_view text) noexcept { return put(text); }
    message& operator+=(const char* text) noexcept { return put(text ? std::string_view(text) : std::string_view()); }
    message& operator+=(const std::string& text) noexcept { return put(text); }
    message& operator+=(const message& text) noexcept { return put(text.view()); }
    template <class I>
        requires(std::is_integral_v<I> && !std::is_same_v<I, bool> && !std::is_same_v<I, char>)
    message& operator+=(I value) noexcept {
        char digits[24];
        std::size_t n = 0;
        // the magnitude as unsigned, so that the most negative value has one too
        auto magnitude = static_cast<unsigned long long>(value);
        if constexpr (std::is_signed_v<I>)
            if (value < 0) magnitude = 0ull - magnitude;
        // (n < 20 always holds, an unsigned long long having at most 20 digits; written out, it bounds
        // n where g++ 12 cannot, which otherwise warns of a read past `digits` once put() is inlined)
        do {
            digits[sizeof digits - 1 - n++] = static_cast<char>('0' + magnitude % 10);
            magnitude /= 10;
        } while (magnitude && n < 20);
        if constexpr (std::is_signed_v<I>)
            if (value < 0) digits[sizeof digits - 1 - n++] = '-';
        return put(std::string_view(digits + sizeof digits - n, n));
    }

private:
    message& put(std::string_view text) noexcept {
        if (cut_) return *this;
        const std::size_t room = capacity - size_;
        if (text.size() <= room) {
            if (!text.empty()) std::memcpy(text_ + size_, text.data(), text.size());
            size_ += text.size();
        } else {  // what fits before a closing "...", which may take the place of the last text held
            constexpr std::size_t dots = capacity - 3;
            // dots - size_ < room < text.size(); the bound written out too, for g++ 12 (see operator+=)
            const std::size_t head = dots - size_ < text.size() ? dots - size_ : text.size();
            if (size_ < dots) std::memcpy(text_ + size_, text.data(), head);
            std::memcpy(text_ + dots, "...", 3);
            size_ = capacity;
            cut_ = true;
        }
        text_[size_] = '\0';
        return *this;
    }

    char text_[capacity + 1] = {};
    std::size_t size_ = 0;
    bool cut_ = false;
};

#if EINVIT_HAS_EXCEPTIONS
/// The exception einvit throws: `kind()` for code, `what()` for people.
class error : public std::runtime_error {
public:
    error(errc kind, const std::string& text) : std::runtime_error(text), kind_(kind) {}
    error(errc kind, const char* text) : std::runtime_error(text), kind_(kind) {}
    error(errc kind, const message& text) : std::runtime_error(std::string(text.view())), kind_(kind) {}
    [[nodiscard]] errc kind() const noexcept { return kind_; }

private:
    errc kind_;
};
#else
/// Without exceptions an error is a plain value carried by einvit::result; its text is a message
/// (no heap), cut at message::capacity characters.
class error {
public:
    error(errc kind, const std::string& text) noexcept : kind_(kind), text_(text) {}
    error(errc kind, const char* text) noexcept : kind_(kind), text_(text) {}
    error(errc kind, const message& text) noexcept : kind_(kind), text_(text) {}
    [[nodiscard]] errc kind() const noexcept { return kind_; }
    [[nodiscard]] const char* what() const noexcept { return text_.c_str(); }

private:
    errc kind_;
    message text_;
};
#endif

/// Reports an error: throws it, or, in a build without exceptions, prints it and aborts: to standard
/// error with std::abort, or, where the program names its own handler, through it (a board with no
/// standard error, whose program need not link printf and its buffers):
///     -DEINVIT_FATAL_ERROR_HANDLER=on_fatal_error, and in the program, at global scope:
///     [[noreturn]] void on_fatal_error(const char* kind, const char* what) noexcept { ... }
/// Code that must not abort calls the try_ form of an operation instead. (Out of line and cold: the
/// error, a message's worth of bytes without exceptions, is not in the frame of every caller.)
[[noreturn]] EINVIT_COLD inline void raise(const error& e) {
#if EINVIT_HAS_EXCEPTIONS
    throw e;
#elif defined(EINVIT_FATAL_ERROR_HANDLER)
    ::EINVIT_FATAL_ERROR_HANDLER(to_string(e.kind()), e.what());
#else
    std::fprintf(stderr, "einvit: %s: %s\n", to_string(e.kind()), e.what());
    std::abort();
#endif
}
[[noreturn]] EINVIT_COLD inline void raise(errc kind, const std::string& text) { raise(error(kind, text)); }
[[noreturn]] EINVIT_COLD inline void raise(errc kind, const char* text) { raise(error(kind, text)); }
[[noreturn]] EINVIT_COLD inline void raise(errc kind, const message& text) { raise(error(kind, text)); }
namespace detail {
// A part of a message as the out-of-line functions take it: text as a pointer (not an array of each
// length) and integers widened, so that they are instantiated once per kind of part, not per literal.
inline const char* message_part(const char* text) noexcept { return text; }
template <class I>
    requires(std::is_integral_v<I> && !std::is_same_v<I, bool> && !std::is_same_v<I, char>)
constexpr auto message_part(I value) noexcept {
    if constexpr (std::is_signed_v<I>) return static_cast<long long>(value);
    else return static_cast<unsigned long long>(value);
}
template <class X>
    requires(!std::is_integral_v<X> && !std::is_convertible_v<const X&, const char*>)
const X& message_part(const X& part) noexcept {
    return part;
}
template <class... Parts>
[[noreturn]] EINVIT_COLD void raise_parts(errc kind, const Parts&... parts) {
    raise(error(kind, message(parts...)));
}
}  // namespace detail

/// The same with the message made of parts, message(parts...), out of line: not in the caller's frame.
template <class... Parts>
    requires(sizeof...(Parts) >= 2)
[[noreturn]] inline void raise(errc kind, const Parts&... parts) {
    detail::raise_parts(kind, detail::message_part(parts)...);
}

template <class T>
class result;

/// A result<T> holding an error whose message is made of parts, made out of line and returned in the
/// caller's place (a message's worth of bytes stays out of the frame of a check that passes):
///     if (bytes > room) return failure<void*>(errc::out_of_memory, bytes, " bytes requested, ", room, " left");
namespace detail {
template <class T, class... Parts>
EINVIT_COLD result<T> failure_parts(errc kind, const Parts&... parts) {
    return error(kind, message(parts...));
}
}  // namespace detail
template <class T, class... Parts>
inline result<T> failure(errc kind, const Parts&... parts) {
    return detail::failure_parts<T>(kind, detail::message_part(parts)...);
}

/// Either a value or the error that prevented it (a small std::expected for C++20).
template <class T>
class result {
    static_assert(!std::is_reference_v<T>, "einvit: result<T> holds values; use a pointer or a view instead of a reference");

public:
    result(T value) : state_(std::in_place_index<0>, std::move(value)) {}          // NOLINT: implicit by design
    result(error failure) : state_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT: implicit by design

    [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value; calling it on an error raises that error.
    [[nodiscard]] T& value() & {
        check();
        return *std::get_if<0>(&state_);
    }
    [[nodiscard]] const T& value() const& {
        check();
        return *std::get_if<0>(&state_);
    }
    [[nodiscard]] T&& value() && {
        check();
        return std::move(*std::get_if<0>(&state_));
    }
    T* operator->() { return &value(); }
    T& operator*() & { return value(); }

    /// The error; only meaningful when !has_value().
    [[nodiscard]] const error& failure() const { return *std::get_if<1>(&state_); }

private:
    void check() const {
        if (const error* e = std::get_if<1>(&state_)) raise(*e);
    }
    std::variant<T, error> state_;
};

}  // namespace einvit
