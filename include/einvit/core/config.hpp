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
#define EINVIT_COLD __attribute__((noinline, cold))
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
#define EINVIT_COLD
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
#if defined(EINVIT_NO_THREADS) || defined(EINVIT_NO_HEAP)  // (the pool's threads come from the heap)
#define EINVIT_THREADS 0
#elif defined(__GLIBCXX__) && !defined(_GLIBCXX_HAS_GTHREADS)
#define EINVIT_THREADS 0
#elif defined(_LIBCPP_HAS_NO_THREADS)
#define EINVIT_THREADS 0
#else
#define EINVIT_THREADS 1
#endif
#endif
// EINVIT_HEAP is 1 unless the user defines EINVIT_NO_HEAP, for a target with no heap (a bare-metal
// board): then einvit's tensors and kernels take no memory from the heap, and the build has no threads
// (EINVIT_THREADS 0: the pool's would come from it). A tensor on the heap, or a product with no scratch
// lent to it (a ScratchScope, a model's workspace), is an out_of_memory error that says so; a model
// owns no tables (no Weights member, no forward() or features(), no weight_image()), and vit/load.hpp,
// which allocates a checkpoint's tables, is left out of einvit.hpp. Arenas, views, weight images and
// forward_into's workspace are what such a program uses, and one that uses only them links no
// allocator (examples/cortex_m/). What still uses std::vector is linked only where called: the
// reference backend (the tests' oracle) and a few host-side helpers.
#if !defined(EINVIT_HEAP)
#if defined(EINVIT_NO_HEAP)
#define EINVIT_HEAP 0
#else
#define EINVIT_HEAP 1
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

// EINVIT_HAS_MMAP: files are mapped where the system can (POSIX), else read whole into memory;
// -DEINVIT_HAS_MMAP=0 asks for the reading path anywhere (the tests build it so).
#if !defined(EINVIT_HAS_MMAP)
#if defined(__has_include)
#if __has_include(<sys/mman.h>) && __has_include(<fcntl.h>) && __has_include(<unistd.h>)
#define EINVIT_HAS_MMAP 1
#else
#define EINVIT_HAS_MMAP 0
#endif
#else
#define EINVIT_HAS_MMAP 0
#endif
#endif

// EINVIT_ABI names the inline namespace that holds every einvit entity whose code depends on how its
// translation unit was built: the instruction set the kernels take (the packets' width, the GEMM's
// micro-tile, the layout of its packed panels), exceptions, threads, bounds checks, profiling, mmap,
// the heap, and einvit's version. Two files of one program built differently (one with -march=x86-64-v3 for a
// fast path chosen at run time, the rest for any x86-64; one without exceptions) then hold two
// distinct sets of functions instead of one set of identically named inline functions of which the
// linker keeps one (which would run one file's code on the other's data: wrong numbers, or an
// instruction the CPU lacks). The compile-time-only types (Shape, the backend tags, is_element,
// patterns, the diagnostics) are the same for every build and stay in einvit itself, so that compile
// errors name them plainly. User code names everything as einvit::X, never with this namespace.
// The instruction set the compiler may use (with or without xsimd: the scalar kernels are compiled,
// and vectorised, for it too), from the compiler's own macros.
#if defined(__AVX512F__) && defined(__AVX512BW__)
#define EINVIT_ABI_ISA avx512bw
#elif defined(__AVX512F__) && defined(__AVX512DQ__)
#define EINVIT_ABI_ISA avx512dq
#elif defined(__AVX512F__)
#define EINVIT_ABI_ISA avx512f
#elif defined(__AVX2__) && defined(__FMA__)
#define EINVIT_ABI_ISA avx2fma
#elif defined(__AVX2__)
#define EINVIT_ABI_ISA avx2
#elif defined(__AVX__) && defined(__FMA__)
#define EINVIT_ABI_ISA avxfma
#elif defined(__AVX__)
#define EINVIT_ABI_ISA avx
#elif defined(__SSE4_2__)
#define EINVIT_ABI_ISA sse4_2
#elif defined(__SSE4_1__)
#define EINVIT_ABI_ISA sse4_1
#elif defined(__SSSE3__)
#define EINVIT_ABI_ISA ssse3
#elif defined(__SSE3__)
#define EINVIT_ABI_ISA sse3
#elif defined(__SSE2__)
#define EINVIT_ABI_ISA sse2
#elif defined(__ARM_FEATURE_SVE)
#define EINVIT_ABI_ISA sve  // the vector length, when fixed, is the V part below
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define EINVIT_ABI_ISA neon64
#elif defined(__ARM_NEON) && (defined(__ARM_FEATURE_FMA) || defined(__ARM_FEATURE_FUSED_MAC))
#define EINVIT_ABI_ISA neonfma
#elif defined(__ARM_NEON)
#define EINVIT_ABI_ISA neon
#elif defined(__riscv_v)
#define EINVIT_ABI_ISA rvv
#elif defined(__wasm_simd128__)
#define EINVIT_ABI_ISA wasm
#elif defined(__ARM_FEATURE_FMA) || defined(__FMA__) || defined(__FP_FAST_FMAF)
#define EINVIT_ABI_ISA fma
#else
#define EINVIT_ABI_ISA base
#endif
// V: a fixed vector length in bits (SVE's -msve-vector-bits, RVV's -mrvv-vector-bits=zvl), else 0
#if defined(__ARM_FEATURE_SVE_BITS)
#define EINVIT_ABI_V __ARM_FEATURE_SVE_BITS
#elif defined(__riscv_v_fixed_vlen)
#define EINVIT_ABI_V __riscv_v_fixed_vlen
#else
#define EINVIT_ABI_V 0
#endif
// S: whether the kernels take xsimd's packets (1) or their scalar paths (0)
#if EINVIT_USE_XSIMD
#define EINVIT_ABI_S s1
#else
#define EINVIT_ABI_S s0
#endif
#if EINVIT_HAS_EXCEPTIONS
#define EINVIT_ABI_X x1
#else
#define EINVIT_ABI_X x0
#endif
#if EINVIT_THREADS
#define EINVIT_ABI_T t1
#else
#define EINVIT_ABI_T t0
#endif
#if EINVIT_CHECK_BOUNDS
#define EINVIT_ABI_B b1
#else
#define EINVIT_ABI_B b0
#endif
#if defined(EINVIT_PROFILE)
#define EINVIT_ABI_P p1
#else
#define EINVIT_ABI_P p0
#endif
#if EINVIT_HAS_MMAP
#define EINVIT_ABI_M m1
#else
#define EINVIT_ABI_M m0
#endif
#if EINVIT_HEAP
#define EINVIT_ABI_H h1
#else
#define EINVIT_ABI_H h0
#endif
#define EINVIT_ABI_JOIN_(major, minor, patch, isa, vl, s, x, t, b, p, m, h) \
    v##major##_##minor##_##patch##_##isa##_##vl##_##s##x##t##b##p##m##h
#define EINVIT_ABI_JOIN(major, minor, patch, isa, vl, s, x, t, b, p, m, h) \
    EINVIT_ABI_JOIN_(major, minor, patch, isa, vl, s, x, t, b, p, m, h)
/// The inline namespace of this build's einvit, e.g. v0_1_0_avx2fma_0_s1x1t1b0p0m1h1: version, instruction
/// set, fixed vector length, then xsimd, exceptions, threads, bounds checks, profiling, mmap, heap (1 on).
#define EINVIT_ABI                                                                                                 \
    EINVIT_ABI_JOIN(EINVIT_VERSION_MAJOR, EINVIT_VERSION_MINOR, EINVIT_VERSION_PATCH, EINVIT_ABI_ISA, EINVIT_ABI_V, \
                    EINVIT_ABI_S, EINVIT_ABI_X, EINVIT_ABI_T, EINVIT_ABI_B, EINVIT_ABI_P, EINVIT_ABI_M, EINVIT_ABI_H)

namespace einvit {

/// Alignment, in bytes, of every buffer einvit allocates or carves from an arena: one cache line,
/// and the width of an AVX-512 register.
inline constexpr std::size_t alignment = 64;

}  // namespace einvit
