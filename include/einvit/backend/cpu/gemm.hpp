// einvit/backend/cpu/gemm.hpp — C = epilogue(A · B): the kernel under matmul, linear and einsum.
//
// Blocking (per thread, each thread owning a contiguous range of B's column panels, or, with B
// pre-packed, of A's rows: see multiply_threaded for which):
//   (B packed here: for each chunk of the thread's panels, kc x chunk x NR floats at most 8 MiB:)
//   for each block of kc rows of B (and columns of A), kc = K up to max_kc (768; 4096 on AVX2):
//     pack the thread's kc x NR panels of B (unless B was pre-packed once, as weights are)   -> L2/L3
//     for each block of mc rows of A (mc x kc floats, about 256 KiB; a little more is one block):
//       pack it into row panels of MR (k-major: MR values per k), applying a RowNorm if given -> L2
//       for each of the thread's column panels of NR = 2 packets:
//         for each tile of MR rows (the last two evened out, see row_tile): micro-kernel, MR x NR
//         accumulators in registers, one FMA per (row, packet, k), then on the last k block the
//         fused epilogue (bias, activation, residual) before the only store. Meanwhile it
//         prefetches a share of the next pre-packed B panel, which comes from memory when the
//         weights are larger than the caches.
// MR x NR is 14 x 32 floats on AVX-512 (28 of the 32 vector registers), 6 x 16 on AVX2. Every element
// of C is accumulated in the same order whatever the thread count, so results are identical for any.
// Products with a pre-packed B whose shape fits, where that measured faster, take one level of Strassen's
// algorithm instead, seven half-size products on the same micro-kernel (strassen_rows, below).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "einvit/core/config.hpp"
#include "einvit/backend/cpu/rows.hpp"
#include "einvit/backend/cpu/simd.hpp"
#if EINVIT_USE_XSIMD && (defined(__AVX512F__) || defined(__AVX2__))
#include <immintrin.h>
#endif
#include "einvit/backend/cpu/thread_pool.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/error.hpp"
#include "einvit/core/memory.hpp"
#include "einvit/expr/functors.hpp"

namespace einvit::inline EINVIT_ABI::gemm {

/// A strided matrix operand: element (r, c) is at data[r * row_stride + c * col_stride].
template <class T>
struct Strided {
    const T* data;
    std::size_t row_stride;
    std::size_t col_stride;
};

/// The elementwise function applied to A·B + bias before the residual is added.
enum class Activation { none, gelu_erf, gelu_tanh, relu, tanh, quick_gelu };

/// Which products with a pre-packed B (a model's weights) take one level of Strassen's algorithm
/// (set_strassen): none; those whose shape this instruction set measured faster with it (the default;
/// detail::strassen_pays); or every shape it fits (detail::strassen_fits).
enum class StrassenUse { never, where_it_pays, wherever_it_fits };

/// What happens to each element of A·B before it is stored: C = act(A·B + bias[col]) + residual[row][col].
template <class T>
struct Epilogue {
    const T* bias = nullptr;           ///< N values, or null
    Activation activation = Activation::none;
    const T* residual = nullptr;       ///< M x N values with row stride residual_ld, or null (may alias C)
    std::size_t residual_ld = 0;
};

/// A LayerNorm of A's rows applied as A is packed: the product is LN(A) · B with no normalised copy of A
/// written or read. Row r of A becomes (A[r][c] - mean_r) * rstd_r * gamma[c] + beta[c] with mean_r and
/// rstd_r = 1 / sqrt(var_r + eps) over the row's K values: the same values, computed the same way, as
/// kernels::layer_norm_rows gives. Needs a row-major A (unit column stride).
template <class T>
struct RowNorm {
    const T* gamma = nullptr;  ///< K values, or null (no scale)
    const T* beta = nullptr;   ///< K values, or null (no shift)
    T eps = T(0);
};

/// Rows of C per micro-kernel call.
template <class T>
inline constexpr std::size_t mr = simd::width<T> >= 16 ? 14 : 6;
/// Columns of C per micro-kernel call: two packets.
template <class T>
inline constexpr std::size_t nr = 2 * simd::width<T>;
/// The deepest block of the product (rows of a B panel). Deep blocks mean C is loaded and stored
/// fewer times; 768 measured best on AVX-512 (a 14 x 768 A panel, 42 KiB, is read from L2 once per B
/// panel; 10% faster than 256). On AVX2, whose 16-column B panel already outgrows a 32 KiB L1 at a
/// depth of 768, the whole depth up to 4096 measured faster on a Zen 3 host (bench/gemm_ab, both
/// orders): ViT-B's fc2 (K = 3072) 2-8% at one image and 0-5% at batch 8, ViT-S's (1536) 2-4%, ViT-L's
/// (4096) 0-3% against two blocks of 2048; 384 and 256 were 8-15% slower. Other instruction sets keep 768.
template <class T>
inline constexpr std::size_t max_kc = simd::width<T> == 8 ? 4096 : 768;
/// Whether the micro-kernel prefetches towards L2 the next pre-packed B panel (a weight from memory)
/// while it multiplies: with AVX-512, where it measured 5-15% faster on ViT-B's layers (Zen 4 and 5),
/// and with AVX2. On a Zen 3 host (bench/gemm_ab, both orders) it made the plain products of ViT-B's
/// layers at one image 4-7% faster, with the weights in the caches or from memory, and at batch 8 from
/// 1% slower (proj) to 4% faster; a ViT-B/16 pass at one image 1-2% faster side by side, at batch 8 1%
/// slower. (Strassen's products measured 2-12% slower with it there.)
template <class T>
inline constexpr bool prefetch_panels = simd::width<T> >= 8;
/// Whether the other micro-kernel calls run the prefetching loop: those with no weight panel to
/// prefetch (B packed as it is multiplied, attention's products, the calls on a weight panel after
/// those that prefetch the next one), which then prefetch A's first line, and Strassen's, which
/// prefetch their next pair of weight quadrants. On AVX-512, as measured there,
/// where it is one instruction per 28 multiply-adds. Not on AVX2 (Zen 3, bench/gemm_ab, both orders):
/// the products with B packed as they go measured 2-5% faster without it, and Strassen's 2-12% faster
/// in one set of runs and as fast in another.
template <class T>
inline constexpr bool prefetch_by_default = simd::width<T> >= 16;
/// Bytes of packed A kept in L2 while it meets every column panel of a thread.
inline constexpr std::size_t a_block_bytes = 256 * 1024;
/// The most bytes of B a thread packs at once when B is not pre-packed: its column panels are
/// multiplied a chunk at a time, each chunk's depth block packed (A packed again for each chunk), so
/// that the packing buffer stays this size however wide B is. Every ViT-B/16 product is one chunk a
/// thread with two threads (4.7 MB); a 768 x 50000 B is 10 chunks instead of a 77 MB buffer per thread.
inline constexpr std::size_t b_block_bytes = 8u << 20;

/// The depth of each block for a product of depth k: k split into equal blocks of at most max_kc, a
/// multiple of 16 but the last.
template <class T>
constexpr std::size_t depth_block(std::size_t k) noexcept {
    if (k <= max_kc<T>) return k == 0 ? 1 : k;
    const std::size_t blocks = (k + max_kc<T> - 1) / max_kc<T>;
    return ((k + blocks - 1) / blocks + 15) / 16 * 16;
}

/// The largest A, packed whole, that threads share instead of each packing it: one image of ViT-B (197
/// rows at K = 3072, 2.6 MB) fits; at batch 8 sharing measured no faster than packing per thread.
inline constexpr std::size_t shared_a_bytes = 4u << 20;

/// Rows of A per block for a depth block of kc: a multiple of mr whose packed block fits a_block_bytes.
template <class T>
constexpr std::size_t row_block(std::size_t kc) noexcept {
    const std::size_t rows = a_block_bytes / (kc * sizeof(T)) / mr<T> * mr<T>;
    return rows < mr<T> ? mr<T> : rows;
}

/// Rows of one micro-kernel call: fewer would leave the FMA units waiting on each accumulator's
/// latency (a 1-row call costs about as much as 4).
inline constexpr std::size_t min_tile_rows = 4;

/// One row tile of a block: rows [row, row + rows) of it, packed as A panel j.
struct RowTile {
    std::size_t row, rows;
};

/// Tile j of the ceil(m / mr) tiles of a block of m rows: mr rows each, except that a remainder of
/// fewer than min_tile_rows shares the last two tiles evenly with the full tile before it (197 rows:
/// 13 x 14, then 8 and 7, not 14 x 14 and 1). Every element of C is the same sum whatever the tiling.
template <class T>
constexpr RowTile row_tile(std::size_t j, std::size_t m) noexcept {
    constexpr std::size_t MR = mr<T>;
    const std::size_t tiles = (m + MR - 1) / MR, rest = m % MR;
    if (rest == 0 || rest >= min_tile_rows || tiles < 2 || j + 2 < tiles)
        return {j * MR, m - j * MR < MR ? m - j * MR : MR};
    const std::size_t first = (MR + rest + 1) / 2;
    return j + 2 == tiles ? RowTile{j * MR, first} : RowTile{(j - 1) * MR + first, MR + rest - first};
}

namespace detail {

constexpr std::size_t round_up(std::size_t n, std::size_t m) noexcept { return (n + m - 1) / m * m; }

// A growable, 64-byte-aligned scratch buffer per slot: allocated on first use and when a larger problem
// comes, then reused. Slots 0 and 1 are the GEMM's packed A and B; 2 to 5 and 7 the attention kernel's;
// 8 the GEMM's A packed whole and shared by the threads (the calling thread's).
template <class T>
struct ScratchBuffer {
    T* data = nullptr;
    std::size_t size = 0;
    ScratchBuffer() = default;
    ScratchBuffer(const ScratchBuffer&) = delete;
    ScratchBuffer& operator=(const ScratchBuffer&) = delete;
    // Left empty rather than dangling: a product run from a static object's destructor, after this
    // one's (the thread's buffers go first at exit), then allocates afresh instead of writing to freed
    // memory (it leaks that one allocation at exit). Without a heap it never holds any, and has no
    // destructor: its statics then need no guard and no registration at exit.
#if EINVIT_HEAP
    ~ScratchBuffer() {
        einvit::detail::heap_free(data, size * sizeof(T));
        data = nullptr;
        size = 0;
    }
#endif
};

inline constexpr std::size_t scratch_slots = 9;
/// Pool tasks 1 to this have buffers of their own (below); beyond, the thread's.
inline constexpr std::size_t scratch_task_sets = 63;

// The buffers for what the calling thread runs now. Outside the pool's jobs, and in task 0 (which the
// calling thread always runs), the thread's own; in task i >= 1 of a job, task i's, whichever thread
// runs it: a thread done with its own task may run another's (ThreadPool::run), and with buffers per
// thread it would then grow its own for that task's needs in some later pass, where per task the first
// pass sizes them all (a model's forward_into allocates nothing after its first, however the tasks
// fall). One job runs at a time, each task on one thread, so a task's buffers have one user at a time.
template <class T>
ScratchBuffer<T>* scratch_buffers() noexcept {
    static EINVIT_THREAD_LOCAL ScratchBuffer<T> own[scratch_slots];
#if EINVIT_THREADS
    const std::size_t task = einvit::detail::ThreadPool::current_task();
    if (task == 0 || task > scratch_task_sets) return own;
    static ScratchBuffer<T> tasks[scratch_task_sets][scratch_slots];
    return tasks[task - 1];
#else
    return own;  // one thread, task 0 only
#endif
}

// How many elements buffer `slot` of what the calling thread runs now (scratch_buffers) holds: its
// largest request so far.
template <class T>
std::size_t scratch_capacity(std::size_t slot) noexcept {
    return scratch_buffers<T>()[slot].size;
}

// A caller's memory lent to the scratch slots of `tasks` tasks (einvit::ScratchScope): those of the
// jobs its thread runs, from the task the thread ran when it lent (0 outside jobs) on. That task's slot
// s is `size[s]` elements at first + offset[s] (none where size[s] is 0); task `task + i`'s, i >= 1,
// are at first + stride0 + (i - 1) * stride + offset[s], every slot but the last, which is the first
// task's alone (the A that threads share, slot 8). It reaches the tasks through the pool's job context
// (ThreadPool::job_context), as a chain of lendings of any element type: `type` says which, `outer`
// is the lending it hides.
struct LentScratchLink {
    const void* type = nullptr;
    const LentScratchLink* outer = nullptr;
};
template <class T>
inline constexpr char scratch_type = 0;  // its address stands for T
template <class T>
struct LentScratch : LentScratchLink {
    T* first = nullptr;
    std::size_t offset[scratch_slots] = {}, size[scratch_slots] = {};
    std::size_t task = 0, tasks = 1, stride0 = 0, stride = 0;
};
// The innermost lending of T that the calling thread sees (its own ScratchScopes', or in a pool task
// the job's caller's), or null.
template <class T>
const LentScratch<T>* lent_scratch() noexcept {
    for (auto* link = static_cast<const LentScratchLink*>(einvit::detail::ThreadPool::job_context()); link; link = link->outer)
        if (link->type == &scratch_type<T>) return static_cast<const LentScratch<T>*>(link);
    return nullptr;
}

// `count` elements of scratch slot `slot` for what the calling thread runs now: the memory a
// ScratchScope lent to this task's slot where it has room, else the slot's own growable buffer
// (allocated on first use, and when a larger request comes).
template <class T>
T* scratch(std::size_t slot, std::size_t count) {
    if (const LentScratch<T>* lent = lent_scratch<T>()) {
        const std::size_t task = einvit::detail::ThreadPool::current_task();
        if (task >= lent->task && task - lent->task < lent->tasks) {
            const std::size_t i = task - lent->task;
            const bool lent_slot = lent->size[slot] != 0 && count <= lent->size[slot] && (i == 0 || slot + 1 < scratch_slots);
            if (lent_slot) return lent->first + (i == 0 ? 0 : lent->stride0 + (i - 1) * lent->stride) + lent->offset[slot];
        }
    }
    ScratchBuffer<T>& b = scratch_buffers<T>()[slot];
    if (b.size < count) {
        einvit::detail::heap_free(b.data, b.size * sizeof(T));
        b.data = static_cast<T*>(einvit::detail::heap_allocate(count * sizeof(T), false));
        b.size = b.data ? count : 0;
        if (!b.data) raise(errc::out_of_memory, "no memory for a GEMM packing buffer", einvit::detail::no_heap_note);
    }
    return b.data;
}

#if EINVIT_USE_XSIMD && defined(__AVX512F__)
// Sixteen rows of 16 floats transposed in registers: on return r[c] holds column c of the input
// (unpack within 128-bit lanes, then shuffles of lanes; 64 shuffles for 256 values).
EINVIT_ALWAYS_INLINE void transpose_16x16(__m512 r[16]) noexcept {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);      // per lane: a0 b0 a1 b1
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3
    }
    for (int j = 0; j < 16; j += 4) {  // lane L of r[j + q]: rows j..j+3 at column 4L + q
        r[j] = _mm512_shuffle_ps(t[j], t[j + 2], 0x44);
        r[j + 1] = _mm512_shuffle_ps(t[j], t[j + 2], 0xEE);
        r[j + 2] = _mm512_shuffle_ps(t[j + 1], t[j + 3], 0x44);
        r[j + 3] = _mm512_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
    }
    for (int q = 0; q < 4; ++q) {  // gather lane L of r[q], r[4 + q], r[8 + q], r[12 + q]: column 4L + q
        const __m512 u0 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x88), u1 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xDD);
        const __m512 u2 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x88), u3 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xDD);
        t[q] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        t[4 + q] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        t[8 + q] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
        t[12 + q] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
    }
    for (int c = 0; c < 16; ++c) r[c] = t[c];
}

// A 16 x 16 block transposed: rows [0, rows) of src (row stride src_stride; rows past them read as
// zero) become columns, column c of src, as f(c, column) gives it, stored at dst + c * dst_stride (the
// lanes in `lanes`).
template <class F>
EINVIT_ALWAYS_INLINE void transpose_block(const float* src, std::size_t src_stride, std::size_t rows, float* dst,
                                          std::size_t dst_stride, __mmask16 lanes, F f) noexcept {
    __m512 r[16];
    for (std::size_t i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_loadu_ps(src + i * src_stride) : _mm512_setzero_ps();
    if (rows) transpose_16x16(r);
    for (std::size_t c = 0; c < 16; ++c) _mm512_mask_storeu_ps(dst + c * dst_stride, lanes, f(c, r[c]));
}
EINVIT_ALWAYS_INLINE void transpose_block(const float* src, std::size_t src_stride, std::size_t rows, float* dst,
                                          std::size_t dst_stride, __mmask16 lanes) noexcept {
    transpose_block(src, src_stride, rows, dst, dst_stride, lanes, [](std::size_t, __m512 v) { return v; });
}
#elif EINVIT_USE_XSIMD && defined(__AVX2__)
// Eight rows of 8 floats transposed in registers: on return r[c] holds column c of the input (unpack
// within 128-bit lanes, shuffles, then the lanes exchanged; 24 shuffles for 64 values).
EINVIT_ALWAYS_INLINE void transpose_8x8(__m256 r[8]) noexcept {
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // per lane: a0 b0 a1 b1
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3
    }
    __m256 s[8];
    for (int j = 0; j < 8; j += 4) {  // lane L of s[j + q]: rows j..j+3 at column 4L + q
        s[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
        s[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
        s[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
        s[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
    }
    for (int q = 0; q < 4; ++q) {
        r[q] = _mm256_permute2f128_ps(s[q], s[4 + q], 0x20);
        r[4 + q] = _mm256_permute2f128_ps(s[q], s[4 + q], 0x31);
    }
}

// An 8 x 8 block transposed: rows [0, rows) of src (row stride src_stride; rows past them read as
// zero), each mapped by f(row, values) as it is loaded, become columns: column c of src at dst + c *
// dst_stride, `lanes` (6 or 8) values of it. With 6, the stores of columns 0 to 6 write 8 values, the
// last two of which the next column's store overwrites; column 7's writes 6.
template <std::size_t Lanes, class F>
EINVIT_ALWAYS_INLINE void transpose_block(const float* src, std::size_t src_stride, std::size_t rows, float* dst,
                                          std::size_t dst_stride, F f) noexcept {
    static_assert(Lanes == 6 || Lanes == 8);
    __m256 r[8];
    for (std::size_t i = 0; i < 8; ++i) r[i] = i < rows ? f(i, _mm256_loadu_ps(src + i * src_stride)) : _mm256_setzero_ps();
    if (rows) transpose_8x8(r);
    if constexpr (Lanes == 8) {
        for (std::size_t c = 0; c < 8; ++c) _mm256_storeu_ps(dst + c * dst_stride, r[c]);
    } else {
        for (std::size_t c = 0; c < 7; ++c) _mm256_storeu_ps(dst + c * dst_stride, r[c]);
        _mm_storeu_ps(dst + 7 * dst_stride, _mm256_castps256_ps128(r[7]));
        _mm_storel_pi(reinterpret_cast<__m64*>(dst + 7 * dst_stride + 4), _mm256_extractf128_ps(r[7], 1));
    }
}
template <std::size_t Lanes>
EINVIT_ALWAYS_INLINE void transpose_block(const float* src, std::size_t src_stride, std::size_t rows, float* dst,
                                          std::size_t dst_stride) noexcept {
    transpose_block<Lanes>(src, src_stride, rows, dst, dst_stride, [](std::size_t, __m256 v) { return v; });
}
#endif

// A's rows [0, m) x columns [k0, k0 + kb) into panels of MR values per k, one per row tile: panel j
// (at out + j * MR * kb) holds, for each k, A[row + r][k0 + k] for the tile's rows (zero past them, and
// past row `valid` when A has fewer rows than the tiling: Strassen's lower half of an odd M).
// With AVX-512 and unit column stride (row-major A), 16 columns at a time are transposed in
// registers: packing is most of the cost besides the multiply-adds when N is small (ViT-Ti's fc2 at
// batch 8). With `norm` (A row-major, rows of k values), each value is normalised on the way (RowNorm).
template <class T>
void pack_a(T* EINVIT_RESTRICT out, Strided<T> a, std::size_t m, std::size_t k0, std::size_t kb,
            const RowNorm<T>* norm = nullptr, std::size_t k = 0, std::size_t valid = static_cast<std::size_t>(-1),
            const kernels::detail::RowStats<T>* stats = nullptr) noexcept {
    constexpr std::size_t MR = mr<T>;
    for (std::size_t j = 0; j * MR < m; ++j) {
        const RowTile tile = row_tile<T>(j, m);
        // rows past `valid` (tiled as part of m, but not in A) are packed as zeros
        const std::size_t rows = tile.row >= valid ? 0 : (valid - tile.row < tile.rows ? valid - tile.row : tile.rows);
        T* dst = out + j * MR * kb;
        const T* src = a.data + tile.row * a.row_stride + k0 * a.col_stride;
        // with a norm: each row's mean and 1 / std over its k values (zero past the tile's rows); read
        // only with a norm, so left unset without one
        constexpr std::size_t stat_lanes = MR > 16 ? MR : 16;
        alignas(64) T mean[stat_lanes], rstd[stat_lanes];
        if (norm) {
            for (std::size_t r = 0; r < stat_lanes; ++r) mean[r] = rstd[r] = T(0);
            for (std::size_t r = 0; r < rows; ++r) {
                const auto st = stats ? stats[tile.row + r]
                                      : kernels::detail::row_stats(a.data + (tile.row + r) * a.row_stride, k, norm->eps);
                mean[r] = st.mean;
                rstd[r] = st.rstd;
            }
        }
        const auto normed = [&](T x, std::size_t r, std::size_t c) EINVIT_ALWAYS_INLINE_LAMBDA {
            if (!norm) return x;
            T y = (x - mean[r]) * rstd[r];
            if (norm->gamma) y = y * norm->gamma[k0 + c];
            if (norm->beta) y = y + norm->beta[k0 + c];
            return y;
        };
        std::size_t k_done = 0;
#if EINVIT_USE_XSIMD && defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float> && MR <= 16) {
            if (a.col_stride == 1) {
                const __mmask16 lanes = static_cast<__mmask16>((1u << MR) - 1);
                if (!norm) {
                    for (; k_done + 16 <= kb; k_done += 16)
                        transpose_block(src + k_done, a.row_stride, rows, dst + k_done * MR, MR, lanes);
                } else {
                    // the lanes are the tile's rows: (x - mean) * rstd per lane, then gamma and beta of the column
                    const __m512 vm = _mm512_load_ps(mean), vr = _mm512_load_ps(rstd);
                    const __mmask16 live = static_cast<__mmask16>((1u << rows) - 1);
                    for (; k_done + 16 <= kb; k_done += 16)
                        transpose_block(src + k_done, a.row_stride, rows, dst + k_done * MR, MR, lanes,
                                        [&](std::size_t c, __m512 x) EINVIT_ALWAYS_INLINE_LAMBDA {
                                            __m512 y = _mm512_mul_ps(_mm512_sub_ps(x, vm), vr);
                                            const std::size_t col = k0 + k_done + c;
                                            if (norm->gamma) y = _mm512_mul_ps(y, _mm512_set1_ps(norm->gamma[col]));
                                            if (norm->beta) y = _mm512_add_ps(y, _mm512_set1_ps(norm->beta[col]));
                                            return _mm512_maskz_mov_ps(live, y);
                                        });
                }
            }
        }
#elif EINVIT_USE_XSIMD && defined(__AVX2__)
        if constexpr (std::is_same_v<T, float> && MR == 6) {
            if (a.col_stride == 1) {
                if (!norm) {
                    for (; k_done + 8 <= kb; k_done += 8)
                        transpose_block<MR>(src + k_done, a.row_stride, rows, dst + k_done * MR, MR);
                } else {
                    // normalised along each row before the transpose: the columns' gamma and beta as packets
                    for (; k_done + 8 <= kb; k_done += 8) {
                        const std::size_t col = k0 + k_done;
                        const __m256 g = norm->gamma ? _mm256_loadu_ps(norm->gamma + col) : _mm256_set1_ps(1.0f);
                        const __m256 b = norm->beta ? _mm256_loadu_ps(norm->beta + col) : _mm256_setzero_ps();
                        transpose_block<MR>(src + k_done, a.row_stride, rows, dst + k_done * MR, MR,
                                            [&](std::size_t r, __m256 x) EINVIT_ALWAYS_INLINE_LAMBDA {
                                                __m256 y = _mm256_mul_ps(_mm256_sub_ps(x, _mm256_set1_ps(mean[r])),
                                                                         _mm256_set1_ps(rstd[r]));
                                                if (norm->gamma) y = _mm256_mul_ps(y, g);
                                                if (norm->beta) y = _mm256_add_ps(y, b);
                                                return y;
                                            });
                    }
                }
            }
        }
#endif
        if (a.col_stride == 1) {
            for (std::size_t r = 0; r < rows; ++r) {
                const T* row = src + r * a.row_stride;
                for (std::size_t c = k_done; c < kb; ++c) dst[c * MR + r] = normed(row[c], r, c);
            }
        } else {
            for (std::size_t c = k_done; c < kb; ++c)
                for (std::size_t r = 0; r < rows; ++r) dst[c * MR + r] = normed(src[r * a.row_stride + c * a.col_stride], r, c);
        }
        for (std::size_t r = rows; r < MR; ++r)
            for (std::size_t c = k_done; c < kb; ++c) dst[c * MR + r] = T(0);
    }
}

// B's rows [k0, k0 + kb) x columns [n0, n0 + NR) into one panel: for each k, NR values (zero past n).
template <class T>
void pack_b_panel(T* EINVIT_RESTRICT out, Strided<T> b, std::size_t n, std::size_t k0, std::size_t kb,
                  std::size_t n0) noexcept {
    constexpr std::size_t NR = nr<T>;
    const std::size_t cols = n - n0 < NR ? n - n0 : NR;
    std::size_t k_done = 0;
#if EINVIT_USE_XSIMD && defined(__AVX512F__)
    // B's columns contiguous along k (B = Wᵀ for a PyTorch weight W, or Kᵀ in attention): 16 x 16
    // blocks transposed in registers instead of gathered element by element.
    if constexpr (std::is_same_v<T, float> && NR == 32) {
        if (b.row_stride == 1 && b.col_stride != 1) {
            for (; k_done + 16 <= kb; k_done += 16)
                for (std::size_t half = 0; half < 2; ++half) {
                    const std::size_t valid = cols > half * 16 ? (cols - half * 16 < 16 ? cols - half * 16 : 16) : 0;
                    transpose_block(b.data + (n0 + half * 16) * b.col_stride + k0 + k_done, b.col_stride, valid,
                                    out + k_done * NR + half * 16, NR, 0xFFFF);
                }
        }
    }
#elif EINVIT_USE_XSIMD && defined(__AVX2__)
    // the same with 8 x 8 blocks
    if constexpr (std::is_same_v<T, float> && NR == 16) {
        if (b.row_stride == 1 && b.col_stride != 1) {
            for (; k_done + 8 <= kb; k_done += 8)
                for (std::size_t half = 0; half < 2; ++half) {
                    const std::size_t valid = cols > half * 8 ? (cols - half * 8 < 8 ? cols - half * 8 : 8) : 0;
                    transpose_block<8>(b.data + (n0 + half * 8) * b.col_stride + k0 + k_done, b.col_stride, valid,
                                       out + k_done * NR + half * 8, NR);
                }
        }
    }
#endif
    for (std::size_t k = k_done; k < kb; ++k) {
        const T* src = b.data + (k0 + k) * b.row_stride + n0 * b.col_stride;
        T* dst = out + k * NR;
        if (b.col_stride == 1 && cols == NR) {
            std::memcpy(dst, src, NR * sizeof(T));
        } else {
            std::size_t c = 0;
            for (; c < cols; ++c) dst[c] = src[c * b.col_stride];
            for (; c < NR; ++c) dst[c] = T(0);
        }
    }
}

// Calls f with the function object of `act` (fn::gelu, ...), or not at all for Activation::none: the
// one place that maps an Activation to its function.
template <class F>
EINVIT_ALWAYS_INLINE void with_activation(Activation act, F&& f) {
    switch (act) {
        case Activation::gelu_erf: f(fn::gelu{}); break;
        case Activation::gelu_tanh: f(fn::gelu_tanh{}); break;
        case Activation::relu: f(fn::relu{}); break;
        case Activation::tanh: f(fn::tanh{}); break;
        case Activation::quick_gelu: f(fn::quick_gelu{}); break;
        case Activation::none: break;
    }
}

template <class T, class P>
EINVIT_ALWAYS_INLINE P activate(P x, Activation act) noexcept {
    with_activation(act, [&](auto f) EINVIT_ALWAYS_INLINE_LAMBDA { x = f(x); });
    return x;
}

// Where a tile's product goes: rows [0, rows) of it (rows <= the tile's) to c (row stride ldc), added
// to what is there when `accumulate`, subtracted instead of added when `negate`, and with the epilogue
// applied when `last` (its bias and residual indexed from C's row row0 and column col0). The plain
// product has one destination; a Strassen product (strassen_rows) has one or two.
template <class T>
struct TileDest {
    T* c;
    std::size_t ldc, rows, row0, col0;
    bool accumulate, last, negate;
};

// `packets` packets of floats at v, each replaced by act(it): the switch outside the loop, and nothing
// in the loop but the activation (store_tile says what that measured against applying it packet by
// packet among the loads, the bias and the stores).
template <class T>
void activate_packets(T* v, std::size_t packets, Activation act) noexcept {
    constexpr std::size_t W = simd::width<T>;
    with_activation(act, [&](auto f) EINVIT_ALWAYS_INLINE_LAMBDA {
        for (std::size_t i = 0; i < packets; ++i) simd::store<T>(v + i * W, f(simd::load<T>(v + i * W)));
    });
}

// A tile's product, staged at `staged` (rows of nr values; overwritten here), into its destination's
// rows [0, rows) and columns [0, cols) (cols <= nr): what the micro-kernel's store does, for the cases
// it leaves to this function (an activation, a residual, part of a tile's rows or columns; the plain
// product's full tiles apply an activation themselves on AVX2). Out of line, so that this code, the
// activations' above all, is compiled once per element type, not into every micro-kernel. Each value is
// (C ± the product) + bias, then the activation, then + the residual, in the micro-kernel's order; the
// residual is read before C is written, so it may be C itself.
template <class T>
EINVIT_NOINLINE void store_tile(T* staged, const TileDest<T>& dest, std::size_t rows, std::size_t cols,
                                const Epilogue<T>& ep) noexcept {
    constexpr std::size_t W = simd::width<T>;
    using P = simd::packet<T>;
    const bool last = dest.last, activating = last && ep.activation != Activation::none;
    const T* bias = last && ep.bias ? ep.bias + dest.col0 : nullptr;
    const auto load = [](const T* p, std::size_t n) { return n == W ? simd::load<T>(p) : simd::load_partial<T>(p, 1, n); };
    // (C ± the product) + bias for the packet at row r, column j, of which n values count
    const auto combine = [&](std::size_t r, std::size_t j, std::size_t n) {
        const T* row = dest.c + r * dest.ldc;
        P v = simd::load<T>(staged + r * nr<T> + j);
        if (dest.accumulate) v = dest.negate ? load(row + j, n) - v : load(row + j, n) + v;
        else if (dest.negate) v = simd::broadcast<T>(T(0)) - v;
        if (bias) v = v + load(bias + j, n);
        return v;
    };
    if (activating) {
        // with an activation, three passes over the tile: the sums (into the staged tile), the
        // activation alone, then the residual and the stores. On a Zen 3 host (bench/gemm_ab
        // --epilogue gelu, both orders) fc1's product with its GELU was 3-5% faster this way than with
        // the activation inside the one loop for ViT-B at batch 8, 1-2% at one image, 2-5% for ViT-S
        // at one image; with ReLU, as fast either way
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t j = 0; j < cols; j += W) simd::store<T>(staged + r * nr<T> + j, combine(r, j, cols - j < W ? cols - j : W));
        activate_packets<T>(staged, rows * nr<T> / W, ep.activation);
    }
    for (std::size_t r = 0; r < rows; ++r) {
        T* row = dest.c + r * dest.ldc;
        const T* res = last && ep.residual ? ep.residual + (dest.row0 + r) * ep.residual_ld + dest.col0 : nullptr;
        for (std::size_t j = 0; j < cols; j += W) {
            const std::size_t n = cols - j < W ? cols - j : W;
            P v = activating ? simd::load<T>(staged + r * nr<T> + j) : combine(r, j, n);
            if (res) v = v + load(res + j, n);
            if (n == W) simd::store<T>(row + j, v);
            else simd::store_partial<T>(row + j, v, n);
        }
    }
}

// A job a micro-kernel call does beside its multiply-adds: out = x + y (or x - y) for `count` packets,
// at most one per step of the call's depth (Strassen's sums of weight quadrants, see strassen_rows).
template <class T>
struct SideSum {
    const T* x;
    const T* y;
    T* out;
    std::size_t count;
    bool subtract;
};

// C[Rows x cols] (+)= A panel · packed B panel over kb, for each destination; `last` applies the
// epilogue. The A panel holds the Rows values of each k at a + k * a_step (a_step = MR when packed).
// `Half`: only the first packet of columns (cols <= W), at half the cost. `Sum` +1 or -1: B is the sum
// or difference of two panels, b ± b2, added as they are loaded and stored to sum_out for the calls on
// the next row tiles (Strassen's sums of weight quadrants). `Side` +1 or -1: the call also makes
// `side` (a SideSum of sums, +1, or differences, -1), one packet every 2^s steps. `Act`: the kernel for
// the last depth block of a product with an activation, which it applies in registers (see activate_here).
template <std::size_t Rows, class T, bool Half = false, int Sum = 0, bool Prefetch = prefetch_by_default<T>, int Side = 0,
          bool Act = false>
EINVIT_ALWAYS_INLINE void micro_kernel(std::size_t kb, const T* EINVIT_RESTRICT a, const T* EINVIT_RESTRICT b,
                                       const T* EINVIT_RESTRICT b2, T* EINVIT_RESTRICT sum_out, std::size_t cols,
                                       const Epilogue<T>& ep, const char* prefetch, std::size_t prefetch_lines,
                                       std::size_t a_step, const TileDest<T>* dests, std::size_t dest_count,
                                       [[maybe_unused]] const SideSum<T>* side = nullptr) noexcept {
    constexpr std::size_t W = simd::width<T>;
    using P = simd::packet<T>;
    // Every access to the accumulators names its row as a constant: each_row calls f(r) for r = 0 ..
    // Rows - 1 as a fold, not a loop. With loops (a zeroing loop that became a memset, a store loop over
    // a run-time row count) g++ kept them in memory, stored and reloaded around each loop of the
    // multiply-adds and read back one row at a time by the stores; as values they stay in registers
    // from the first multiply-add to the store (one thread's ViT-S qkv block 4% faster). Each fold is
    // its body Rows times over, so `step` is called from one place. Sanitizer builds take the loop,
    // the same calls in the same order: with ASan and UBSan, g++ took eight times as long over the folds.
    P c0[Rows], c1[Rows];
    const auto each_row = [](auto&& f) EINVIT_ALWAYS_INLINE_LAMBDA {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        for (std::size_t r = 0; r < Rows; ++r) f(r);
#else
        [&]<std::size_t... R>(std::index_sequence<R...>) EINVIT_ALWAYS_INLINE_LAMBDA {
            (f(R), ...);
        }(std::make_index_sequence<Rows>{});
#endif
    };
    each_row([&](std::size_t r) EINVIT_ALWAYS_INLINE_LAMBDA { c0[r] = c1[r] = simd::broadcast<T>(T(0)); });
    const auto load_b = [&](std::size_t at) EINVIT_ALWAYS_INLINE_LAMBDA {
        if constexpr (Sum == 0) {
            return simd::load<T>(b + at);
        } else {
            const P v = Sum > 0 ? simd::load<T>(b + at) + simd::load<T>(b2 + at) : simd::load<T>(b + at) - simd::load<T>(b2 + at);
            simd::store<T>(sum_out + at, v);
            return v;
        }
    };
    const auto step = [&](std::size_t k) EINVIT_ALWAYS_INLINE_LAMBDA {
        const P b0 = load_b(k * 2 * W);
        const T* ak = a + k * a_step;
        if constexpr (Half) {
            each_row([&](std::size_t r) EINVIT_ALWAYS_INLINE_LAMBDA { c0[r] = simd::fma<T>(simd::broadcast<T>(ak[r]), b0, c0[r]); });
        } else {
            const P b1 = load_b(k * 2 * W + W);
            each_row([&](std::size_t r) EINVIT_ALWAYS_INLINE_LAMBDA {
                const P av = simd::broadcast<T>(ak[r]);
                c0[r] = simd::fma<T>(av, b0, c0[r]);
                c1[r] = simd::fma<T>(av, b1, c1[r]);
            });
        }
    };
    // With Prefetch, each step also prefetches towards L2 a cache line of what the next calls will
    // read (the next B panel): line k / 2 of prefetch_lines, then the last again (with none, A's first line), so that
    // the loop has no branch (clang keeps the accumulators in registers only in a loop without one)
    // and `step`, whose rows' code each call repeats, is called once.
    const std::size_t lines = prefetch_lines < kb / 2 ? prefetch_lines : kb / 2;
    [[maybe_unused]] const char* const pf = lines ? prefetch : reinterpret_cast<const char*>(a);
    [[maybe_unused]] const std::size_t pf_last = lines ? (lines - 1) * 64 : 0;
    if constexpr (Side != 0) {
        // a packet of the side job after every 2^s steps (the largest s that fits them all in), so
        // that its loads and adds spread among the multiply-adds instead of stalling one call
        unsigned s = 0;
        while ((kb >> (s + 1)) >= side->count) ++s;
        std::size_t k = 0;
        for (std::size_t i = 0; i < side->count; ++i) {
            for (const std::size_t e = k + (std::size_t{1} << s); k < e; ++k) step(k);
            const P x = simd::load<T>(side->x + i * W), y = simd::load<T>(side->y + i * W);
            simd::store<T>(side->out + i * W, Side > 0 ? x + y : x - y);
        }
        for (; k < kb; ++k) step(k);
    } else {
        for (std::size_t k = 0; k < kb; ++k) {
            step(k);
            if constexpr (Prefetch) {
                const std::size_t off = k / 2 * 64;
                EINVIT_PREFETCH_L2(pf + (off < pf_last ? off : pf_last));
            }
        }
    }
    const bool full = cols == 2 * W;
    // Whether this kernel applies an activation to its tile in registers too: the full tiles of the plain
    // product and of Strassen's products, whose code then holds a copy of each activation (the other
    // kernels leave it to store_tile, compiled once). With AVX2 every such kernel: on a Zen 3 host ViT-Ti's
    // fc1 and its GELU (K = 192) spent 24% of the product in store_tile's passes over the staged tile.
    // With AVX-512 only the kernel instantiated for it (Act, chosen by tile_kernel for a call that ends a
    // product with the exact GELU, the MLPs' activation), and only that activation (all five there made
    // the ViT-B/16 program's build 18% longer). On a Zen 4 host the activation's code in the kernel every
    // product calls made the products without one 1-2% slower (bench/gemm_ab --epilogue bias, 21
    // rounds); in its own kernel it made ViT-Ti's fc1 and GELU at batch 8 5-9% faster (--epilogue gelu).
    constexpr bool activate_here = Rows == mr<T> && !Half && Sum == 0 && Side == 0 && (simd::width<T> == 8 || Act);
    constexpr bool gelu_only = simd::width<T> != 8;  // which activations activate_here covers: all, or gelu_erf
    for (std::size_t d = 0; d < dest_count; ++d) {
        const TileDest<T>& dest = dests[d];
        const bool activating = dest.last && ep.activation != Activation::none;
        const bool in_registers = activate_here && (!gelu_only || ep.activation == Activation::gelu_erf);
        if (full && dest.rows >= Rows && !(dest.last && ep.residual) && (in_registers || !activating)) {
            // the common case, in registers: whole rows, C ± the product, the bias and the activation
            // on the last (the same operations in the same order as store_tile's)
            P bias0 = simd::broadcast<T>(T(0)), bias1 = bias0;
            const bool biased = dest.last && ep.bias;
            if (biased) {
                bias0 = simd::load<T>(ep.bias + dest.col0);
                bias1 = simd::load<T>(ep.bias + dest.col0 + W);
            }
            const auto store_rows = [&](auto act) EINVIT_ALWAYS_INLINE_LAMBDA {
                each_row([&](std::size_t r) EINVIT_ALWAYS_INLINE_LAMBDA {
                    T* row = dest.c + r * dest.ldc;
                    P v0 = c0[r], v1 = c1[r];
                    if (dest.accumulate) {
                        const P o0 = simd::load<T>(row), o1 = simd::load<T>(row + W);
                        v0 = dest.negate ? o0 - v0 : o0 + v0;
                        v1 = dest.negate ? o1 - v1 : o1 + v1;
                    } else if (dest.negate) {
                        v0 = simd::broadcast<T>(T(0)) - v0;
                        v1 = simd::broadcast<T>(T(0)) - v1;
                    }
                    if (biased) {
                        v0 = v0 + bias0;
                        v1 = v1 + bias1;
                    }
                    simd::store<T>(row, act(v0));
                    simd::store<T>(row + W, act(v1));
                });
            };
            if constexpr (activate_here) {
                if (activating) {
                    if constexpr (gelu_only) store_rows(fn::gelu{});
                    else with_activation(ep.activation, [&](auto f) EINVIT_ALWAYS_INLINE_LAMBDA { store_rows(f); });
                    continue;
                }
            }
            store_rows([](P v) EINVIT_ALWAYS_INLINE_LAMBDA { return v; });
        } else {
            // the rest (an activation, a residual, part of the rows or columns) out of line, the tile
            // staged on the stack
            alignas(64) T staged[Rows * 2 * W];
            each_row([&](std::size_t r) EINVIT_ALWAYS_INLINE_LAMBDA {
                simd::store<T>(staged + r * 2 * W, c0[r]);
                simd::store<T>(staged + r * 2 * W + W, c1[r]);
            });
            store_tile(staged, dest, dest.rows < Rows ? dest.rows : Rows, cols, ep);
        }
    }
}

// A full tile (MR rows) that ends a product with the exact GELU, applied in registers (with AVX-512: see
// activate_here). A function of its own, not inlined into tile_kernel, whose code for the other calls
// then stays as it was (with the activation's code inlined there, the products without one measured
// 1-2% slower).
template <class T, bool Prefetch>
EINVIT_NOINLINE void activating_tile_kernel(std::size_t kb, const T* a, const T* b, std::size_t cols, const Epilogue<T>& ep,
                                            const char* pf, std::size_t pf_lines, std::size_t a_step, const TileDest<T>* dests,
                                            std::size_t dest_count) noexcept {
    micro_kernel<mr<T>, T, false, 0, Prefetch, 0, true>(kb, a, b, nullptr, nullptr, cols, ep, pf, pf_lines, a_step, dests, dest_count);
}

// A tile of `rows` rows (1 to MR) of C.
template <class T, bool Prefetch = prefetch_by_default<T>>
void tile_kernel(std::size_t rows, std::size_t kb, const T* a, const T* b, std::size_t cols, const Epilogue<T>& ep,
                 const char* pf, std::size_t pf_lines, const TileDest<T>* dests, std::size_t dest_count,
                 std::size_t a_step = mr<T>) noexcept {
    constexpr const T* b2 = nullptr;
    constexpr T* sum_out = nullptr;
#define EINVIT_GEMM_ROWS(R) \
    case R: micro_kernel<R, T, false, 0, Prefetch>(kb, a, b, b2, sum_out, cols, ep, pf, pf_lines, a_step, dests, dest_count); break;
    if (rows == mr<T> && cols <= simd::width<T> && simd::width<T> > 1) {  // a panel's last columns (N's edge)
        micro_kernel<mr<T>, T, true, 0, Prefetch>(kb, a, b, b2, sum_out, cols, ep, pf, pf_lines, a_step, dests, dest_count);
        return;
    }
    if constexpr (simd::width<T> == 16) {  // a full tile that ends a product with GELU (see activate_here)
        if (rows == mr<T> && dest_count && dests[0].last && ep.activation == Activation::gelu_erf) {
            activating_tile_kernel<T, Prefetch>(kb, a, b, cols, ep, pf, pf_lines, a_step, dests, dest_count);
            return;
        }
    }
    if constexpr (mr<T> == 14) {
        switch (rows) {
            EINVIT_GEMM_ROWS(14) EINVIT_GEMM_ROWS(13) EINVIT_GEMM_ROWS(12) EINVIT_GEMM_ROWS(11)
            EINVIT_GEMM_ROWS(10) EINVIT_GEMM_ROWS(9) EINVIT_GEMM_ROWS(8) EINVIT_GEMM_ROWS(7)
            EINVIT_GEMM_ROWS(6) EINVIT_GEMM_ROWS(5) EINVIT_GEMM_ROWS(4) EINVIT_GEMM_ROWS(3)
            EINVIT_GEMM_ROWS(2) default: micro_kernel<1, T, false, 0, Prefetch>(kb, a, b, b2, sum_out, cols, ep, pf, pf_lines, a_step, dests, dest_count);
        }
    } else {
        switch (rows) {
            EINVIT_GEMM_ROWS(6) EINVIT_GEMM_ROWS(5) EINVIT_GEMM_ROWS(4) EINVIT_GEMM_ROWS(3)
            EINVIT_GEMM_ROWS(2) default: micro_kernel<1, T, false, 0, Prefetch>(kb, a, b, b2, sum_out, cols, ep, pf, pf_lines, a_step, dests, dest_count);
        }
    }
#undef EINVIT_GEMM_ROWS
}

// A full tile (MR rows) of C with B the sum (Sum +1) or difference (-1) of two panels, b ± b2, which
// it also stores to sum_out (Strassen's first row tile; the only tile kernels with a Sum, so that
// there are two more instantiations of the micro-kernel, not two more sets).
template <class T, int Sum>
void sum_tile_kernel(std::size_t kb, const T* a, const T* b, const T* b2, T* sum_out, const Epilogue<T>& ep,
                     const char* pf, std::size_t pf_lines, const TileDest<T>* dests, std::size_t dest_count) noexcept {
    micro_kernel<mr<T>, T, false, Sum>(kb, a, b, b2, sum_out, nr<T>, ep, pf, pf_lines, mr<T>, dests, dest_count);
}

// A full tile (MR rows, all nr columns) that also makes `side` (1 to kb packets) among its multiply-adds.
template <class T>
void side_tile_kernel(std::size_t kb, const T* a, const T* b, const Epilogue<T>& ep, const TileDest<T>* dests,
                      std::size_t dest_count, const SideSum<T>& side) noexcept {
    if (side.subtract)
        micro_kernel<mr<T>, T, false, 0, false, -1>(kb, a, b, nullptr, nullptr, nr<T>, ep, nullptr, 0, mr<T>, dests, dest_count, &side);
    else
        micro_kernel<mr<T>, T, false, 0, false, 1>(kb, a, b, nullptr, nullptr, nr<T>, ep, nullptr, 0, mr<T>, dests, dest_count, &side);
}

// The plain product's tile: one destination, all its rows, C's columns from col0.
template <class T, bool Prefetch = prefetch_by_default<T>>
void rows_kernel(std::size_t rows, std::size_t kb, const T* a, const T* b, T* c, std::size_t ldc, std::size_t cols,
                 bool accumulate, bool last, const Epilogue<T>& ep, std::size_t row0, std::size_t col0,
                 const char* pf = nullptr, std::size_t pf_lines = 0, std::size_t a_step = mr<T>) noexcept {
    const TileDest<T> dest{c, ldc, rows, row0, col0, accumulate, last, false};
    tile_kernel<T, Prefetch>(rows, kb, a, b, cols, ep, pf, pf_lines, &dest, 1, a_step);
}

}  // namespace detail

/// One heap block that a model's pre-packed weights are placed in, one after another, so that they
/// are one run of memory: on Linux nearly all of it huge pages (see einvit::detail::heap_allocate),
/// where weights packed one by one would each keep their last partial 2 MiB page small, and those under
/// 4 MiB would have none. Operands placed in it must not outlive it.
template <class T>
class PackedStore {
public:
    PackedStore() = default;
    /// Room for `count` elements: the sum of room(PackedB<T>::elements(k, n)) over the operands.
    explicit PackedStore(std::size_t count)
        : data_(static_cast<T*>(einvit::detail::heap_allocate(count * sizeof(T), false)), einvit::detail::HeapFree{count * sizeof(T)}),
          capacity_(count) {
        if (count && !data_) raise(errc::out_of_memory, "no memory for the ", count * sizeof(T), " bytes of a model's packed weights",
                                     einvit::detail::no_heap_note);
    }
    /// Elements an operand of `count` elements takes: rounded up so that the next starts 64-byte aligned.
    static constexpr std::size_t room(std::size_t count) noexcept { return align_up(count * sizeof(T)) / sizeof(T); }
    /// `count` elements, 64-byte aligned, or null when they do not fit.
    T* take(std::size_t count) noexcept {
        const std::size_t need = room(count);
        if (!data_ || need > capacity_ - used_) return nullptr;
        T* p = data_.get() + used_;
        used_ += need;
        return p;
    }
    const T* data() const noexcept { return data_.get(); }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t used() const noexcept { return used_; }

private:
    std::unique_ptr<T, einvit::detail::HeapFree> data_;
    std::size_t capacity_ = 0, used_ = 0;
};

/// B packed once for many products (a linear layer's weight): K x N in blocks of kc rows, each block in
/// panels of nr columns. Owns its buffer, or lives in a PackedStore.
template <class T>
class PackedB {
public:
    PackedB() = default;
    /// Packs B (K x N, any strides). For a PyTorch linear weight W of shape (out, in), B = W^T:
    /// PackedB(Strided<T>{w, 1, in}, in, out). With a store that has room, the packed copy is placed in
    /// it; otherwise on the heap.
    PackedB(Strided<T> b, std::size_t k, std::size_t n, PackedStore<T>* store = nullptr)
        : k_(k), n_(n), kc_(depth_block<T>(k)), panels_((n + nr<T> - 1) / nr<T>) {
        const std::size_t count = elements(k, n);
        if (T* placed = store ? store->take(count) : nullptr) {
            data_ = Owned(placed, einvit::detail::HeapFree{0});  // the store frees it
        } else {
            data_ = Owned(static_cast<T*>(einvit::detail::heap_allocate(count * sizeof(T), false)),
                          einvit::detail::HeapFree{count * sizeof(T)});
            if (count && !data_) raise(errc::out_of_memory, "no memory to pre-pack a GEMM operand", einvit::detail::no_heap_note);
        }
        for (std::size_t k0 = 0; k0 < k; k0 += kc_) {
            const std::size_t kb = k - k0 < kc_ ? k - k0 : kc_;
            for (std::size_t p = 0; p < panels_; ++p) detail::pack_b_panel(panel(k0, p), b, n, k0, kb, p * nr<T>);
        }
    }
    /// A view of a K x N operand packed as this build packs it (elements(k, n) elements at `packed`,
    /// 64-byte aligned: another PackedB's data(), or a weight image made by this build), which the
    /// caller keeps alive; a view frees nothing and is never written.
    static PackedB view(const T* packed, std::size_t k, std::size_t n) noexcept {
        PackedB b;
        b.k_ = k;
        b.n_ = n;
        b.kc_ = depth_block<T>(k);
        b.panels_ = (n + nr<T> - 1) / nr<T>;
        // never written through: a view's panels are only read (the non-const panel() is the packing
        // constructor's)
        b.data_ = Owned(const_cast<T*>(packed), einvit::detail::HeapFree{0});
        return b;
    }
    /// A view of `other`'s packed elements (which must outlive it).
    static PackedB view(const PackedB& other) noexcept { return view(other.data(), other.k_, other.n_); }
    /// Elements of a packed K x N operand: N rounded up to whole panels.
    static constexpr std::size_t elements(std::size_t k, std::size_t n) noexcept { return k * ((n + nr<T> - 1) / nr<T>) * nr<T>; }
    /// The packed elements, elements(k(), n()) of them (null when empty).
    const T* data() const noexcept { return data_.get(); }
    std::size_t k() const noexcept { return k_; }
    std::size_t n() const noexcept { return n_; }
    /// The depth of its blocks (depth_block<T>(k)).
    std::size_t kc() const noexcept { return kc_; }
    /// The panel of columns [p*nr, p*nr + nr) for the k block starting at k0.
    const T* panel(std::size_t k0, std::size_t p) const noexcept { return data_.get() + k0 * panels_ * nr<T> + p * block(k0) * nr<T>; }
    T* panel(std::size_t k0, std::size_t p) noexcept { return data_.get() + k0 * panels_ * nr<T> + p * block(k0) * nr<T>; }

private:
    std::size_t block(std::size_t k0) const noexcept { return k_ - k0 < kc_ ? k_ - k0 : kc_; }
    using Owned = std::unique_ptr<T, einvit::detail::HeapFree>;  // frees nothing when placed in a PackedStore
    std::size_t k_ = 0, n_ = 0, kc_ = 1, panels_ = 0;
    Owned data_;
};

namespace detail {

// All of A packed, for threads that share it, as multiply_panels reads it: the depth block starting at
// k0 (depth kb) is at out + k0 * round_up(m, MR), in blocks of row_block(kc) rows, each packed as
// pack_a packs it (its tile j at + j * MR * kb, rows tiled by row_tile). The units [u0, u1) of
// (depth block, tile) pairs are packed, normalised by `norm` when it is not null.
template <class T>
void pack_a_shared(T* out, Strided<T> a, std::size_t m, std::size_t k, std::size_t u0, std::size_t u1,
                   const RowNorm<T>* norm = nullptr) noexcept {
    constexpr std::size_t MR = mr<T>;
    const std::size_t kc = depth_block<T>(k), row_panels = (m + MR - 1) / MR, block_tiles = row_block<T>(kc) / MR;
    for (std::size_t u = u0; u < u1; ++u) {
        const std::size_t k0 = u / row_panels * kc, j = u % row_panels;
        const std::size_t kb = k - k0 < kc ? k - k0 : kc;
        const std::size_t i0 = j / block_tiles * block_tiles * MR, mb = m - i0 < block_tiles * MR ? m - i0 : block_tiles * MR;
        const RowTile tile = row_tile<T>(j % block_tiles, mb);
        const std::size_t r = i0 + tile.row;
        pack_a(out + k0 * row_panels * MR + j * MR * kb, Strided<T>{a.data + r * a.row_stride, a.row_stride, a.col_stride},
               tile.rows, k0, kb, norm, k);
    }
}

// The rows of A that multiply_panels packs at a time for m rows at depth blocks of kc: a row block, or
// all m where they are a little over one (a thread's half of one image's tokens: 99 where a block is
// 84), since a second block of a tile or two would stream every B panel again for little work.
template <class T>
constexpr std::size_t a_block_rows(std::size_t m, std::size_t kc) noexcept {
    const std::size_t MC = row_block<T>(kc);
    return m <= MC + MC / 2 ? m : MC;
}
// The elements of multiply_panels' packed A buffer (scratch slot 0) for m rows at depth k.
template <class T>
constexpr std::size_t a_block_elements(std::size_t m, std::size_t k) noexcept {
    const std::size_t kc = depth_block<T>(k), rows = a_block_rows<T>(m, kc);
    return round_up(m < rows ? m : rows, mr<T>) * kc;
}

// The product for the rows [r0, r0 + m) and the column panels [p0, p1), on one thread (a and c point
// at row r0; r0 is what the epilogue's row index counts from). `packed` is null when B must be packed
// here; `a_shared`, when not null, is all of A packed by pack_a_shared (`a_own`: only these rows, a
// thread's share, which are then blocked as rows packed here are); otherwise A is packed here,
// normalised by `norm` when it is not null.
template <class T>
void multiply_panels(std::size_t m, std::size_t n, std::size_t k, Strided<T> a, Strided<T> b, const PackedB<T>* packed,
                     T* c, std::size_t ldc, const Epilogue<T>& ep, bool accumulate, std::size_t p0, std::size_t p1,
                     std::size_t r0 = 0, const T* a_shared = nullptr, const RowNorm<T>* norm = nullptr, bool a_own = false) {
    constexpr std::size_t MR = mr<T>, NR = nr<T>;
    const std::size_t kc = depth_block<T>(k);
    if (!packed) {  // B packed here: b_block_bytes of it at a time
        const std::size_t fit = b_block_bytes / (kc * NR * sizeof(T)), per_chunk = fit ? fit : 1;
        if (p1 - p0 > per_chunk) {
            for (std::size_t q = p0; q < p1; q += per_chunk)
                multiply_panels(m, n, k, a, b, packed, c, ldc, ep, accumulate, q, p1 - q < per_chunk ? p1 : q + per_chunk, r0,
                                a_shared, norm);
            return;
        }
    }
    const std::size_t MC = (!a_shared || a_own) ? a_block_rows<T>(m, kc) : row_block<T>(kc);
    T* a_buffer = a_shared ? nullptr : scratch<T>(0, a_block_elements<T>(m, k));
    T* b_packed = packed ? nullptr : scratch<T>(1, kc * (p1 - p0) * NR);
    for (std::size_t k0 = 0;; k0 += kc) {  // at least once: with k = 0, C = epilogue(0)
        const std::size_t kb = k - k0 < kc ? k - k0 : kc;
        const bool last = k0 + kb >= k;
        const bool acc = accumulate || k0 > 0;
        if (!packed)
            for (std::size_t p = p0; p < p1; ++p) pack_b_panel(b_packed + (p - p0) * kb * NR, b, n, k0, kb, p * NR);
        for (std::size_t i0 = 0; i0 < m; i0 += MC) {
            const std::size_t mb = m - i0 < MC ? m - i0 : MC;
            const T* a_packed = a_shared ? a_shared + k0 * round_up(m, MR) + i0 * kb : a_buffer;
            if (!a_shared)
                pack_a(a_buffer, Strided<T>{a.data + i0 * a.row_stride, a.row_stride, a.col_stride}, mb, k0, kb, norm, k);
            for (std::size_t p = p0; p < p1; ++p) {
                const std::size_t n0 = p * NR;
                const std::size_t cols = n - n0 < NR ? n - n0 : NR;
                const T* panel = packed ? packed->panel(k0, p) : b_packed + (p - p0) * kb * NR;
                // A pre-packed B (a weight) comes from memory, not from a cache: the calls on this panel
                // prefetch the next one, kb / 2 cache lines each, so that it waits in L2 (measured 5-15%
                // faster on ViT-B's layers when the weights are not already in the caches). After the
                // last panel the next is the first again, for the next row block or depth block. The
                // calls after those that cover it take the kernel of the other products (on AVX2 one
                // with no prefetch at all: on a Zen 3 host, bench/gemm_ab --cold, both orders, ViT-B's
                // four products at one image came out 0.99-1.05 times as fast as with a prefetch of A's
                // first line in every step, 1-2% faster in most, fc2 at batch 8 as fast).
                const T* following = !packed ? nullptr
                                     : p + 1 < p1 ? packed->panel(k0, p + 1)
                                     : i0 + MC < m ? packed->panel(k0, p0)
                                     : !last       ? packed->panel(k0 + kb, p0)
                                     : a_own && p1 * NR < n ? packed->panel(0, p1)  // the next share of panels
                                                   : nullptr;
                const char* next = reinterpret_cast<const char*>(following);
                const std::size_t lines = next ? kb * NR * sizeof(T) / 64 : 0;
                const std::size_t share = kb / 2;
                for (std::size_t j = 0; j * MR < mb; ++j) {
                    const RowTile tile = row_tile<T>(j, mb);
                    const std::size_t first = j * share;
                    const std::size_t count = first < lines ? (lines - first < share ? lines - first : share) : 0;
                    const T* const a_tile = a_packed + j * MR * kb;
                    T* const c_tile = c + (i0 + tile.row) * ldc + n0;
                    if (packed && count)
                        rows_kernel<T, prefetch_panels<T>>(tile.rows, kb, a_tile, panel, c_tile, ldc, cols, acc, last, ep,
                                                           r0 + i0 + tile.row, n0, next + first * 64, count);
                    else
                        rows_kernel<T>(tile.rows, kb, a_tile, panel, c_tile, ldc, cols, acc, last, ep, r0 + i0 + tile.row, n0);
                }
            }
        }
        if (last) break;
    }
}

// ---- one level of Strassen's algorithm, for products with a pre-packed B ----------------------------
//
// With A's rows split into an upper half (rows [0, H), H = ceil(M / 2)) and a lower half (row H + i
// beside row i; an odd M's last upper row has a zero row beside it), K split into two halves, and the
// column panels into two halves, C's four quadrants come from seven products of half the size instead of
// eight:
//   M1 = (A11 + A22)(B11 + B22)  -> C11 +, C22 +        M5 = (A11 + A12) B22         -> C11 -, C12 +
//   M2 = (A21 + A22) B11         -> C21 +, C22 -        M6 = (A21 - A11)(B11 + B12)  -> C22 +
//   M3 = A11 (B12 - B22)         -> C12 +, C22 +        M7 = (A12 - A22)(B21 + B22)  -> C11 +
//   M4 = A22 (B21 - B11)         -> C11 +, C21 +
// so 7/8 of the multiply-adds. The sums are folded into work the product does anyway: A's into its
// packing, B's into the micro-kernel's loads (the first row tile's call adds two packed panels as it
// reads them and keeps the sum for the other tiles'), and C's into the micro-kernel's stores, which
// add each product's tile into one or two quadrants of C; the epilogue runs with a quadrant's last
// product. Each thread takes a share of the upper rows with the lower rows
// beside them, so every element of C is the same sum whatever the thread count. The rounding differs
// from the plain product's: an element's error grows with its partner row's and the other quadrants'
// magnitudes (on the test shapes its largest error against a double-precision product is 1.0-1.8 times
// the plain product's; tests/unit/test_gemm.cpp bounds it at 3).
//
// Two schedules (StrassenSchedule), the same sums either way. With AVX-512 (the one measured there):
// threads take shares of the upper rows, and a product whose B is a sum of two quadrants makes that
// sum in its first row tile's call, as above. Elsewhere (AVX2): threads take shares of the column panel
// pairs, each all the rows, so each reads only its share of the weight for every row block; and the sum
// a product needs is made by the product before it, a share in each of its row tiles' calls, among their
// multiply-adds (SideSum): on a Zen 3 host that first tile's call, which reads two quadrants from L2 and
// stores their sum, took 1.6-1.8 times a plain tile's time, where the shares add about 4% to each call.

/// Which products take Strassen's algorithm (see StrassenUse) unless set_strassen says otherwise.
inline constexpr StrassenUse strassen_by_default = StrassenUse::where_it_pays;

inline std::atomic<StrassenUse>& strassen_setting() noexcept {
    static std::atomic<StrassenUse> use{strassen_by_default};
    return use;
}

/// How Strassen's products share out the work (see above): threads split the column panel pairs (else
/// the upper rows), and products make the next product's sum of quadrants among their multiply-adds
/// (else in their first row tile's call).
struct StrassenSchedule {
    bool split_columns, side_sums;
};
template <class T>
inline constexpr StrassenSchedule strassen_schedule_default{simd::width<T> < 16, simd::width<T> < 16};
/// The schedule in use: strassen_schedule_default unless strassen_schedule_override holds another (for
/// tests, which run both on any instruction set: 0 = none, else 1 + split_columns + 2 * side_sums).
inline std::atomic<unsigned>& strassen_schedule_override() noexcept {
    static std::atomic<unsigned> v{0};
    return v;
}
template <class T>
StrassenSchedule strassen_schedule() noexcept {
    const unsigned v = strassen_schedule_override().load(std::memory_order_relaxed);
    return v ? StrassenSchedule{((v - 1) & 1) != 0, ((v - 1) & 2) != 0} : strassen_schedule_default<T>;
}

/// The fewest rows, depth and columns for which a product takes Strassen's algorithm: below them the
/// halves' tiles and the sums cost more than the eighth of the multiply-adds saved.
inline constexpr std::size_t strassen_min_rows = 64, strassen_min_depth = 256, strassen_min_cols = 256;
/// Depth of the halves' blocks: on AVX-512 the seven packed A operands of a block at this depth, and the
/// B panels, stay in a 1 MiB L2 (on AVX2 they exceed a 512 KiB one, and measured faster than 192 all the same).
inline constexpr std::size_t strassen_depth = 384;
/// Upper rows per block of the halves: about 50, each B quadrant panel read once for every block (4
/// tiles of 14 rows on AVX-512; 8 of 6 on AVX2, where 4 tiles measured 1-3% slower on ViT-B's and
/// ViT-S's products on a Zen 3 host, a difference within that host's A/B spread: see docs/benchmarks.md).
template <class T>
inline constexpr std::size_t strassen_block_rows = (mr<T> >= 14 ? 4 : 8) * mr<T>;

/// Whether Strassen's products measured faster than the plain ones on this instruction set for m rows,
/// a depth k and `cols` columns (with strassen_fits' sizes). With AVX-512, every shape that fits. With
/// AVX2 (a Zen 3 host, bench/gemm_ab --cold, the weights from memory as in a model), at least 1024 rows,
/// a depth of two chunks of strassen_depth (K = 768) and at least 768 columns: at batch 8 (M = 1576) ViT-B's
/// qkv, fc1 and proj products 1.03-1.08 times as fast, a ViT-B/16 pass 1-2% faster (bench/compare/ab.py,
/// both orders); at M = 197, 394 and 788 they were 0.99-1.02 (at one image the pass was slower), with
/// the other depths slower (K = 384, ViT-S's: 0.94-1.01; 1024: 0.96; 3072: 0.97-1.00; 4096: 0.975), and
/// so with fewer columns (ViT-S's fc2, N = 384: 0.95). Elsewhere not measured, so none.
template <class T>
constexpr bool strassen_pays(std::size_t m, std::size_t cols, std::size_t k) noexcept {
    if constexpr (simd::width<T> >= 16) return true;
    else if constexpr (simd::width<T> == 8) return m >= 1024 && k == 2 * strassen_depth && cols >= 768;
    else return false;
}

// Whether C's columns panels [first, end) of the packed B (depth k, blocks of kc) split into Strassen's
// halves, and the setting (set_strassen) says they take them.
template <class T>
bool strassen_fits(std::size_t m, std::size_t n, std::size_t k, std::size_t kc, std::size_t first, std::size_t end) noexcept {
    const std::size_t panels = end - first, half = k / 2;
    const StrassenUse use = strassen_setting().load(std::memory_order_relaxed);
    return use != StrassenUse::never && (use == StrassenUse::wherever_it_fits || strassen_pays<T>(m, panels * nr<T>, k)) &&
           m >= strassen_min_rows && k >= strassen_min_depth && panels * nr<T> >= strassen_min_cols && k % 2 == 0 &&
           panels % 2 == 0 && end * nr<T> <= n && (kc >= k || half % kc == 0);
}

template <class T>
void add_into(T* EINVIT_RESTRICT out, const T* EINVIT_RESTRICT x, const T* EINVIT_RESTRICT y, std::size_t count,
              bool subtract) noexcept {
    if (subtract)
        for (std::size_t i = 0; i < count; ++i) out[i] = x[i] - y[i];
    else
        for (std::size_t i = 0; i < count; ++i) out[i] = x[i] + y[i];
}

enum StrassenOperand : std::size_t { Q11, S1, S2, Q22, S5, S6, S7, Q12, Q21, strassen_operands };

// One of the seven products: an A operand times B's quadrant bx (plus or minus quadrant by), added to
// (or subtracted from) one or two of C's quadrants (0..3: 11, 12, 21, 22). A quadrant's first product in
// the table opens it (C = the product, or C + it when the call accumulates); its last applies the
// epilogue.
struct StrassenProduct {
    StrassenOperand a;
    int bx, by;  // by < 0: bx alone
    bool subtract;
    int dest[2];  // -1: none
    bool negate[2];
};
inline constexpr int B11 = 0, B12 = 1, B21 = 2, B22 = 3;
inline constexpr std::size_t strassen_product_count = 7;
inline constexpr StrassenProduct strassen_products[strassen_product_count] = {
    {S1, B11, B22, false, {0, 3}, {false, false}},   // M1 = (A11 + A22)(B11 + B22)
    {S2, B11, -1, false, {2, 3}, {false, true}},     // M2 = (A21 + A22) B11
    {Q11, B12, B22, true, {1, 3}, {false, false}},   // M3 = A11 (B12 - B22)
    {Q22, B21, B11, true, {0, 2}, {false, false}},   // M4 = A22 (B21 - B11)
    {S5, B22, -1, false, {0, 1}, {true, false}},     // M5 = (A11 + A12) B22
    {S6, B11, B12, false, {3, -1}, {false, false}},  // M6 = (A21 - A11)(B11 + B12)
    {S7, B21, B22, false, {0, -1}, {false, false}},  // M7 = (A12 - A22)(B21 + B22)
};
// Whether product p's destination q is its quadrant's first (`opens`) or last (`closes`) in the table.
struct StrassenEdges {
    bool opens[strassen_product_count][2], closes[strassen_product_count][2];
};
inline constexpr StrassenEdges strassen_edges = [] {
    StrassenEdges e{};
    for (std::size_t p = 0; p < strassen_product_count; ++p)
        for (int q = 0; q < 2; ++q) {
            const int quadrant = strassen_products[p].dest[q];
            e.opens[p][q] = e.closes[p][q] = quadrant >= 0;
            for (std::size_t o = 0; o < strassen_product_count; ++o)
                if (quadrant >= 0 && (strassen_products[o].dest[0] == quadrant || strassen_products[o].dest[1] == quadrant)) {
                    if (o < p) e.opens[p][q] = false;
                    if (o > p) e.closes[p][q] = false;
                }
        }
    return e;
}();

// Strassen's nine A operands for a block of mb upper rows and one depth chunk, each packed as pack_a packs
// it (tile j at + j * MR * kb): Q11 = the upper rows at depths [d0, d0 + kb), Q12 the same rows at
// half + d0, Q21 and Q22 the lower rows likewise (zero past lower_rows, which A lacks), then the sums
// S1 = Q11 + Q22, S2 = Q21 + Q22, S5 = Q11 + Q12, S6 = Q21 - Q11, S7 = Q12 - Q22 in one pass over the
// four. With a norm, `stats` holds the LayerNorm statistics of the upper rows, then of the lower
// (computed once per row block, not once per quadrant and chunk).
template <class T>
void pack_strassen_a(T* const (&ops)[strassen_operands], Strided<T> upper, Strided<T> lower, std::size_t mb,
                     std::size_t lower_rows, std::size_t d0, std::size_t half, std::size_t kb, const RowNorm<T>* norm,
                     std::size_t k, const kernels::detail::RowStats<T>* stats) noexcept {
    constexpr std::size_t MR = mr<T>;
    pack_a(ops[Q11], upper, mb, d0, kb, norm, k, mb, stats);
    pack_a(ops[Q12], upper, mb, half + d0, kb, norm, k, mb, stats);
    const kernels::detail::RowStats<T>* const lower_stats = stats ? stats + mb : nullptr;
    pack_a(ops[Q21], lower, mb, d0, kb, norm, k, lower_rows, lower_stats);
    pack_a(ops[Q22], lower, mb, half + d0, kb, norm, k, lower_rows, lower_stats);
    const std::size_t count = (mb + MR - 1) / MR * MR * kb;
    const auto sums = [&](std::size_t i, auto load, auto store) EINVIT_ALWAYS_INLINE_LAMBDA {
        const auto x11 = load(ops[Q11] + i), x12 = load(ops[Q12] + i), x21 = load(ops[Q21] + i), x22 = load(ops[Q22] + i);
        store(ops[S1] + i, x11 + x22);
        store(ops[S2] + i, x21 + x22);
        store(ops[S5] + i, x11 + x12);
        store(ops[S6] + i, x21 - x11);
        store(ops[S7] + i, x12 - x22);
    };
    constexpr std::size_t W = simd::width<T>;
    std::size_t i = 0;
    for (; i + W <= count; i += W)
        sums(i, [](const T* p) { return simd::load<T>(p); }, [](T* p, simd::packet<T> v) { simd::store<T>(p, v); });
    for (; i < count; ++i) sums(i, [](const T* p) { return *p; }, [](T* p, T v) { *p = v; });
}

// C's upper rows [r0, r1) and the lower rows beside them (r + H, below m), in the column panel pairs
// (first + p, first + half_panels + p) for p in [p0, p1), on one thread. c and the epilogue count rows
// and panels from C's first. With `side_sums`, the sums of two quadrants are made as SideSum jobs.
// strassen_rows' scratch: slot 0, the packed A operands (each of up to MC + MR - 1 rows, and 5 cache
// lines more: the operands' addresses then differ modulo 4 KiB, so that the sums' pass over nine of
// them neither shares the L1's sets nor stalls on 4K aliasing) and a row block's statistics; slot 1,
// the sums of two B quadrants' panels (with side sums two: the one in use and the next, being made).
template <class T>
constexpr std::size_t strassen_operand_elements() noexcept {
    return (strassen_block_rows<T> + mr<T>) * strassen_depth + 5 * 64 / sizeof(T);
}
template <class T>
constexpr std::size_t strassen_scratch_elements(std::size_t slot) noexcept {
    return slot == 0 ? strassen_operands * strassen_operand_elements<T>() +
                           2 * (strassen_block_rows<T> + mr<T>) * sizeof(kernels::detail::RowStats<T>) / sizeof(T)
                     : 2 * strassen_depth * nr<T>;
}

/// Rows of the block of Strassen's upper rows that starts `left` rows before the end of its range:
/// strassen_block_rows, or all `left` where fewer than a tile would remain, a remainder that joins the
/// block before it instead of making one of its own, which would stream every B quadrant again for a
/// few rows (394 upper rows: 7 blocks, the last of 58 rows, not 8 with the last of 2).
template <class T>
constexpr std::size_t strassen_block_at(std::size_t left) noexcept {
    return left < strassen_block_rows<T> + mr<T> ? left : strassen_block_rows<T>;
}

/// The items of Strassen's products with at least two blocks of upper rows a thread (parallel_items,
/// whose threads each own a contiguous share of the items): each thread's share of the `upper` rows
/// even (to a row), in the blocks strassen_rows makes of it (strassen_block_at); a share with a block
/// fewer has an empty item last. So in calm moments the threads end together: the upper rows' tiles
/// shared out evenly among
/// ceil(upper / block rows) blocks instead (batch 8's 57 tiles in 15 blocks of 3 or 4, 7 of them one
/// thread's) left one thread a block alone at the end, and ViT-B's products at batch 8 measured 2-5%
/// slower on a Zen 4 host (bench/gemm_ab, 25 rounds each order).
/// strassen_share_blocks: the items of each share; strassen_item_row: the first row of item i (of
/// threads * per_share; the last one's end is `upper`).
template <class T>
constexpr std::size_t strassen_share_blocks(std::size_t upper, std::size_t threads) noexcept {
    const std::size_t largest = (upper + threads - 1) / threads;
    return largest < mr<T> ? 1 : (largest - mr<T>) / strassen_block_rows<T> + 1;
}
template <class T>
constexpr std::size_t strassen_item_row(std::size_t i, std::size_t upper, std::size_t threads, std::size_t per_share) noexcept {
    const std::size_t s = i / per_share, b = i % per_share, s0 = upper * s / threads;
    if (b == 0) return s0;
    // the end of the share's block b - 1
    const std::size_t s1 = upper * (s + 1) / threads, prev = s0 + (b - 1) * strassen_block_rows<T>;
    return prev >= s1 ? s1 : prev + strassen_block_at<T>(s1 - prev);
}

template <class T>
void strassen_rows(std::size_t m, std::size_t k, std::size_t r0, std::size_t r1, Strided<T> a, const PackedB<T>& packed,
                   T* c, std::size_t ldc, const Epilogue<T>& ep, bool accumulate, std::size_t first,
                   std::size_t half_panels, const RowNorm<T>* norm, std::size_t p0, std::size_t p1, bool side_sums) {
    constexpr std::size_t MR = mr<T>, NR = nr<T>, MC = strassen_block_rows<T>;
    constexpr std::size_t max_tiles = (MC + MR - 1 + MR - 1) / MR;  // of a block (at most MC + MR - 1 rows)
    const std::size_t H = (m + 1) / 2, half = k / 2, kc = packed.kc();
    // the packed A operands (a block takes up to MC + MR - 1 rows: see below), then the statistics
    const std::size_t op = strassen_operand_elements<T>();
    using Stats = kernels::detail::RowStats<T>;
    T* const buffer = scratch<T>(0, strassen_scratch_elements<T>(0));
    T* ops[strassen_operands];
    for (std::size_t i = 0; i < strassen_operands; ++i) ops[i] = buffer + i * op;
    Stats* const stats = reinterpret_cast<Stats*>(buffer + strassen_operands * op);  // a row block's upper rows, then lower
    // a sum of two B quadrants' panels; with side_sums two: the one in use and the next one, being made
    T* const bsum = scratch<T>(1, strassen_scratch_elements<T>(1));
    // the depth block of d: the packed B's block holding depth d, to the block's end or the half's
    const auto chunk = [&](std::size_t d) {
        const std::size_t block_end = (d / kc + 1) * kc, end = (d / half + 1) * half;
        std::size_t len = strassen_depth;
        if (d + len > block_end) len = block_end - d;
        if (d + len > end) len = end - d;
        return len;
    };
    const auto sub = [&](std::size_t p, std::size_t d) { return packed.panel(d / kc * kc, p) + (d % kc) * NR; };
    // B11, B12, B21, B22 (indexed as StrassenProduct's bx and by) of the column panel pair whose left panel
    // is `left`, at depth d of the upper half
    const auto quadrants = [&](std::size_t left, std::size_t d) {
        const std::size_t right = left + half_panels;
        return std::array<const T*, 4>{sub(left, d), sub(right, d), sub(left, half + d), sub(right, half + d)};
    };
    for (std::size_t i0 = r0, mb = 0; i0 < r1; i0 += mb) {
        mb = strassen_block_at<T>(r1 - i0);
        const std::size_t tiles = (mb + MR - 1) / MR;
        RowTile row_tiles[max_tiles];
        for (std::size_t j = 0; j < tiles; ++j) row_tiles[j] = row_tile<T>(j, mb);
        const std::size_t lower = i0 + H < m ? (m - i0 - H < mb ? m - i0 - H : mb) : 0;  // lower rows present
        const Strided<T> upper_a{a.data + i0 * a.row_stride, a.row_stride, a.col_stride};
        const Strided<T> lower_a{a.data + (i0 + H) * a.row_stride, a.row_stride, a.col_stride};
        if (norm) {
            using kernels::detail::row_stats;
            for (std::size_t r = 0; r < mb; ++r) stats[r] = row_stats(upper_a.data + r * a.row_stride, k, norm->eps);
            for (std::size_t r = 0; r < lower; ++r) stats[mb + r] = row_stats(lower_a.data + r * a.row_stride, k, norm->eps);
        }
        for (std::size_t d0 = 0; d0 < half;) {
            const std::size_t kb = chunk(d0);
            const bool first_chunk = d0 == 0, last_chunk = d0 + kb == half;
            // with side_sums: where each row tile's share of a side job starts (a job is kb * NR / W packets)
            std::size_t side_split[max_tiles + 1];
            for (std::size_t j = 0; j <= tiles; ++j) side_split[j] = kb * NR / simd::width<T> * j / tiles;
            pack_strassen_a(ops, upper_a, lower_a, mb, lower, d0, half, kb, norm, k, norm ? stats : nullptr);
            // with side_sums: the sum products met so far in this chunk; the next one's B is the bsum half
            // (made % 2), which the product before it makes
            std::size_t made = 0;
            const auto sum_buffer = [&](std::size_t i) { return bsum + i % 2 * strassen_depth * NR; };
            for (std::size_t pp = p0; pp < p1; ++pp) {
                const std::size_t left = first + pp, right = first + half_panels + pp;  // the pair of column panels
                const std::array<const T*, 4> bq = quadrants(left, d0);
                if (side_sums && pp == p0) {  // the chunk's first sum, which no product before it makes
                    const StrassenProduct& p = strassen_products[0];
                    add_into(sum_buffer(made), bq[p.bx], bq[p.by], kb * NR, p.subtract);
                }
                // the next pair's quadrants (the next pair, or the first of the next depth block or row
                // block), prefetched towards L2 a share per kernel call
                const bool more = pp + 1 < p1 || d0 + kb < half || i0 + mb < r1;
                const std::size_t next_left = pp + 1 < p1 ? left + 1 : first + p0;
                const std::size_t next_d = pp + 1 < p1 ? d0 : d0 + kb < half ? d0 + kb : 0;
                const std::array<const T*, 4> next = quadrants(next_left, next_d);
                const std::size_t next_lines = more ? chunk(next_d) * NR * sizeof(T) / 64 : 0;
                const std::size_t per_quadrant = (7 * tiles + 3) / 4, share = (next_lines + per_quadrant - 1) / per_quadrant;
                std::size_t pf_quadrant = 0, pf_call = 0;
                for (std::size_t pi = 0; pi < strassen_product_count; ++pi) {
                    const StrassenProduct& prod = strassen_products[pi];
                    const T* b = bq[prod.bx];
                    const T* const prod_a = ops[prod.a];
                    const T* b2 = prod.by >= 0 ? bq[prod.by] : nullptr;
                    // with side_sums: B made by the product before; this product makes the next one's B
                    // (in this pair, or the next pair's first) if that is a sum of quadrants, a share in
                    // each row tile's call
                    SideSum<T> side{nullptr, nullptr, nullptr, 0, false};
                    if (side_sums) {
                        if (b2) b = sum_buffer(made++), b2 = nullptr;
                        const bool wrap = pi + 1 == strassen_product_count;
                        const StrassenProduct& np = strassen_products[wrap ? 0 : pi + 1];
                        if (np.by >= 0 && (!wrap || pp + 1 < p1)) {
                            const std::array<const T*, 4> nq = quadrants(wrap ? left + 1 : left, d0);
                            side = SideSum<T>{nq[np.bx], nq[np.by], sum_buffer(made), kb * NR / simd::width<T>, np.subtract};
                        }
                    }
                    // what the destinations' tiles share, made once per product (a TileDest built anew for
                    // each call, flags and all, had g++ store its flags a byte at a time and load them two
                    // at a time, a store-forwarding stall per call; the products measured as fast either way)
                    TileDest<T> proto[2];
                    bool proto_low[2] = {false, false};
                    std::size_t protos = 0;
                    for (int q = 0; q < 2; ++q) {
                        const int quadrant = prod.dest[q];
                        if (quadrant < 0) continue;
                        const std::size_t col = (quadrant % 2 ? right : left) * NR;
                        proto_low[protos] = quadrant >= 2;
                        proto[protos++] = TileDest<T>{c + col, ldc, 0, 0, col,
                                                      accumulate || !(first_chunk && strassen_edges.opens[pi][q]),
                                                      last_chunk && strassen_edges.closes[pi][q], prod.negate[q]};
                    }
                    for (std::size_t j = 0; j < tiles; ++j) {
                        const RowTile tile = row_tiles[j];
                        TileDest<T> dests[2];
                        std::size_t dest_count = 0;
                        for (std::size_t q = 0; q < protos; ++q) {
                            const bool low = proto_low[q];
                            const std::size_t row = i0 + tile.row + (low ? H : 0);
                            const std::size_t rows = !low             ? tile.rows
                                                     : tile.row >= lower ? 0
                                                     : lower - tile.row < tile.rows ? lower - tile.row : tile.rows;
                            if (rows == 0) continue;
                            TileDest<T>& d = dests[dest_count++];
                            d = proto[q];
                            d.c += row * ldc;
                            d.rows = rows;
                            d.row0 = row;
                        }
                        // this call's share of the next pair's prefetch: a run of lines in one of its quadrants
                        // (pf_quadrant, counting calls in pf_call)
                        const std::size_t from = pf_call * share;
                        const std::size_t lines = from < next_lines ? (next_lines - from < share ? next_lines - from : share) : 0;
                        const char* pf = lines ? reinterpret_cast<const char*>(next[pf_quadrant]) + from * 64 : nullptr;
                        if (++pf_call == per_quadrant) pf_call = 0, ++pf_quadrant;
                        // this call's share of the side job: in its multiply-adds when it has the packets'
                        // steps and is a full tile, else on its own
                        constexpr std::size_t W = simd::width<T>;
                        const std::size_t s0 = side.count ? side_split[j] : 0, s1 = side.count ? side_split[j + 1] : 0;
                        const SideSum<T> share{side.x + s0 * W, side.y + s0 * W, side.out + s0 * W, s1 - s0, side.subtract};
                        const bool side_in_call = share.count && dest_count && tile.rows == MR && share.count <= kb;
                        if (share.count && !side_in_call) add_into(share.out, share.x, share.y, share.count * W, share.subtract);
                        // (a tile without destinations has only absent lower rows, and so have the tiles after it)
                        if (!dest_count) continue;
                        if (side_in_call) {
                            side_tile_kernel(kb, prod_a + j * MR * kb, b, ep, dests, dest_count, share);
                            continue;
                        }
                        // a sum of two quadrants is made by the first tile's call, which keeps it in bsum
                        // for the others (each sum once per panel pair, read back from L1 and L2)
                        // (a first tile of fewer than MR rows, in a block that small, has the sum made first)
                        const T* pa = prod_a + j * MR * kb;
                        if (b2 && j == 0 && tile.rows < MR) add_into(bsum, b, b2, kb * NR, prod.subtract);
                        if (!b2 || j > 0 || tile.rows < MR)
                            tile_kernel(tile.rows, kb, pa, b2 ? bsum : b, NR, ep, pf, lines, dests, dest_count);
                        else if (prod.subtract)
                            sum_tile_kernel<T, -1>(kb, pa, b, b2, bsum, ep, pf, lines, dests, dest_count);
                        else
                            sum_tile_kernel<T, 1>(kb, pa, b, b2, bsum, ep, pf, lines, dests, dest_count);
                    }
                }
            }
            d0 += kb;
        }
    }
}

// Whether a share of one image's rows is packed yet (one_image_rows): 0 not yet, 1 being packed, 2 packed.
struct alignas(64) SharePacking {
    std::atomic<std::uint32_t> state;
};

// A share's rows (a, `rows` of them) packed at `out` for pack_a_shared's layout by the first task that
// takes one of its items, once; a task that takes one while another packs them waits for that (a pack
// of about a hundred rows) rather than pack them again.
template <class T>
const T* one_image_rows(SharePacking& packing, T* out, Strided<T> a, std::size_t rows, std::size_t k, const RowNorm<T>* norm) noexcept {
    std::uint32_t expected = 0;
    if (packing.state.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_acquire)) {
        const std::size_t kc = depth_block<T>(k), row_panels = (rows + mr<T> - 1) / mr<T>;
        pack_a_shared(out, a, rows, k, 0, (k + kc - 1) / kc * row_panels, norm);
        packing.state.store(2, std::memory_order_release);
    } else {
        for (einvit::detail::Backoff wait; packing.state.load(std::memory_order_acquire) != 2;) wait();
    }
    return out;
}

// The product for the column panels [first, end) of B (all of them by default), A normalised by `norm`
// when it is not null.
template <class T>
void multiply_threaded(std::size_t m, std::size_t n, std::size_t k, Strided<T> a, Strided<T> b, const PackedB<T>* packed,
                       T* c, std::size_t ldc, const Epilogue<T>& ep, bool accumulate, std::size_t first = 0,
                       std::size_t end = static_cast<std::size_t>(-1), const RowNorm<T>* norm = nullptr) {
    const std::size_t all_panels = (n + nr<T> - 1) / nr<T>;
    if (end > all_panels) end = all_panels;
    if (m == 0 || first >= end) return;
    if (norm && (a.col_stride != 1 || k == 0))
        raise(errc::invalid_argument, "gemm: a LayerNorm of A's rows needs a row-major A with at least one column");
    // C may not overlap A or B: the threads and the depth blocks read A (and an unpacked B) after C's
    // first stores, so an in-place x = x · W gave results that depended on the thread count
    // C's columns here: [first * nr, first * nr + cols)
    const std::size_t panels = end - first, cols = (end * nr<T> < n ? end * nr<T> : n) - first * nr<T>;
    if (k != 0) {
        const T* c_lo = c + first * nr<T>;
        const T* c_hi = c_lo + (m - 1) * ldc + cols;
        const auto overlaps = [&](Strided<T> x, std::size_t rows, std::size_t width) {
            if (!x.data || rows == 0 || width == 0) return false;
            const T* x_hi = x.data + (rows - 1) * x.row_stride + (width - 1) * x.col_stride + 1;
            return std::less<const T*>{}(x.data, c_hi) && std::less<const T*>{}(c_lo, x_hi);
        };
        if (overlaps(a, m, k) || (!packed && overlaps(b, k, n)))
            raise(errc::invalid_argument, "gemm: the output overlaps an operand (an in-place x = x · W needs an output of its own)");
        // a residual may be C itself (each element read before it is written), but not other elements
        // of C: rows at another stride, or shifted, would be read after some tiles have been stored
        if (ep.residual && !(ep.residual == c && ep.residual_ld == ldc) &&
            overlaps(Strided<T>{ep.residual + first * nr<T>, ep.residual_ld, 1}, m, cols))
            raise(errc::invalid_argument, "gemm: the residual overlaps the output without being the output itself (the same "
                                          "first element and row stride)");
    }
    // A residual that is C itself with no activation (x = x + A·B + bias: a transformer block's
    // projection and fc2) is read as C's starting value instead: C = C + A·B + bias, stored from the
    // registers with no pass through store_tile, and the same sum whatever the number of k blocks (C holds
    // partial sums between them), so whatever the instruction set. A ViT-B/16 pass measured 0.5-1.6%
    // faster so at one image (bench/compare/ab.py, both orders) than with the residual added in the
    // epilogue where the depth is one block, 0.6% at batch 8. With an activation, such a residual can be
    // honoured over one k block only.
    Epilogue<T> e = ep;
    if (e.residual == c && e.activation == Activation::none && e.residual_ld == ldc && !accumulate) {
        e.residual = nullptr;
        accumulate = true;
    } else if (e.residual == c && k > depth_block<T>(k)) {
        // C holds partial sums between the depth blocks, so the residual read by the last one would not
        // be C's starting value
        raise(errc::invalid_argument,
              "gemm: a residual that is the output itself goes with no activation and no accumulation into the output, "
              "unless the depth is at most ",
              depth_block<T>(k), " (got ", k, ")");
    }
    // Threads only when each gets a worthwhile share of the work: the multiply-adds, and with a
    // pre-packed B (a weight, which comes from memory) its bytes, since with few rows (the class token
    // of a ViT's last block) the product waits on memory, and two threads draw more of it than one.
    const std::size_t b_bytes = packed ? cols * (k ? k : 1) * sizeof(T) : 0;
    const std::size_t grain = (2 * m * cols * (k ? k : 1) + b_bytes) / panels < 100000 ? panels : 1;
    // Threads own column panels, and each packs the A blocks it multiplies. With B packed once (a
    // weight), threads own row ranges instead where that measured faster:
    // - many rows but few panels per thread (N = 768 at batch 8): the repeated A packing costs more
    //   than the column split saves; the ranges are whole micro-tiles of MR;
    // - one image's tokens (fewer rows than two A blocks per thread, at least a tile each): each thread
    //   packs only its own rows, with no buffer shared between the threads and no meeting between
    //   packing and multiplying, and reads every panel of the weight, which the other thread's reads
    //   keep in the shared cache. The ranges are even (197 rows: 98 and 99, each tiled by row_tile).
    //   Measured on one Zen 4 host against the shared-A column split: 1-3% faster on ViT-B's products
    //   at M = 197, 5-15% on ViT-S's and ViT-Ti's small-N ones, 30% on the Fashion-MNIST model's.
    constexpr std::size_t MR = mr<T>;
    const std::size_t threads = num_threads(), row_tiles = (m + MR - 1) / MR;
    // The first row of block i when `tiles` row tiles are shared out evenly among `blocks` blocks of
    // `rows` rows (the last block ends at `rows`).
    const auto block_first_row = [](std::size_t tiles, std::size_t blocks, std::size_t rows, std::size_t i) {
        const std::size_t r = tiles * i / blocks * MR;
        return r < rows ? r : rows;
    };
    const bool many_rows = m >= 2 * threads * row_block<T>(depth_block<T>(k));
    // Strassen's seven half-size products (see strassen_rows), each thread a share of the upper rows. C
    // is written by several products, so they take no residual that is C itself (one without an
    // activation is C's starting value by now, above).
    if (packed && strassen_fits<T>(m, n, k, packed->kc(), first, end) && e.residual != c) {
        const std::size_t upper = (m + 1) / 2, MC = strassen_block_rows<T>, tiles = (upper + MR - 1) / MR;
        const std::size_t blocks = (upper + MC - 1) / MC, pairs = (end - first) / 2;
        const StrassenSchedule schedule = strassen_schedule<T>();
        // a task's buffers sized for any block, whether or not it takes one (parallel_items)
        const auto strassen_prepare = [] {
            (void)scratch<T>(0, strassen_scratch_elements<T>(0));
            (void)scratch<T>(1, strassen_scratch_elements<T>(1));
        };
        const auto rows = [&](std::size_t r0, std::size_t r1, std::size_t p0, std::size_t p1) {
            strassen_rows(m, k, r0, r1, a, *packed, c, ldc, e, accumulate, first, pairs, norm, p0, p1, schedule.side_sums);
        };
        // With at least two blocks of strassen_block_rows upper rows a thread, the rows are blocks handed
        // to the threads one at a time: a thread slowed by a neighbour on a shared host takes fewer (each
        // block streams every B quadrant, whichever thread takes it); each thread starts on its own even
        // share's (strassen_share_blocks; with the columns split, the upper rows' tiles shared out evenly
        // among as many blocks, each thread's share a column share of every block). Otherwise each thread
        // takes an even share (one image's 99 upper rows: a block each).
        const auto block_row = [&](std::size_t i) { return block_first_row(tiles, blocks, upper, i); };
        if (schedule.split_columns) {
            // each thread a share of the column panel pairs, all the rows (see StrassenSchedule); with at
            // least two row blocks a thread, items of one row block and one share, handed out one at a
            // time as above (a thread packs a block's A operands for each share it takes, as it does
            // with the shares fixed; a thread's own items are its share's, so in calm moments each works
            // through its own share as before). Measured below, with the row split's items.
            const std::size_t parts = threads < pairs ? threads : pairs;
            if (parts > 1 && blocks >= 2 * threads) {
                parallel_items(
                    blocks * parts,
                    [&](std::size_t i) {
                        const std::size_t part = i / blocks, block = i % blocks;  // a thread's own items: one share
                        rows(block_row(block), block_row(block + 1), pairs * part / parts, pairs * (part + 1) / parts);
                    },
                    strassen_prepare);
                return;
            }
            parallel_for(pairs, 1, [&](std::size_t p0, std::size_t p1) { rows(0, upper, p0, p1); });
            return;
        }
        if (blocks < 2 * threads) {
            const std::size_t parts = threads < upper ? threads : upper;
            parallel_for(parts, 1, [&](std::size_t t0, std::size_t t1) { rows(upper * t0 / parts, upper * t1 / parts, 0, pairs); });
        } else {
            // each thread's share of the rows even, in blocks (strassen_share_blocks)
            const std::size_t per_share = strassen_share_blocks<T>(upper, threads);
            const auto item_row = [&](std::size_t i) { return strassen_item_row<T>(i, upper, threads, per_share); };
            parallel_items(threads * per_share, [&](std::size_t i) { rows(item_row(i), item_row(i + 1), 0, pairs); }, strassen_prepare);
        }
        return;
    }
    // rows [r0, r1) on this thread
    const auto row_range = [&](std::size_t r0, std::size_t r1) {
        multiply_panels(r1 - r0, n, k, Strided<T>{a.data + r0 * a.row_stride, a.row_stride, a.col_stride}, b, packed,
                        c + r0 * ldc, ldc, e, accumulate, first, end, r0, static_cast<const T*>(nullptr), norm);
    };
    if (packed && grain == 1 && threads > 1 && many_rows && panels < 32 * threads) {
        // the row tiles shared out evenly among blocks of at most row_block rows, handed to the threads one
        // at a time: a thread slowed by a neighbour on a shared host takes fewer instead of making the
        // others wait for its fixed share (each block streams every panel of B either way); each thread
        // starts on the blocks of its own even share, the rows the kernels before left in its caches
        // (blocks handed out in turn instead made a ViT-Ti/16 pass at batch 8 2-7% slower). On a Zen 3
        // host with one core kept busy by another program, ViT-B's products at M = 1576 (Strassen's
        // qkv, fc1 and proj, the plain fc2) and ViT-Ti's fc1 ran 1.06-1.42x as fast as with fixed shares
        // (bench/gemm_ab --cold, both orders), a ViT-S/16 pass at batch 8 1.14x (bench/compare/ab.py,
        // 12 of 12 rounds); in calm moments the products 0.98-1.01x, and passes at batch 8 as fast or
        // 1-2% faster (ViT-B/16, ViT-S/16, ViT-Ti/16), at one image as fast (ViT-B/16).
        // At least 4 blocks a thread, and a multiple of the thread count, so that in calm moments every
        // thread ends with the others (ViT-Ti's fc1 at batch 8 in 5 blocks of 336 rows was 15% slower).
        const std::size_t block_tiles = row_block<T>(depth_block<T>(k)) / MR;
        std::size_t blocks = (row_tiles + block_tiles - 1) / block_tiles;
        if (blocks < 4 * threads) blocks = 4 * threads;
        blocks = (blocks + threads - 1) / threads * threads;
        if (blocks > row_tiles) blocks = row_tiles;
        const auto block_row = [&](std::size_t i) { return block_first_row(row_tiles, blocks, m, i); };
        // a task's packed A sized for the largest block, whether or not it takes one
        const std::size_t most_rows = (row_tiles + blocks - 1) / blocks * MR;
        parallel_items(
            blocks, [&](std::size_t i) { row_range(block_row(i), block_row(i + 1)); },
            [&] { (void)scratch<T>(0, a_block_elements<T>(most_rows, k)); });
        return;
    }
    if (packed && grain == 1 && threads > 1 && !many_rows && m >= threads * MR) {
        // One image's rows in even shares, one a thread. With one depth block and enough panels, each
        // share's panels are items too (chunks of at least 8 panels, at most 8 a share), handed out by
        // parallel_items: a thread packs its share's rows and works through its own chunks in order,
        // then takes the others' next chunks; each share's rows are packed once, by the first thread to
        // take one of its chunks, in the calling thread's buffer (`one_image_rows`). In
        // calm moments that is the even split; a thread slowed by another program on its core leaves
        // the rest of its share to the others instead of making them wait (each panel is still read
        // once a share, so the weight is not streamed more often).
        const std::size_t chunks = panels / 8 < 8 ? panels / 8 : 8;
        if (chunks < 2 || k == 0 || k > depth_block<T>(k) || einvit::detail::ThreadPool::inside_task()) {
            parallel_for(threads, 1, [&](std::size_t t0, std::size_t t1) { row_range(m * t0 / threads, m * t1 / threads); });
            return;
        }
        // each share's rows packed (for pack_a_shared's layout) in the calling thread's buffer, one
        // share after another at a stride of the largest share's whole tiles
        SharePacking local[8];
        SharePacking* packing = einvit::detail::call_slots(local, threads);
        for (std::size_t t = 0; t < threads; ++t) packing[t].state.store(0, std::memory_order_relaxed);
        const std::size_t stride = round_up((m + threads - 1) / threads, MR) * k;
        T* a_whole = scratch<T>(8, threads * stride);
        parallel_items(threads * chunks, [&](std::size_t i) {
            const std::size_t share = i / chunks, chunk = i % chunks;
            const std::size_t r0 = m * share / threads, rows = m * (share + 1) / threads - r0;
            const Strided<T> a_rows{a.data + r0 * a.row_stride, a.row_stride, a.col_stride};
            const T* a_packed = one_image_rows<T>(packing[share], a_whole + share * stride, a_rows, rows, k, norm);
            multiply_panels(rows, n, k, a_rows, b, packed, c + r0 * ldc, ldc, e, accumulate, first + panels * chunk / chunks,
                            first + panels * (chunk + 1) / chunks, r0, a_packed, static_cast<const RowNorm<T>*>(nullptr), true);
        });
        return;
    }
    // Threads splitting the panels multiply the same rows of A: when A packed whole is small enough
    // to stay in the caches, they pack it once, together, instead of each packing all of it.
    const std::size_t a_whole = round_up(m, MR) * k;
    if (grain == 1 && threads > 1 && k > 0 && a_whole * sizeof(T) <= shared_a_bytes && !einvit::detail::ThreadPool::inside_task()) {
        T* shared = scratch<T>(8, a_whole);
        const std::size_t units = (k + depth_block<T>(k) - 1) / depth_block<T>(k) * row_tiles;
        parallel_for(units, 1, [&](std::size_t u0, std::size_t u1) { pack_a_shared(shared, a, m, k, u0, u1, norm); });
        parallel_for(panels, grain, [&](std::size_t p0, std::size_t p1) {
            multiply_panels(m, n, k, a, b, packed, c, ldc, e, accumulate, first + p0, first + p1, std::size_t{0},
                            static_cast<const T*>(shared));
        });
        return;
    }
    parallel_for(panels, grain, [&](std::size_t p0, std::size_t p1) {
        multiply_panels(m, n, k, a, b, packed, c, ldc, e, accumulate, first + p0, first + p1, std::size_t{0},
                        static_cast<const T*>(nullptr), norm);
    });
}

}  // namespace detail

/// Which products with a pre-packed B (a model's weights) take one level of Strassen's algorithm (7/8
/// of the multiply-adds; see detail::strassen_rows): by default those of the shapes where this
/// instruction set measured it faster (StrassenUse::where_it_pays; detail::strassen_pays: with AVX-512
/// every shape it fits, with AVX2 ViT-B's K = 768 products with 1024 rows or more, elsewhere none). The others are plain products,
/// as every other product is. set_strassen(true) is every shape it fits, false none.
inline void set_strassen(StrassenUse use) noexcept { detail::strassen_setting().store(use, std::memory_order_relaxed); }
inline void set_strassen(bool on) noexcept { set_strassen(on ? StrassenUse::wherever_it_fits : StrassenUse::never); }
inline StrassenUse strassen_use() noexcept { return detail::strassen_setting().load(std::memory_order_relaxed); }
/// Whether some products may take Strassen's algorithm (strassen_use() is not StrassenUse::never).
inline bool strassen() noexcept { return strassen_use() != StrassenUse::never; }

/// C = epilogue(A · B) (C += A · B before the epilogue when `accumulate`): A is M x K and B is K x N,
/// both with any strides; C is M x N with row stride ldc and unit column stride. Uses the thread pool.
/// With `norm`, A's rows are layer-normalised as they are packed: C = epilogue(LN(A) · B) (RowNorm).
template <class T>
void multiply(cpu, std::size_t m, std::size_t n, std::size_t k, Strided<T> a, Strided<T> b, T* c, std::size_t ldc,
              const Epilogue<T>& ep = {}, bool accumulate = false, const RowNorm<T>* norm = nullptr) {
    detail::multiply_threaded<T>(m, n, k, a, b, nullptr, c, ldc, ep, accumulate, 0, static_cast<std::size_t>(-1), norm);
}

/// C = epilogue(A · B) with B pre-packed (and A layer-normalised on the way with `norm`).
template <class T>
void multiply(cpu, std::size_t m, Strided<T> a, const PackedB<T>& b, T* c, std::size_t ldc, const Epilogue<T>& ep = {},
              bool accumulate = false, const RowNorm<T>* norm = nullptr) {
    detail::multiply_threaded<T>(m, b.n(), b.k(), a, Strided<T>{nullptr, 0, 0}, &b, c, ldc, ep, accumulate, 0,
                                 static_cast<std::size_t>(-1), norm);
}

/// C's columns [col_begin, col_end) = epilogue(A · B's same columns), B pre-packed: C and the epilogue's
/// bias and residual are indexed by B's column, the rest of C is left alone. col_begin is a multiple of
/// nr<T>; col_end is one too, or past B's last column.
template <class T>
void multiply_columns(cpu, std::size_t m, Strided<T> a, const PackedB<T>& b, std::size_t col_begin, std::size_t col_end,
                      T* c, std::size_t ldc, const Epilogue<T>& ep = {}, bool accumulate = false,
                      const RowNorm<T>* norm = nullptr) {
    if (col_begin % nr<T> != 0 || (col_end % nr<T> != 0 && col_end < b.n()))
        raise(errc::invalid_argument, "gemm: a column range of a packed B must start and end on a panel of ", nr<T>, " columns");
    detail::multiply_threaded<T>(m, b.n(), b.k(), a, Strided<T>{nullptr, 0, 0}, &b, c, ldc, ep, accumulate,
                                 col_begin / nr<T>, (col_end + nr<T> - 1) / nr<T>, norm);
}

/// The reference product: three loops accumulating in T, then the same epilogue element by element
/// (with `norm`, A's rows first go through the reference LayerNorm).
template <class T>
void multiply(reference, std::size_t m, std::size_t n, std::size_t k, Strided<T> a, Strided<T> b, T* c, std::size_t ldc,
              const Epilogue<T>& ep = {}, bool accumulate = false, const RowNorm<T>* norm = nullptr) {
    std::vector<T> normed;
    if (norm && m && k) {
        if (a.col_stride != 1) raise(errc::invalid_argument, "gemm: a LayerNorm of A's rows needs a row-major A");
        normed.resize(m * k);
        kernels::layer_norm_rows(reference{}, a.data, a.row_stride, normed.data(), k, m, k, norm->gamma, norm->beta, norm->eps);
        a = Strided<T>{normed.data(), k, 1};
    }
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            T acc = accumulate ? c[i * ldc + j] : T(0);
            for (std::size_t kk = 0; kk < k; ++kk)
                acc += a.data[i * a.row_stride + kk * a.col_stride] * b.data[kk * b.row_stride + j * b.col_stride];
            if (ep.bias) acc += ep.bias[j];
            acc = detail::activate<T>(acc, ep.activation);
            if (ep.residual) acc += ep.residual[i * ep.residual_ld + j];
            c[i * ldc + j] = acc;
        }
}

}  // namespace einvit::gemm

namespace einvit::inline EINVIT_ABI {

/// The scratch memory the CPU kernels take, slot by slot, in elements of T: what a ScratchScope lends
/// them so that they allocate nothing. A plan for a run of kernels is the largest need of each slot
/// over them (`need`); gemm::scratch_plan and kernels::attention_scratch_plan give the kernels' own,
/// and a model's is VisionTransformer::scratch_plan<B>. A compile-time value.
template <class T>
struct ScratchPlan {
    std::size_t slots[gemm::detail::scratch_slots] = {};
    static constexpr std::size_t line = 64 / sizeof(T) ? 64 / sizeof(T) : 1;  ///< elements in 64 bytes

    /// Slot `slot` holds at least `elements`.
    constexpr ScratchPlan& need(std::size_t slot, std::size_t elements) noexcept {
        if (elements > slots[slot]) slots[slot] = elements;
        return *this;
    }
    /// Every slot holds at least what `other`'s does.
    constexpr ScratchPlan& need(const ScratchPlan& other) noexcept {
        for (std::size_t s = 0; s < gemm::detail::scratch_slots; ++s) need(s, other.slots[s]);
        return *this;
    }
    /// Where slot `slot` starts, in elements past the memory's first 64-byte boundary: the slots before
    /// it, each rounded up to whole 64-byte lines (`slot` = scratch_slots: where the last one ends).
    constexpr std::size_t offset(std::size_t slot) const noexcept {
        std::size_t n = 0;
        for (std::size_t s = 0; s < slot; ++s) n += (slots[s] + line - 1) / line * line;
        return n;
    }
    /// Elements of memory the plan lays out in for `tasks` tasks of a job (ScratchScope): the first
    /// task's slots, then each other task's but the last slot (the A the threads share, slot 8, is the
    /// first task's alone), each slot 64-byte aligned, with room to align the first wherever the memory
    /// starts (on an element boundary).
    constexpr std::size_t elements(std::size_t tasks = 1) const noexcept {
        const std::size_t n = offset(gemm::detail::scratch_slots) + (tasks > 1 ? (tasks - 1) * offset(gemm::detail::scratch_slots - 1) : 0);
        return n ? n + line - 1 : 0;
    }
    friend constexpr bool operator==(const ScratchPlan&, const ScratchPlan&) = default;
};

/// Lends the CPU kernels that the calling thread runs, for the scope's life, `plan.elements(tasks)`
/// elements at `memory` as their scratch, laid out by `plan` for each of the first `tasks` tasks of the
/// jobs they run: within it (a run of the kernels the plan was made for, on up to `tasks` threads) they
/// allocate nothing, from their very first call. A request beyond the plan's slot (another kernel, a
/// plan made for fewer threads) or from a task past `tasks` takes the slot's own growable buffer as
/// before, so a plan too small costs an allocation, never a wrong answer. Lends to the jobs of the
/// calling thread only; made inside a pool task, to that task alone. Scopes nest; the memory must
/// outlive the scope, and a scope must end on the thread that made it.
template <class T>
class ScratchScope {
public:
    ScratchScope(const ScratchPlan<T>& plan, T* memory, std::size_t tasks = 1) noexcept {
        const auto address = reinterpret_cast<std::uintptr_t>(memory);
        lent_.first = memory + ((64 - address % 64) % 64) / sizeof(T);  // the first 64-byte boundary
        for (std::size_t s = 0; s < gemm::detail::scratch_slots; ++s) {
            lent_.size[s] = plan.slots[s];
            lent_.offset[s] = plan.offset(s);
        }
        lent_.task = einvit::detail::ThreadPool::current_task();
        lent_.tasks = lent_.task == 0 && tasks > 1 ? tasks : 1;  // inside a task, its own jobs run inline, as it
        lent_.stride0 = plan.offset(gemm::detail::scratch_slots);
        lent_.stride = plan.offset(gemm::detail::scratch_slots - 1);
        lent_.type = &gemm::detail::scratch_type<T>;
        const void*& context = einvit::detail::ThreadPool::job_context();
        lent_.outer = static_cast<const gemm::detail::LentScratchLink*>(context);
        context = static_cast<const gemm::detail::LentScratchLink*>(&lent_);
    }
    ScratchScope(const ScratchScope&) = delete;
    ScratchScope& operator=(const ScratchScope&) = delete;
    ~ScratchScope() { einvit::detail::ThreadPool::job_context() = lent_.outer; }

private:
    gemm::detail::LentScratch<T> lent_;
};

namespace gemm {

/// The scratch a product with a pre-packed k x n B (or a range of its columns) of up to `max_rows`
/// rows takes on each of `threads` threads, with Strassen's algorithm where `use` (by default the
/// default setting) may give it: the packed A's block (slot 0), and Strassen's operands and sums
/// (slots 0 and 1); with more threads than one, the calling thread's also the A that the threads share
/// (slot 8: one image's rows in shares, or the whole of a small A).
template <class T>
constexpr ScratchPlan<T> scratch_plan(std::size_t max_rows, std::size_t k, std::size_t n,
                                      StrassenUse use = detail::strassen_by_default, std::size_t threads = 1) noexcept {
    ScratchPlan<T> plan;
    if (max_rows == 0) return plan;
    const std::size_t kc = depth_block<T>(k), MC = row_block<T>(kc);
    // a_block_elements over m <= max_rows: m rows up to MC + MC / 2 (one block), else MC
    const std::size_t rows = max_rows < MC + MC / 2 ? max_rows : MC + MC / 2;
    plan.need(0, detail::round_up(rows, mr<T>) * kc);
    const std::size_t cols = detail::round_up(n, nr<T>);  // strassen_fits counts whole panels
    const bool fits = max_rows >= detail::strassen_min_rows && k >= detail::strassen_min_depth &&
                      cols >= detail::strassen_min_cols && k % 2 == 0;
    if (fits && use != StrassenUse::never &&
        (use == StrassenUse::wherever_it_fits || detail::strassen_pays<T>(max_rows, cols, k))) {
        plan.need(0, detail::strassen_scratch_elements<T>(0));
        plan.need(1, detail::strassen_scratch_elements<T>(1));
    }
    if (threads > 1) {  // multiply_threaded's buffers of slot 8, for any m <= max_rows
        constexpr std::size_t MR = mr<T>;
        // one image's rows in even shares, each packed whole (fewer rows than two row blocks a thread,
        // one depth block)
        const std::size_t few = 2 * threads * row_block<T>(kc) - 1, share_rows = max_rows < few ? max_rows : few;
        if (k <= kc) plan.need(8, threads * detail::round_up((share_rows + threads - 1) / threads, MR) * k);
        // the whole of an A of up to shared_a_bytes, packed once for the threads that split the panels
        std::size_t whole = detail::round_up(max_rows, MR) * k;
        if (whole * sizeof(T) > shared_a_bytes) whole = k ? shared_a_bytes / sizeof(T) / (MR * k) * MR * k : 0;
        plan.need(8, whole);
    }
    return plan;
}

}  // namespace gemm
}  // namespace einvit::inline EINVIT_ABI
