// Tensor, TensorView, arenas and element access.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <einvit/einvit.hpp>

#include "alloc_counter.hpp"
#include "test_util.hpp"

using einvit::Shape;
using einvit::Tensor;
using einvit::TensorView;

TEST_CASE_TEMPLATE("a new tensor is zeroed, 64-byte aligned and row-major", T, float, double, std::int32_t, std::int64_t) {
    Tensor<T, Shape<3, 5, 7>> t;
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
    CHECK(t.size() == 105);
    CHECK(t.rank() == 3);
    CHECK(t.extent(1) == 5);
    CHECK(t.owns_heap_storage());
    for (T v : t) CHECK(v == T(0));
    t(2, 4, 6) = T(9);
    t(1, 0, 3) = T(4);
    CHECK(t.data()[2 * 35 + 4 * 7 + 6] == T(9));
    CHECK(t.data()[1 * 35 + 3] == T(4));
    const auto& ct = t;
    CHECK(ct(1, 0, 3) == T(4));
}

// The VmFlags line of the mapping in /proc/self/smaps that holds `p`, or "" where there is none.
static std::string mapping_flags(const void* p) {
    std::ifstream smaps("/proc/self/smaps");
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        std::uintptr_t lo = 0, hi = 0;
        char dash = 0;
        std::istringstream head(line);
        if (head >> std::hex >> lo >> dash >> hi && dash == '-') inside = lo <= addr && addr < hi;
        else if (inside && line.rfind("VmFlags:", 0) == 0) return line;
    }
    return {};
}

TEST_CASE("a tensor of 4 MiB or more starts on a 2 MiB boundary, its whole 2 MiB pages advised as huge pages") {
    constexpr std::size_t n = (std::size_t{4} << 20) / sizeof(float) + 5;  // 4 MiB and 20 bytes
    static_assert(einvit::detail::heap_alignment(n * sizeof(float)) == std::size_t{2} << 20);
    static_assert(einvit::detail::heap_alignment((std::size_t{4} << 20) - 1) == einvit::alignment);
    auto big = std::make_unique<Tensor<float, Shape<n>>>();
    CHECK(reinterpret_cast<std::uintptr_t>(big->data()) % (std::size_t{2} << 20) == 0);
    CHECK((*big)(n - 1) == 0.0f);
    (*big)(n - 1) = 1.0f;
    Tensor<float, Shape<1000>> small;  // freed with the alignment it was allocated with (ASan checks)
    CHECK(reinterpret_cast<std::uintptr_t>(small.data()) % 64 == 0);
#if defined(__linux__)
    // The kernel marks a range advised MADV_HUGEPAGE with "hg" (where it has transparent huge pages).
    // (Only the advice given now is checked there: the kernel keeps a range's advice after the block
    // in it is freed, so the page past this tensor's end may show "hg" from an earlier block; that the
    // advice stops at the last whole page is huge_page_span's check, below.)
    if (std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled")) {
        const std::string flags = mapping_flags(big->data());
        INFO("VmFlags of the tensor's mapping: " << flags);
        CHECK(flags.find(" hg") != std::string::npos);
    }
#endif
    const auto start = reinterpret_cast<std::uintptr_t>(big->data());
    CHECK(einvit::detail::huge_page_span(start, n * sizeof(float)) == std::size_t{4} << 20);
    CHECK(einvit::detail::huge_page_span(start, (std::size_t{2} << 20) - 1) == 0);
    CHECK(einvit::detail::huge_page_span(start + 64, n * sizeof(float)) == 0);
}

TEST_CASE("at() checks every index and names it with the shape") {
    Tensor<float, Shape<2, 3>> t;
    t.at(1, 2) = 5.0f;
    CHECK(t(1, 2) == 5.0f);
    CHECK_THROWS_AS((void)t.at(2, 0), einvit::error);
    CHECK_THROWS_AS((void)t.at(0, -1), einvit::error);
    try {
        (void)t.at(1, 3);
        FAIL("at(1, 3) did not raise");
    } catch (const einvit::error& e) {
        CHECK(e.kind() == einvit::errc::out_of_range);
        CHECK(std::string(e.what()) == "index (1, 3) is out of range for a tensor of shape (2, 3)");
    }
    // any integral index, a char or a bool one too, is checked and named as a number
    const char row = 2;
    try {
        (void)t.at(row, true);
        FAIL("at(char 2, true) did not raise");
    } catch (const einvit::error& e) {
        CHECK(std::string(e.what()) == "index (2, 1) is out of range for a tensor of shape (2, 3)");
    }
    const std::size_t huge = std::size_t(-1);
    CHECK_THROWS_WITH_AS((void)t.at(0, huge), "index (0, 18446744073709551615) is out of range for a tensor of shape (2, 3)",
                         einvit::error);
}

TEST_CASE("an error's message is built without the heap: parts, integers in decimal, long text cut with ...") {
    using einvit::message;
    einvit_test::AllocationScope scope;
    message m("index (", 1, ", ", std::size_t{3}, ") of ", -42, ": ", std::numeric_limits<long long>::min(), " ",
              std::numeric_limits<unsigned long long>::max(), " ", std::int8_t{-128}, " ", std::uint16_t{65535}, " ", 0);
    CHECK(scope.count() == 0);
    CHECK(std::string(m.c_str()) ==
          "index (1, 3) of -42: -9223372036854775808 18446744073709551615 -128 65535 0");
    CHECK(m.size() == m.view().size());
    m += std::string_view("; more");
    m.append(" and ", 7u);
    CHECK(std::string(m.c_str()).ends_with("; more and 7"));
    CHECK(message().empty());
    CHECK(message(static_cast<const char*>(nullptr)).empty());

    // at capacity the text ends in "...", and nothing more is taken
    const std::string long_text(message::capacity + 50, 'x');
    message cut("abc", long_text);
    CHECK(cut.size() == message::capacity);
    CHECK(cut.view().substr(0, 3) == "abc");
    CHECK(cut.view().substr(message::capacity - 3) == "...");
    CHECK(cut.c_str()[message::capacity] == '\0');
    cut += "tail";
    CHECK(cut.size() == message::capacity);
    CHECK(cut.view().substr(message::capacity - 3) == "...");
    // text that fills it exactly is not cut; anything more then ends it in "...", in place of its last
    const std::string exact(message::capacity, 'y');
    message full(exact);
    CHECK(full.view() == exact);
    full += "z";
    CHECK(full.size() == message::capacity);
    CHECK(full.view() == exact.substr(0, message::capacity - 3) + "...");
    // with one or two characters of room left, the same: three dots at the end, never one or two
    for (std::size_t left : {1u, 2u, 3u, 4u}) {
        message near(std::string(message::capacity - left, 'w'));
        near += "abcdef";
        CHECK(near.size() == message::capacity);
        CHECK(near.view().substr(message::capacity - 3) == "...");
        CHECK(near.view().substr(0, message::capacity - 3).find_first_not_of('w') ==
              (left > 3 ? message::capacity - left : std::string_view::npos));
    }

    // an error carries it; raise with parts makes the same text
    const einvit::error e(einvit::errc::invalid_argument, m);
    CHECK(std::string(e.what()) == m.c_str());
    try {
        einvit::raise(einvit::errc::format, "table ", 3, " of ", 7);
        FAIL("raise did not raise");
    } catch (const einvit::error& raised) {
        CHECK(raised.kind() == einvit::errc::format);
        CHECK(std::string(raised.what()) == "table 3 of 7");
    }
    const auto r = einvit::failure<int>(einvit::errc::io, "read ", 10, " of ", 20, " bytes");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.failure().kind() == einvit::errc::io);
    CHECK(std::string(r.failure().what()) == "read 10 of 20 bytes");
}

TEST_CASE("tensors copy deeply and move their buffer") {
    Tensor<float, Shape<4, 4>> a;
    std::iota(a.begin(), a.end(), 1.0f);
    Tensor<float, Shape<4, 4>> b = a;  // deep copy
    CHECK(b.data() != a.data());
    CHECK(b(3, 3) == 16.0f);
    b(0, 0) = -1.0f;
    CHECK(a(0, 0) == 1.0f);

    const float* storage = a.data();
    Tensor<float, Shape<4, 4>> c = std::move(a);
    CHECK(c.data() == storage);
    CHECK(a.data() == nullptr);  // NOLINT: moved-from state is part of the contract
    a = c;                       // a moved-from tensor takes fresh storage when assigned
    CHECK(a.data() != nullptr);
    CHECK(a(2, 1) == 10.0f);

    // a moved-from tensor takes fresh storage when assigned an expression or a value too, and refuses
    // a compound assignment, which would read the values it no longer has
    Tensor<float, Shape<4, 4>> e = std::move(a), f = std::move(b);
    a = e + e;
    CHECK(a(2, 1) == 20.0f);
    b = 2.5f;
    CHECK(b(3, 3) == 2.5f);
    Tensor<float, Shape<4, 4>> g = std::move(a);
    CHECK_THROWS_WITH_AS(a += g, doctest::Contains("moved from"), einvit::error);
    (void)f;

    Tensor<float, Shape<4, 4>> d;
    d = std::move(c);
    CHECK(d.data() == storage);
    static_assert(std::is_nothrow_move_constructible_v<Tensor<float, Shape<4, 4>>>);
    static_assert(std::is_nothrow_move_assignable_v<Tensor<float, Shape<4, 4>>>);
}

TEST_CASE("a tensor placed in an arena never touches the heap") {
    alignas(64) static std::byte buffer[4096];
    einvit::Arena arena(buffer + 8, sizeof(buffer) - 8);  // deliberately misaligned start
    einvit_test::AllocationScope scope;
    {
        Tensor<float, Shape<10, 10>> a(arena);  // 400 bytes -> 448 with padding
        Tensor<double, Shape<3>> b(arena);
        CHECK(scope.count() == 0);
        CHECK_FALSE(a.owns_heap_storage());
        CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % 64 == 0);
        CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 64 == 0);
        CHECK(reinterpret_cast<std::byte*>(a.data()) >= buffer);
        CHECK(reinterpret_cast<std::byte*>(b.data() + 3) <= buffer + sizeof(buffer));
        a = 3.0f;
        b = 1.5;
        Tensor<float, Shape<10, 10>> c(arena);
        c = a * a + 1.0f;
        CHECK(c(9, 9) == 10.0f);
        CHECK(scope.count() == 0);
    }
    CHECK(scope.count() == 0);
    CHECK(arena.used() == 56 + 448 + 64 + 448);  // 56 bytes to reach alignment, then padded blocks
}

TEST_CASE("an arena that is full reports how much was asked and how much is left") {
    static einvit::StaticArena<1024> arena;
    arena.reset();
    auto ok = Tensor<float, Shape<128>>::try_create(arena);  // 512 bytes
    REQUIRE(ok.has_value());
    auto too_big = Tensor<float, Shape<200>>::try_create(arena);  // 800 bytes, 512 left
    REQUIRE_FALSE(too_big.has_value());
    CHECK(too_big.failure().kind() == einvit::errc::out_of_memory);
    CHECK(std::string(too_big.failure().what()) == "arena exhausted: 832 bytes requested, 512 of 1024 left");
    CHECK_THROWS_AS((Tensor<float, Shape<200>>(arena)), einvit::error);
    CHECK(arena.high_water() == 512);
    arena.reset();
    CHECK(arena.used() == 0);
    CHECK(Tensor<float, Shape<200>>::try_create(arena).has_value());
    static_assert(einvit::arena_bytes<float, Shape<200>> == 832);
    // a request that would round up past SIZE_MAX (to 0) is refused, not taken as nothing
    const std::size_t used = arena.used();
    for (std::size_t huge : {std::size_t(-1), std::size_t(-1) - 10, std::size_t(-1) - 63}) {
        auto r = arena.try_allocate(huge);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.failure().kind() == einvit::errc::out_of_memory);
    }
    CHECK(arena.used() == used);
    static_assert(einvit::arena_bytes_for<float>(std::size_t(-1) / 4 + 1) == std::size_t(-1));
    static_assert(einvit::arena_bytes_for<float>(16) == 64);
}

TEST_CASE("views read and write someone else's memory, with any static strides") {
    std::vector<float> storage(6);
    std::iota(storage.begin(), storage.end(), 0.0f);
    TensorView<float, Shape<2, 3>> v(storage.data());
    CHECK(v(1, 0) == 3.0f);
    v(0, 2) = 42.0f;
    CHECK(storage[2] == 42.0f);

    TensorView<const float, Shape<2, 3>> cv = v;  // read-only from mutable
    CHECK(cv(0, 2) == 42.0f);
    static_assert(!std::is_assignable_v<decltype(cv(0, 0)), float>);

    // The transpose of a row-major (2, 3) matrix, as a (3, 2) view with strides (1, 3).
    TensorView<float, Shape<3, 2>, einvit::cpu, einvit::Strides<1, 3>> t(storage.data());
    CHECK_FALSE(t.is_contiguous());
    CHECK(t(2, 1) == storage[5]);
    CHECK(t(2, 0) == 42.0f);

    Tensor<float, Shape<3, 2>> copied = t;  // evaluating a strided view
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 2; ++j) CHECK(copied(i, j) == storage[j * 3 + i]);

    t = copied * 2.0f;  // writing through a strided view
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 2; ++j) CHECK(storage[j * 3 + i] == 2.0f * copied(i, j));

    auto tv = copied.view();
    tv(0, 0) = -7.0f;
    CHECK(copied(0, 0) == -7.0f);
    const auto& cc = copied;
    static_assert(std::is_same_v<decltype(cc.view()), TensorView<const float, Shape<3, 2>>>);
}

TEST_CASE("assigning a view to a view writes elements, copying it copies the pointer") {
    std::vector<int> a(4, 1), b(4, 2);
    TensorView<int, Shape<4>> va(a.data()), vb(b.data());
    TensorView<int, Shape<4>> alias = va;
    CHECK(alias.data() == a.data());
    va = vb;
    CHECK(a == std::vector<int>(4, 2));
    CHECK(va.data() == a.data());
}

#if EINVIT_CHECK_BOUNDS
TEST_CASE("element access is bounds-checked in debug builds") {
    Tensor<float, Shape<2, 2>> t;
    CHECK_THROWS_AS((void)t(2, 0), einvit::error);
}
#endif
