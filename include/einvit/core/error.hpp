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
#pragma once

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "einvit/core/config.hpp"

#if EINVIT_HAS_EXCEPTIONS
#include <stdexcept>
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

#if EINVIT_HAS_EXCEPTIONS
/// The exception einvit throws: `kind()` for code, `what()` for people.
class error : public std::runtime_error {
public:
    error(errc kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    [[nodiscard]] errc kind() const noexcept { return kind_; }

private:
    errc kind_;
};
#else
/// Without exceptions an error is a plain value carried by einvit::result.
class error {
public:
    error(errc kind, std::string message) : kind_(kind), message_(std::move(message)) {}
    [[nodiscard]] errc kind() const noexcept { return kind_; }
    [[nodiscard]] const char* what() const noexcept { return message_.c_str(); }

private:
    errc kind_;
    std::string message_;
};
#endif

/// Reports an error: throws it, or, in a build without exceptions, prints it and aborts.
/// Code that must not abort calls the try_ form of an operation instead.
[[noreturn]] inline void raise(errc kind, const std::string& message) {
#if EINVIT_HAS_EXCEPTIONS
    throw error(kind, message);
#else
    std::fprintf(stderr, "einvit: %s: %s\n", to_string(kind), message.c_str());
    std::abort();
#endif
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
        if (const error* e = std::get_if<1>(&state_)) raise(e->kind(), e->what());
    }
    std::variant<T, error> state_;
};

}  // namespace einvit
