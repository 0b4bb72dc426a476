// einvit/backend/eigen.hpp — the einvit::eigen backend: matrix products through Eigen.
//
//   #include <einvit/einvit.hpp>
//   #include <einvit/backend/eigen.hpp>      // needs Eigen 3.4 (Debian: libeigen3-dev)
//   einvit::Tensor<float, einvit::Shape<197, 768>, einvit::eigen> x;
//   auto y = einvit::linear(x, w, b);       // the product by Eigen, the epilogue by einvit
//
// A baseline to measure einvit's own GEMM against and a second, independent oracle for the tests.
// Everything that is not a matrix product runs as on einvit::cpu. Not part of einvit/einvit.hpp, so
// programs that do not ask for it need no Eigen.
#pragma once

#include <Eigen/Core>
#include <cstddef>

#include "einvit/backend/cpu/gemm.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"

namespace einvit::inline EINVIT_ABI {

/// The Eigen backend: GEMM by Eigen (its own threads when built with OpenMP), the rest as einvit::cpu.
struct eigen : cpu {
    static constexpr const char* name = "eigen";
    using einvit_eigen_backend = void;
};

namespace gemm {

/// C = epilogue(A · B) with the product computed by Eigen.
template <class T>
void multiply(eigen, std::size_t m, std::size_t n, std::size_t k, Strided<T> a, Strided<T> b, T* c, std::size_t ldc,
              const Epilogue<T>& ep = {}, bool accumulate = false) {
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    using Index = Eigen::Index;
    if (m == 0 || n == 0) return;
    Eigen::Map<const Matrix, 0, Stride> A(a.data, Index(m), Index(k), Stride(Index(a.row_stride), Index(a.col_stride)));
    Eigen::Map<const Matrix, 0, Stride> B(b.data, Index(k), Index(n), Stride(Index(b.row_stride), Index(b.col_stride)));
    Eigen::Map<Matrix, 0, Eigen::OuterStride<>> C(c, Index(m), Index(n), Eigen::OuterStride<>(Index(ldc)));
    if (k == 0) {
        if (!accumulate) C.setZero();
    } else if (accumulate) {
        C.noalias() += A * B;
    } else {
        C.noalias() = A * B;
    }
    if (!ep.bias && ep.activation == Activation::none && !ep.residual) return;
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            T v = c[i * ldc + j];
            if (ep.bias) v += ep.bias[j];
            v = detail::activate<T>(v, ep.activation);
            if (ep.residual) v += ep.residual[i * ep.residual_ld + j];
            c[i * ldc + j] = v;
        }
}

}  // namespace gemm
}  // namespace einvit
