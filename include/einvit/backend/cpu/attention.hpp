// einvit/backend/cpu/attention.hpp — multi-head scaled dot-product attention, fused.
//
// out = softmax(scale * Q Kᵀ + mask) V for every (batch, head). Operands are strided views, so Q, K and
// V can be read straight out of a qkv projection laid out as (b, n, (3 h d)) and the output written
// straight into (b, n, (h d)) with no rearranging copies.
//
// The CPU kernel is flash-style: each task takes a block of query rows of one head and walks the keys
// in blocks of up to 256. For each key block it computes the scores of its query block (Br x Bc, in
// L1/L2) with the GEMM micro-kernel, updates a running row maximum and sum (online softmax: earlier
// partial outputs are rescaled when the maximum grows), and accumulates P · V into a Br x d buffer.
// The N x N score matrix never exists. Tasks are split across the thread pool; each output row is
// computed by one task in a fixed order, so results do not depend on the thread count.
//
// Masking follows PyTorch code that pads a per-token keep mask with the class token and fills masked
// scores with -finfo.max (vit-pytorch's Attention): a masked key gets zero weight; a masked query row
// (when `mask_queries`) has all its scores equal, so its output is the mean of V over all keys. If
// every key of a row is masked the row is zeros.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "einvit/backend/cpu/gemm.hpp"
#include "einvit/backend/cpu/rows.hpp"
#include "einvit/backend/cpu/simd.hpp"
#include "einvit/backend/cpu/thread_pool.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/error.hpp"

namespace einvit::kernels {

/// One operand of attention: element (b, h, i, d) at data[b*batch_stride + h*head_stride + i*row_stride + d].
template <class T>
struct HeadTensor {
    T* data;
    std::size_t batch_stride, head_stride, row_stride;
    T* row(std::size_t b, std::size_t h, std::size_t i) const noexcept {
        return data + b * batch_stride + h * head_stride + i * row_stride;
    }
};

/// Sizes of an attention problem: queries and keys per sequence, head dimension of Q/K and of V.
struct AttentionSize {
    std::size_t batch, heads, queries, keys, dim, dim_v;
};

/// An optional per-token keep mask: keep[b * stride + j] != 0 keeps token j of sequence b.
struct AttentionMask {
    const std::uint8_t* keep = nullptr;
    std::size_t stride = 0;
    bool mask_queries = true;  ///< also mask the query rows of dropped tokens (vit-pytorch's 2-D mask)
    bool kept(std::size_t b, std::size_t j) const noexcept { return !keep || keep[b * stride + j] != 0; }
};

namespace detail {

inline void check_attention(const AttentionSize& s, double scale) {
    if (!(scale > 0.0) || !std::isfinite(scale)) raise(errc::invalid_argument, "attention: the scale must be positive and finite");
    if (s.keys == 0 && s.queries != 0) raise(errc::invalid_argument, "attention: there are queries but no keys");
}

// Mean of V over all keys, for masked query rows.
template <class T>
void mean_of_values(const AttentionSize& s, HeadTensor<const T> v, std::size_t b, std::size_t h, T* out) {
    for (std::size_t d = 0; d < s.dim_v; ++d) out[d] = T(0);
    for (std::size_t j = 0; j < s.keys; ++j) {
        const T* vr = v.row(b, h, j);
        for (std::size_t d = 0; d < s.dim_v; ++d) out[d] += vr[d];
    }
    for (std::size_t d = 0; d < s.dim_v; ++d) out[d] /= static_cast<T>(s.keys);
}

}  // namespace detail

/// Fused attention on the CPU (see the header comment).
template <class T>
void attention(cpu, const AttentionSize& s, HeadTensor<const T> q, HeadTensor<const T> k, HeadTensor<const T> v,
               HeadTensor<T> out, T scale, AttentionMask mask = {}) {
    detail::check_attention(s, static_cast<double>(scale));
    constexpr std::size_t MR = gemm::mr<T>, NR = gemm::nr<T>;
    constexpr std::size_t Br = 4 * MR;  // query rows per task
    constexpr std::size_t Bc = 256;     // keys per block
    const std::size_t q_blocks = (s.queries + Br - 1) / Br;
    const std::size_t tasks = s.batch * s.heads * q_blocks;
    const std::size_t k_panels_max = (Bc + NR - 1) / NR, v_panels = (s.dim_v + NR - 1) / NR;
    const std::size_t ld_s = k_panels_max * NR, ld_o = v_panels * NR;
    const bool one_block = s.keys <= Bc;
    using gemm::detail::scratch;

    parallel_for(tasks, 1, [&](std::size_t t0, std::size_t t1) {
        T* q_packed = scratch<T>(2, gemm::detail::round_up(Br, MR) * (s.dim ? s.dim : 1));
        T* k_packed = scratch<T>(3, k_panels_max * NR * (s.dim ? s.dim : 1));
        T* v_packed = scratch<T>(4, v_panels * NR * Bc);
        T* scores = scratch<T>(5, Br * ld_s);
        T* p_packed = scratch<T>(6, gemm::detail::round_up(Br, MR) * Bc);
        T* acc = scratch<T>(7, Br * ld_o + 3 * Br + s.dim_v);
        T* row_max = acc + Br * ld_o;
        T* row_sum = row_max + Br;
        T* alpha = row_sum + Br;
        T* mean_v = alpha + Br;
        std::size_t packed_bh = static_cast<std::size_t>(-1);  // (b, h) whose only key block is packed
        std::size_t mean_bh = static_cast<std::size_t>(-1);
        const gemm::Epilogue<T> none{};

        for (std::size_t task = t0; task < t1; ++task) {
            const std::size_t bh = task / q_blocks, b = bh / s.heads, h = bh % s.heads;
            const std::size_t i0 = (task % q_blocks) * Br;
            const std::size_t rows = s.queries - i0 < Br ? s.queries - i0 : Br;
            gemm::detail::pack_a(q_packed, gemm::Strided<T>{q.row(b, h, i0), q.row_stride, 1}, rows, 0, s.dim);
            for (std::size_t r = 0; r < rows; ++r) {
                row_max[r] = -std::numeric_limits<T>::infinity();
                row_sum[r] = T(0);
            }
            for (std::size_t j0 = 0; j0 < s.keys; j0 += Bc) {
                const std::size_t cols = s.keys - j0 < Bc ? s.keys - j0 : Bc;
                const std::size_t k_panels = (cols + NR - 1) / NR;
                if (!one_block || packed_bh != bh) {
                    // Kᵀ (dim x cols) and V (cols x dim_v) of this key block, as GEMM panels.
                    const gemm::Strided<T> kt{k.row(b, h, j0), 1, k.row_stride};
                    for (std::size_t p = 0; p < k_panels; ++p)
                        gemm::detail::pack_b_panel(k_packed + p * s.dim * NR, kt, cols, 0, s.dim, p * NR);
                    const gemm::Strided<T> vb{v.row(b, h, j0), v.row_stride, 1};
                    for (std::size_t p = 0; p < v_panels; ++p)
                        gemm::detail::pack_b_panel(v_packed + p * cols * NR, vb, s.dim_v, 0, cols, p * NR);
                    packed_bh = bh;
                }
                // scores = Q Kᵀ for this block
                for (std::size_t p = 0; p < k_panels; ++p) {
                    const std::size_t pc = cols - p * NR < NR ? cols - p * NR : NR;
                    for (std::size_t i = 0; i < rows; i += MR)
                        gemm::detail::rows_kernel(rows - i < MR ? rows - i : MR, s.dim, q_packed + i * s.dim,
                                                  k_packed + p * s.dim * NR, scores + i * ld_s + p * NR, ld_s, pc, false,
                                                  false, none, 0, 0);
                }
                // masked keys get -inf; online softmax update
                for (std::size_t r = 0; r < rows; ++r) {
                    T* sr = scores + r * ld_s;
                    if (mask.keep)
                        for (std::size_t j = 0; j < cols; ++j)
                            if (!mask.kept(b, j0 + j)) sr[j] = -std::numeric_limits<T>::infinity();
                    const T block_max = detail::row_max(sr, cols);
                    const T new_max = block_max > row_max[r] ? block_max : row_max[r];
                    if (new_max == -std::numeric_limits<T>::infinity()) {  // nothing kept yet
                        for (std::size_t j = 0; j < cols; ++j) sr[j] = T(0);
                        alpha[r] = T(1);
                        continue;
                    }
                    alpha[r] = row_max[r] == -std::numeric_limits<T>::infinity() ? T(0) : std::exp((row_max[r] - new_max) * scale);
                    row_sum[r] = row_sum[r] * alpha[r] + detail::exp_and_sum(sr, sr, cols, new_max, scale);
                    row_max[r] = new_max;
                }
                // acc = alpha * acc + P V
                if (j0 > 0)
                    for (std::size_t r = 0; r < rows; ++r)
                        if (alpha[r] != T(1)) detail::scale_row(acc + r * ld_o, s.dim_v, alpha[r]);
                gemm::detail::pack_a(p_packed, gemm::Strided<T>{scores, ld_s, 1}, rows, 0, cols);
                for (std::size_t p = 0; p < v_panels; ++p) {
                    const std::size_t pc = s.dim_v - p * NR < NR ? s.dim_v - p * NR : NR;
                    for (std::size_t i = 0; i < rows; i += MR)
                        gemm::detail::rows_kernel(rows - i < MR ? rows - i : MR, cols, p_packed + i * cols,
                                                  v_packed + p * cols * NR, acc + i * ld_o + p * NR, ld_o, pc, j0 > 0,
                                                  false, none, 0, 0);
                }
            }
            for (std::size_t r = 0; r < rows; ++r) {
                T* o = out.row(b, h, i0 + r);
                if (mask.keep && mask.mask_queries && !mask.kept(b, i0 + r)) {
                    if (mean_bh != bh) {
                        detail::mean_of_values(s, v, b, h, mean_v);
                        mean_bh = bh;
                    }
                    for (std::size_t d = 0; d < s.dim_v; ++d) o[d] = mean_v[d];
                } else if (row_sum[r] == T(0)) {  // every key masked
                    for (std::size_t d = 0; d < s.dim_v; ++d) o[d] = T(0);
                } else {
                    const T inv = T(1) / row_sum[r];
                    const T* a = acc + r * ld_o;
                    for (std::size_t d = 0; d < s.dim_v; ++d) o[d] = a[d] * inv;
                }
            }
        }
    });
}

/// The reference: three passes with the whole score matrix of a head (plain loops, accumulated in double).
template <class T>
void attention(reference, const AttentionSize& s, HeadTensor<const T> q, HeadTensor<const T> k, HeadTensor<const T> v,
               HeadTensor<T> out, T scale, AttentionMask mask = {}) {
    detail::check_attention(s, static_cast<double>(scale));
    std::vector<double> scores(s.queries * s.keys);
    for (std::size_t b = 0; b < s.batch; ++b)
        for (std::size_t h = 0; h < s.heads; ++h) {
            for (std::size_t i = 0; i < s.queries; ++i)
                for (std::size_t j = 0; j < s.keys; ++j) {
                    double dot = 0;
                    for (std::size_t d = 0; d < s.dim; ++d) dot += double(q.row(b, h, i)[d]) * double(k.row(b, h, j)[d]);
                    const bool keep = mask.kept(b, j) && (!mask.mask_queries || mask.kept(b, i));
                    // PyTorch's masked_fill with -finfo.max
                    scores[i * s.keys + j] = keep ? dot * double(scale) : -double(std::numeric_limits<T>::max());
                }
            for (std::size_t i = 0; i < s.queries; ++i) {
                double* row = scores.data() + i * s.keys;
                double m = -std::numeric_limits<double>::infinity(), sum = 0;
                bool any = false;
                for (std::size_t j = 0; j < s.keys; ++j) {
                    m = row[j] > m ? row[j] : m;
                    any = any || mask.kept(b, j);
                }
                for (std::size_t j = 0; j < s.keys; ++j) sum += (row[j] = std::exp(row[j] - m));
                T* o = out.row(b, h, i);
                for (std::size_t d = 0; d < s.dim_v; ++d) {
                    double acc = 0;
                    for (std::size_t j = 0; j < s.keys; ++j) acc += row[j] / sum * double(v.row(b, h, j)[d]);
                    o[d] = any ? static_cast<T>(acc) : T(0);
                }
            }
        }
}

}  // namespace einvit::kernels
