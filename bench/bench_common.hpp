// Shared by einvit's benchmark programs: deterministic data, the --threads=N option, and a reporter
// that keeps each benchmark's median rate for the summary table printed after the runs.
#pragma once

#include <benchmark/benchmark.h>
#include <einvit/einvit.hpp>

#include "bench_data.hpp"

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace einvit_bench {

/// The FMA ceiling's kernel: independent multiply-add chains in registers, no memory traffic
/// (2 x lanes x chains x steps floating-point operations).
template <std::size_t... I>
float fma_chains(std::size_t steps, std::index_sequence<I...>) {
    using P = einvit::simd::packet<float>;
    P acc[sizeof...(I)] = {einvit::simd::broadcast<float>(static_cast<float>(I) * 1e-3f)...};
    const P a = einvit::simd::broadcast<float>(0.999999f), b = einvit::simd::broadcast<float>(1e-7f);
    for (std::size_t i = 0; i < steps; ++i) ((acc[I] = einvit::simd::fma<float>(acc[I], a, b)), ...);
    return (einvit::simd::lane<float>(acc[I], 0) + ...);
}

/// Takes --threads=N out of the arguments (threads keeps its default when absent); returns the rest,
/// for benchmark::Initialize.
inline std::vector<char*> take_threads(int argc, char** argv, int& threads) {
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--threads=", 10) == 0)
            threads = std::atoi(argv[i] + 10);
        else
            rest.push_back(argv[i]);
    }
    return rest;
}

/// A rate counter in units per second, shown with SI prefixes (GFLOP/s, GB/s).
inline void set_rate(benchmark::State& state, const char* name, double units_per_iteration) {
    state.counters[name] =
        benchmark::Counter(units_per_iteration, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

/// The console reporter, keeping the median (or only) value of the named counters, in units of 1e9.
class MedianCollector : public benchmark::ConsoleReporter {
public:
    explicit MedianCollector(std::initializer_list<const char*> counters) : counters_(counters) {}
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs) {
            if (!r.aggregate_name.empty() && r.aggregate_name != "median") continue;
            for (const char* c : counters_) {
                auto it = r.counters.find(c);
                if (it != r.counters.end()) giga_[r.run_name.function_name] = it->second.value / 1e9;
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }
    /// The median of a benchmark's counter, in units of 1e9 per second (0 when it did not run).
    double get(const std::string& name) const {
        auto it = giga_.find(name);
        return it == giga_.end() ? 0.0 : it->second;
    }

private:
    std::vector<const char*> counters_;
    std::map<std::string, double> giga_;
};

}  // namespace einvit_bench
