// Counts calls to the global operator new, for the no_heap example.
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> g_calls{0};
void* take(std::size_t n, std::size_t align) {
    g_calls.fetch_add(1, std::memory_order_relaxed);
    if (align <= alignof(std::max_align_t)) return std::malloc(n ? n : 1);
    return std::aligned_alloc(align, (n + align - 1) / align * align);
}

[[noreturn]] void out_of_memory() {
#if defined(__cpp_exceptions)
    throw std::bad_alloc();
#else
    std::abort();  // built with -fno-exceptions, as on a bare-metal target
#endif
}
}  // namespace

std::size_t heap_allocations() noexcept { return g_calls.load(std::memory_order_relaxed); }

void* operator new(std::size_t n) {
    if (void* p = take(n, 0)) return p;
    out_of_memory();
}
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = take(n, static_cast<std::size_t>(a))) return p;
    out_of_memory();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return take(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
