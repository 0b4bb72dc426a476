// einvit/backend/cpu/strided.hpp — copy and reduce loops over compile-time strided layouts: what
// rearrange, repeat and reduce run when their result cannot be a view.
//
// A layout is a list of dimensions, each with a length and a stride in the input; the output is
// contiguous in that order. Dimensions are first simplified at compile time (unit dimensions dropped,
// neighbours that are contiguous in the input merged), then:
//   - when the innermost output dimension is contiguous in the input, rows are copied with vector
//     loads and stores;
//   - when another dimension is, the two are transposed tile by tile, so that both reads and writes
//     stay within a few cache lines;
//   - otherwise, and always for the reference backend, a plain loop.
#pragma once

#include <array>
#include <cstddef>

#include "einvit/backend/cpu/simd.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"

namespace einvit::inline EINVIT_ABI::strided {

/// Dimensions of a strided layout (N at most), simplified.
template <std::size_t N>
struct Layout {
    std::size_t rank = 0;
    std::array<std::size_t, N> length{};
    std::array<std::size_t, N> stride{};
};

/// Drops unit dimensions and merges each dimension into its left neighbour when the neighbour's
/// stride is this one's stride times its length (the two walk the input as one).
template <std::size_t N>
constexpr Layout<N> simplify(const std::array<std::size_t, N>& length, const std::array<std::size_t, N>& stride) noexcept {
    Layout<N> out;
    for (std::size_t i = 0; i < N; ++i) {
        if (length[i] == 1) continue;
        if (out.rank > 0 && out.stride[out.rank - 1] == stride[i] * length[i]) {
            out.length[out.rank - 1] *= length[i];
            out.stride[out.rank - 1] = stride[i];
        } else {
            out.length[out.rank] = length[i];
            out.stride[out.rank] = stride[i];
            ++out.rank;
        }
    }
    return out;
}

/// Sorts dimensions by decreasing stride (for reductions, whose loop order is free), then simplifies.
template <std::size_t N>
constexpr Layout<N> sort_and_simplify(std::array<std::size_t, N> length, std::array<std::size_t, N> stride) noexcept {
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = i + 1; j < N; ++j)
            if (stride[j] > stride[i]) {
                std::swap(stride[i], stride[j]);
                std::swap(length[i], length[j]);
            }
    return simplify(length, stride);
}

/// Product of the lengths.
template <std::size_t N>
constexpr std::size_t volume(const Layout<N>& l) noexcept {
    std::size_t v = 1;
    for (std::size_t i = 0; i < l.rank; ++i) v *= l.length[i];
    return v;
}

namespace detail {

// Calls f(input_offset, output_offset) for every index of the first `Dims` dimensions of L
// (dimensions listed in `skip` are left out: their index stays 0), in row-major output order.
template <auto L, std::size_t Dims, class F>
EINVIT_ALWAYS_INLINE void for_each_outer(std::size_t skip, F&& f) {
    constexpr std::size_t R = L.rank;
    std::array<std::size_t, R + 1> out_stride{};
    out_stride[R] = 1;
    for (std::size_t d = R; d-- > 0;) out_stride[d] = out_stride[d + 1] * L.length[d];
    std::array<std::size_t, R + 1> index{};
    std::size_t count = 1;
    for (std::size_t d = 0; d < Dims; ++d)
        if (d != skip) count *= L.length[d];
    for (std::size_t n = 0; n < count; ++n) {
        std::size_t in_offset = 0, out_offset = 0;
        for (std::size_t d = 0; d < Dims; ++d) {
            in_offset += index[d] * L.stride[d];
            out_offset += index[d] * out_stride[d + 1];
        }
        f(in_offset, out_offset);
        for (std::size_t d = Dims; d-- > 0;) {
            if (d == skip) continue;
            if (++index[d] < L.length[d]) break;
            index[d] = 0;
        }
    }
}

template <auto L>
constexpr std::size_t contiguous_dim() noexcept {
    for (std::size_t d = 0; d < L.rank; ++d)
        if (L.stride[d] == 1) return d;
    return L.rank;
}

// out[k] = reduce_one(in + offset of k) for every index k of the kept layout K.
template <auto K, class T, class F>
EINVIT_ALWAYS_INLINE void for_each_kept(T* out, const T* in, F&& reduce_one) {
    if constexpr (K.rank == 0) {
        out[0] = reduce_one(in);
    } else {
        constexpr std::size_t inner = K.length[K.rank - 1], step = K.stride[K.rank - 1];
        for_each_outer<K, K.rank - 1>(K.rank, [&](std::size_t ko, std::size_t oo) {
            for (std::size_t j = 0; j < inner; ++j) out[oo + j] = reduce_one(in + ko + j * step);
        });
    }
}

}  // namespace detail

/// Copies the input laid out as L into `out`, contiguous in L's order. Scalar reference loop.
template <auto L, class T>
void copy(reference, T* EINVIT_RESTRICT out, const T* EINVIT_RESTRICT in) noexcept {
    constexpr std::size_t R = L.rank;
    if constexpr (R == 0) {
        out[0] = in[0];
    } else {
        constexpr std::size_t inner = L.length[R - 1], step = L.stride[R - 1];
        detail::for_each_outer<L, R - 1>(R, [&](std::size_t io, std::size_t oo) {
            for (std::size_t j = 0; j < inner; ++j) out[oo + j] = in[io + j * step];
        });
    }
}

/// Copies the input laid out as L into `out`: SIMD rows or tiled transposes.
template <auto L, class T>
void copy(cpu, T* EINVIT_RESTRICT out, const T* EINVIT_RESTRICT in) noexcept {
    constexpr std::size_t R = L.rank;
    constexpr std::size_t p = detail::contiguous_dim<L>();
    if constexpr (R == 0) {
        out[0] = in[0];
    } else if constexpr (p == R - 1) {  // rows are contiguous on both sides
        constexpr std::size_t inner = L.length[R - 1];
        constexpr std::size_t W = simd::width<T>;
        detail::for_each_outer<L, R - 1>(R, [&](std::size_t io, std::size_t oo) {
            T* o = out + oo;
            const T* i = in + io;
            // the tail only where the row has one: g++ 12 warns of undefined behaviour in an empty
            // tail loop after whole packets (rows of 24 or 120 floats with 8-float packets)
            constexpr std::size_t body = inner / W * W;
            for (std::size_t j = 0; j < body; j += W) simd::store<T>(o + j, simd::load<T>(i + j));
            if constexpr (body < inner)
                for (std::size_t j = body; j < inner; ++j) o[j] = i[j];
        });
    } else if constexpr (p < R) {  // transpose dimension p (contiguous in the input) with the last one
        constexpr std::size_t q = R - 1;
        constexpr std::size_t lp = L.length[p], lq = L.length[q], sq = L.stride[q];
        constexpr std::size_t op = [] {  // output stride of dimension p
            std::size_t s = 1;
            for (std::size_t d = p + 1; d < R; ++d) s *= L.length[d];
            return s;
        }();
        constexpr std::size_t tile = 16;
        detail::for_each_outer<L, R - 1>(p, [&](std::size_t io, std::size_t oo) {
            T* o = out + oo;
            const T* i = in + io;
            for (std::size_t ib = 0; ib < lp; ib += tile) {
                const std::size_t ie = ib + tile < lp ? ib + tile : lp;
                for (std::size_t jb = 0; jb < lq; jb += tile) {
                    const std::size_t je = jb + tile < lq ? jb + tile : lq;
                    for (std::size_t a = ib; a < ie; ++a)
                        for (std::size_t b = jb; b < je; ++b) o[a * op + b] = i[a + b * sq];
                }
            }
        });
    } else {
        copy<L>(reference{}, out, in);
    }
}

/// Reduces: out[k] = op over r of in[kept offset k + reduced offset r]; K and Rd are the kept and
/// reduced layouts, `out` is contiguous in K's order. Scalar reference loop.
template <class Op, auto K, auto Rd, class T>
void reduce(reference, T* EINVIT_RESTRICT out, const T* EINVIT_RESTRICT in) noexcept {
    constexpr std::size_t n = volume(Rd);
    auto reduce_one = [&](const T* base) {
        T acc = Op::template identity<T>();
        if constexpr (Rd.rank == 0) {
            acc = Op{}(acc, base[0]);
        } else {
            constexpr std::size_t inner = Rd.length[Rd.rank - 1], step = Rd.stride[Rd.rank - 1];
            detail::for_each_outer<Rd, Rd.rank - 1>(Rd.rank, [&](std::size_t ro, std::size_t) {
                for (std::size_t j = 0; j < inner; ++j) acc = Op{}(acc, base[ro + j * step]);
            });
        }
        return Op::finish(acc, n);
    };
    detail::for_each_kept<K>(out, in, reduce_one);
}

/// Reduces with SIMD when the innermost kept dimension is contiguous in the input (packets of outputs
/// at once) or the innermost reduced one is (packets of inputs, summed across lanes at the end).
template <class Op, auto K, auto Rd, class T>
void reduce(cpu, T* EINVIT_RESTRICT out, const T* EINVIT_RESTRICT in) noexcept {
    constexpr std::size_t W = simd::width<T>;
    constexpr std::size_t n = volume(Rd);
    using P = simd::packet<T>;
    if constexpr (W > 1 && K.rank > 0 && K.stride[K.rank - 1] == 1 && Rd.rank > 0) {
        constexpr std::size_t inner = K.length[K.rank - 1];
        detail::for_each_outer<K, K.rank - 1>(K.rank, [&](std::size_t ko, std::size_t oo) {
            for (std::size_t j = 0; j < inner; j += W) {
                const std::size_t count = inner - j < W ? inner - j : W;
                P acc = simd::broadcast<T>(Op::template identity<T>());
                detail::for_each_outer<Rd, Rd.rank>(Rd.rank, [&](std::size_t ro, std::size_t) {
                    const T* p = in + ko + ro + j;
                    acc = Op{}(acc, count == W ? simd::load<T>(p) : simd::load_partial<T>(p, 1, count));
                });
                if constexpr (requires { Op::floating_only; }) acc = acc / simd::broadcast<T>(static_cast<T>(n));
                simd::store_partial<T>(out + oo + j, acc, count);
            }
        });
    } else if constexpr (W > 1 && Rd.rank > 0 && Rd.stride[Rd.rank - 1] == 1 && Rd.length[Rd.rank - 1] >= W) {
        constexpr std::size_t run = Rd.length[Rd.rank - 1];
        auto reduce_one = [&](const T* base) {
            P acc = simd::broadcast<T>(Op::template identity<T>());
            T tail = Op::template identity<T>();
            detail::for_each_outer<Rd, Rd.rank - 1>(Rd.rank, [&](std::size_t ro, std::size_t) {
                std::size_t j = 0;
                for (; j + W <= run; j += W) acc = Op{}(acc, simd::load<T>(base + ro + j));
                for (; j < run; ++j) tail = Op{}(tail, base[ro + j]);
            });
            T total = tail;
            for (std::size_t l = 0; l < W; ++l) total = Op{}(total, simd::lane<T>(acc, l));
            return Op::finish(total, n);
        };
        detail::for_each_kept<K>(out, in, reduce_one);
    } else {
        reduce<Op, K, Rd>(reference{}, out, in);
    }
}

}  // namespace einvit::strided
