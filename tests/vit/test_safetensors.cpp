// The safetensors reader: a valid file in every float dtype, and one handcrafted file per class of
// fault, each giving its own Fault and a message naming the file and the tensor.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <einvit/io/safetensors.hpp>
#include <einvit/io/sharded.hpp>
#include <filesystem>
#include <limits>
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

TEST_CASE("safetensors: F64 tensors rounded to float as PyTorch's .float() does, also beyond float's range") {
    // numpy's float64 -> float32: nearest; from FLT_MAX + half its ulp on, inf (a plain cast is
    // undefined behaviour there, which UBSan's float-cast-overflow reports)
    const double values[] = {1.0 / 3.0, -2.5, 1e300, -1e300, 3.4028235677973366e+38, 3.4028235677973362e+38,
                             -3.4028235677973362e+38, 1e-50, std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN()};
    constexpr std::size_t n = sizeof values / sizeof values[0];
    std::string header = "{" + entry("d", "F64", "[10]", 0, 8 * n) + "}";
    auto f = file_image(header, 8 * n);
    std::memcpy(f.data() + 8 + header.size(), values, sizeof values);
    auto r = einvit::io::SafeTensors::try_from_memory(f.data(), f.size(), "f64.safetensors");
    REQUIRE(r.has_value());
    float out[n];
    r.value().read_as_float(*r.value().find("d"), out);
    const float inf = std::numeric_limits<float>::infinity(), max = std::numeric_limits<float>::max();
    CHECK(out[0] == 1.0f / 3.0f);
    CHECK(out[1] == -2.5f);
    CHECK(out[2] == inf);
    CHECK(out[3] == -inf);
    CHECK(out[4] == inf);   // the midpoint rounds to even: inf
    CHECK(out[5] == max);   // just below it: FLT_MAX
    CHECK(out[6] == -max);
    CHECK(out[7] == 0.0f);
    CHECK(out[8] == inf);
    CHECK(std::isnan(out[9]));
}

TEST_CASE("safetensors: each class of fault is its own error") {
    const std::string ok_entry = entry("w", "F32", "[2]", 0, 8);
    CHECK(fault_of(file_image("{" + ok_entry + "}", 8)) == Fault::none);
    CHECK(fault_of({0x80, 0x02, 0x7d}) == Fault::not_safetensors);                       // a pickle
    CHECK(fault_of({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}) == Fault::not_safetensors);       // a zip
    CHECK(fault_of({1, 2, 3}) == Fault::too_small);
    // a header of 128 or 384 bytes starts the file with 0x80 and 0x00 or 0x01, as a pickle starts: still
    // a safetensors file
    for (std::size_t length : {128u, 384u, 1408u}) {
        std::string header = "{" + ok_entry + "}";
        header.resize(length, ' ');
        const auto f = file_image(header, 8);
        REQUIRE(f[0] == 0x80);
        CHECK(fault_of(f) == Fault::none);
    }
    // a legacy torch.save file (a pickle of protocol 2, then its magic number) of some size
    std::vector<std::uint8_t> legacy{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
    legacy.resize(4096, 0x2e);
    CHECK(fault_of(legacy) == Fault::not_safetensors);
    CHECK(fault_of(file_image("{}", 0, 200000000)) == Fault::header_too_large);
    CHECK(fault_of(file_image("{}", 0, 3)) == Fault::header_past_end);
    CHECK(fault_of(file_image("{\"w\": [1, 2", 0)) == Fault::header_not_json);
    CHECK(fault_of(file_image("{\"a\":1,\"a\":2}", 0)) == Fault::duplicate_key);
    CHECK(fault_of(file_image("{" + ok_entry + ", \"w\": {\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8)) ==
          Fault::duplicate_key);  // a tensor twice: which one would be read?
    CHECK(fault_of(file_image("{\"\xff\":1}", 0)) == Fault::header_not_utf8);
    CHECK(fault_of(file_image("{\"w\xc0\xaf\":1}", 0)) == Fault::header_not_utf8);  // an overlong '/'
    CHECK(fault_of(file_image(std::string(100, '[') + std::string(100, ']'), 0)) == Fault::header_too_deep);
    CHECK(fault_of(file_image("{\"__metadata__\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8)) ==
          Fault::metadata_invalid);  // a tensor entry named __metadata__
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

TEST_CASE("safetensors: a header of very many tensors, found by name whatever their order in the file") {
    // 3000 tensors whose names run backwards against their offsets (find() searches by name)
    constexpr std::size_t n = 3000;
    std::string header = "{";
    const auto name_of = [](std::size_t k) { return std::string("t").append(std::to_string(k)); };  // g++ 12: -Wrestrict on "t" + ...
    for (std::size_t i = 0; i < n; ++i) header.append(i ? "," : "").append(entry(name_of(n - 1 - i).c_str(), "F32", "[1]", 4 * i, 4 * i + 4));
    header += "}";
    const auto f = file_image(header, 4 * n);
    const auto r = einvit::io::SafeTensors::try_from_memory(f.data(), f.size(), "many.safetensors");
    REQUIRE(r.has_value());
    for (std::size_t k = 0; k < n; ++k) {
        const auto* t = r.value().find(name_of(k));
        REQUIRE(t);
        CHECK(t->begin == 4 * (n - 1 - k));
    }
    CHECK(r.value().find("t") == nullptr);
    CHECK(r.value().find("t3000") == nullptr);
    CHECK(r.value().find("") == nullptr);
}

TEST_CASE("safetensors: a header of more than a million JSON values is refused before it takes memory fifty times its size") {
    std::string values = "[0";
    for (std::size_t i = 0; i < 1000000; ++i) values += ",0";
    values += "]";
    const auto v = einvit::io::validate(file_image(values, 0).data(), values.size() + 8);
    CHECK(v.fault == Fault::header_too_large);
    CHECK(v.detail.find("more than 1000000 JSON values") != std::string::npos);
    // an index likewise (parsed by the same reader)
    const auto index = einvit::io::parse_shard_index(R"({"weight_map": )" + values + "}");
    CHECK(index.fault == einvit::io::IndexFault::not_json);
    CHECK(index.detail.find("more than 1000000 JSON values") != std::string::npos);
}

TEST_CASE("safetensors: zero-copy views of aligned F32 tensors, copies otherwise") {
    const std::string header = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F16", "[2]", 8, 12) + "}";
    const std::size_t pad = (8 - header.size() % 8) % 8;
    auto aligned = file_image(header + std::string(pad, ' '), 12);  // the data starts on a multiple of 8
    alignas(8) std::uint8_t storage[256];
    REQUIRE(aligned.size() <= sizeof storage);
    std::memcpy(storage, aligned.data(), aligned.size());
    auto f = einvit::io::SafeTensors::try_from_memory(storage, aligned.size()).value();
    const auto view = f.view_f32(*f.find("a"));
    REQUIRE(view.size() == 2);
    CHECK(reinterpret_cast<const std::uint8_t*>(view.data()) == storage + 8 + header.size() + pad);  // no copy
    std::uint8_t data_bytes[8];  // what file_image writes as the first 8 data bytes
    for (std::size_t i = 0; i < 8; ++i) data_bytes[i] = static_cast<std::uint8_t>(i * 7 + 1);
    float want[2], copied[2];
    std::memcpy(want, data_bytes, sizeof want);
    CHECK(std::memcmp(view.data(), want, sizeof want) == 0);
    f.read_as_float(*f.find("a"), copied);
    CHECK(std::memcmp(copied, want, sizeof want) == 0);
    CHECK(f.view_f32(*f.find("b")).empty());  // F16: converted, never viewed
    auto odd = file_image(header + std::string(pad + 1, ' '), 12);  // data at an odd address
    alignas(8) std::uint8_t storage2[256];
    std::memcpy(storage2, odd.data(), odd.size());
    auto g = einvit::io::SafeTensors::try_from_memory(storage2, odd.size()).value();
    CHECK(g.view_f32(*g.find("a")).empty());
    g.read_as_float(*g.find("a"), copied);  // the copy works at any alignment
    CHECK(std::memcmp(copied, want, sizeof want) == 0);
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

// ---- sharded checkpoints ----

namespace {

using einvit::io::IndexFault;

IndexFault index_fault(const std::string& text) { return einvit::io::parse_shard_index(text).fault; }

std::string raised(const std::string& index_path) {
    try {
        einvit::io::ShardedCheckpoint::open(index_path);
    } catch (const einvit::error& e) {
        return e.what();
    }
    return "(no error)";
}

void write(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
    std::fclose(f);
}

void write(const std::string& path, const std::string& text) { write(path, std::vector<std::uint8_t>(text.begin(), text.end())); }

}  // namespace

TEST_CASE("safetensors, sharded: each class of index fault; shard names cannot leave the index's folder") {
    CHECK(index_fault(R"({"metadata": {}, "weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})") == IndexFault::none);
    const auto ok = einvit::io::parse_shard_index(R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "c": "s1.safetensors"}})");
    REQUIRE(ok.shards.size() == 2);
    CHECK(ok.tensors.size() == 3);
    CHECK(ok.tensors[2].second == 0);
    CHECK(index_fault(R"({"weight_map": {"a": "s1.safetensors")") == IndexFault::not_json);
    CHECK(index_fault(R"({"weight_map": {"a": "s1", "a": "s2"}})") == IndexFault::not_json);  // a duplicate key
    CHECK(index_fault(R"({"metadata": {}})") == IndexFault::not_object);
    CHECK(index_fault(R"({"weight_map": ["s1.safetensors"]})") == IndexFault::not_object);
    CHECK(index_fault(R"({"weight_map": {"a": 1}})") == IndexFault::not_object);
    // many distinct shard names: each found in a hash table, in the order of first use
    std::string many = R"({"weight_map": {)";
    for (std::size_t i = 0; i < 100000; ++i) {  // appended piece by piece: g++ 12 warns wrongly (-Wrestrict) on a + chain here
        many.append(i ? ",\"w" : "\"w").append(std::to_string(i)).append("\": \"s");
        many.append(std::to_string(i % 50000)).append(".safetensors\"");
    }
    const auto big = einvit::io::parse_shard_index(many + "}}");
    REQUIRE(big.fault == IndexFault::none);
    CHECK(big.shards.size() == 50000);
    CHECK(big.shards[49999] == "s49999.safetensors");
    CHECK(big.tensors[99999].second == 49999);
    CHECK(big.tensors[50001].second == 1);
    for (const char* bad : {"/etc/passwd", "../model.safetensors", "..", ".", "", "sub/model.safetensors",
                            "..\\\\model.safetensors", "C:model.safetensors", "/abs.safetensors"}) {
        INFO(bad);
        CHECK(index_fault(std::string(R"({"weight_map": {"a": ")") + bad + "\"}}") == IndexFault::shard_name_invalid);
    }
}

TEST_CASE("safetensors, sharded: a checkpoint in two files opens; a tensor in the wrong shard or an escaping name is a named error") {
    const std::string dir = std::string(EINVIT_VIT_GOLDEN_DIR) + "_sharded_test";
    std::filesystem::create_directories(dir);
    write(dir + "/s1.safetensors", file_image("{" + entry("a", "F32", "[2]", 0, 8) + "}", 8));
    write(dir + "/s2.safetensors", file_image("{" + entry("b", "F32", "[1]", 0, 4) + "," + entry("c", "F16", "[2]", 4, 8) + "}", 8));
    write(dir + "/index.json", R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"}})");
    const auto ckpt = einvit::io::ShardedCheckpoint::open(dir + "/index.json");
    CHECK(ckpt.files().size() == 2);
    CHECK(ckpt.find("c").first != nullptr);
    CHECK(ckpt.find("c").second == &ckpt.files()[1]);
    CHECK(ckpt.find("d").first == nullptr);
    write(dir + "/wrong.json", R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}})");
    CHECK(raised(dir + "/wrong.json").find("tensor 'b' is not in s1.safetensors") != std::string::npos);
    write(dir + "/unnamed.json", R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
    CHECK(raised(dir + "/unnamed.json").find("s2.safetensors holds 2 tensors, the index names 1") != std::string::npos);
    write(dir + "/escape.json", R"({"weight_map": {"a": "../golden_vit/hf_vit.safetensors"}})");
    CHECK(raised(dir + "/escape.json").find("shard name is not a plain file name") != std::string::npos);
    write(dir + "/missing_shard.json", R"({"weight_map": {"a": "s3.safetensors"}})");
    CHECK(raised(dir + "/missing_shard.json").find("s3.safetensors") != std::string::npos);
    CHECK(raised(dir + "/nonexistent.json").find("cannot open") != std::string::npos);
    // try_open: the same errors as values (for builds without exceptions), the same checkpoint when good
    for (const char* name : {"/wrong.json", "/unnamed.json", "/escape.json", "/missing_shard.json", "/nonexistent.json"}) {
        INFO(name);
        const auto tried = einvit::io::ShardedCheckpoint::try_open(dir + name);
        REQUIRE_FALSE(tried.has_value());
        CHECK(std::string(tried.failure().what()) == raised(dir + name));
    }
    const auto tried = einvit::io::ShardedCheckpoint::try_open(dir + "/index.json");
    REQUIRE(tried.has_value());
    CHECK(tried.value().files().size() == 2);
    CHECK(tried.value().find("b").second == &tried.value().files()[1]);
}

TEST_CASE("safetensors, sharded: a path's folder and file name (the index's folder, where its shards are read)") {
    using einvit::io::detail::file_name_start;
    CHECK(file_name_start("model.safetensors.index.json") == 0);
    CHECK(file_name_start("models/vit/model.safetensors.index.json") == 11);
    CHECK(file_name_start("/model.safetensors") == 1);
    CHECK(file_name_start("models/") == 7);
    CHECK(file_name_start("") == 0);
#if defined(_WIN32)
    CHECK(file_name_start("C:\\models\\vit\\model.safetensors") == 14);
    CHECK(file_name_start("C:\\models/vit\\model.safetensors") == 14);
#else
    CHECK(file_name_start("odd\\name.safetensors") == 0);  // a backslash is part of a name here
#endif
}
