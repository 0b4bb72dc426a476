// Weight images (VisionTransformer::weight_image, from_weight_image, WeightImageFile): round trips on
// every family's layout, no allocation making a model over one, and hostile images refused with an
// error naming what does not fit, never a read outside them. Built into einvit_vit_tests and, on its
// own, into the sanitizer build (einvit_weight_image_tests).
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <einvit/einvit.hpp>
#include <einvit/vit/load.hpp>
#include <iterator>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "../unit/alloc_counter.hpp"
#include "configs.hpp"
#include "helpers.hpp"
#include "random_weights.hpp"

namespace vit = einvit::vit;
using einvit_test::distilled_post_norm;
using einvit_test::golden;
using einvit_test::mean_pooled_sincos;
using einvit_test::mnist_distilled;
const auto load_error = [](const auto& thunk) { return einvit_test::error_of(thunk); };

namespace {

// A 64-byte aligned copy of a weight image (as a memory-mapped file gives it), `shift` bytes further on.
struct AlignedImage {
    std::vector<std::byte> storage;
    std::byte* data;
    AlignedImage(const std::vector<std::byte>& image, std::size_t shift = 0) : storage(image.size() + 128) {
        const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
        data = storage.data() + (64 - address % 64) % 64 + shift;
        std::memcpy(data, image.data(), image.size());
    }
};

// The model over its own weight image gives the same logits, bit for bit, and the same image again.
template <class Model, std::size_t B = 3>
void check_image_round_trip(const Model& model) {
    const std::vector<std::byte> image = model.weight_image();
    CHECK(image.size() <= Model::weight_image_max_bytes);
    CHECK(image.size() % 64 == 0);
    const AlignedImage copy(image);
    const Model over = Model::from_weight_image(copy.data, image.size());
    CHECK(over.weights().blocks.empty());  // the image's weights, not a copy
    std::vector<float> pixels(Model::template Input<B>::size());
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>((i * 31) % 67) / 33.0f - 1.0f;
    std::vector<float> workspace(Model::template workspace_floats<B>), want(B * Model::out_dim), got(want.size());
    model.template forward_into<B>(typename Model::template Input<B>(pixels.data()), want.data(), workspace.data());
    over.template forward_into<B>(typename Model::template Input<B>(pixels.data()), got.data(), workspace.data());
    CHECK(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0);
    CHECK(over.weight_image() == image);
}

std::string image_error(const void* image, std::size_t bytes) {
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    auto r = Model::try_from_weight_image(image, bytes);
    return r ? std::string("(no error)") : std::string(r.failure().what());
}

}  // namespace

TEST_CASE("weight images: a model over its weight image gives the same logits, bit for bit, for every family's layout") {
    using Mnist = vit::VisionTransformer<vit::presets::mnist>;
    const auto mnist_file = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    check_image_round_trip(vit::load<vit::presets::mnist>(mnist_file, vit::Family::vit_pytorch));
    using Tiny = vit::VisionTransformer<vit::presets::vit_tiny_patch16_224>;
    const auto tiny_file = einvit::io::SafeTensors::open(golden("timm_vit_tiny_patch16_224.safetensors"));
    check_image_round_trip<Tiny, 1>(vit::load<vit::presets::vit_tiny_patch16_224>(tiny_file, vit::Family::timm));
    // distillation, post-norm, patch and head norms; no class token, sine-cosine positions, pre_logits
    check_image_round_trip(vit::VisionTransformer<distilled_post_norm>::try_create(einvit_test::random_weights<distilled_post_norm>()).value());
    check_image_round_trip(vit::VisionTransformer<mean_pooled_sincos>::try_create(einvit_test::random_weights<mean_pooled_sincos>()).value());
    // registers, positions for the patches alone, a norm before the blocks, no patch bias, layer scale
    using Registers = vit::VisionTransformer<einvit_test::registers_distilled>;
    check_image_round_trip(Registers::try_create(einvit_test::random_weights<einvit_test::registers_distilled>()).value());
    const auto dinov2 = einvit::io::SafeTensors::open(golden("timm_dinov2_reg_features.safetensors"));
    check_image_round_trip(vit::load<einvit_test::timm_dinov2_reg>(dinov2, vit::Family::timm));
    const auto norm_pre = einvit::io::SafeTensors::open(golden("timm_reg_norm_pre.safetensors"));
    check_image_round_trip(vit::load<einvit_test::timm_reg_norm_pre>(norm_pre, vit::Family::timm));
    // SwiGLU MLPs: fc1 twice as wide as fc2's input (its rows the gate's, then the value's)
    const auto swiglu = einvit::io::SafeTensors::open(golden("hf_dinov2_swiglu.safetensors"));
    check_image_round_trip(vit::load<einvit_test::hf_dinov2_swiglu>(swiglu, vit::Family::hf_dinov2));
    // attention pooling: the projected query, the pool's layers and norm
    const auto siglip = einvit::io::SafeTensors::open(golden("timm_siglip_map.safetensors"));
    check_image_round_trip(vit::load<einvit_test::timm_siglip_map>(siglip, vit::Family::timm));
    const auto clip = einvit::io::SafeTensors::open(golden("hf_clip.safetensors"));  // a head without a bias
    check_image_round_trip(vit::load<einvit_test::hf_clip_small>(clip, vit::Family::hf_clip));
    using MapPrefix = vit::VisionTransformer<einvit_test::timm_map_prefix>;
    check_image_round_trip(MapPrefix::try_create(einvit_test::random_weights<einvit_test::timm_map_prefix>()).value());
    // without biases where a family has none (the image's tables for them are empty)
    vit::Weights no_bias = einvit_test::random_weights<vit::presets::mnist>();
    for (auto& b : no_bias.blocks) b.qkv.bias.clear();
    const Mnist bare = Mnist::try_create(std::move(no_bias)).value();
    check_image_round_trip(bare);
    CHECK(bare.weight_image().size() < Mnist::weight_image_max_bytes);
}

TEST_CASE("weight images: a model made over one and its first pass allocate nothing") {
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    const auto file = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    const Model loaded = vit::load<vit::presets::mnist>(file, vit::Family::vit_pytorch);
    const AlignedImage image(loaded.weight_image());
    static float pixels[2 * 28 * 28], logits[2][2 * 10], workspace[Model::workspace_floats<2>];
    for (std::size_t i = 0; i < std::size(pixels); ++i) pixels[i] = static_cast<float>(i % 23) / 23.0f;
    loaded.forward_into<2>(Model::Input<2>(pixels), logits[0], workspace);
    std::size_t allocations = 1;
    einvit::set_num_threads(1);
    std::thread([&] {
        einvit_test::AllocationScope scope;
        auto model = Model::try_from_weight_image(image.data, image.storage.size() - 128);
        if (model) model.value().forward_into<2>(Model::Input<2>(pixels), logits[1], workspace);
        allocations = scope.count();
    }).join();
    einvit::set_num_threads(einvit::detail::default_threads());
    CHECK(allocations == 0);
    CHECK(std::memcmp(logits[0], logits[1], sizeof logits[0]) == 0);
}

TEST_CASE("weight images: what does not fit is an error naming it, never a read outside the image") {
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    const auto file = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    const std::vector<std::byte> good = vit::load<vit::presets::mnist>(file, vit::Family::vit_pytorch).weight_image();
    const std::size_t size = good.size();
    const auto with = [&](std::size_t at, std::uint64_t value) {  // a copy with the 64-bit word at `at` replaced
        std::vector<std::byte> bad = good;
        std::memcpy(bad.data() + at, &value, sizeof value);
        return bad;
    };
    const auto error_of = [&](const std::vector<std::byte>& bad) {
        const AlignedImage copy(bad);
        return image_error(copy.data, bad.size());
    };
    const auto has = [](const std::string& error, const std::string& part) {
        CHECK_MESSAGE(error.find(part) != std::string::npos, error);
    };
    CHECK(error_of(good) == "(no error)");
    has(image_error(nullptr, 0), "weight image: 0 bytes, shorter than its 64-byte header");
    {
        const AlignedImage shifted(good, 16);
        has(image_error(shifted.data, size), "it must start at a 64-byte boundary (it starts 16 bytes past one)");
    }
    has(error_of(with(0, 0x1234)), "not an einvit weight image");
    has(error_of(with(8, 2)), "format version 2, this build reads version 3");  // an image of an older build
    has(error_of(with(16, einvit::gemm::nr<float> * 2)), "packed for panels of " + std::to_string(einvit::gemm::nr<float> * 2));
    has(error_of(with(24, 1)), "and depth blocks of up to 1; this build packs");
    has(error_of(with(32, 0)), "made for another model config");
    has(error_of(with(40, 3)), "3 tables, the config has");
    has(error_of(with(48, size + 64)), "truncated: " + std::to_string(size) + " bytes of the " + std::to_string(size + 64));
    has(error_of(with(48, 100)), "its header gives 100 bytes, fewer than its table of contents takes");
    has(error_of(with(56, 1)), "its reserved header word is 1, not 0");
    {
        const AlignedImage copy(good);
        has(image_error(copy.data, size - 1), "truncated");
    }
    // the first table (the patch embedding's packed weight): its count, then its offset
    has(error_of(with(64 + 8, 5)), "patch weight has 5 floats, the config needs");
    has(error_of(with(64, size)), "patch's");
    has(error_of(with(64, 64 + 4)), "not a 64-byte aligned table");
    has(error_of(with(64, 0)), "not a 64-byte aligned table after the contents");
    // a norm with the wrong size, in a block: named with its block
    vit::Weights w = einvit_test::random_weights<vit::presets::mnist>();
    const std::vector<std::byte> image = Model::try_create(std::move(w)).value().weight_image();
    std::uint64_t toc[2];
    bool named = false;
    for (std::size_t entry = 0; !named && 64 + 16 * (entry + 1) <= image.size(); ++entry) {
        std::memcpy(toc, image.data() + 64 + 16 * entry, sizeof toc);
        std::vector<std::byte> bad = image;
        const std::uint64_t count = toc[1] + 1;
        std::memcpy(bad.data() + 64 + 16 * entry + 8, &count, sizeof count);
        const std::string error = error_of(bad);
        named = error.find("blocks[2].norm2.beta has " + std::to_string(count) + " floats, the config needs 64") != std::string::npos;
    }
    CHECK(named);
    // every byte of the header and the contents changed in turn: an error or a model, never a crash
    // (the sanitizer builds run this too) and every error a weight image error
    std::size_t refused = 0, accepted = 0;
    std::uint64_t entries = 0;
    std::memcpy(&entries, good.data() + 40, sizeof entries);
    const std::size_t contents = 64 + 16 * entries;
    // exactly the image's bytes, so that a sanitizer sees a read one byte past them
    const auto exact = static_cast<std::byte*>(::operator new(size, std::align_val_t{64}));
    for (std::size_t at = 0; at < contents && at < size; ++at) {
        std::memcpy(exact, good.data(), size);
        exact[at] ^= std::byte{0x5a};
        auto model = Model::try_from_weight_image(exact, size);
        if (!model) {
            ++refused;
            CHECK(std::string(model.failure().what()).rfind("einvit::vit: weight image: ", 0) == 0);
            continue;
        }
        ++accepted;  // a changed offset that still names an aligned table inside the image
        static float pixels[28 * 28], logits[10], workspace[Model::workspace_floats<1>];
        model.value().forward_into<1>(Model::Input<1>(pixels), logits, workspace);
    }
    ::operator delete(exact, std::align_val_t{64});
    CHECK(refused > 1000);
    MESSAGE("bytes changed: " << refused << " refused, " << accepted << " accepted");
}

TEST_CASE("weight images: written to a file and mapped; errors name the file; an empty model has no image") {
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    const auto checkpoint = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    Model loaded = vit::load<vit::presets::mnist>(checkpoint, vit::Family::vit_pytorch);
    const std::string path = std::string(EINVIT_VIT_GOLDEN_DIR) + "/../weight_image_test.einvit";
    vit::WeightImageFile::write(path, loaded.weight_image());
    {
        const auto file = vit::WeightImageFile::open(path);
        CHECK(file.path() == path);
        CHECK(reinterpret_cast<std::uintptr_t>(file.data()) % 64 == 0);
        const Model mapped = Model::from_weight_image(file);
        std::vector<float> pixels(Model::Input<2>::size(), 0.5f), workspace(Model::workspace_floats<2>), want(20), got(20);
        loaded.forward_into<2>(Model::Input<2>(pixels.data()), want.data(), workspace.data());
        mapped.forward_into<2>(Model::Input<2>(pixels.data()), got.data(), workspace.data());
        CHECK(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0);
        // another config's model refuses it, naming the file
        auto other = vit::VisionTransformer<mnist_distilled>::try_from_weight_image(file);
        REQUIRE(!other);
        CHECK(std::string(other.failure().what()) == path + ": einvit::vit: weight image: made for another model config than this one");
    }
    auto missing = vit::WeightImageFile::try_open(path + ".missing");
    REQUIRE(!missing);
    CHECK(missing.failure().kind() == einvit::errc::io);
    CHECK(std::string(missing.failure().what()) == path + ".missing: cannot open: No such file or directory");
    CHECK(load_error([&] { vit::WeightImageFile::write("/nonexistent-dir/x.einvit", loaded.weight_image()); })
              .find("/nonexistent-dir/x.einvit: cannot create") == 0);
    // a moved-from model has no weights (its views went with them): no image, an error saying so
    const Model moved = std::move(loaded);
    CHECK(moved.weight_image().size() > 0);
    CHECK(load_error([&] { (void)loaded.weight_image(); }) ==
          "einvit::vit: weight_image: the model has no weights (default-constructed, or moved from)");
    std::remove(path.c_str());
}
