// einvit/nn/matmul.hpp — matmul: (.., M, K) x (.., K, N), batched and strided.
// Part of einvit's transformer operations; <einvit/ops/nn.hpp> includes them all.
#pragma once

#include "einvit/core/config.hpp"
#include "einvit/nn/common.hpp"

namespace einvit::inline EINVIT_ABI {

// ---- matmul ------------------------------------------------------------------------------------

/// a · b for a of shape (..., M, K) and b of shape (K, N) or (..., K, N) with the same leading axes.
template <class A, class B>
auto matmul(const A& a, const B& b) {
    using LA = detail::Layout<A>;
    using LB = detail::Layout<B>;
    using T = detail::elem_t<A>;
    using Backend = typename A::backend_type;
    static_assert(LA::rank >= 2 && LB::rank >= 2, "einvit::matmul: both operands need at least 2 dimensions");
    static_assert(LB::rank == 2 || LB::rank == LA::rank,
                  "einvit::matmul: b must be a matrix (K, N) or have a's leading (batch) axes");
    diagnostics::check_element_types<T, detail::elem_t<B>>();
    diagnostics::check_backends<Backend, typename B::backend_type>();
    constexpr std::size_t M = LA::extent(LA::rank - 2), K = LA::extent(LA::rank - 1);
    constexpr std::size_t K2 = LB::extent(LB::rank - 2), N = LB::extent(LB::rank - 1);
    static_assert(K == K2, "einvit::matmul: a's last extent (K) must equal b's second-to-last (a is (..., M, K), b is (K, N))");
    constexpr bool same_batch = [] {
        if constexpr (LB::rank == 2) {
            return true;
        } else {
            for (std::size_t r = 0; r + 2 < LA::rank; ++r)
                if (LA::extent(r) != LB::extent(r)) return false;
            return true;
        }
    }();
    static_assert(same_batch, "einvit::matmul: a and b must have the same leading (batch) extents");
    using Out = detail::with_last_t<typename A::shape_type, N>;
    Tensor<T, Out, Backend> c(uninitialized);
    constexpr std::size_t batches = LA::leading_count(2);
    if constexpr (LB::rank == 2 && LA::leading_collapse(1)) {
        // one product with all of a's rows
        multiply(Backend{}, batches * M, N, K, gemm::Strided<T>{a.data(), LA::stride(LA::rank - 2), LA::stride(LA::rank - 1)},
                       gemm::Strided<T>{b.data(), LB::stride(0), LB::stride(1)}, c.data(), N);
    } else {
        for (std::size_t i = 0; i < batches; ++i) {
            // offsets of batch i in a and b
            std::size_t oa = 0, ob = 0, rest = i;
            for (std::size_t r = LA::rank - 2; r-- > 0;) {
                const std::size_t idx = rest % LA::extent(r);
                rest /= LA::extent(r);
                oa += idx * LA::stride(r);
                if constexpr (LB::rank != 2) ob += idx * LB::stride(r);
            }
            multiply(Backend{}, M, N, K, gemm::Strided<T>{a.data() + oa, LA::stride(LA::rank - 2), LA::stride(LA::rank - 1)},
                           gemm::Strided<T>{b.data() + ob, LB::stride(LB::rank - 2), LB::stride(LB::rank - 1)},
                           c.data() + i * M * N, N);
        }
    }
    return c;
}

}  // namespace einvit
