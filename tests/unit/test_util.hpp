// Helpers shared by the unit tests: deterministic fills and tolerant comparisons.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include <einvit/einvit.hpp>

namespace einvit_test {

// Strassen's products for pre-packed weights on wherever they fit or off, or any gemm::StrassenUse
// (gemm::set_strassen) for a scope, then as before (by default where the instruction set measured them
// faster).
struct StrassenSetting {
    einvit::gemm::StrassenUse was = einvit::gemm::strassen_use();
    explicit StrassenSetting(bool on) { einvit::gemm::set_strassen(on); }
    explicit StrassenSetting(einvit::gemm::StrassenUse use) { einvit::gemm::set_strassen(use); }
    StrassenSetting(const StrassenSetting&) = delete;
    StrassenSetting& operator=(const StrassenSetting&) = delete;
    ~StrassenSetting() { einvit::gemm::set_strassen(was); }
};

/// A small deterministic generator (SplitMix64), so test data is the same on every machine.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    /// Uniform in [lo, hi).
    double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    std::uint64_t state_;
};

/// Fills a tensor with uniform values in [lo, hi) (integers: truncated).
template <class TensorT>
void fill_uniform(TensorT& t, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
    using T = typename TensorT::value_type;
    Rng rng(seed);
    for (std::size_t i = 0; i < TensorT::size(); ++i) t.data()[i] = static_cast<T>(rng.uniform(lo, hi));
}

/// |got - want| <= abs_tol + rel_tol * |want|, with want computed in double.
inline bool close(double got, double want, double rel_tol, double abs_tol = 0.0) {
    if (std::isnan(want)) return std::isnan(got);
    if (std::isinf(want)) return got == want;
    return std::fabs(got - want) <= abs_tol + rel_tol * std::fabs(want);
}

/// Relative tolerance for a few ulps of T.
template <class T>
constexpr double ulps(double n) {
    return n * static_cast<double>(std::numeric_limits<T>::epsilon());
}

/// The same values in a tensor of backend B.
template <class B, class T, class S, class From>
einvit::Tensor<T, S, B> on(const einvit::Tensor<T, S, From>& x) {
    einvit::Tensor<T, S, B> y;
    std::memcpy(y.data(), x.data(), x.bytes());
    return y;
}

}  // namespace einvit_test
