// einvit/core/memory.hpp — where tensor storage comes from: the aligned heap, or a caller's arena.
//
// Owning tensors take 64-byte-aligned, zero-initialised storage from the heap, or, when constructed
// with an Arena, from a buffer the caller provides (a static array on a board with no heap). An arena
// is a bump allocator: placing a tensor is a pointer increment, nothing is freed until reset().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"

#if defined(__linux__) && __has_include(<sys/mman.h>)
#include <sys/mman.h>
#define EINVIT_HAS_MADVISE_HUGEPAGE 1
#else
#define EINVIT_HAS_MADVISE_HUGEPAGE 0
#endif

namespace einvit::inline EINVIT_ABI {

/// Rounds n up to a multiple of einvit::alignment.
constexpr std::size_t align_up(std::size_t n) noexcept { return (n + alignment - 1) / alignment * alignment; }

/// Bytes an arena spends on a tensor of `count` elements of T: its data rounded up to the alignment;
/// SIZE_MAX (which no arena holds) when that does not fit in a size_t.
template <class T>
constexpr std::size_t arena_bytes_for(std::size_t count) noexcept {
    constexpr std::size_t max = static_cast<std::size_t>(-1);
    if (count > (max - (alignment - 1)) / sizeof(T)) return max;
    return align_up(count * sizeof(T));
}

/// Bytes an arena needs to hold one tensor of each of the given (element type, shape) pairs, e.g.
/// `arena_bytes<float, Shape<197, 768>>`: the compile-time memory plan of a fixed set of tensors.
template <class T, class S>
inline constexpr std::size_t arena_bytes = arena_bytes_for<T>(S::size());

namespace detail {

// Blocks of at least this many bytes (packed weights, large activations) start on a 2 MiB boundary,
// and the whole 2 MiB pages inside them are offered to the kernel as huge pages. A forward pass streams
// every weight once: with 4 KiB pages that is a TLB miss every 4 KiB, some 85 000 a pass for ViT-B/16.
// Only whole pages inside the block are advised, so resident memory does not grow.
inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;
inline constexpr std::size_t huge_block_bytes = 2 * huge_page_bytes;

constexpr std::size_t heap_alignment(std::size_t bytes) noexcept {
    return bytes >= huge_block_bytes ? huge_page_bytes : alignment;
}

// The bytes from address p of a block of `bytes` bytes that are advised as huge pages: its whole
// 2 MiB pages when it starts on one, none otherwise (never the partial page past its end).
constexpr std::size_t huge_page_span(std::uintptr_t p, std::size_t bytes) noexcept {
    return p % huge_page_bytes == 0 ? bytes / huge_page_bytes * huge_page_bytes : 0;
}

inline void advise_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#if EINVIT_HAS_MADVISE_HUGEPAGE && defined(MADV_HUGEPAGE)
    const std::size_t whole = huge_page_span(reinterpret_cast<std::uintptr_t>(p), bytes);
    if (whole != 0) (void)::madvise(p, whole, MADV_HUGEPAGE);  // a hint: refused or not, the memory is the same
#endif
}

// Aligned heap storage, zeroed unless asked not to. Returns nullptr when the heap is exhausted
// (callers report it), and always in a build without one (EINVIT_NO_HEAP: nothing is called, so
// nothing of an allocator is linked). Free it with heap_free and the same byte count.
inline void* heap_allocate([[maybe_unused]] std::size_t bytes, [[maybe_unused]] bool zero = true) noexcept {
#if !EINVIT_HEAP
    return nullptr;
#else
    if (bytes == 0) return nullptr;
    const std::size_t align = heap_alignment(bytes);
    void* p = ::operator new(bytes, std::align_val_t{align}, std::nothrow);
    if (p && align == huge_page_bytes) advise_huge_pages(p, bytes);
    if (p && zero) std::memset(p, 0, bytes);
    return p;
#endif
}

inline void heap_free([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#if EINVIT_HEAP
    if (p) ::operator delete(p, std::align_val_t{heap_alignment(bytes)});
#endif
}

// What an out_of_memory error adds in a build without a heap.
inline constexpr const char* no_heap_note =
    EINVIT_HEAP ? "" : " (this build has no heap, EINVIT_NO_HEAP: use an arena, memory you own, or scratch lent by a "
                       "ScratchScope, as a model's forward_into does)";

// A unique_ptr deleter for a heap_allocate block of `bytes` bytes. With 0 bytes (never a heap block:
// heap_allocate(0) gives null) it frees nothing, for a pointer into memory someone else owns.
struct HeapFree {
    std::size_t bytes = 0;
    void operator()(void* p) const noexcept {
        if (bytes) heap_free(p, bytes);
    }
};

}  // namespace detail

/// A bump allocator over a caller-provided buffer. Tensors constructed with an arena live in it and
/// never touch the heap; their storage is reclaimed all at once by reset(). The arena neither owns
/// nor frees the buffer, and must outlive every tensor placed in it.
class Arena {
public:
    /// An arena over `bytes` bytes at `buffer`. The buffer need not be aligned; the first
    /// allocation skips to the next 64-byte boundary.
    Arena(void* buffer, std::size_t bytes) noexcept : base_(static_cast<std::byte*>(buffer)), capacity_(bytes) {}

    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    /// Zeroed, 64-byte-aligned room for `bytes` bytes, or an out_of_memory error naming the shortfall.
    /// (Out of line: inlined into a caller whose buffer and request are constants, g++ 12 warns of a
    /// memset past the buffer on the path the check has closed.)
    [[nodiscard]] EINVIT_NOINLINE result<void*> try_allocate(std::size_t bytes) {
        const auto base = reinterpret_cast<std::uintptr_t>(base_);
        const std::size_t start = static_cast<std::size_t>(align_up(base + used_) - base);
        // a request within alignment - 1 of SIZE_MAX would round up to 0: refused as larger than any arena
        const std::size_t need = bytes > static_cast<std::size_t>(-1) - (alignment - 1) ? static_cast<std::size_t>(-1) : align_up(bytes);
        const std::size_t room = start > capacity_ ? 0 : capacity_ - start;
        if (start > capacity_ || need > room)
            return failure<void*>(errc::out_of_memory, "arena exhausted: ", need, " bytes requested, ", room, " of ", capacity_, " left");
        void* p = base_ + start;
        std::memset(p, 0, need);
        used_ = start + need;
        if (used_ > high_water_) high_water_ = used_;
        return p;
    }

    /// Like try_allocate, but raises the error.
    [[nodiscard]] void* allocate(std::size_t bytes) { return try_allocate(bytes).value(); }

    /// Bytes taken so far, alignment padding included.
    [[nodiscard]] std::size_t used() const noexcept { return used_; }
    /// Size of the buffer.
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    /// The most bytes ever taken at once since construction.
    [[nodiscard]] std::size_t high_water() const noexcept { return high_water_; }
    /// Forgets every allocation; tensors placed in the arena must no longer be used.
    void reset() noexcept { used_ = 0; }

private:
    std::byte* base_;
    std::size_t capacity_;
    std::size_t used_ = 0;
    std::size_t high_water_ = 0;
};

/// An arena that carries its own buffer of `Bytes` bytes. Put it in static storage (a global or a
/// `static` local) on targets with no heap; never on the stack, where it would not fit.
template <std::size_t Bytes>
class StaticArena : public Arena {
public:
    StaticArena() noexcept : Arena(storage_, Bytes) {}

private:
    alignas(alignment) std::byte storage_[Bytes];
};

}  // namespace einvit
