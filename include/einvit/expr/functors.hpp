// einvit/expr/functors.hpp — elementwise operations as function objects.
//
// Each functor works on a scalar and on a SIMD packet alike: `using std::exp; return exp(x);` finds
// std::exp for float and, by argument-dependent lookup, xsimd::exp for xsimd::batch<float>. The
// evaluator chooses which (the reference backend calls them on scalars only).
#pragma once

#include <cmath>
#include <type_traits>

#include "einvit/core/config.hpp"

#if EINVIT_USE_XSIMD && (defined(__AVX512F__) || defined(__AVX2__))
#include <immintrin.h>
#endif

namespace einvit::inline EINVIT_ABI::fn {

#define EINVIT_DEFINE_BINARY_OPERATOR(NAME, SYMBOL)                                   \
    struct NAME {                                                                     \
        template <class V>                                                            \
        EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept {    \
            return a SYMBOL b;                                                        \
        }                                                                             \
    };

EINVIT_DEFINE_BINARY_OPERATOR(plus, +)
EINVIT_DEFINE_BINARY_OPERATOR(minus, -)
EINVIT_DEFINE_BINARY_OPERATOR(multiplies, *)
EINVIT_DEFINE_BINARY_OPERATOR(divides, /)
#undef EINVIT_DEFINE_BINARY_OPERATOR

struct negate {
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a) const noexcept {
        return -a;
    }
};

// Unary math. `Floating` says whether the function needs floating-point elements.
#define EINVIT_DEFINE_UNARY_MATH(NAME, FLOATING)                                      \
    struct NAME {                                                                     \
        static constexpr bool floating_only = FLOATING;                               \
        template <class V>                                                            \
        EINVIT_ALWAYS_INLINE V operator()(const V& x) const noexcept {                \
            using std::NAME;                                                          \
            return NAME(x);                                                           \
        }                                                                             \
    };

EINVIT_DEFINE_UNARY_MATH(log, true)
EINVIT_DEFINE_UNARY_MATH(sqrt, true)
EINVIT_DEFINE_UNARY_MATH(tanh, true)
EINVIT_DEFINE_UNARY_MATH(erf, true)
EINVIT_DEFINE_UNARY_MATH(sin, true)
EINVIT_DEFINE_UNARY_MATH(cos, true)
EINVIT_DEFINE_UNARY_MATH(abs, false)
#undef EINVIT_DEFINE_UNARY_MATH

// e^x. xsimd's packets give 0 where the result is below the smallest normal number (x below about
// -87.4 for float, -708.4 for double) and std::exp a subnormal; the packets holding such an x (rare:
// one compare and a test on the others) take e^(x/2) squared there, which rounds once into the
// subnormal range: within 4 ulps of the smallest normal number, as std::exp.
struct exp {
    static constexpr bool floating_only = true;
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& x) const noexcept {
        using std::exp;
        if constexpr (std::is_arithmetic_v<V>) {
            return exp(x);
        } else {
            using T = typename V::value_type;
            const V y = exp(x);
            const auto tiny = x < V(std::is_same_v<T, float> ? T(-87.0) : T(-708.0));
            if (!any(tiny)) return y;  // xsimd's any and select, by argument-dependent lookup
            const V half = exp(x * V(T(0.5)));
            return select(tiny, half * half, y);
        }
    }
};

namespace detail {

template <class V>
concept float_packet = requires { typename V::value_type; } && std::is_same_v<typename V::value_type, float>;

#if EINVIT_USE_XSIMD && defined(__AVX512F__)
// Φ(-z√2) = erfc(z)/2 on [0, 4) in 16 pieces of width 1/4, each a polynomial of degree 5 in t = z - c,
// c the middle of the piece: coefficient j of piece i is gelu_pieces[j][i] (Chebyshev fits, relative
// error weighted, by tools/fit_gelu_pieces.py). Read with 16-lane permutes, one register per coefficient.
alignas(64) inline constexpr float gelu_pieces[6][16] = {
    {0.4298419f, 0.29794154f, 0.18837956f, 0.10796247f, 0.055805884f, 0.025914961f,
     0.010778133f, 0.004004971f, 0.0013270148f, 0.00039146925f, 0.00010268797f, 2.392747e-05f,
     4.948386e-06f, 9.0764644e-07f, 1.4757154e-07f, 2.1257279e-08f},
    {-0.55544263f, -0.49017638f, -0.38174975f, -0.26237252f, -0.159137f, -0.08517991f,
     -0.040236145f, -0.016772918f, -0.0061704074f, -0.0020032343f, -0.0005739342f, -0.00014511231f,
     -3.2378575e-05f, -6.3756092e-06f, -1.1078862e-06f, -1.6989354e-07f},
    {0.06942879f, 0.18381275f, 0.2385908f, 0.22957526f, 0.17903014f, 0.117123805f,
     0.065384656f, 0.03144948f, 0.013112008f, 0.004757498f, 0.0015064478f, 0.00041713417f,
     0.0001011586f, 2.1510059e-05f, 4.014113e-06f, 6.579071e-07f},
    {0.1793569f, 0.11743126f, 0.027831059f, -0.046461716f, -0.08122179f, -0.0789635f,
     -0.057416916f, -0.03371978f, -0.01651954f, -0.0068664476f, -0.002446078f, -0.000751726f,
     -0.00020020081f, -4.6356494e-05f, -9.355326e-06f, -1.6486641e-06f},
    {-0.03408951f, -0.0827084f, -0.08774892f, -0.05607718f, -0.014165714f, 0.014994844f,
     0.02469347f, 0.021082552f, 0.0132008875f, 0.0066017816f, 0.0027324406f, 0.0009536529f,
     0.00028382608f, 7.256492e-05f, 1.601894e-05f, 3.0647145e-06f},
    {-0.051649533f, -0.022342857f, 0.013842238f, 0.03345168f, 0.030358287f, 0.015039348f,
     0.0009430638f, -0.0057305205f, -0.0061891647f, -0.004118461f, -0.0020695087f, -0.00083704724f,
     -0.00028065802f, -7.930348e-05f, -1.9079504e-05f, -3.9357424e-06f},
};

// GELU on 16 floats: x·Φ(x) with Φ(-|x|) from gelu_pieces, and 0 for |x|/√2 >= 4 (where x·Φ(x) is
// below 6e-8 in magnitude). Six permutes and six FMAs in place of an exp and a division: measured
// about 2x the rational form below. Within 4.4e-8·(1 + 4|y|) of the formula in double on [-20, 20].
// NaN, ±inf, -0 as the rational form.
EINVIT_ALWAYS_INLINE __m512 gelu_avx512(__m512 x) noexcept {
    const __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752440f));
    // the piece: int(4z) (NaN and huge z give INT_MIN, whose low four bits pick piece 0), at most 15
    const __m512i piece = _mm512_min_epi32(_mm512_cvttps_epi32(_mm512_mul_ps(z, _mm512_set1_ps(4.0f))), _mm512_set1_epi32(15));
    const __m512 t = _mm512_sub_ps(z, _mm512_fmadd_ps(_mm512_cvtepi32_ps(piece), _mm512_set1_ps(0.25f), _mm512_set1_ps(0.125f)));
    __m512 p = _mm512_permutexvar_ps(piece, _mm512_load_ps(gelu_pieces[5]));
    for (int j = 4; j >= 0; --j) p = _mm512_fmadd_ps(p, t, _mm512_permutexvar_ps(piece, _mm512_load_ps(gelu_pieces[j])));
    const __m512 lower = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_set1_ps(4.0f), _CMP_LT_OQ), p);  // Φ(-|x|)
    const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mul_ps(x, _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(1.0f), lower), lower));
}
#endif

#if EINVIT_USE_XSIMD && defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
// The same Φ(-z√2) = erfc(z)/2 on [0, 4) for 8-lane AVX2 permutes: 8 pieces of width 1/2, each a
// polynomial of degree 6 in t = z - c, c the middle of the piece (tools/fit_gelu_pieces.py --avx2; as
// accurate as the 16 pieces of degree 5, 0.44 of the unit test's bound at worst).
alignas(32) inline constexpr float gelu_pieces8[7][8] = {
    {0.361836791f, 0.144422188f, 0.0385499373f, 0.00666416204f,
     0.000731358072f, 5.03112642e-05f, 2.15146656e-06f, 5.68704763e-08f},
    {-0.530006886f, -0.32146576f, -0.1182606f, -0.0263874438f,
     -0.00357115385f, -0.000293141522f, -1.45949161e-05f, -4.40716946e-07f},
    {0.132502258f, 0.241097718f, 0.147825524f, 0.046178855f,
     0.00803517643f, 0.000806025695f, 4.74034969e-05f, 1.6498559e-06f},
    {0.154558674f, -0.0133650359f, -0.0837620869f, -0.0450871959f,
     -0.010863224f, -0.00137948513f, -9.77430391e-05f, -3.97218946e-06f},
    {-0.0635006502f, -0.0752794072f, 0.0030813741f, 0.0240193736f,
     0.00953967962f, 0.00163392688f, 0.000144604128f, 7.0549022e-06f},
    {-0.0391593389f, 0.0256487131f, 0.0233954694f, -0.00300595071f,
     -0.00529403007f, -0.00140787987f, -0.000164525074f, -9.88122156e-06f},
    {0.0200264435f, 0.0126655558f, -0.0104645472f, -0.00416042842f,
     0.00143892306f, 0.000776761037f, 0.000119396922f, 8.43431098e-06f},
};

// GELU on 8 floats, as gelu_avx512 computes it: seven permutes and six FMAs in place of the rational
// form's exp and division. Within 4.4e-8·(1 + 4|y|) of the formula in double on [-20, 20]; NaN, ±inf, -0
// as the rational form.
EINVIT_ALWAYS_INLINE __m256 gelu_avx2(__m256 x) noexcept {
    const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752440f));
    // the piece: int(2z) (NaN and huge z give INT_MIN, whose low three bits pick piece 0), at most 7
    const __m256i piece = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(z, z)), _mm256_set1_epi32(7));
    const __m256 t = _mm256_sub_ps(z, _mm256_fmadd_ps(_mm256_cvtepi32_ps(piece), _mm256_set1_ps(0.5f), _mm256_set1_ps(0.25f)));
    __m256 p = _mm256_permutevar8x32_ps(_mm256_load_ps(gelu_pieces8[6]), piece);
    for (int j = 5; j >= 0; --j) p = _mm256_fmadd_ps(p, t, _mm256_permutevar8x32_ps(_mm256_load_ps(gelu_pieces8[j]), piece));
    const __m256 lower = _mm256_and_ps(_mm256_cmp_ps(z, _mm256_set1_ps(4.0f), _CMP_LT_OQ), p);  // Φ(-|x|)
    const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_mul_ps(x, _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), lower), lower, negative));
}
#endif

// GELU on any SIMD packet of floats (what builds without AVX-512 or AVX2 use), x·Φ(x), about 1.35x faster than
// 0.5·x·(1 + erf(x/√2)) with xsimd's general erf (measured 16 against 22 cycles per 16 values, memory
// traffic aside): Φ(-z√2) = erfc(z)/2 = e^(-z²)·R(z)/2 for z = |x|/√2, where R is a rational function of
// degree (4, 5) fitted to erfc(z)·e^(z²) on [0, 11] (relative error 7e-9), and Φ(x) = 1 - Φ(-x) for x >=
// 0. The tail keeps its relative accuracy (e^(-z²) is taken with z² split exactly into two floats).
// Measured against the formula in double on [-20, 20]: within 4e-7 absolute (under one rounding of the
// values near 5 where it peaks), within 1.2e-5 relative where the result is below 1e-30. Special values
// are PyTorch's: gelu(NaN) = NaN, gelu(inf) = inf, gelu(-inf) = NaN; below about -13.2, where the result
// would be subnormal, it is -0.
template <class V>
EINVIT_ALWAYS_INLINE V gelu_rational_packet(const V& x) noexcept {
    using std::abs;
    using std::exp;
    using std::fma;
    using std::min;
    const V z = min(abs(x) * V(0.70710678118654752440f), V(11.0f));  // erfc(11) e^121 still fits R
    const V zz = z * z;
    const V tail = exp(-zz) * (V(1.0f) - fma(z, z, -zz));  // e^-(zz + lo) with lo the rounding of z·z
    V p = V(3.353802860e-02f);
    p = fma(p, z, V(2.327362150e-01f));
    p = fma(p, z, V(7.389643788e-01f));
    p = fma(p, z, V(1.245414376e+00f));
    p = fma(p, z, V(1.0f));
    V q = V(5.944402143e-02f);
    q = fma(q, z, V(4.125373065e-01f));
    q = fma(q, z, V(1.339111209e+00f));
    q = fma(q, z, V(2.417493582e+00f));
    q = fma(q, z, V(2.373794317e+00f));
    q = fma(q, z, V(1.0f));
    const V lower = V(0.5f) * tail * p / q;  // Φ(-|x|)
    return x * select(x < V(0.0f), lower, V(1.0f) - lower);
}

// GELU on a packet of floats: the pieces on 16-lane AVX-512 and 8-lane AVX2 packets, the rational form
// elsewhere.
template <class V>
EINVIT_ALWAYS_INLINE V gelu_float_packet(const V& x) noexcept {
#if EINVIT_USE_XSIMD && defined(__AVX512F__)
    if constexpr (V::size == 16) return V(gelu_avx512(x));
    else
#elif EINVIT_USE_XSIMD && defined(__AVX2__) && defined(__FMA__)
    if constexpr (V::size == 8) return V(gelu_avx2(x));
    else
#endif
        return gelu_rational_packet(x);
}

}  // namespace detail

// GELU, exact (erf) and with PyTorch's tanh approximation (approximate="tanh"); ReLU.
struct gelu {
    static constexpr bool floating_only = true;
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& x) const noexcept {
        if constexpr (detail::float_packet<V>) {
            return detail::gelu_float_packet(x);
        } else {
            using std::erf;
            return V(0.5) * x * (V(1) + erf(x * V(0.70710678118654752440)));
        }
    }
};
struct gelu_tanh {
    static constexpr bool floating_only = true;
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& x) const noexcept {
        using std::tanh;
        return V(0.5) * x * (V(1) + tanh(V(0.79788456080286535588) * (x + V(0.044715) * x * x * x)));
    }
};
// QuickGELU, x·σ(1.702 x) (OpenAI's CLIP; timm's act_layer "quick_gelu"), as x / (1 + e^(-1.702 x)):
// x for large x, -0 for large negative x (e^(-1.702 x) overflows to infinity), NaN for NaN.
struct quick_gelu {
    static constexpr bool floating_only = true;
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& x) const noexcept {
        return x / (V(1) + exp{}(V(-1.702) * x));
    }
};
// SiLU (swish), x·σ(x) (the gate of a SwiGLU MLP: DINOv2 giant's), as x / (1 + e^(-x)), as quick_gelu.
struct silu {
    static constexpr bool floating_only = true;
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& x) const noexcept {
        return x / (V(1) + exp{}(V(-1) * x));
    }
};
// ReLU keeps NaN, as PyTorch's does: on scalars explicitly (std::max would give 0); on SIMD packets
// by the operand order, since the max instructions (x86 maxps, and xsimd's emulation) return their
// second operand when either is NaN, and NEON's fmax returns NaN.
struct relu {
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& x) const noexcept {
        if constexpr (std::is_arithmetic_v<V>) {
            return x > V(0) || x != x ? x : V(0);
        } else {
            using std::max;
            return max(V(0), x);
        }
    }
};

// max and min: the kernels' own, the larger (smaller) operand; when exactly one operand is NaN the
// other is returned for scalars, as the x86 SIMD instructions do for their second operand, so a NaN's
// fate depends on where it sits. einvit::max / einvit::min and the max / min reductions use maximum and
// minimum below instead.
struct max {
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept {
        using std::max;
        return max(a, b);
    }
};
struct min {
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept {
        using std::min;
        return min(a, b);
    }
};
namespace detail {
// m, unless a or b is NaN: then that NaN.
template <class V>
EINVIT_ALWAYS_INLINE V nan_or(const V& a, const V& b, const V& m) noexcept {
    if constexpr (std::is_arithmetic_v<V>) {
        if constexpr (std::is_floating_point_v<V>) return a != a ? a : (b != b ? b : m);
        else return m;
    } else if constexpr (std::is_floating_point_v<typename V::value_type>) {
        // xsimd's isnan and select, by argument-dependent lookup (its != compares ordered: false for NaN)
        return select(isnan(a), a, select(isnan(b), b, m));
    } else {
        return m;
    }
}
}  // namespace detail
// maximum and minimum: NaN where either operand is NaN, wherever it sits (torch.maximum, numpy.maximum).
struct maximum {
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept { return detail::nan_or(a, b, max{}(a, b)); }
};
struct minimum {
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept { return detail::nan_or(a, b, min{}(a, b)); }
};
struct pow {
    static constexpr bool floating_only = true;
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept {
        using std::pow;
        return pow(a, b);
    }
};

}  // namespace einvit::fn
