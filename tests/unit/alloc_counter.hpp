// Counts heap allocations made through operator new in this test binary, so tests can prove that a
// piece of code allocates nothing (arena tensors, reduce_axis_into, later the model's forward pass).
#pragma once

#include <cstddef>

namespace einvit_test {

/// Number of calls to any global operator new since the program started.
std::size_t allocation_count() noexcept;

/// Allocations made while the object is alive: `AllocationScope s; f(); CHECK(s.count() == 0);`.
class AllocationScope {
public:
    AllocationScope() noexcept : start_(allocation_count()) {}
    [[nodiscard]] std::size_t count() const noexcept { return allocation_count() - start_; }

private:
    std::size_t start_;
};

}  // namespace einvit_test
