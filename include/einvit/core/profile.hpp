// einvit/core/profile.hpp — opt-in timing of the ViT forward pass by operation.
//
// Off unless EINVIT_PROFILE is defined (files built with it hold their own einvit, in another inline
// namespace than those built without: see EINVIT_ABI); off, EINVIT_PROFILE_SCOPE expands to
// nothing and no clock is read. On, each operation of VisionTransformer's forward pass adds its
// wall time and a call to a process-wide total (atomics: forward passes may run on several threads,
// but their times then overlap):
//
//     einvit::profile::reset();
//     for (int i = 0; i < 20; ++i) model.forward_into<1>(input, out, workspace);
//     for (std::size_t op = 0; op < einvit::profile::op_count; ++op)
//         std::printf("%s %.2f ms\n", einvit::profile::op_names[op], einvit::profile::seconds(op) * 1e3 / 20);
//
// bench/compare/run.sh prints this breakdown for each model it races. Without EINVIT_PROFILE,
// reset(), seconds() and calls() still exist and report nothing (`enabled` says which).
#pragma once

#include <cstddef>
#include <cstdint>

#include "einvit/core/config.hpp"

#ifdef EINVIT_PROFILE
#include <atomic>
#include <chrono>
#endif

namespace einvit::inline EINVIT_ABI::profile {

/// The operations timed, in forward order; each covers its fused epilogue.
enum class Op : unsigned { patch_embed, layer_norm, qkv, attention, proj, fc1, fc2, head };
inline constexpr std::size_t op_count = 8;
/// Identifiers for the operations (no spaces, for machine-read reports).
inline constexpr const char* op_names[op_count] = {"patch_embed", "layer_norm", "qkv",  "attention",
                                                   "proj",        "fc1",        "fc2",  "head"};

#ifdef EINVIT_PROFILE
inline constexpr bool enabled = true;

namespace detail {
struct Totals {
    std::atomic<std::uint64_t> ns[op_count] = {};
    std::atomic<std::uint64_t> calls[op_count] = {};
};
inline Totals& totals() noexcept {
    static Totals t;
    return t;
}
}  // namespace detail

/// Times the enclosing scope as `op`.
class Scope {
public:
    explicit Scope(Op op) noexcept : op_(static_cast<std::size_t>(op)), start_(std::chrono::steady_clock::now()) {}
    ~Scope() {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
        detail::totals().ns[op_].fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
        detail::totals().calls[op_].fetch_add(1, std::memory_order_relaxed);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    std::size_t op_;
    std::chrono::steady_clock::time_point start_;
};

/// Zeroes every total.
inline void reset() noexcept {
    for (std::size_t i = 0; i < op_count; ++i) {
        detail::totals().ns[i].store(0, std::memory_order_relaxed);
        detail::totals().calls[i].store(0, std::memory_order_relaxed);
    }
}
/// Seconds spent in operation `op` (an index below op_count) since the last reset.
inline double seconds(std::size_t op) noexcept {
    return op < op_count ? static_cast<double>(detail::totals().ns[op].load(std::memory_order_relaxed)) * 1e-9 : 0.0;
}
/// Calls of operation `op` since the last reset.
inline std::uint64_t calls(std::size_t op) noexcept {
    return op < op_count ? detail::totals().calls[op].load(std::memory_order_relaxed) : 0;
}

#define EINVIT_PROFILE_SCOPE(op) const ::einvit::profile::Scope einvit_profile_scope_(op)
#else
inline constexpr bool enabled = false;
inline void reset() noexcept {}
inline double seconds(std::size_t) noexcept { return 0.0; }
inline std::uint64_t calls(std::size_t) noexcept { return 0; }
#define EINVIT_PROFILE_SCOPE(op) static_cast<void>(0)
#endif

}  // namespace einvit::profile
