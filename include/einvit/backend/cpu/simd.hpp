// einvit/backend/cpu/simd.hpp — the one place the CPU kernels meet xsimd.
//
// packet<T> is xsimd's register type for T on the best instruction set enabled at compile time
// (-march=native gives AVX-512 on a machine that has it), or T itself — a one-lane packet — when
// xsimd is absent (EINVIT_NO_XSIMD, bare-metal targets) or has no register for T. Kernels are written
// once against these few functions and the math functors, so the scalar fallback is the same code.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "einvit/core/config.hpp"

#if EINVIT_USE_XSIMD
// g++ 12 reports its own AVX-512 intrinsics' `_mm512_undefined_ps()` idiom as maybe-uninitialized
// once they are inlined (a false positive, fixed in later g++). The warning is judged at the
// intrinsic's line, so it is silenced for those headers only, when einvit is first to include them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#endif

namespace einvit::inline EINVIT_ABI::simd {

#if EINVIT_USE_XSIMD
// The instruction set the packets use: xsimd's best for the target, except in an unoptimised build for
// AVX-512BW with xsimd 8, whose byte and word select (reached from its float log) does not compile
// there (g++'s intrinsics are macros without optimisation, and their casts refuse xsimd's batches);
// einvit needs nothing of BW, so such a build takes AVX-512DQ (or F), the same registers.
#if defined(__AVX512BW__) && !defined(__OPTIMIZE__) && defined(XSIMD_VERSION_MAJOR) && XSIMD_VERSION_MAJOR < 9
#if defined(__AVX512DQ__)
using arch = xsimd::avx512dq;
#else
using arch = xsimd::avx512f;
#endif
#else
using arch = xsimd::default_arch;
#endif
#endif

namespace detail {
template <class T>
inline constexpr bool has_register =
#if EINVIT_USE_XSIMD
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int32_t> ||
    std::is_same_v<T, std::int64_t>;
#else
    false;
#endif

template <class T, bool Simd = has_register<T>>
struct packet_of {
    using type = T;
    static constexpr std::size_t width = 1;
};
#if EINVIT_USE_XSIMD
template <class T>
struct packet_of<T, true> {
    using type = xsimd::batch<T, arch>;
    static constexpr std::size_t width = type::size;
};
#endif
}  // namespace detail

/// The register type kernels compute on for elements of type T.
template <class T>
using packet = typename detail::packet_of<T>::type;

/// Lanes in packet<T> (1 for the scalar fallback).
template <class T>
inline constexpr std::size_t width = detail::packet_of<T>::width;

/// Name of the instruction set in use, for benchmark labels and logs.
inline const char* instruction_set() noexcept {
#if EINVIT_USE_XSIMD
    return arch::name();
#else
    return "scalar";
#endif
}

/// All lanes equal to v.
template <class T>
EINVIT_ALWAYS_INLINE packet<T> broadcast(T v) noexcept {
    if constexpr (width<T> == 1)
        return v;
    else
        return packet<T>(v);
}

/// width<T> consecutive elements from p (any alignment).
template <class T>
EINVIT_ALWAYS_INLINE packet<T> load(const T* p) noexcept {
    if constexpr (width<T> == 1)
        return *p;
    else
        return packet<T>::load_unaligned(p);
}

/// Stores width<T> lanes to p (any alignment).
template <class T>
EINVIT_ALWAYS_INLINE void store(T* p, const packet<T>& v) noexcept {
    if constexpr (width<T> == 1)
        *p = v;
    else
        v.store_unaligned(p);
}

/// width<T> elements from p, p + stride, p + 2 * stride, ...
template <class T>
EINVIT_ALWAYS_INLINE packet<T> load_strided(const T* p, std::size_t stride) noexcept {
    if constexpr (width<T> == 1) {
        return *p;
    } else {
        alignas(64) T lanes[width<T>];
        for (std::size_t i = 0; i < width<T>; ++i) lanes[i] = p[i * stride];
        return packet<T>::load_aligned(lanes);
    }
}

#if EINVIT_USE_XSIMD && defined(__AVX2__) && !defined(__AVX512F__)
namespace detail {
// The AVX2 mask of the first n (< 8) of 8 float lanes: all ones in lanes [0, n), zeros after.
EINVIT_ALWAYS_INLINE __m256i first_lanes(std::size_t n) noexcept {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
}  // namespace detail
#endif

/// The first n (< width<T>) elements from p, p + stride, ...; the other lanes hold 1, a value no
/// operation traps on (integer division by a padding lane must not raise SIGFPE). Tails go through the
/// same packet arithmetic as the body, so an element's value never depends on where a loop is split.
template <class T>
EINVIT_ALWAYS_INLINE packet<T> load_partial(const T* p, std::size_t stride, std::size_t n) noexcept {
    if constexpr (width<T> == 1) {
        return *p;
    } else {
#if EINVIT_USE_XSIMD && defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float> && width<T> == 16)
            if (stride == 1) return _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), static_cast<__mmask16>((1u << n) - 1), p);
#elif EINVIT_USE_XSIMD && defined(__AVX2__)
        // a masked load: the lanes past n are not read (no fault past the end of p's memory)
        if constexpr (std::is_same_v<T, float> && width<T> == 8)
            if (stride == 1) {
                const __m256i mask = detail::first_lanes(n);
                return _mm256_blendv_ps(_mm256_set1_ps(1.0f), _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
            }
#endif
        alignas(64) T lanes[width<T>];
        for (std::size_t i = 0; i < width<T>; ++i) lanes[i] = i < n ? p[i * stride] : T(1);
        return packet<T>::load_aligned(lanes);
    }
}

/// Stores the first n (< width<T>) lanes of v to p.
template <class T>
EINVIT_ALWAYS_INLINE void store_partial(T* p, const packet<T>& v, std::size_t n) noexcept {
    if constexpr (width<T> == 1) {
        *p = v;
    } else {
#if EINVIT_USE_XSIMD && defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float> && width<T> == 16) {
            _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
            return;
        }
#elif EINVIT_USE_XSIMD && defined(__AVX2__)
        if constexpr (std::is_same_v<T, float> && width<T> == 8) {
            _mm256_maskstore_ps(p, detail::first_lanes(n), v);
            return;
        }
#endif
        alignas(64) T lanes[width<T>];
        v.store_aligned(lanes);
        for (std::size_t i = 0; i < n; ++i) p[i] = lanes[i];
    }
}

/// v with its lanes from n on (n < width<T>) set to zero.
template <class T>
EINVIT_ALWAYS_INLINE packet<T> keep_first(const packet<T>& v, std::size_t n) noexcept {
    if constexpr (width<T> == 1) {
        return n ? v : T(0);
    } else {
#if EINVIT_USE_XSIMD && defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float> && width<T> == 16) return _mm512_maskz_mov_ps(static_cast<__mmask16>((1u << n) - 1), v);
#elif EINVIT_USE_XSIMD && defined(__AVX2__)
        if constexpr (std::is_same_v<T, float> && width<T> == 8) return _mm256_and_ps(v, _mm256_castsi256_ps(detail::first_lanes(n)));
#endif
        alignas(64) T lanes[width<T>];
        v.store_aligned(lanes);
        for (std::size_t i = n; i < width<T>; ++i) lanes[i] = T(0);
        return packet<T>::load_aligned(lanes);
    }
}

/// a * b + c, fused where the instruction set has it.
template <class T>
EINVIT_ALWAYS_INLINE packet<T> fma(const packet<T>& a, const packet<T>& b, const packet<T>& c) noexcept {
#if EINVIT_USE_XSIMD
#if defined(__AVX512F__)
    // xsimd 8 has no AVX-512 fma: its generic a * b + c is a multiply and an add unless the compiler
    // contracts them, which g++ does and clang does not (clang's GEMM ran at 60% of g++'s speed).
    if constexpr (std::is_same_v<T, float> && width<T> == 16)
        return packet<T>(_mm512_fmadd_ps(a, b, c));
    else if constexpr (std::is_same_v<T, double> && width<T> == 8)
        return packet<T>(_mm512_fmadd_pd(a, b, c));
    else
#endif
    if constexpr (width<T> != 1) return xsimd::fma(a, b, c);
#endif
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    // One rounding, always: left as a * b + c, the compiler contracts it in some copies of a kernel and
    // not in others (g++ vectorising a 1-row micro-kernel's k loop as a multiply and in-order adds),
    // and a row's result would depend on the tile it fell in, so on the thread count.
    if constexpr (width<T> == 1 && std::is_floating_point_v<T>) return std::fma(a, b, c);
#endif
    return a * b + c;
}

/// Sum of the lanes.
template <class T>
EINVIT_ALWAYS_INLINE T reduce_add(const packet<T>& v) noexcept {
#if EINVIT_USE_XSIMD
    if constexpr (width<T> != 1)
        return xsimd::hadd(v);
    else
#endif
        return v;
}

/// Lane i of v.
template <class T>
EINVIT_ALWAYS_INLINE T lane(const packet<T>& v, std::size_t i) noexcept {
    if constexpr (width<T> == 1) {
        (void)i;
        return v;
    } else {
        alignas(64) T lanes[width<T>];
        v.store_aligned(lanes);
        return lanes[i];
    }
}

}  // namespace einvit::simd
