// libFuzzer target: a model loaded from an arbitrary checkpoint, for every family's naming. The input is
// a safetensors file whose data may be cut short: the bytes its header's offsets reach past the input's
// end are made up here (a fixed pattern, up to 16 MiB), so that a seed can be a checkpoint's header
// alone and the fuzzer's changes fall on what the loader reads of it (names, dtypes, shapes, offsets)
// rather than on the weights' values. A file that validates is then loaded (try_load: every tensor
// found, checked, converted, resampled where the config's grid differs, and packed) as each of the
// configs below, one per family or feature; each either loads (and its weight image loads back) or
// says why not, and a load that throws, reads out of bounds or overflows is a finding. Run with
// tools/fuzz.sh; CTest replays the parity tests' checkpoints and tests/fuzz/regressions/load through
// it (fuzz_replay.load; built with -DFUZZ_LOAD_VERBOSE, the replay names each family an input loads as).
#include <einvit/einvit.hpp>

#include "../../examples/classify/fashion_mnist_config.hpp"
#include "../vit/configs.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace {

namespace vit = einvit::vit;

// The file size the header asks for: its length, then the furthest of the tensors' data_offsets (0
// where the header is not JSON of that form, or the sum overflows: the reader refuses those anyway)
std::uint64_t data_end(const std::uint8_t* data, std::size_t size) {
    if (size < 8) return 0;
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | data[i];
    if (n > size - 8) return 0;
    einvit::json::Value root;
    einvit::json::Parser parser(std::string_view(reinterpret_cast<const char*>(data + 8), static_cast<std::size_t>(n)));
    if (!parser.parse(root) || root.kind != einvit::json::Kind::object) return 0;
    std::uint64_t end = 0;
    for (const einvit::json::Value& t : root.values) {
        const einvit::json::Value* offsets = t.kind == einvit::json::Kind::object ? t.find("data_offsets") : nullptr;
        std::uint64_t e = 0;
        if (offsets && offsets->kind == einvit::json::Kind::array && offsets->items.size() == 2 && offsets->items[1].as_size(e) &&
            e > end)
            end = e;
    }
    return end > UINT64_MAX - 8 - n ? 0 : 8 + n + end;
}

// Loads `file` as a model of config C and `family`. A model that loads gives a weight image that loads
// back; a refusal has a text. Either broken is a finding (abort).
template <vit::Config C>
void load_as(const einvit::io::SafeTensors& file, vit::Family family) {
    auto model = vit::try_load<C>(file, family);
    if (!model) {
        if (!*model.failure().what()) {
            std::fprintf(stderr, "fuzz_load: a refusal without a text (family %s)\n", vit::to_string(family));
            std::abort();
        }
        return;
    }
    const std::vector<std::byte> image = model.value().weight_image();
    const std::size_t room = (image.size() + 63) / 64 * 64;
    std::unique_ptr<std::byte, decltype(&std::free)> aligned(static_cast<std::byte*>(std::aligned_alloc(64, room)), &std::free);
    if (!aligned) std::abort();
    std::memcpy(aligned.get(), image.data(), image.size());
    if (auto back = vit::VisionTransformer<C>::try_from_weight_image(aligned.get(), image.size()); !back) {
        std::fprintf(stderr, "fuzz_load: a model loaded as family %s gives a weight image that does not load: %s\n",
                     vit::to_string(family), back.failure().what());
        std::abort();
    }
#ifdef FUZZ_LOAD_VERBOSE
    std::fprintf(stderr, "loaded as family %s\n", vit::to_string(family));
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::uint64_t max_bytes = 16u << 20;
    const std::uint64_t end = data_end(data, size);
    std::vector<std::uint8_t> padded;  // the input and the data it lacks, where it lacks any
    if (end > size && end <= max_bytes) {
        padded.assign(data, data + size);
        padded.resize(static_cast<std::size_t>(end));
        for (std::size_t i = size; i < padded.size(); ++i) padded[i] = static_cast<std::uint8_t>(0x3c ^ (i * 7 & 0x0f));
        data = padded.data();
        size = padded.size();
    }
    auto file = einvit::io::SafeTensors::try_from_memory(data, size, "fuzz");
    if (!file) return 0;
    const einvit::io::SafeTensors& f = file.value();
    using namespace einvit_test;
    load_as<einvit_examples::fashion_mnist>(f, vit::Family::vit_pytorch);
    load_as<seed_mask>(f, vit::Family::vit_pytorch_seed);
    load_as<simple_sincos>(f, vit::Family::vit_pytorch_simple);
    load_as<post_norm>(f, vit::Family::torch_encoder);
    load_as<timm_resampled>(f, vit::Family::timm);
    load_as<timm_resampled_distilled>(f, vit::Family::timm);
    load_as<timm_dinov2_reg>(f, vit::Family::timm);
    load_as<timm_siglip_map>(f, vit::Family::timm);
    load_as<timm_swiglu_reg>(f, vit::Family::timm);
    load_as<torchvision_resampled>(f, vit::Family::torchvision);
    load_as<hf_vit_resampled>(f, vit::Family::hf);
    load_as<hf_vit_model_pooler>(f, vit::Family::hf);
    load_as<hf_deit_resampled>(f, vit::Family::hf_deit);
    load_as<hf_deit_model_pooler>(f, vit::Family::hf_deit);
    load_as<hf_dinov2_reg_resampled>(f, vit::Family::hf_dinov2);
    load_as<hf_dinov2_swiglu>(f, vit::Family::hf_dinov2);
    load_as<hf_siglip_resampled>(f, vit::Family::hf_siglip);
    load_as<hf_clip_resampled>(f, vit::Family::hf_clip);
    return 0;
}
