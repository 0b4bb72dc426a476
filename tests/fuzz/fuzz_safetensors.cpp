// libFuzzer target: the safetensors reader on arbitrary bytes. A file that validates has every
// tensor read (every byte of every tensor, converted to float where its dtype is floating point),
// so a bounds error anywhere in validation or reading shows under AddressSanitizer. Run with
// tools/fuzz.sh.
#include <einvit/einvit.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
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
