// Run-time views of shape facts (the compile-time ones live in tests/static/).
#include <doctest/doctest.h>

#include <string>

#include <einvit/einvit.hpp>

using einvit::Shape;

TEST_CASE("shapes print as people write them") {
    CHECK(einvit::to_string<Shape<1, 197, 768>>() == "(1, 197, 768)");
    CHECK(einvit::to_string<Shape<3>>() == "(3,)");
    CHECK(einvit::to_string<Shape<>>() == "()");
}

TEST_CASE("axes normalise like numpy's") {
    CHECK(einvit::normalize_axis(-1, 3) == 2);
    CHECK(einvit::normalize_axis(0, 3) == 0);
    CHECK(einvit::normalize_axis(-3, 3) == 0);
    CHECK(einvit::normalize_axis(3, 3) == 3);   // out of range -> rank
    CHECK(einvit::normalize_axis(-4, 3) == 3);
}

TEST_CASE("the instruction set in use is named") {
    const std::string isa = einvit::simd::instruction_set();
    CHECK(!isa.empty());
    MESSAGE("einvit kernels use " << isa << " (" << einvit::simd::width<float> << " floats per packet)");
}

TEST_CASE("errors carry their kind and message through result") {
    einvit::result<int> good = 3;
    CHECK(good.has_value());
    CHECK(good.value() == 3);
    einvit::result<int> bad = einvit::error(einvit::errc::format, "header is 3 bytes long");
    CHECK_FALSE(bad.has_value());
    CHECK(bad.failure().kind() == einvit::errc::format);
    CHECK_THROWS_WITH_AS((void)bad.value(), "header is 3 bytes long", einvit::error);
    CHECK(std::string(einvit::to_string(einvit::errc::io)) == "i/o error");
}
