// einvit built with no heap (EINVIT_NO_HEAP), no threads, no exceptions and a fatal-error handler of
// the program's own (EINVIT_FATAL_ERROR_HANDLER), as for the Cortex-M example, on the host: what needs
// the heap is an error that says so, an arena and a lent scratch work, nothing calls operator new, and
// a raised error ends the program through the handler. `no_heap` runs the checks and exits 0;
// `no_heap raise` runs a product with no scratch lent to it, which must end in the handler, which
// prints the error and exits 0 (the tests check both; returning from the product exits 1).
#include <einvit/einvit.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "expect.hpp"

#if !defined(EINVIT_NO_HEAP) || !defined(EINVIT_FATAL_ERROR_HANDLER)
#error "build this file with -DEINVIT_NO_HEAP -DEINVIT_NO_THREADS -DEINVIT_FATAL_ERROR_HANDLER=on_fatal_error"
#endif
static_assert(!EINVIT_HEAP && !EINVIT_THREADS && !EINVIT_HAS_EXCEPTIONS);

// Defined in examples/count_heap.cpp, which replaces the global operator new with a counting one.
std::size_t heap_allocations() noexcept;

[[noreturn]] void on_fatal_error(const char* kind, const char* what) noexcept {
    std::printf("handler: %s: %s\n", kind, what);
    std::fflush(stdout);
    std::_Exit(0);
}

using einvit::Shape;
using einvit::Tensor;

int main(int argc, char** argv) {
    const std::size_t before = heap_allocations();
    if (argc > 1 && std::strcmp(argv[1], "raise") == 0) {
        // a product with no scratch lent (no ScratchScope) needs a packing buffer from the heap
        alignas(64) static float a[64 * 64], b[64 * 64], c[64 * 64];
        einvit::gemm::multiply(einvit::cpu{}, 64, 64, 64, einvit::gemm::Strided<float>{a, 64, 1},
                               einvit::gemm::Strided<float>{b, 64, 1}, c, 64);
        std::printf("the product returned\n");
        return 1;
    }
    // a tensor on the heap: an out_of_memory error naming the shape and the build
    auto heap = Tensor<float, Shape<4, 8>>::try_create();
    expect(!heap.has_value(), "a heap tensor is an error without a heap");
    if (!heap) {
        std::printf("try_create: %s\n", heap.failure().what());
        expect(heap.failure().kind() == einvit::errc::out_of_memory, "the error is out_of_memory");
        expect(std::strstr(heap.failure().what(), "(4, 8)") && std::strstr(heap.failure().what(), "EINVIT_NO_HEAP"),
               "the error names the shape and the build");
    }
    // an arena, expressions and a product with lent scratch work
    einvit::StaticArena<1 << 16> arena;
    auto x = Tensor<float, Shape<16, 32>>::try_create(arena);
    auto w = Tensor<float, Shape<32, 24>>::try_create(arena);
    expect(x.has_value() && w.has_value(), "tensors in an arena");
    if (x && w) {
        for (std::size_t i = 0; i < 16 * 32; ++i) x->data()[i] = static_cast<float>(i % 7) - 3.0f;
        for (std::size_t i = 0; i < 32 * 24; ++i) w->data()[i] = static_cast<float>(i % 5) * 0.25f;
        // every slot of the kernels' scratch lent, generously for so small a product
        static constexpr einvit::ScratchPlan<float> plan = [] {
            einvit::ScratchPlan<float> p;
            for (std::size_t s = 0; s < einvit::gemm::detail::scratch_slots; ++s) p.need(s, 4096);
            return p;
        }();
        alignas(64) static float y[16 * 24], scratch[plan.elements()];
        {
            const einvit::ScratchScope<float> lend(plan, scratch);
            einvit::gemm::multiply(einvit::cpu{}, 16, 24, 32, einvit::gemm::Strided<float>{x->data(), 32, 1},
                                   einvit::gemm::Strided<float>{w->data(), 24, 1}, y, 24);
        }
        bool same = true;
        for (std::size_t i = 0; i < 16; ++i)
            for (std::size_t j = 0; j < 24; ++j) {
                double want = 0;
                for (std::size_t k = 0; k < 32; ++k) want += double(x->data()[i * 32 + k]) * w->data()[k * 24 + j];
                same = same && std::fabs(y[i * 24 + j] - want) <= 1e-4 * (1 + std::fabs(want));
            }
        expect(same, "a product with lent scratch equals the reference");
    }
    expect(heap_allocations() == before, "nothing called operator new");
    std::printf("no_heap: %s\n", failures() ? "FAILED" : "ok");
    return failures() ? 1 : 0;
}
