// einvit/expr/functors.hpp — elementwise operations as function objects.
//
// Each functor works on a scalar and on a SIMD packet alike: `using std::exp; return exp(x);` finds
// std::exp for float and, by argument-dependent lookup, xsimd::exp for xsimd::batch<float>. The
// evaluator chooses which (the reference backend calls them on scalars only).
#pragma once

#include <cmath>
#include <type_traits>

#include "einvit/core/config.hpp"

namespace einvit::fn {

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

EINVIT_DEFINE_UNARY_MATH(exp, true)
EINVIT_DEFINE_UNARY_MATH(log, true)
EINVIT_DEFINE_UNARY_MATH(sqrt, true)
EINVIT_DEFINE_UNARY_MATH(tanh, true)
EINVIT_DEFINE_UNARY_MATH(erf, true)
EINVIT_DEFINE_UNARY_MATH(sin, true)
EINVIT_DEFINE_UNARY_MATH(cos, true)
EINVIT_DEFINE_UNARY_MATH(abs, false)
#undef EINVIT_DEFINE_UNARY_MATH

namespace detail {

template <class V>
concept float_packet = requires { typename V::value_type; } && std::is_same_v<typename V::value_type, float>;

// GELU on a SIMD packet of floats, x·Φ(x), about 1.35x faster than 0.5·x·(1 + erf(x/√2)) with xsimd's
// general erf (measured 16 against 22 cycles per 16 values, memory traffic aside): Φ(-z√2) = erfc(z)/2
// = e^(-z²)·R(z)/2 for z = |x|/√2, where R is a rational function of degree (4, 5) fitted to
// erfc(z)·e^(z²) on [0, 11] (relative error 7e-9), and Φ(x) = 1 - Φ(-x) for x >= 0. The tail keeps
// its relative accuracy (e^(-z²) is taken with z² split exactly into two floats). Measured against
// the formula in double on [-20, 20]: within 4e-7 absolute (under one rounding of the values near 5
// where it peaks), within 1.2e-5 relative where the result is below 1e-30. Special values are
// PyTorch's: gelu(NaN) = NaN, gelu(inf) = inf, gelu(-inf) = NaN; below about -13.2, where the result
// would be subnormal, it is -0.
template <class V>
EINVIT_ALWAYS_INLINE V gelu_float_packet(const V& x) noexcept {
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

// max and min: the larger (smaller) operand; when exactly one operand is NaN the other is returned for
// scalars, as the x86 SIMD instructions do for their second operand; do not rely on NaN ordering.
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
struct pow {
    static constexpr bool floating_only = true;
    template <class V>
    EINVIT_ALWAYS_INLINE V operator()(const V& a, const V& b) const noexcept {
        using std::pow;
        return pow(a, b);
    }
};

}  // namespace einvit::fn
