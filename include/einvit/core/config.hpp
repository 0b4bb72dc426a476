// einvit/core/config.hpp — version, portability macros and feature switches.
//
// Everything here is a macro because it has to be: host/device annotations for the CUDA backend,
// inlining hints, and whether exceptions or xsimd are available. Backends themselves are never chosen
// by a macro; they are tag types (see einvit/backend/tags.hpp).
#pragma once

#include <cstddef>

#define EINVIT_VERSION_MAJOR 0
#define EINVIT_VERSION_MINOR 1
#define EINVIT_VERSION_PATCH 0

// EINVIT_HOST_DEVICE marks functions that the CUDA backend may call on the device. With a plain host
// compiler it expands to nothing, so the core compiles with g++ and clang and its tests run without a GPU.
#if defined(__CUDACC__)
#define EINVIT_HOST_DEVICE __host__ __device__
#else
#define EINVIT_HOST_DEVICE
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EINVIT_ALWAYS_INLINE inline __attribute__((always_inline))
#define EINVIT_ALWAYS_INLINE_LAMBDA __attribute__((always_inline))
#define EINVIT_NOINLINE __attribute__((noinline))
#define EINVIT_RESTRICT __restrict__
// A hint that the cache line at p will be read soon (into L2 and the levels below it); never faults.
#define EINVIT_PREFETCH_L2(p) __builtin_prefetch((p), 0, 2)
#if defined(__x86_64__) || defined(__i386__)
#define EINVIT_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__) || defined(__arm__)
#define EINVIT_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define EINVIT_CPU_RELAX() ((void)0)
#endif
#else
#define EINVIT_CPU_RELAX() ((void)0)
#define EINVIT_ALWAYS_INLINE inline
#define EINVIT_ALWAYS_INLINE_LAMBDA
#define EINVIT_NOINLINE
#define EINVIT_RESTRICT
#define EINVIT_PREFETCH_L2(p) ((void)(p))
#endif

// EINVIT_HAS_EXCEPTIONS is 1 unless the translation unit is built with -fno-exceptions. Without
// exceptions every checked operation has a result-returning twin (try_...), and the throwing form prints
// the error and aborts.
#if !defined(EINVIT_HAS_EXCEPTIONS)
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define EINVIT_HAS_EXCEPTIONS 1
#else
#define EINVIT_HAS_EXCEPTIONS 0
#endif
#endif

// EINVIT_THREADS is 1 when the standard library has threads and the user did not define
// EINVIT_NO_THREADS. Without it (a bare-metal toolchain, whose libstdc++ is built without gthreads) the
// kernels run on the calling thread: no <thread>, <mutex> or thread-local storage, and
// set_num_threads is accepted and keeps one thread. Results are the same for any thread count.
// EINVIT_THREAD_LOCAL is thread_local with threads and nothing without (no TLS needed).
#if !defined(EINVIT_THREADS)
#if defined(EINVIT_NO_THREADS)
#define EINVIT_THREADS 0
#elif defined(__GLIBCXX__) && !defined(_GLIBCXX_HAS_GTHREADS)
#define EINVIT_THREADS 0
#elif defined(_LIBCPP_HAS_NO_THREADS)
#define EINVIT_THREADS 0
#else
#define EINVIT_THREADS 1
#endif
#endif
#if EINVIT_THREADS
#define EINVIT_THREAD_LOCAL thread_local
#else
#define EINVIT_THREAD_LOCAL
#endif

// EINVIT_USE_XSIMD is 1 when <xsimd/xsimd.hpp> can be included, xsimd has an instruction set for the
// target (not, e.g., aarch64 with +nosimd or a Cortex-M), and the user did not define EINVIT_NO_XSIMD.
// Without it every kernel runs its scalar path (the same API; results within the stated tolerances of
// the SIMD ones, the sums taken in another order).
#if !defined(EINVIT_USE_XSIMD)
#if defined(EINVIT_NO_XSIMD)
#define EINVIT_USE_XSIMD 0
#elif defined(__has_include)
#if __has_include(<xsimd/xsimd.hpp>) && __has_include(<xsimd/config/xsimd_config.hpp>)
#include <xsimd/config/xsimd_config.hpp>
#if defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#define EINVIT_USE_XSIMD 0
#else
#define EINVIT_USE_XSIMD 1
#endif
#elif __has_include(<xsimd/xsimd.hpp>)
#define EINVIT_USE_XSIMD 1
#else
#define EINVIT_USE_XSIMD 0
#endif
#else
#define EINVIT_USE_XSIMD 0
#endif
#endif

// Bounds checks on element access t(i, j, k): on in debug builds, off under NDEBUG unless asked for.
// Checked access t.at(i, j, k) is always checked.
#if !defined(EINVIT_CHECK_BOUNDS)
#if defined(NDEBUG)
#define EINVIT_CHECK_BOUNDS 0
#else
#define EINVIT_CHECK_BOUNDS 1
#endif
#endif

namespace einvit {

/// Alignment, in bytes, of every buffer einvit allocates or carves from an arena: one cache line,
/// and the width of an AVX-512 register.
inline constexpr std::size_t alignment = 64;

}  // namespace einvit
