// einvit/backend/cpu/gemm.hpp — C (+)= A · B for strided operands: the matrix product einsum's
// contractions lower to.
//
// B is packed into panels of NR = 2 packets of columns (k-major, zero-padded), so the micro-kernel
// reads it with vector loads whatever B's strides; A is read in place, one broadcast element per row
// and k. The micro-kernel keeps MR x NR accumulators in registers (6 x 32 floats with AVX-512) and
// accumulates in fp32 with fused multiply-adds. Any M, N, K; any strides for A and B; C has unit
// column stride.
#pragma once

#include <cstddef>
#include <cstring>

#include "einvit/backend/cpu/simd.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/error.hpp"
#include "einvit/core/memory.hpp"

namespace einvit::gemm {

/// A strided matrix operand: element (r, c) is at data[r * row_stride + c * col_stride].
template <class T>
struct Strided {
    const T* data;
    std::size_t row_stride;
    std::size_t col_stride;
};

inline constexpr std::size_t mr = 6;  ///< rows of C per micro-kernel call

/// Columns of C per micro-kernel call: two packets.
template <class T>
inline constexpr std::size_t nr = 2 * simd::width<T>;

/// Elements of the buffer pack_b needs for a K x N operand.
template <class T>
constexpr std::size_t packed_b_size(std::size_t k, std::size_t n) noexcept {
    return k * ((n + nr<T> - 1) / nr<T>) * nr<T>;
}

/// Packs B (K x N) into panels of nr<T> columns: panel p holds B[k][p*nr .. p*nr+nr) for every k,
/// zero past column N.
template <class T>
void pack_b(T* EINVIT_RESTRICT out, Strided<T> b, std::size_t k, std::size_t n) noexcept {
    constexpr std::size_t NR = nr<T>;
    for (std::size_t p = 0; p < n; p += NR) {
        const std::size_t cols = n - p < NR ? n - p : NR;
        for (std::size_t kk = 0; kk < k; ++kk) {
            const T* src = b.data + kk * b.row_stride + p * b.col_stride;
            T* dst = out + (p / NR) * k * NR + kk * NR;
            if (b.col_stride == 1 && cols == NR) {
                std::memcpy(dst, src, NR * sizeof(T));
            } else {
                std::size_t c = 0;
                for (; c < cols; ++c) dst[c] = src[c * b.col_stride];
                for (; c < NR; ++c) dst[c] = T(0);
            }
        }
    }
}

namespace detail {

// rows x nr<T> block of C at c (row stride ldc): C = (accumulate ? C : 0) + A-rows · packed panel.
template <std::size_t Rows, class T>
EINVIT_ALWAYS_INLINE void micro_kernel(std::size_t k, const T* EINVIT_RESTRICT a, std::size_t a_row, std::size_t a_col,
                                       const T* EINVIT_RESTRICT panel, T* EINVIT_RESTRICT c, std::size_t ldc,
                                       std::size_t cols, bool accumulate) noexcept {
    constexpr std::size_t W = simd::width<T>;
    using P = simd::packet<T>;
    P acc0[Rows], acc1[Rows];
    for (std::size_t r = 0; r < Rows; ++r) {
        acc0[r] = simd::broadcast<T>(T(0));
        acc1[r] = simd::broadcast<T>(T(0));
    }
    for (std::size_t kk = 0; kk < k; ++kk) {
        const P b0 = simd::load<T>(panel + kk * 2 * W);
        const P b1 = simd::load<T>(panel + kk * 2 * W + W);
        for (std::size_t r = 0; r < Rows; ++r) {
            const P av = simd::broadcast<T>(a[r * a_row + kk * a_col]);
            acc0[r] = simd::fma<T>(av, b0, acc0[r]);
            acc1[r] = simd::fma<T>(av, b1, acc1[r]);
        }
    }
    for (std::size_t r = 0; r < Rows; ++r) {
        T* row = c + r * ldc;
        if (cols == 2 * W) {
            if (accumulate) {
                acc0[r] = acc0[r] + simd::load<T>(row);
                acc1[r] = acc1[r] + simd::load<T>(row + W);
            }
            simd::store<T>(row, acc0[r]);
            simd::store<T>(row + W, acc1[r]);
        } else {
            alignas(64) T tmp[2 * W];
            simd::store<T>(tmp, acc0[r]);
            simd::store<T>(tmp + W, acc1[r]);
            for (std::size_t j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + tmp[j] : tmp[j];
        }
    }
}

template <class T>
void rows_times_panel(std::size_t rows, std::size_t k, const T* a, std::size_t a_row, std::size_t a_col, const T* panel,
                      T* c, std::size_t ldc, std::size_t cols, bool accumulate) noexcept {
    switch (rows) {
        case 6: micro_kernel<6>(k, a, a_row, a_col, panel, c, ldc, cols, accumulate); break;
        case 5: micro_kernel<5>(k, a, a_row, a_col, panel, c, ldc, cols, accumulate); break;
        case 4: micro_kernel<4>(k, a, a_row, a_col, panel, c, ldc, cols, accumulate); break;
        case 3: micro_kernel<3>(k, a, a_row, a_col, panel, c, ldc, cols, accumulate); break;
        case 2: micro_kernel<2>(k, a, a_row, a_col, panel, c, ldc, cols, accumulate); break;
        default: micro_kernel<1>(k, a, a_row, a_col, panel, c, ldc, cols, accumulate); break;
    }
}

}  // namespace detail

/// C = A · packed(B) (or C += when accumulate), with A M x K strided, B packed by pack_b, C M x N with
/// row stride ldc and unit column stride.
template <class T>
void multiply_packed(std::size_t m, std::size_t n, std::size_t k, Strided<T> a, const T* packed_b, T* c, std::size_t ldc,
                     bool accumulate) noexcept {
    constexpr std::size_t NR = nr<T>;
    // Walk C in column panels, then rows: a panel of B (k * NR elements) stays in L1/L2 across rows.
    for (std::size_t p = 0; p < n; p += NR) {
        const std::size_t cols = n - p < NR ? n - p : NR;
        const T* panel = packed_b + (p / NR) * k * NR;
        for (std::size_t i = 0; i < m; i += mr) {
            const std::size_t rows = m - i < mr ? m - i : mr;
            detail::rows_times_panel(rows, k, a.data + i * a.row_stride, a.row_stride, a.col_stride, panel,
                                     c + i * ldc + p, ldc, cols, accumulate);
        }
    }
}

/// C = A · B for strided A (M x K) and B (K x N), C with row stride ldc; `scratch` holds at least
/// packed_b_size<T>(k, n) elements.
template <class T>
void multiply(cpu, std::size_t m, std::size_t n, std::size_t k, Strided<T> a, Strided<T> b, T* c, std::size_t ldc,
              T* scratch) noexcept {
    pack_b(scratch, b, k, n);
    multiply_packed(m, n, k, a, scratch, c, ldc, false);
}

/// The reference product: three loops, accumulating in T.
template <class T>
void multiply(reference, std::size_t m, std::size_t n, std::size_t k, Strided<T> a, Strided<T> b, T* c, std::size_t ldc,
              T*) noexcept {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            T acc = T(0);
            for (std::size_t kk = 0; kk < k; ++kk)
                acc += a.data[i * a.row_stride + kk * a.col_stride] * b.data[kk * b.row_stride + j * b.col_stride];
            c[i * ldc + j] = acc;
        }
}

}  // namespace einvit::gemm
