// The safetensors reader: a valid file in every float dtype, and one handcrafted file per class of
// fault, each giving its own Fault and a message naming the file and the tensor.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <einvit/io/safetensors.hpp>
#include <string>
#include <vector>

using einvit::io::Fault;

namespace {

// A file image: 8-byte little-endian header length, the header, the data.
std::vector<std::uint8_t> file_image(const std::string& header, std::size_t data_bytes, std::uint64_t claimed_length = ~0ull) {
    std::vector<std::uint8_t> f(8 + header.size() + data_bytes, 0);
    const std::uint64_t n = claimed_length == ~0ull ? header.size() : claimed_length;
    for (int i = 0; i < 8; ++i) f[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    std::memcpy(f.data() + 8, header.data(), header.size());
    for (std::size_t i = 0; i < data_bytes; ++i) f[8 + header.size() + i] = static_cast<std::uint8_t>(i * 7 + 1);
    return f;
}

Fault fault_of(const std::vector<std::uint8_t>& f) { return einvit::io::validate(f.data(), f.size()).fault; }

std::string entry(const char* name, const char* dtype, const char* shape, std::uint64_t b, std::uint64_t e) {
    return std::string("\"") + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(b) + "," + std::to_string(e) + "]}";
}

}  // namespace

TEST_CASE("safetensors: a valid file with metadata, f32, f16 and bf16 tensors, an odd header length") {
    // header length 8k + 3: data not 4-byte aligned in the file, read correctly all the same
    std::string header = "{\"__metadata__\":{\"format\":\"pt\"}," + entry("a", "F32", "[2,3]", 0, 24) + "," +
                         entry("b", "F16", "[2]", 24, 28) + "," + entry("c", "BF16", "[1,2]", 28, 32) + "}";
    while (header.size() % 8 != 3) header += ' ';
    auto f = file_image(header, 32);
    const float a[6] = {1.5f, -2.0f, 0.25f, 1e-3f, 65504.0f, -0.0f};
    std::memcpy(f.data() + 8 + header.size(), a, 24);
    const std::uint16_t half[2] = {0x3C00, 0xC000};    // 1, -2
    const std::uint16_t bf[2] = {0x3F80, 0x4049};      // 1, 3.140625
    std::memcpy(f.data() + 8 + header.size() + 24, half, 4);
    std::memcpy(f.data() + 8 + header.size() + 28, bf, 4);
    auto r = einvit::io::SafeTensors::try_from_memory(f.data(), f.size(), "mem.safetensors");
    REQUIRE(r.has_value());
    const auto& st = r.value();
    CHECK(st.tensors().size() == 3);
    CHECK(st.metadata().size() == 1);
    const auto* ta = st.find("a");
    REQUIRE(ta);
    CHECK(ta->shape_string() == "[2, 3]");
    float out[6];
    st.read_as_float(*ta, out);
    CHECK(std::memcmp(out, a, 24) == 0);
    st.read_as_float(*st.find("b"), out);
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == -2.0f);
    st.read_as_float(*st.find("c"), out);
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == 3.140625f);
    CHECK(st.find("missing") == nullptr);
}

TEST_CASE("safetensors: each class of fault is its own error") {
    const std::string ok_entry = entry("w", "F32", "[2]", 0, 8);
    CHECK(fault_of(file_image("{" + ok_entry + "}", 8)) == Fault::none);
    CHECK(fault_of({0x80, 0x02, 0x7d}) == Fault::not_safetensors);                       // a pickle
    CHECK(fault_of({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}) == Fault::not_safetensors);       // a zip
    CHECK(fault_of({1, 2, 3}) == Fault::too_small);
    CHECK(fault_of(file_image("{}", 0, 200000000)) == Fault::header_too_large);
    CHECK(fault_of(file_image("{}", 0, 3)) == Fault::header_past_end);
    CHECK(fault_of(file_image("{\"w\": [1, 2", 0)) == Fault::header_not_json);
    CHECK(fault_of(file_image("{\"a\":1,\"a\":2}", 0)) == Fault::header_not_json);        // duplicate key
    CHECK(fault_of(file_image("{\"\xff\":1}", 0)) == Fault::header_not_json);             // not UTF-8
    CHECK(fault_of(file_image(std::string(100, '[') + std::string(100, ']'), 0)) == Fault::header_not_json);  // nesting
    CHECK(fault_of(file_image("[1,2]", 0)) == Fault::header_not_object);
    CHECK(fault_of(file_image("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8)) == Fault::header_not_object);
    CHECK(fault_of(file_image("{\"__metadata__\":{\"k\":1}}", 0)) == Fault::metadata_invalid);
    CHECK(fault_of(file_image("{" + entry("w", "F33", "[2]", 0, 8) + "}", 8)) == Fault::unknown_dtype);
    CHECK(fault_of(file_image("{" + entry("w", "F32", "[-2]", 0, 8) + "}", 8)) == Fault::invalid_shape);
    CHECK(fault_of(file_image("{" + entry("w", "F32", "[2.5]", 0, 8) + "}", 8)) == Fault::invalid_shape);
    CHECK(fault_of(file_image("{" + entry("w", "F32", "[1,1,1,1,1,1,1,1,2]", 0, 8) + "}", 8)) == Fault::invalid_shape);
    CHECK(fault_of(file_image("{" + entry("w", "F32", "[2]", 8, 0) + "}", 8)) == Fault::invalid_offsets);
    // wrap-around: products that overflow 64 bits to small numbers
    CHECK(fault_of(file_image("{" + entry("w", "F32", "[2,18446744073709551614]", 0, 8) + "}", 8)) == Fault::size_overflow);
    CHECK(fault_of(file_image("{" + entry("w", "F32", "[4294967296,4294967296]", 0, 0) + "}", 0)) == Fault::size_overflow);
    CHECK(fault_of(file_image("{" + entry("w", "F32", "[3]", 0, 8) + "}", 8)) == Fault::size_mismatch);
    CHECK(fault_of(file_image("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}", 12)) ==
          Fault::offsets_not_contiguous);  // a gap
    CHECK(fault_of(file_image("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[1]", 4, 8) + "}", 8)) ==
          Fault::offsets_not_contiguous);  // an overlap
    CHECK(fault_of(file_image("{" + ok_entry + "}", 9)) == Fault::data_size_mismatch);  // a trailing byte
    CHECK(fault_of(file_image("{" + ok_entry + "}", 7)) == Fault::data_size_mismatch);  // a missing byte
}

TEST_CASE("safetensors: errors name the file and the tensor; a missing file is an i/o error") {
    auto f = file_image("{" + entry("blocks.0.attn.qkv.weight", "F32", "[3]", 0, 8) + "}", 8);
    auto r = einvit::io::SafeTensors::try_from_memory(f.data(), f.size(), "model.safetensors");
    REQUIRE(!r.has_value());
    CHECK(r.failure().kind() == einvit::errc::format);
    const std::string what = r.failure().what();
    CHECK(what.find("model.safetensors") != std::string::npos);
    CHECK(what.find("blocks.0.attn.qkv.weight") != std::string::npos);
    auto pickle = std::vector<std::uint8_t>{0x80, 0x02, 0x7d, 0x71};
    auto rp = einvit::io::SafeTensors::try_from_memory(pickle.data(), pickle.size(), "model.pth");
    REQUIRE(!rp.has_value());
    CHECK(std::string(rp.failure().what()).find("convert it with") != std::string::npos);
    auto missing = einvit::io::SafeTensors::try_open("/nonexistent/model.safetensors");
    REQUIRE(!missing.has_value());
    CHECK(missing.failure().kind() == einvit::errc::io);
    CHECK_THROWS_AS(einvit::io::SafeTensors::open("/nonexistent/model.safetensors"), einvit::error);
}
