// einvit/backend/cpu/attention.hpp — multi-head scaled dot-product attention, fused.
//
// out = softmax(scale * Q Kᵀ + mask) V for every (batch, head). Operands are strided views, so Q, K and
// V can be read straight out of a qkv projection laid out as (b, n, (3 h d)) and the output written
// straight into (b, n, (h d)) with no rearranging copies.
//
// The CPU kernel is flash-style: each task takes a block of 64 queries of one head and walks the keys
// in blocks of up to 256. For each key block it computes the scores transposed, Sᵀ = K Qᵀ (keys x
// queries, in L1/L2), with the GEMM micro-kernel, so that the softmax down the keys runs on whole
// packets of queries (no horizontal reductions, no partial packets), updates a running maximum and sum
// per query (online softmax: earlier partial outputs are rescaled when the maximum grows), and
// accumulates P · V into a 64 x d buffer, the micro-kernel reading P straight out of Pᵀ (no packing).
// The N x N score matrix never exists. The query blocks are items handed to the pool's threads
// (parallel_items); each output row is computed by one item in a fixed order, so results depend
// neither on the thread count nor on which thread took which block.
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
#include <string>
#include <type_traits>
#include <vector>

#include "einvit/backend/cpu/gemm.hpp"
#include "einvit/backend/cpu/rows.hpp"
#include "einvit/backend/cpu/simd.hpp"
#include "einvit/backend/cpu/thread_pool.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"
#include "einvit/expr/functors.hpp"

namespace einvit::inline EINVIT_ABI::kernels {

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

inline void check_attention(const AttentionSize& s, double scale, const AttentionMask& mask) {
    if (!(scale > 0.0) || !std::isfinite(scale)) raise(errc::invalid_argument, "attention: the scale must be positive and finite");
    if (s.keys == 0 && s.queries != 0) raise(errc::invalid_argument, "attention: there are queries but no keys");
    // the keep mask is per key token; masking the queries with it reads query i's entry as token i's
    // (the first tokens' queries alone, as a ViT's last block computes them, are fine)
    if (mask.keep && mask.mask_queries && s.queries > s.keys)
        raise(errc::invalid_argument, "attention: masking the queries with the keep mask needs no more queries than keys (query i is token i); got ",
              s.queries, " queries and ", s.keys, " keys");
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

// queries per task: 64 where a panel has 16 or 32 of them (four B panels of Qᵀ on AVX2, measured 4-6%
// faster on a Zen 3 host than two, bench/bench_kernels alternating runs; two on AVX-512), else two panels
template <class T>
inline constexpr std::size_t attention_queries = gemm::nr<T> >= 16 ? 64 : 2 * gemm::nr<T>;
inline constexpr std::size_t attention_keys = 256;  // keys per block

}  // namespace detail

/// The scratch each task of the CPU attention kernel takes for heads of dimension `dim` (queries and
/// keys) and `dim_v` (values), with up to `queries` queries and `keys` keys a sequence, whatever the batch
/// and heads: Qᵀ packed as B panels (slot 2), a key block as A panels (3), its values as B panels (4),
/// Sᵀ then Pᵀ (5), and the output accumulator with its running sums, rescale factors and mean of V (7).
template <class T>
constexpr ScratchPlan<T> attention_scratch_plan(std::size_t dim, std::size_t dim_v, std::size_t queries,
                                                std::size_t keys) noexcept {
    constexpr std::size_t NR = gemm::nr<T>, Bq = detail::attention_queries<T>, Bk = detail::attention_keys;
    using gemm::detail::round_up;
    const std::size_t d = dim ? dim : 1, ld_o = round_up(dim_v, NR);
    const std::size_t q_block = queries < Bq ? queries : Bq, k_block = keys < Bk ? keys : Bk;
    ScratchPlan<T> plan;
    plan.need(2, round_up(q_block, NR) * d);              // Qᵀ: whole B panels of NR queries
    plan.need(3, round_up(k_block, gemm::mr<T>) * d);     // the key block as A panels
    plan.need(4, ld_o * k_block);                         // its values as B panels
    plan.need(5, k_block * Bq);                           // Sᵀ, then Pᵀ: key j at st + j * Bq
    plan.need(7, Bq * ld_o + 2 * Bq + dim_v);             // then run_sum, alpha, mean_v
    return plan;
}

/// Fused attention on the CPU (see the header comment).
template <class T>
void attention(cpu, const AttentionSize& s, HeadTensor<const T> q, HeadTensor<const T> k, HeadTensor<const T> v,
               HeadTensor<T> out, T scale, AttentionMask mask = {}) {
    detail::check_attention(s, static_cast<double>(scale), mask);
    constexpr std::size_t MR = gemm::mr<T>, NR = gemm::nr<T>, W = simd::width<T>;
    using P = simd::packet<T>;
    constexpr std::size_t Bq = detail::attention_queries<T>;
    constexpr std::size_t QV = Bq / W;  // packets of queries
    constexpr std::size_t Bk = detail::attention_keys;
    const std::size_t q_blocks = (s.queries + Bq - 1) / Bq;
    const std::size_t tasks = s.batch * s.heads * q_blocks;
    const std::size_t v_panels = (s.dim_v + NR - 1) / NR, ld_o = v_panels * NR;
    const bool one_block = s.keys <= Bk;
    using gemm::detail::scratch;

    // A task's buffers, and which head's keys and values it holds packed: a thread's next item is most
    // often the next query block of the same head (its own share's), which then packs nothing.
    struct Work {
        T *q_packed, *k_packed, *v_packed, *st, *acc;
        std::size_t packed_bh, mean_bh;  // (b, h) whose only key block is packed; whose mean of V is in mean_v
    };
    const auto prepare = [&] {
        Work w;
        const ScratchPlan<T> plan = attention_scratch_plan<T>(s.dim, s.dim_v, s.queries, s.keys);
        w.q_packed = scratch<T>(2, plan.slots[2]);
        w.k_packed = scratch<T>(3, plan.slots[3]);
        w.v_packed = scratch<T>(4, plan.slots[4]);
        w.st = scratch<T>(5, plan.slots[5]);
        w.acc = scratch<T>(7, plan.slots[7]);
        w.packed_bh = w.mean_bh = static_cast<std::size_t>(-1);
        return w;
    };
    // Items of one query block each, handed out by parallel_items: a thread works through its own share
    // in order, then takes the others' next blocks, so that one slowed by another program on its core
    // does not hold the whole kernel up with the rest of a fixed share.
    parallel_items(tasks, [&](Work& w, std::size_t task) {
        T* const q_packed = w.q_packed;
        T* const k_packed = w.k_packed;
        T* const v_packed = w.v_packed;
        T* const st = w.st;
        T* const acc = w.acc;
        T* const run_sum = acc + Bq * ld_o;
        T* const alpha = run_sum + Bq;
        T* const mean_v = alpha + Bq;
        std::size_t& packed_bh = w.packed_bh;
        std::size_t& mean_bh = w.mean_bh;
        const gemm::Epilogue<T> none{};
        const P vscale = simd::broadcast<T>(scale), lowest = simd::broadcast<T>(std::numeric_limits<T>::lowest());
        const P vscale2 = simd::broadcast<T>(scale * T(1.4426950408889634));  // scale * log2(e)
        const std::size_t bh = task / q_blocks, b = bh / s.heads, h = bh % s.heads;
        const std::size_t i0 = (task % q_blocks) * Bq;
        const std::size_t rows = s.queries - i0 < Bq ? s.queries - i0 : Bq;
        const std::size_t q_panels = (rows + NR - 1) / NR, nqv = (rows + W - 1) / W;
        // Qᵀ (dim x rows), zero past the last query, so that Sᵀ is zero (finite) there
        for (std::size_t p = 0; p < q_panels; ++p)
            gemm::detail::pack_b_panel(q_packed + p * s.dim * NR, gemm::Strided<T>{q.row(b, h, i0), 1, q.row_stride}, rows,
                                       0, s.dim, p * NR);
        P run_max[QV], sum[QV];
        for (std::size_t x = 0; x < QV; ++x) {
            run_max[x] = simd::broadcast<T>(-std::numeric_limits<T>::infinity());
            sum[x] = simd::broadcast<T>(T(0));
        }
        for (std::size_t j0 = 0; j0 < s.keys; j0 += Bk) {
            const std::size_t cols = s.keys - j0 < Bk ? s.keys - j0 : Bk;
            if (!one_block || packed_bh != bh) {
                gemm::detail::pack_a(k_packed, gemm::Strided<T>{k.row(b, h, j0), k.row_stride, 1}, cols, 0, s.dim);
                const gemm::Strided<T> vb{v.row(b, h, j0), v.row_stride, 1};
                for (std::size_t p = 0; p < v_panels; ++p)
                    gemm::detail::pack_b_panel(v_packed + p * cols * NR, vb, s.dim_v, 0, cols, p * NR);
                packed_bh = bh;
            }
            // Sᵀ = K Qᵀ for this key block: MR keys by NR queries per call, whole packets stored
            for (std::size_t p = 0; p < q_panels; ++p) {
                const std::size_t pc = rows - p * NR < NR ? gemm::detail::round_up(rows - p * NR, W) : NR;
                for (std::size_t j = 0; j * MR < cols; ++j) {
                    const gemm::RowTile tile = gemm::row_tile<T>(j, cols);
                    gemm::detail::rows_kernel(tile.rows, s.dim, k_packed + j * MR * s.dim, q_packed + p * s.dim * NR,
                                              st + tile.row * Bq + p * NR, Bq, pc, false, false, none, 0, 0);
                }
            }
            if (mask.keep)
                for (std::size_t j = 0; j < cols; ++j)
                    if (!mask.kept(b, j0 + j))
                        for (std::size_t x = 0; x < nqv; ++x)
                            simd::store<T>(st + j * Bq + x * W, simd::broadcast<T>(-std::numeric_limits<T>::infinity()));
            // Online softmax down the keys, a packet of queries at a time: the block's maximum, the
            // factor for what was summed before it, then Pᵀ = exp((Sᵀ - max) * scale) in place. Where
            // no key is kept yet the maximum is -inf; `lowest` stands in for it, so P is 0, not NaN.
            // Whole blocks of queries take a copy of the passes with the packet count a constant, so
            // that the per-packet maxima and sums stay in registers (with a run-time count g++ keeps
            // them on the stack: a store and a load per packet and key).
            const auto softmax_passes = [&](auto packets) EINVIT_ALWAYS_INLINE_LAMBDA {
                const std::size_t n = packets;
                P block_max[QV], shift[QV], block_sum[QV], factor[QV];
                for (std::size_t x = 0; x < n; ++x) block_max[x] = run_max[x];
                for (std::size_t j = 0; j < cols; ++j)
                    for (std::size_t x = 0; x < n; ++x) block_max[x] = fn::max{}(block_max[x], simd::load<T>(st + j * Bq + x * W));
                for (std::size_t x = 0; x < n; ++x) {
                    shift[x] = fn::max{}(block_max[x], lowest);
                    factor[x] = detail::exp_shifted(run_max[x], shift[x], vscale, vscale2);
                    simd::store<T>(alpha + x * W, factor[x]);  // per query, for rescaling acc's rows
                    run_max[x] = block_max[x];
                    block_sum[x] = simd::broadcast<T>(T(0));
                }
                for (std::size_t j = 0; j < cols; ++j)
                    for (std::size_t x = 0; x < n; ++x) {
                        T* e = st + j * Bq + x * W;
                        const P p = detail::exp_shifted(simd::load<T>(e), shift[x], vscale, vscale2);
                        simd::store<T>(e, p);
                        block_sum[x] = block_sum[x] + p;
                    }
                for (std::size_t x = 0; x < n; ++x) sum[x] = sum[x] * factor[x] + block_sum[x];
            };
            if (nqv == QV) softmax_passes(std::integral_constant<std::size_t, QV>{});
            else softmax_passes(nqv);
            // acc = alpha * acc + P V, P read straight from Pᵀ (MR queries of key j at st + j * Bq + i)
            if (j0 > 0)
                for (std::size_t r = 0; r < rows; ++r)
                    if (alpha[r] != T(1)) detail::scale_row(acc + r * ld_o, s.dim_v, alpha[r]);
            for (std::size_t p = 0; p < v_panels; ++p) {
                const std::size_t pc = s.dim_v - p * NR < NR ? s.dim_v - p * NR : NR;
                for (std::size_t i = 0; i * MR < rows; ++i) {
                    const gemm::RowTile tile = gemm::row_tile<T>(i, rows);
                    gemm::detail::rows_kernel(tile.rows, cols, st + tile.row, v_packed + p * cols * NR,
                                              acc + tile.row * ld_o + p * NR, ld_o, pc, j0 > 0, false, none, 0, 0, nullptr,
                                              0, Bq);
                }
            }
        }
        for (std::size_t x = 0; x < nqv; ++x) simd::store<T>(run_sum + x * W, sum[x]);
        for (std::size_t r = 0; r < rows; ++r) {
            T* o = out.row(b, h, i0 + r);
            if (mask.keep && mask.mask_queries && !mask.kept(b, i0 + r)) {
                if (mean_bh != bh) {
                    detail::mean_of_values(s, v, b, h, mean_v);
                    mean_bh = bh;
                }
                for (std::size_t d = 0; d < s.dim_v; ++d) o[d] = mean_v[d];
            } else if (run_sum[r] == T(0)) {  // every key masked
                for (std::size_t d = 0; d < s.dim_v; ++d) o[d] = T(0);
            } else {
                const T inv = T(1) / run_sum[r];
                const T* a = acc + r * ld_o;
                std::size_t d = 0;
                for (; d + W <= s.dim_v; d += W) simd::store<T>(o + d, simd::load<T>(a + d) * simd::broadcast<T>(inv));
                for (; d < s.dim_v; ++d) o[d] = a[d] * inv;
            }
        }
    }, prepare);
}

/// The reference: three passes with the whole score matrix of a head (plain loops, accumulated in double).
template <class T>
void attention(reference, const AttentionSize& s, HeadTensor<const T> q, HeadTensor<const T> k, HeadTensor<const T> v,
               HeadTensor<T> out, T scale, AttentionMask mask = {}) {
    detail::check_attention(s, static_cast<double>(scale), mask);
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
                // a masked query's scores are all -max: the mean of v, whatever the keys (as PyTorch gives);
                // a kept query with no kept key: zeros
                const bool query_masked = mask.mask_queries && !mask.kept(b, i);
                T* o = out.row(b, h, i);
                for (std::size_t d = 0; d < s.dim_v; ++d) {
                    double acc = 0;
                    for (std::size_t j = 0; j < s.keys; ++j) acc += row[j] / sum * double(v.row(b, h, j)[d]);
                    o[d] = any || query_masked ? static_cast<T>(acc) : T(0);
                }
            }
        }
}

}  // namespace einvit::kernels
