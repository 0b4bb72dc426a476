// The einvit::eigen backend: the same operations with the product computed by Eigen, an independent
// oracle for einvit's own GEMM (built only where Eigen is found).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <einvit/einvit.hpp>
#include <einvit/backend/eigen.hpp>

#include "test_util.hpp"

using einvit::Shape;
using einvit::Tensor;

TEST_CASE("eigen backend: linear with fused GELU and matmul agree with einvit's GEMM") {
    Tensor<float, Shape<197, 192>> x;
    Tensor<float, Shape<768, 192>> w;
    Tensor<float, Shape<768>> b;
    einvit_test::fill_uniform(x, 31, -1, 1);
    einvit_test::fill_uniform(w, 32, -0.2, 0.2);
    einvit_test::fill_uniform(b, 33, -1, 1);
    Tensor<float, Shape<197, 192>, einvit::eigen> xe;
    Tensor<float, Shape<768, 192>, einvit::eigen> we;
    Tensor<float, Shape<768>, einvit::eigen> be;
    std::memcpy(xe.data(), x.data(), x.bytes());
    std::memcpy(we.data(), w.data(), w.bytes());
    std::memcpy(be.data(), b.data(), b.bytes());
    auto mine = einvit::linear(x, w, b, einvit::gemm::Activation::gelu_erf);
    auto theirs = einvit::linear(xe, we, be, einvit::gemm::Activation::gelu_erf);
    static_assert(std::is_same_v<decltype(theirs), Tensor<float, Shape<197, 768>, einvit::eigen>>);
    for (std::size_t i = 0; i < mine.size(); ++i) REQUIRE(einvit_test::close(theirs.data()[i], mine.data()[i], 1e-4, 1e-5));
    Tensor<float, Shape<192, 768>, einvit::eigen> wt = einvit::rearrange<"o i -> i o">(we);
    auto product = einvit::matmul(xe, wt);
    for (std::size_t i = 0; i < 197; ++i)
        for (std::size_t o = 0; o < 768; ++o) {
            const double pre = double(product(i, o)) + double(b(o));
            REQUIRE(einvit_test::close(0.5 * pre * (1 + std::erf(pre / std::sqrt(2.0))), mine(i, o), 1e-4, 1e-5));
        }
}
