// einvit/backend/cpu/rows.hpp — kernels that work row by row: softmax, LayerNorm and SwiGLU's gate.
//
// Each takes `rows` rows of `cols` contiguous elements (row strides in_ld and out_ld; in and out may
// be the same memory) and comes twice: for `reference` (plain loops, the oracle) and for `cpu` (SIMD
// packets, rows split across the thread pool; every row is computed by one thread in a fixed order,
// so results do not depend on the thread count).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "einvit/core/config.hpp"
#include "einvit/backend/cpu/simd.hpp"
#if EINVIT_USE_XSIMD && (defined(__AVX512F__) || defined(__AVX2__))
#include <immintrin.h>
#endif
#include "einvit/backend/cpu/thread_pool.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/expr/functors.hpp"

namespace einvit::inline EINVIT_ABI::kernels {

namespace detail {

// Rows per thread-pool task: enough elements that splitting pays.
inline std::size_t row_grain(std::size_t cols) noexcept {
    const std::size_t g = 16384 / (cols ? cols : 1);
    return g ? g : 1;
}

#if EINVIT_USE_XSIMD && (defined(__AVX512F__) || defined(__AVX2__))
// 2^f for |f| <= 1/2 from a degree-6 polynomial (a relative least-squares fit refined towards minimax:
// constant 1, then these), by Horner's rule on a packet.
EINVIT_ALWAYS_INLINE simd::packet<float> exp2_fraction(simd::packet<float> f) noexcept {
    constexpr float c[] = {1.5353362e-4f, 1.3398875e-3f, 9.6184369e-3f, 5.5503324e-2f, 2.4022648e-1f, 6.9314718e-1f, 1.0f};
    simd::packet<float> p = simd::broadcast<float>(c[0]);
    for (std::size_t i = 1; i < sizeof c / sizeof c[0]; ++i) p = simd::fma<float>(p, f, simd::broadcast<float>(c[i]));
    return p;
}
#endif

#if EINVIT_USE_XSIMD && defined(__AVX512F__)
// 2^t for the softmax's t = (score - max) * scale * log2(e) <= 0, within 1.4 ulp: t = n + f with n an
// integer and |f| <= 1/2, 2^f from exp2_fraction, then scaled by 2^n with scalef. Ten instructions where
// the general exp needs about twice as many (it also handles overflow, which t <= 0 cannot reach). Below
// -150 the result is 0 (so is -inf's); NaN stays NaN.
EINVIT_ALWAYS_INLINE __m512 exp2_nonpositive(__m512 t) noexcept {
    t = _mm512_max_ps(_mm512_set1_ps(-150.0f), t);  // the second operand when either is NaN: NaN kept
    const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 p = exp2_fraction(simd::packet<float>(_mm512_sub_ps(t, n)));
    return _mm512_scalef_ps(p, n);
}
#elif EINVIT_USE_XSIMD && defined(__AVX2__)
// The same 2^t with AVX2, which has no scalef: t clamped to -126 and split as above, 2^f from the same
// polynomial, times 2^n built in the exponent field (n + 127 shifted into place; n >= -126 keeps it a
// normal number). Below -126 the result is 0 (so is -inf's), where 2^t is under 1.2e-38 anyway; NaN
// stays NaN (the clamp keeps it, the comparison that zeroes is false for it). Fifteen instructions
// where xsimd's general exp needs about twice as many.
EINVIT_ALWAYS_INLINE __m256 exp2_nonpositive(__m256 t) noexcept {
    const __m256 low = _mm256_set1_ps(-126.0f);
    const __m256 underflow = _mm256_cmp_ps(t, low, _CMP_LT_OQ);
    t = _mm256_max_ps(low, t);  // the second operand when either is NaN: NaN kept
    const __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 p = exp2_fraction(simd::packet<float>(_mm256_sub_ps(t, n)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}
#endif

// exp((x - shift) * scale) for x <= shift; `scale2` is scale * log2(e).
template <class P>
EINVIT_ALWAYS_INLINE P exp_shifted(P x, P shift, P scale, [[maybe_unused]] P scale2) noexcept {
#if EINVIT_USE_XSIMD && defined(__AVX512F__)
    if constexpr (std::is_same_v<P, simd::packet<float>> && simd::width<float> == 16)
        return P(exp2_nonpositive(__m512((x - shift) * scale2)));
#elif EINVIT_USE_XSIMD && defined(__AVX2__)
    if constexpr (std::is_same_v<P, simd::packet<float>> && simd::width<float> == 8)
        return P(exp2_nonpositive(__m256((x - shift) * scale2)));
#endif
    return fn::exp{}((x - shift) * scale);
}

// The largest element of a row (Max), or the smallest; -inf or +inf for an empty one.
template <bool Max, class T>
EINVIT_ALWAYS_INLINE T row_extreme(const T* x, std::size_t n) noexcept {
    constexpr std::size_t W = simd::width<T>;
    const auto pick = [](auto a, auto b) EINVIT_ALWAYS_INLINE_LAMBDA {
        if constexpr (Max) return fn::max{}(a, b);
        else return fn::min{}(a, b);
    };
    T m = Max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    std::size_t i = 0;
    if constexpr (W > 1) {
        if (n >= W) {
            auto v = simd::load<T>(x);
            for (i = W; i + W <= n; i += W) v = pick(v, simd::load<T>(x + i));
            alignas(64) T lanes[W];
            simd::store<T>(lanes, v);
            for (std::size_t l = 0; l < W; ++l) m = pick(m, lanes[l]);
        }
    }
    for (; i < n; ++i) m = pick(m, x[i]);  // (as (m < x) ? x : m for max: a NaN x is passed over)
    return m;
}

// out[i] = exp((x[i] - m) * scale) for (x[i] - m) * scale <= 0 (exp_shifted); returns the sum.
template <class T>
EINVIT_ALWAYS_INLINE T exp_and_sum(const T* x, T* out, std::size_t n, T m, T scale) noexcept {
    constexpr std::size_t W = simd::width<T>;
    std::size_t i = 0;
    T sum = T(0);
    if constexpr (W > 1) {
        auto acc = simd::broadcast<T>(T(0));
        const auto vm = simd::broadcast<T>(m), vs = simd::broadcast<T>(scale);
        const auto vs2 = simd::broadcast<T>(scale * T(1.4426950408889634));  // scale * log2(e)
        for (; i + W <= n; i += W) {
            const auto e = exp_shifted(simd::load<T>(x + i), vm, vs, vs2);
            simd::store<T>(out + i, e);
            acc = acc + e;
        }
        if (i < n) {
            // lanes past n hold what 1 in place of x gives, perhaps nonsense (its exponent may be
            // positive): neither stored nor counted
            const auto e = exp_shifted(simd::load_partial<T>(x + i, 1, n - i), vm, vs, vs2);
            simd::store_partial<T>(out + i, e, n - i);
            acc = acc + simd::keep_first<T>(e, n - i);
            i = n;
        }
        sum += simd::reduce_add<T>(acc);
    }
    for (; i < n; ++i) {
        out[i] = std::exp((x[i] - m) * scale);
        sum += out[i];
    }
    return sum;
}

template <class T>
EINVIT_ALWAYS_INLINE void scale_row(T* x, std::size_t n, T s) noexcept {
    constexpr std::size_t W = simd::width<T>;
    std::size_t i = 0;
    if constexpr (W > 1) {
        const auto vs = simd::broadcast<T>(s);
        for (; i + W <= n; i += W) simd::store<T>(x + i, simd::load<T>(x + i) * vs);
    }
    for (; i < n; ++i) x[i] *= s;
}

// out = softmax of a row whose maximum is -inf: zeros where every element is -inf, NaN where one is NaN.
template <class T>
void fill_masked_row(const T* x, T* out, std::size_t n) noexcept {
    bool nan = false;
    for (std::size_t i = 0; i < n; ++i) nan = nan || x[i] != x[i];
    const T v = nan ? std::numeric_limits<T>::quiet_NaN() : T(0);
    for (std::size_t i = 0; i < n; ++i) out[i] = v;
}

// The shift is the element whose scale * x is largest (the maximum, or with a negative scale the
// minimum), so that every exponent is at most 0 and none overflows, whatever the row's spread.
template <class T>
EINVIT_ALWAYS_INLINE void softmax_row(const T* x, T* out, std::size_t n, T scale) noexcept {
    const T m = scale < T(0) ? row_extreme<false>(x, n) : row_extreme<true>(x, n);
    if (m == -std::numeric_limits<T>::infinity() && !(scale < T(0))) {
        // every element masked (-inf): zeros, not NaN; but the maximum passes NaNs over, and a row of
        // NaNs and -infs is NaN, as PyTorch gives
        fill_masked_row(x, out, n);
        return;
    }
    const T sum = exp_and_sum(x, out, n, m, scale);
    scale_row(out, n, T(1) / sum);
}

template <class T>
EINVIT_ALWAYS_INLINE T row_sum(const T* x, std::size_t n, T shift) noexcept {
    constexpr std::size_t W = simd::width<T>;
    std::size_t i = 0;
    T sum = T(0);
    if constexpr (W > 1) {
        auto acc = simd::broadcast<T>(T(0));
        const auto vs = simd::broadcast<T>(shift);
        for (; i + W <= n; i += W) acc = acc + (simd::load<T>(x + i) - vs);
        sum = simd::reduce_add<T>(acc);
    }
    for (; i < n; ++i) sum += x[i] - shift;
    return sum;
}

template <class T>
EINVIT_ALWAYS_INLINE T row_sum_squares(const T* x, std::size_t n, T mean) noexcept {
    constexpr std::size_t W = simd::width<T>;
    std::size_t i = 0;
    T sum = T(0);
    if constexpr (W > 1) {
        auto acc = simd::broadcast<T>(T(0));
        const auto vm = simd::broadcast<T>(mean);
        for (; i + W <= n; i += W) {
            const auto d = simd::load<T>(x + i) - vm;
            acc = simd::fma<T>(d, d, acc);
        }
        sum = simd::reduce_add<T>(acc);
    }
    for (; i < n; ++i) sum += (x[i] - mean) * (x[i] - mean);
    return sum;
}

template <class T>
struct RowStats {
    T mean, rstd;
};

// The mean and 1 / sqrt(variance + eps) of the n (> 0) contiguous values at x, in two passes around a
// shift (the row's first element), so large offsets such as values around 1e4 cost no precision:
// mean = shift + sum(x - shift) / n, variance = sum((x - mean)^2) / n.
template <class T>
EINVIT_ALWAYS_INLINE RowStats<T> row_stats(const T* x, std::size_t n, T eps) noexcept {
    const T shift = x[0];
    const T mean = shift + row_sum(x, n, shift) / static_cast<T>(n);
    const T var = row_sum_squares(x, n, mean) / static_cast<T>(n);
    return {mean, T(1) / std::sqrt(var + eps)};
}

template <class T>
EINVIT_ALWAYS_INLINE void layer_norm_row(const T* x, T* out, std::size_t n, const T* gamma, const T* beta, T eps) noexcept {
    constexpr std::size_t W = simd::width<T>;
    const auto [mean, rstd] = row_stats(x, n, eps);
    std::size_t i = 0;
    if constexpr (W > 1) {
        const auto vm = simd::broadcast<T>(mean), vr = simd::broadcast<T>(rstd);
        for (; i + W <= n; i += W) {
            auto y = (simd::load<T>(x + i) - vm) * vr;
            if (gamma) y = y * simd::load<T>(gamma + i);
            if (beta) y = y + simd::load<T>(beta + i);
            simd::store<T>(out + i, y);
        }
    }
    for (; i < n; ++i) {
        T y = (x[i] - mean) * rstd;
        if (gamma) y *= gamma[i];
        if (beta) y += beta[i];
        out[i] = y;
    }
}

// out[i] = silu(x[i]) · x[n + i] for i < n (out may be x)
template <class T>
EINVIT_ALWAYS_INLINE void swiglu_row(const T* x, T* out, std::size_t n) noexcept {
    constexpr std::size_t W = simd::width<T>;
    std::size_t i = 0;
    if constexpr (W > 1)
        for (; i + W <= n; i += W) simd::store<T>(out + i, fn::silu{}(simd::load<T>(x + i)) * simd::load<T>(x + n + i));
    for (; i < n; ++i) out[i] = fn::silu{}(x[i]) * x[n + i];
}

}  // namespace detail

/// SwiGLU's gate, row by row: each input row holds 2 x cols values, a gate half then a value half (the
/// two halves of a gated MLP's fc1, as PyTorch's chunk(2) splits them), and out's row gets
/// silu(gate[i]) · value[i], cols values. out may be in (each row's values are read before written).
template <class T>
void swiglu_rows(cpu, const T* in, std::size_t in_ld, T* out, std::size_t out_ld, std::size_t rows, std::size_t cols) {
    if (cols == 0) return;
    parallel_for(rows, detail::row_grain(2 * cols), [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) detail::swiglu_row(in + r * in_ld, out + r * out_ld, cols);
    });
}

/// The reference gate: the same in plain loops, σ in double.
template <class T>
void swiglu_rows(reference, const T* in, std::size_t in_ld, T* out, std::size_t out_ld, std::size_t rows, std::size_t cols) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t i = 0; i < cols; ++i) {
            const double g = static_cast<double>(in[r * in_ld + i]);
            out[r * out_ld + i] = static_cast<T>(g / (1.0 + std::exp(-g)) * static_cast<double>(in[r * in_ld + cols + i]));
        }
}

/// Softmax of each row of scale * x, the largest scale * x subtracted first (so no exponent overflows,
/// whatever the scale's sign). With scale >= 0, -inf elements are masked out and a row that is entirely
/// -inf gives zeros.
template <class T>
void softmax_rows(cpu, const T* in, std::size_t in_ld, T* out, std::size_t out_ld, std::size_t rows, std::size_t cols,
                  T scale = T(1)) {
    if (cols == 0) return;
    parallel_for(rows, detail::row_grain(cols), [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) detail::softmax_row(in + r * in_ld, out + r * out_ld, cols, scale);
    });
}

/// The reference softmax: the same definition in plain loops.
template <class T>
void softmax_rows(reference, const T* in, std::size_t in_ld, T* out, std::size_t out_ld, std::size_t rows,
                  std::size_t cols, T scale = T(1)) {
    for (std::size_t r = 0; r < rows; ++r) {
        const T* x = in + r * in_ld;
        T* y = out + r * out_ld;
        const bool flip = scale < T(0);  // subtract the smallest element instead of the largest
        T m = flip ? std::numeric_limits<T>::infinity() : -std::numeric_limits<T>::infinity();
        for (std::size_t i = 0; i < cols; ++i) m = (flip ? x[i] < m : x[i] > m) ? x[i] : m;
        if (m == -std::numeric_limits<T>::infinity() && !flip) {  // masked: zeros; NaN if one is NaN
            detail::fill_masked_row(x, y, cols);
            continue;
        }
        T sum = T(0);
        for (std::size_t i = 0; i < cols; ++i) sum += (y[i] = std::exp((x[i] - m) * scale));
        for (std::size_t i = 0; i < cols; ++i) y[i] /= sum;
    }
}

/// LayerNorm of each row: (x - mean) / sqrt(var + eps) * gamma + beta (gamma, beta: cols values or null).
template <class T>
void layer_norm_rows(cpu, const T* in, std::size_t in_ld, T* out, std::size_t out_ld, std::size_t rows, std::size_t cols,
                     const T* gamma, const T* beta, T eps) {
    if (cols == 0) return;
    parallel_for(rows, detail::row_grain(cols), [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r)
            detail::layer_norm_row(in + r * in_ld, out + r * out_ld, cols, gamma, beta, eps);
    });
}

/// The reference LayerNorm: mean and variance accumulated in double.
template <class T>
void layer_norm_rows(reference, const T* in, std::size_t in_ld, T* out, std::size_t out_ld, std::size_t rows,
                     std::size_t cols, const T* gamma, const T* beta, T eps) {
    for (std::size_t r = 0; r < rows && cols; ++r) {
        const T* x = in + r * in_ld;
        T* y = out + r * out_ld;
        double mean = 0, var = 0;
        for (std::size_t i = 0; i < cols; ++i) mean += static_cast<double>(x[i]);
        mean /= static_cast<double>(cols);
        for (std::size_t i = 0; i < cols; ++i) var += (x[i] - mean) * (x[i] - mean);
        var /= static_cast<double>(cols);
        const double rstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
        for (std::size_t i = 0; i < cols; ++i) {
            double v = (x[i] - mean) * rstd;
            if (gamma) v *= static_cast<double>(gamma[i]);
            if (beta) v += static_cast<double>(beta[i]);
            y[i] = static_cast<T>(v);
        }
    }
}

}  // namespace einvit::kernels
