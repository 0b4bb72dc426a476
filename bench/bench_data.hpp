// Deterministic benchmark data with no dependencies, for every benchmark program (bench_common.hpp
// and bench/gemm_ab, which is built without Google Benchmark).
#pragma once

#include <cstddef>
#include <vector>

namespace einvit_bench {

/// n values in [-1, 1], the same on every machine.
inline std::vector<float> random_vector(std::size_t n, unsigned seed) {
    std::vector<float> v(n);
    unsigned x = seed * 2654435761u + 1;
    for (auto& e : v) {
        x = x * 1664525u + 1013904223u;
        e = static_cast<float>((x >> 9) % 2001) / 1000.0f - 1.0f;
    }
    return v;
}

}  // namespace einvit_bench
