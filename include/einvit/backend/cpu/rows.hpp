// einvit/backend/cpu/rows.hpp — kernels that work row by row: softmax and LayerNorm.
//
// Each takes `rows` rows of `cols` contiguous elements (row strides in_ld and out_ld; in and out may
// be the same memory) and comes twice: for `reference` (plain loops, the oracle) and for `cpu` (SIMD
// packets, rows split across the thread pool; every row is computed by one thread in a fixed order,
// so results do not depend on the thread count).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "einvit/backend/cpu/simd.hpp"
#include "einvit/backend/cpu/thread_pool.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/expr/functors.hpp"

namespace einvit::kernels {

namespace detail {

// Rows per thread-pool task: enough elements that splitting pays.
inline std::size_t row_grain(std::size_t cols) noexcept {
    const std::size_t g = 16384 / (cols ? cols : 1);
    return g ? g : 1;
}

template <class T>
EINVIT_ALWAYS_INLINE T row_max(const T* x, std::size_t n) noexcept {
    constexpr std::size_t W = simd::width<T>;
    T m = -std::numeric_limits<T>::infinity();
    std::size_t i = 0;
    if constexpr (W > 1) {
        if (n >= W) {
            auto v = simd::load<T>(x);
            for (i = W; i + W <= n; i += W) v = fn::max{}(v, simd::load<T>(x + i));
            alignas(64) T lanes[W];
            simd::store<T>(lanes, v);
            for (std::size_t l = 0; l < W; ++l) m = lanes[l] > m ? lanes[l] : m;
        }
    }
    for (; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}

// out[i] = exp((x[i] - m) * scale); returns the sum.
template <class T>
EINVIT_ALWAYS_INLINE T exp_and_sum(const T* x, T* out, std::size_t n, T m, T scale) noexcept {
    constexpr std::size_t W = simd::width<T>;
    std::size_t i = 0;
    T sum = T(0);
    if constexpr (W > 1) {
        auto acc = simd::broadcast<T>(T(0));
        const auto vm = simd::broadcast<T>(m), vs = simd::broadcast<T>(scale);
        for (; i + W <= n; i += W) {
            const auto e = fn::exp{}((simd::load<T>(x + i) - vm) * vs);
            simd::store<T>(out + i, e);
            acc = acc + e;
        }
        if (i < n) {
            const auto e = fn::exp{}((simd::load_partial<T>(x + i, 1, n - i) - vm) * vs);
            simd::store_partial<T>(out + i, e, n - i);
            acc = acc + simd::keep_first<T>(e, n - i);  // lanes past n hold exp((1 - m) * scale): not counted
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

template <class T>
EINVIT_ALWAYS_INLINE void softmax_row(const T* x, T* out, std::size_t n, T scale) noexcept {
    const T m = row_max(x, n);
    if (m == -std::numeric_limits<T>::infinity()) {  // every element masked: zeros, not NaN
        for (std::size_t i = 0; i < n; ++i) out[i] = T(0);
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

}  // namespace detail

/// Softmax of each row of scale * x (scale > 0), max-subtracted. -inf elements are masked out; a row
/// that is entirely -inf gives zeros.
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
        T m = -std::numeric_limits<T>::infinity();
        for (std::size_t i = 0; i < cols; ++i) m = x[i] > m ? x[i] : m;
        if (m == -std::numeric_limits<T>::infinity()) {
            for (std::size_t i = 0; i < cols; ++i) y[i] = T(0);
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
