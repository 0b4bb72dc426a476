// Running with no heap at all: every tensor lives in one static buffer whose size is computed at
// compile time, as on a microcontroller. The program checks that it allocated nothing.
#include <einvit/einvit.hpp>

#include <cstdio>

// Defined in count_heap.cpp, which replaces the global operator new with a counting one.
std::size_t heap_allocations() noexcept;

namespace {
using einvit::Shape;
using X = einvit::Tensor<float, Shape<16, 64>>;
using Row = einvit::Tensor<float, Shape<16>>;
// The memory plan: three activations and one reduction, known at compile time.
constexpr std::size_t plan = 3 * einvit::arena_bytes<float, Shape<16, 64>> + einvit::arena_bytes<float, Shape<16>>;
einvit::StaticArena<plan> arena;  // static storage, never the stack
}  // namespace

int main() {
    const std::size_t before = heap_allocations();
    X a(arena), b(arena), c(arena);
    Row norms(arena);
    for (std::size_t i = 0; i < 16; ++i)
        for (std::size_t j = 0; j < 64; ++j) a(i, j) = static_cast<float>(i) - static_cast<float>(j) / 64.0f;
    b = einvit::tanh(a) * 0.5f;
    c = a * b + einvit::exp(-einvit::abs(a));
    einvit::reduce_axis_into<einvit::op::sum, 1>(norms, c * c);
    const std::size_t heap_calls = heap_allocations() - before;
    std::printf("arena: %zu of %zu bytes used; heap allocations: %zu; norms[15] = %.3f\n", arena.used(), arena.capacity(),
                heap_calls, static_cast<double>(norms(15)));
    return heap_calls == 0 && arena.used() == plan ? 0 : 1;
}
