// libFuzzer target: the safetensors reader on arbitrary bytes. A file that validates has every
// tensor read (every byte of every tensor, converted to float where its dtype is floating point),
// so a bounds error anywhere in validation or reading shows under AddressSanitizer. The same bytes
// are also read as a sharded checkpoint's index (parse_shard_index): an index it accepts names only
// plain file names beside it, every tensor in one of its shards. Run with tools/fuzz.sh.
#include <einvit/einvit.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const einvit::io::ShardIndex index =
        einvit::io::parse_shard_index(std::string_view(reinterpret_cast<const char*>(data), size));
    if (index.fault == einvit::io::IndexFault::none) {
        for (const std::string& shard : index.shards)
            if (!einvit::io::plain_file_name(shard)) std::abort();  // an index must not reach another folder
        for (const auto& tensor : index.tensors)
            if (tensor.second >= index.shards.size()) std::abort();
    } else if (index.detail.empty()) {
        std::abort();  // every refusal says why
    }
    auto file = einvit::io::SafeTensors::try_from_memory(data, size, "fuzz");
    if (!file) return 0;
    const auto& f = file.value();
    std::vector<float> values;
    volatile std::uint8_t sink = 0;
    for (const auto& t : f.tensors()) {
        const std::uint8_t* bytes = f.bytes(t);
        for (std::uint64_t i = 0; i < t.end - t.begin; ++i) sink = static_cast<std::uint8_t>(sink ^ bytes[i]);
        switch (t.dtype) {
            case einvit::io::DType::f32:
            case einvit::io::DType::f16:
            case einvit::io::DType::bf16:
            case einvit::io::DType::f64:
                values.resize(static_cast<std::size_t>(t.elements()));
                f.read_as_float(t, values.data());
                break;
            default: break;
        }
        (void)f.find(t.name);
    }
    return 0;
}
