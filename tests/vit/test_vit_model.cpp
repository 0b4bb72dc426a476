// The model beyond parity: mismatched checkpoints give named errors and load nothing, forward_into
// allocates nothing, workspace sizes are compile-time constants, configs are checked, results do not
// depend on the thread count, and a model runs from a caller's buffer.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
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
#include <utility>
#include <vector>

#include "../unit/alloc_counter.hpp"
#include "configs.hpp"
#include "helpers.hpp"
#include "random_weights.hpp"

namespace vit = einvit::vit;
using einvit_test::distilled_post_norm;
using einvit_test::mean_pooled_sincos;
using einvit_test::mnist_distilled;

namespace {

using einvit_test::golden;
const auto load_error = [](const auto& thunk) { return einvit_test::error_of(thunk); };

// ViT-Ti/16 pooling the mean of its tokens: every layer runs on every token (no last-block shortcut)
constexpr vit::Config tiny_mean_pooled = [] {
    vit::Config c = vit::presets::vit_tiny_patch16_224;
    c.pooling = vit::Pooling::mean_all;
    return c;
}();


constexpr vit::Config tiny_depth_11 = [] {
    vit::Config c = vit::presets::vit_tiny_patch16_224;
    c.depth = 11;
    return c;
}();

// the HF model (in four shards), and two configs its checkpoint does not fit
using einvit_test::hf_small;

constexpr vit::Config hf_narrow_mlp = [] {
    vit::Config c = hf_small;
    c.mlp_dim = 64;
    return c;
}();

constexpr vit::Config hf_one_block = [] {
    vit::Config c = hf_small;
    c.depth = 1;
    return c;
}();

}  // namespace

static_assert(vit::VisionTransformer<vit::presets::vit_base_patch16_224>::T == 197);
static_assert(vit::VisionTransformer<vit::presets::deit_base_distilled_patch16_224>::T == 198);
static_assert(vit::VisionTransformer<vit::presets::mnist>::T == 17);
static_assert(vit::VisionTransformer<vit::presets::vit_huge_patch14_224>::T == 257);
// DINOv2 giant's SwiGLU MLP: fc1 makes a gate and a value for each of fc2's 4096 inputs
static_assert(vit::presets::vit_giant_patch14_dinov2.gated_mlp() && vit::presets::vit_giant_patch14_dinov2.fc1_dim() == 8192 &&
              !vit::presets::vit_base_patch16_224.gated_mlp() && vit::presets::vit_base_patch16_224.fc1_dim() == 3072);
// the workspace of a ViT-B/16 forward at batch 1: a compile-time constant (about 7 MiB of activations,
// then the kernels' scratch)
using ViTB16 = vit::VisionTransformer<vit::presets::vit_base_patch16_224>;
static_assert(ViTB16::activation_floats<1> == 197 * 768 + 196 * 768 + 197 * 2304 + 197 * 768 + 197 * 3072 + 768 + 768 + 64);
static_assert(ViTB16::workspace_bytes<1> == 4 * (ViTB16::activation_floats<1> + ViTB16::scratch_plan<1>.elements()));
static_assert(vit::config_problem(vit::Config{.image_height = 30, .patch = 7}) == vit::ConfigProblem::image_height_not_divisible_by_patch);
static_assert(vit::config_problem(vit::Config{.image_width = 30, .patch = 7}) == vit::ConfigProblem::image_width_not_divisible_by_patch);
// ... unless the partial patches are dropped, as a convolution of stride patch does: 27 x 27 patches of 14 in 384
static_assert(vit::config_problem(vit::Config{.image_height = 30, .patch = 7, .drop_partial_patches = true}) == vit::ConfigProblem::none);
static_assert(vit::config_problem(vit::Config{.image_height = 6, .patch = 7, .drop_partial_patches = true}) == vit::ConfigProblem::image_smaller_than_patch);
static_assert(vit::presets::vit_so400m_patch14_siglip_384.grid_h() == 27 && vit::presets::vit_so400m_patch14_siglip_384.patches() == 729);
static_assert(vit::VisionTransformer<vit::presets::siglip_so400m_patch14_384>::T == 729);
static_assert(vit::config_problem(vit::Config{.dim = 100, .heads = 12}) == vit::ConfigProblem::dim_not_divisible_by_heads);
static_assert(vit::config_problem(vit::Config{.pooling = vit::Pooling::cls_and_mean, .class_token = false}) == vit::ConfigProblem::cls_pooling_needs_class_token);
static_assert(vit::config_problem(vit::Config{.pooling = vit::Pooling::cls_and_mean, .head_norm = true}) ==
              vit::ConfigProblem::cls_and_mean_pooling_has_no_head_norm_or_pre_logits);
static_assert(vit::Config{.dim = 64, .pooling = vit::Pooling::cls_and_mean}.feature_dim() == 128);
static_assert(vit::config_problem(vit::presets::dinov2_base_imagenet1k_1_layer) == vit::ConfigProblem::none &&
              vit::presets::dinov2_base_imagenet1k_1_layer.feature_dim() == 1536);
static_assert(vit::config_problem(vit::presets::mnist) == vit::ConfigProblem::none);
// facebook/dinov2-with-registers-base: 1 + 4 + 16 x 16 tokens, positions for the patches (the class token's folded in)
static_assert(vit::config_problem(vit::presets::dinov2_with_registers_base_patch14_224) == vit::ConfigProblem::none &&
              vit::presets::dinov2_with_registers_base_patch14_224.tokens() == 261 &&
              vit::VisionTransformer<vit::presets::dinov2_with_registers_small_patch14_224>::NP == 256);
static_assert(vit::presets::dinov2_linear_classifier(vit::presets::dinov2_with_registers_large_patch14_224).feature_dim() == 2048);
// the giant and registers classifiers: [class token | mean] of 1536 (giant) into 1000 classes, SwiGLU kept
static_assert(vit::config_problem(vit::presets::dinov2_with_registers_giant_imagenet1k_1_layer) == vit::ConfigProblem::none &&
              vit::presets::dinov2_with_registers_giant_imagenet1k_1_layer.feature_dim() == 3072 &&
              vit::presets::dinov2_giant_imagenet1k_1_layer.gated_mlp() && vit::presets::dinov2_giant_imagenet1k_1_layer.tokens() == 257 &&
              vit::presets::dinov2_with_registers_small_imagenet1k_1_layer.tokens() == 261 &&
              vit::presets::dinov2_with_registers_small_imagenet1k_1_layer.num_classes == 1000);
static_assert(vit::config_problem(vit::Config{.layer_norm_eps = __builtin_huge_valf()}) == vit::ConfigProblem::layer_norm_eps_must_be_positive);
static_assert(vit::config_problem(vit::Config{.layer_norm_eps = 0}) == vit::ConfigProblem::layer_norm_eps_must_be_positive);
static_assert(vit::config_problem(vit::Config{.attention_scale = __builtin_nanf("")}) == vit::ConfigProblem::attention_scale_negative);
static_assert(vit::config_problem(vit::Config{.attention_scale = -__builtin_huge_valf()}) == vit::ConfigProblem::attention_scale_negative);
static_assert(vit::config_problem(vit::Config{.attention_scale = 0.125f}) == vit::ConfigProblem::none);

TEST_CASE("vit load: a checkpoint of another config or family is refused with the tensor named") {
    const auto file = einvit::io::SafeTensors::open(golden("timm_vit_tiny_patch16_224.safetensors"));
    const std::string mis_shaped = load_error([&] { (void)vit::load<vit::presets::vit_small_patch16_224>(file, vit::Family::timm); });
    CHECK(mis_shaped.find("tensor 'patch_embed.proj.weight' has shape [192, 3, 16, 16], expected [384, 3, 16, 16]") != std::string::npos);
    const std::string extra = load_error([&] { (void)vit::load<tiny_depth_11>(file, vit::Family::timm); });
    CHECK(extra.find("unexpected tensor(s)") != std::string::npos);
    CHECK(extra.find("blocks.11.") != std::string::npos);
    const std::string missing = load_error([&] { (void)vit::load<vit::presets::vit_tiny_patch16_224>(file, vit::Family::torchvision); });
    CHECK(missing.find("missing tensor 'conv_proj.weight'") != std::string::npos);
    const std::string distilled = load_error([&] { (void)vit::load<vit::presets::deit_tiny_distilled_patch16_224>(file, vit::Family::timm); });
    CHECK(distilled.find("missing tensor 'dist_token'") != std::string::npos);
    CHECK(load_error([&] { (void)vit::load<vit::presets::vit_tiny_patch16_224>(file, vit::Family::timm); }) == "(no error)");
}

TEST_CASE("vit load: registers, layer scale, positions for the patches alone, norm_pre: a config that differs is refused, naming what") {
    using einvit_test::timm_dinov2_reg;
    using einvit_test::timm_reg_norm_pre;
    const auto dinov2 = einvit::io::SafeTensors::open(golden("timm_dinov2_reg_features.safetensors"));
    CHECK(load_error([&] { (void)vit::load<timm_dinov2_reg>(dinov2, vit::Family::timm); }) == "(no error)");
    constexpr vit::Config without_scale = [] {
        vit::Config c = timm_dinov2_reg;
        c.layer_scale = false;
        return c;
    }();
    const std::string unscaled = load_error([&] { (void)vit::load<without_scale>(dinov2, vit::Family::timm); });
    CHECK(unscaled.find("unexpected tensor(s)") != std::string::npos);
    CHECK(unscaled.find("'blocks.0.ls1.gamma' [64]") != std::string::npos);
    constexpr vit::Config three_registers = [] {
        vit::Config c = timm_dinov2_reg;
        c.register_tokens = 3;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<three_registers>(dinov2, vit::Family::timm); })
              .find("tensor 'reg_token' has shape [1, 4, 64], expected [1, 3, 64]") != std::string::npos);
    constexpr vit::Config positions_for_all = [] {
        vit::Config c = timm_dinov2_reg;
        c.prefix_position = true;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<positions_for_all>(dinov2, vit::Family::timm); })
              .find("tensor 'pos_embed' has shape [1, 36, 64], expected [1, 41, 64]") != std::string::npos);
    const auto norm_pre = einvit::io::SafeTensors::open(golden("timm_reg_norm_pre.safetensors"));
    constexpr vit::Config with_patch_bias = [] {
        vit::Config c = timm_reg_norm_pre;
        c.patch_bias = true;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<with_patch_bias>(norm_pre, vit::Family::timm); })
              .find("missing tensor 'patch_embed.proj.bias' (expected shape [64])") != std::string::npos);
    constexpr vit::Config no_norm_pre = [] {
        vit::Config c = timm_reg_norm_pre;
        c.embed_norm = false;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<no_norm_pre>(norm_pre, vit::Family::timm); }).find("'norm_pre.weight' [64]") != std::string::npos);
    // the other families have none of these
    const auto tiny = einvit::io::SafeTensors::open(golden("timm_vit_tiny_patch16_224.safetensors"));
    CHECK(load_error([&] { (void)vit::load<timm_dinov2_reg>(tiny, vit::Family::torchvision); })
              .find("einvit::vit: torchvision models have no register tokens (register_tokens = 0 in the config)") == 0);
    CHECK(load_error([&] { (void)vit::load<timm_reg_norm_pre>(tiny, vit::Family::hf); })
              .find("einvit::vit: hf models have no register tokens") == 0);
    constexpr vit::Config tiny_patch_positions = [] {
        vit::Config c = vit::presets::vit_tiny_patch16_224;
        c.prefix_position = false;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<tiny_patch_positions>(tiny, vit::Family::torchvision); }) ==
          "einvit::vit: torchvision models have positions for the prefix tokens too (prefix_position = true in the config)");
    CHECK(load_error([&] { (void)vit::load<tiny_patch_positions>(tiny, vit::Family::timm); })
              .find("tensor 'pos_embed' has shape [1, 197, 192], expected [1, 196, 192]") != std::string::npos);
    constexpr vit::Config scaled_mnist = [] {
        vit::Config c = vit::presets::mnist;
        c.layer_scale = true;
        return c;
    }();
    const auto mnist = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    CHECK(load_error([&] { (void)vit::load<scaled_mnist>(mnist, vit::Family::vit_pytorch); }) ==
          "einvit::vit: vit-pytorch models have no layer scale (layer_scale = false in the config)");
    static_assert(vit::config_problem(vit::Config{.proj_out = false, .layer_scale = true}) == vit::ConfigProblem::layer_scale_needs_projection);
    // a SwiGLU MLP (DINOv2 giant's): timm's and transformers' DINOv2 only, and never beside attention pooling
    constexpr vit::Config swiglu_tiny = [] {
        vit::Config c = vit::presets::vit_tiny_patch16_224;
        c.activation = vit::Activation::swiglu;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<swiglu_tiny>(tiny, vit::Family::torchvision); }) ==
          "einvit::vit: torchvision models have no SwiGLU MLP (activation = swiglu is timm's SwiGLUPacked and transformers' "
          "DINOv2 giant's)");
    // a plain MLP's checkpoint read as a gated one: its fc1 is half as wide
    CHECK(load_error([&] { (void)vit::load<swiglu_tiny>(tiny, vit::Family::timm); })
              .find("tensor 'blocks.0.mlp.fc1.weight' has shape [768, 192], expected [1536, 192]") != std::string::npos);
    static_assert(vit::config_problem(vit::Config{.pooling = vit::Pooling::map, .activation = vit::Activation::swiglu}) ==
                  vit::ConfigProblem::swiglu_mlp_with_map_pooling);
    // transformers' DINOv2: its layer scale is lambda1; no classifier; its table resampled only for a
    // class token and positions over it, as transformers' models have
    using einvit_test::hf_dinov2_resampled;
    const auto hf_dinov2 = einvit::io::SafeTensors::open(golden("hf_dinov2_resampled.safetensors"));
    constexpr vit::Config dinov2_unscaled = [] {
        vit::Config c = hf_dinov2_resampled;
        c.layer_scale = false;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<dinov2_unscaled>(hf_dinov2, vit::Family::hf_dinov2); })
              .find("'encoder.layer.0.layer_scale1.lambda1' [64]") != std::string::npos);
    constexpr vit::Config dinov2_classifier = [] {
        vit::Config c = hf_dinov2_resampled;
        c.num_classes = 10;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<dinov2_classifier>(hf_dinov2, vit::Family::hf_dinov2); }) ==
          "einvit::vit: hf-dinov2 classifiers read the class token and the patch tokens' mean (pooling = cls_and_mean in the config)");
    constexpr vit::Config dinov2_patch_positions = [] {
        vit::Config c = hf_dinov2_resampled;
        c.prefix_position = false;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<dinov2_patch_positions>(hf_dinov2, vit::Family::hf_dinov2); }) ==
          "einvit::vit: hf-dinov2 models have positions for the prefix tokens too (prefix_position = true in the config)");
    // read as another family's: refused before any tensor is read (torchvision has no layer scale)
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_resampled>(hf_dinov2, vit::Family::torchvision); })
              .find("torchvision models have no layer scale") != std::string::npos);
    // Dinov2ForImageClassification: its tensors under "dinov2.", the classifier over [class token | patch mean]
    using einvit_test::hf_dinov2_classifier;
    const auto classifier = einvit::io::SafeTensors::open(golden("hf_dinov2_classifier.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_classifier>(classifier, vit::Family::hf_dinov2); }) == "(no error)");
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_classifier>(hf_dinov2, vit::Family::hf_dinov2); }) ==
          golden("hf_dinov2_resampled.safetensors") + ": missing tensor 'classifier.weight' (expected shape [7, 128])");
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_resampled>(classifier, vit::Family::hf_dinov2); })
              .find("unexpected tensor(s)") != std::string::npos);
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_classifier>(classifier, vit::Family::timm); }) ==
          "einvit::vit: timm models have no classifier over the class token and the patch tokens' mean (pooling = cls_and_mean is transformers' Dinov2ForImageClassification's)");
    static_assert(vit::VisionTransformer<hf_dinov2_classifier>::F == 128);  // forward's features: [class token | patch mean]
    // DINOv2 with registers: register_tokens read, no positions for them (the class token's added at load)
    using einvit_test::hf_dinov2_reg_resampled;
    const auto registers = einvit::io::SafeTensors::open(golden("hf_dinov2_reg_resampled.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_reg_resampled>(registers, vit::Family::hf_dinov2); }) == "(no error)");
    constexpr vit::Config registers_with_positions = [] {
        vit::Config c = hf_dinov2_reg_resampled;
        c.prefix_position = true;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<registers_with_positions>(registers, vit::Family::hf_dinov2); }) ==
          "einvit::vit: hf-dinov2 models with registers give the registers no position (prefix_position = false in the config: "
          "the class token's position is added to it at load)");
    constexpr vit::Config registers_without_class_token = [] {
        vit::Config c = hf_dinov2_reg_resampled;
        c.class_token = false;
        c.pooling = vit::Pooling::mean_patches;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<registers_without_class_token>(registers, vit::Family::hf_dinov2); }) ==
          "einvit::vit: hf-dinov2 models have a class token (class_token = true in the config)");
    constexpr vit::Config three_hf_registers = [] {
        vit::Config c = hf_dinov2_reg_resampled;
        c.register_tokens = 3;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<three_hf_registers>(registers, vit::Family::hf_dinov2); }).find(
              "tensor 'embeddings.register_tokens' has shape [1, 4, 64], expected [1, 3, 64]") != std::string::npos);
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_reg_resampled>(hf_dinov2, vit::Family::hf_dinov2); }) ==
          golden("hf_dinov2_resampled.safetensors") + ": missing tensor 'embeddings.register_tokens' (expected shape [1, 4, 64])");
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_resampled>(registers, vit::Family::hf_dinov2); })
              .find("unexpected tensor(s)") != std::string::npos);
    // its classifier's base model under "dinov2_with_registers."
    using einvit_test::hf_dinov2_reg_classifier;
    const auto reg_classifier = einvit::io::SafeTensors::open(golden("hf_dinov2_reg_classifier.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_reg_classifier>(reg_classifier, vit::Family::hf_dinov2); }) == "(no error)");
    CHECK(load_error([&] { (void)vit::load<hf_dinov2_reg_classifier>(registers, vit::Family::hf_dinov2); }) ==
          golden("hf_dinov2_reg_resampled.safetensors") + ": missing tensor 'classifier.weight' (expected shape [7, 128])");
}

TEST_CASE("vit load: a position table for another grid is resampled as timm's loader does, transformers' interpolate_pos_encoding and torchvision's interpolate_embeddings (square grids only)") {
    // (the values against timm: parity's timm_resampled cases)
    using einvit_test::timm_resampled;
    const auto file = einvit::io::SafeTensors::open(golden("timm_resampled.safetensors"));  // 1 + 6 x 6 rows
    const auto model = vit::load<timm_resampled>(file, vit::Family::timm);                  // to 1 + 8 x 5
    CHECK(model.weights().pos.size() == (1 + 8 * 5) * 64);
    // the class token's row as it was; the patches' rows resampled, not copied
    const einvit::io::TensorInfo* entry = file.find("pos_embed");
    REQUIRE(entry != nullptr);
    std::vector<float> table(static_cast<std::size_t>(entry->elements()));
    file.read_as_float(*entry, table.data());
    CHECK(std::equal(table.begin(), table.begin() + 64, model.weights().pos.begin()));
    CHECK(!std::equal(table.begin() + 64, table.begin() + 128, model.weights().pos.begin() + 64));
    // 37 rows with no prefix row (positions for the patches alone) are no square grid's: refused
    constexpr vit::Config patch_positions = [] {
        vit::Config c = timm_resampled;
        c.prefix_position = false;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<patch_positions>(file, vit::Family::timm); }) ==
          golden("timm_resampled.safetensors") + ": tensor 'pos_embed' has shape [1, 37, 64], expected [1, 40, 64]");
    // torchvision's models are square: a table for 4 x 4 is resampled at 6 x 6 (as its
    // interpolate_embeddings; parity's torchvision_resampled), refused at 6 x 5
    static constexpr vit::Config torchvision_larger = [] {
        vit::Config c = vit::presets::vit(64, 2, 4, 8, 48, 11);
        c.mlp_dim = 128;
        c.representation_size = 48;
        return c;
    }();
    constexpr vit::Config torchvision_oblong = [] {
        vit::Config c = torchvision_larger;
        c.image_width = 40;
        return c;
    }();
    const auto tv = einvit::io::SafeTensors::open(golden("torchvision_pre_logits.safetensors"));
    CHECK(vit::load<torchvision_larger>(tv, vit::Family::torchvision).weights().pos.size() == (1 + 6 * 6) * 64);
    CHECK(load_error([&] { (void)vit::load<torchvision_oblong>(tv, vit::Family::torchvision); }) ==
          golden("torchvision_pre_logits.safetensors") + ": tensor 'encoder.pos_embedding' has shape [1, 17, 64], expected [1, 31, 64]");
    // transformers' ViT and DeiT resample it as interpolate_pos_encoding does in a pass (parity's
    // hf_vit_resampled, hf_deit_resampled): a 4 x 4 table at 6 x 6, and at 1 x 16 (as many patches, another
    // shape); at 4 x 4 it is taken as it is
    constexpr vit::Config hf_larger = [] {
        vit::Config c = einvit_test::hf_small;
        c.image_height = c.image_width = 48;
        return c;
    }();
    constexpr vit::Config hf_strip = [] {
        vit::Config c = einvit_test::hf_small;
        c.image_height = 8;
        c.image_width = 128;
        return c;
    }();
    const auto hf = einvit::io::SafeTensors::open(golden("hf_vit.safetensors"));
    const einvit::io::TensorInfo* hf_entry = hf.find("vit.embeddings.position_embeddings");
    REQUIRE(hf_entry != nullptr);
    std::vector<float> hf_table(static_cast<std::size_t>(hf_entry->elements()));
    hf.read_as_float(*hf_entry, hf_table.data());
    CHECK(vit::load<hf_larger>(hf, vit::Family::hf).weights().pos.size() == (1 + 6 * 6) * 64);
    const auto strip = vit::load<hf_strip>(hf, vit::Family::hf);
    REQUIRE(strip.weights().pos.size() == hf_table.size());
    CHECK(std::equal(hf_table.begin(), hf_table.begin() + 64, strip.weights().pos.begin()));  // the class token's row
    CHECK(!std::equal(hf_table.begin() + 64, hf_table.end(), strip.weights().pos.begin() + 64));
    CHECK(vit::load<einvit_test::hf_small>(hf, vit::Family::hf).weights().pos == hf_table);
    // the taps: the same size is the identity; every output's weights sum to 1, shrinking reads every row
    for (std::size_t n : {1, 4, 7}) {
        const auto same = vit::detail::antialiased_cubic_taps(n, n);
        for (std::size_t i = 0; i < n; ++i) {
            double at_i = 0, elsewhere = 0;
            for (const auto& [j, w] : same[i]) (j == i ? at_i : elsewhere) += std::fabs(w);
            CHECK(at_i == 1.0);
            CHECK(elsewhere == 0.0);
        }
    }
    for (const auto& [in, out] : {std::pair<std::size_t, std::size_t>{6, 8}, {6, 5}, {24, 3}, {3, 24}}) {
        std::vector<int> read(in, 0);
        for (const auto& taps : vit::detail::antialiased_cubic_taps(in, out)) {
            double sum = 0;
            for (const auto& [j, w] : taps) {
                REQUIRE(j < in);
                sum += w;
                read[j] += w != 0;
            }
            CHECK(std::fabs(sum - 1.0) < 1e-12);
        }
        if (in > out) CHECK(std::count(read.begin(), read.end(), 0) == 0);
    }
}

TEST_CASE("vit load: transformers' DeiT, with its teacher's classifier or without; a config of neither kind is refused") {
    // (the values against transformers: parity's hf_deit cases)
    using einvit_test::hf_deit_classifier;
    using einvit_test::hf_deit_distilled;
    const auto teacher = einvit::io::SafeTensors::open(golden("hf_deit_distilled.safetensors"));
    const auto alone = einvit::io::SafeTensors::open(golden("hf_deit_classifier.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_deit_distilled>(teacher, vit::Family::hf_deit); }) == "(no error)");
    CHECK(load_error([&] { (void)vit::load<hf_deit_classifier>(alone, vit::Family::hf_deit); }) == "(no error)");
    // each kind's classifiers named
    CHECK(load_error([&] { (void)vit::load<hf_deit_distilled>(alone, vit::Family::hf_deit); }) ==
          golden("hf_deit_classifier.safetensors") + ": missing tensor 'cls_classifier.weight' (expected shape [7, 64])");
    CHECK(load_error([&] { (void)vit::load<hf_deit_classifier>(teacher, vit::Family::hf_deit); }) ==
          golden("hf_deit_distilled.safetensors") + ": missing tensor 'classifier.weight' (expected shape [7, 64])");
    // a config of no kind: no distillation token, or a second register, or the register and no classifier
    const std::string neither =
        "einvit::vit: hf-deit models are DeiTForImageClassificationWithTeacher (distillation_token = true, num_classes > 0), "
        "DeiTForImageClassification (its distillation token, which no classifier reads, as register_tokens = 1) or "
        "DeiTModel (distillation_token = true, num_classes = 0: the class token's features; representation_size = dim: its "
        "pooler_output)";
    CHECK(load_error([&] { (void)vit::load<hf_small>(alone, vit::Family::hf_deit); }) == neither);
    constexpr vit::Config two_registers = [] {
        vit::Config c = hf_deit_classifier;
        c.register_tokens = 2;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<two_registers>(alone, vit::Family::hf_deit); }) == neither);
    constexpr vit::Config teacher_and_register = [] {
        vit::Config c = hf_deit_distilled;
        c.register_tokens = 1;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<teacher_and_register>(teacher, vit::Family::hf_deit); }) == neither);
    constexpr vit::Config register_features = [] {
        vit::Config c = hf_deit_classifier;
        c.num_classes = 0;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<register_features>(alone, vit::Family::hf_deit); }) == neither);
    static_assert(vit::presets::hf_layer_norm(vit::presets::deit_base_distilled_patch16_224).layer_norm_eps == 1e-12f);
    // read as transformers' ViT: its names are not DeiT's
    CHECK(load_error([&] { (void)vit::load<hf_small>(teacher, vit::Family::hf); }) ==
          golden("hf_deit_distilled.safetensors") + ": missing tensor 'vit.embeddings.patch_embeddings.projection.weight' (expected shape [64, 3, 8, 8])");
}

TEST_CASE("vit load: a norm the family's models do not have (patch, final, before the head) is refused by name, before any tensor") {
    const auto mnist = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    CHECK(load_error([&] { (void)vit::load<vit::presets::mnist>(mnist, vit::Family::torch_encoder); }) ==
          "einvit::vit: torch-encoder models have no patch norm (patch_norm = false in the config)");
    CHECK(load_error([&] { (void)vit::load<vit::presets::mnist>(mnist, vit::Family::torchvision); }) ==
          "einvit::vit: torchvision models have no patch norm (patch_norm = false in the config)");
    constexpr vit::Config final_norm_only = [] {
        vit::Config c = vit::presets::mnist;
        c.patch_norm = false;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<final_norm_only>(mnist, vit::Family::vit_pytorch_seed); }) ==
          "einvit::vit: vit-pytorch-seed models have no final norm (final_norm = false in the config)");
    constexpr vit::Config hf_head_norm = [] {
        vit::Config c = hf_small;
        c.head_norm = true;
        return c;
    }();
    const auto hf = einvit::io::SafeTensors::open(golden("hf_vit.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_head_norm>(hf, vit::Family::hf); }) ==
          "einvit::vit: hf models have no norm before the head (head_norm = false in the config)");
}

TEST_CASE("vit load: transformers' ViTModel, with its pooler or without; a classifier it lacks is named") {
    // (the values against transformers: parity's hf_vit_model cases)
    using einvit_test::hf_vit_model_cls;
    using einvit_test::hf_vit_model_pooler;
    const auto file = einvit::io::SafeTensors::open(golden("hf_vit_model_pooler.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_vit_model_pooler>(file, vit::Family::hf); }) == "(no error)");
    CHECK(load_error([&] { (void)vit::load<hf_vit_model_cls>(file, vit::Family::hf); }) == "(no error)");
    CHECK(load_error([&] { (void)vit::load<hf_small>(file, vit::Family::hf); }) ==
          golden("hf_vit_model_pooler.safetensors") + ": missing tensor 'classifier.weight' (expected shape [7, 64])");
    constexpr vit::Config narrow_pooler = [] {
        vit::Config c = hf_vit_model_pooler;
        c.representation_size = 32;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<narrow_pooler>(file, vit::Family::hf); }) ==
          golden("hf_vit_model_pooler.safetensors") + ": tensor 'pooler.dense.weight' has shape [64, 64], expected [32, 64]");
    // ViTForImageClassification's checkpoint has no pooler, and a classifier
    const auto classifier = einvit::io::SafeTensors::open(golden("hf_vit.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_vit_model_pooler>(classifier, vit::Family::hf); }) ==
          "einvit::vit: hf has no representation layer");
    CHECK(load_error([&] { (void)vit::load<hf_vit_model_cls>(classifier, vit::Family::hf); }).find("unexpected tensor(s) for this hf model: 'classifier.") !=
          std::string::npos);
}

TEST_CASE("vit load: transformers' DeiTModel, with its pooler or without; the classifiers it lacks are named") {
    // (the values against transformers: parity's hf_deit_model cases)
    using einvit_test::hf_deit_distilled;
    using einvit_test::hf_deit_model_cls;
    using einvit_test::hf_deit_model_pooler;
    const std::string path = golden("hf_deit_model_pooler.safetensors");
    const auto file = einvit::io::SafeTensors::open(path);
    CHECK(load_error([&] { (void)vit::load<hf_deit_model_pooler>(file, vit::Family::hf_deit); }) == "(no error)");
    CHECK(load_error([&] { (void)vit::load<hf_deit_model_cls>(file, vit::Family::hf_deit); }) == "(no error)");
    CHECK(load_error([&] { (void)vit::load<hf_deit_distilled>(file, vit::Family::hf_deit); }) ==
          path + ": missing tensor 'cls_classifier.weight' (expected shape [7, 64])");
    // read as a ViTModel: the position table has a row for the distillation token, which that model lacks
    CHECK(load_error([&] { (void)vit::load<einvit_test::hf_vit_model_pooler>(file, vit::Family::hf); }) ==
          path + ": tensor 'embeddings.position_embeddings' has shape [1, 18, 64], expected [1, 17, 64]");
    // DeiTForImageClassificationWithTeacher's checkpoint has no pooler, and two classifiers
    const auto classifier = einvit::io::SafeTensors::open(golden("hf_deit_distilled.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_deit_model_pooler>(classifier, vit::Family::hf_deit); }) ==
          "einvit::vit: hf-deit has no representation layer");
    CHECK(load_error([&] { (void)vit::load<hf_deit_model_cls>(classifier, vit::Family::hf_deit); })
              .find("4 unexpected tensor(s) for this hf-deit model: 'cls_classifier.bias' [7]") != std::string::npos);
}

TEST_CASE("vit: an image size that is not a multiple of the patch reads the whole patches; the pixels left over change nothing") {
    using einvit_test::timm_partial_patches;  // 38 x 45 in patches of 8: 4 x 5 patches, 32 x 40 pixels read
    using Model = vit::VisionTransformer<timm_partial_patches>;
    const auto file = einvit::io::SafeTensors::open(golden("timm_partial_patches.safetensors"));
    Model model = vit::load<timm_partial_patches>(file, vit::Family::timm);
    einvit::Tensor<float, einvit::Shape<2, 3, 38, 45>> image;
    for (std::size_t i = 0; i < image.size(); ++i) image.data()[i] = std::sin(0.37f * float(i));
    const auto before = model.forward(image);
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t c = 0; c < 3; ++c)
            for (std::size_t y = 0; y < 38; ++y)
                for (std::size_t x = 0; x < 45; ++x)
                    if (y >= 32 || x >= 40) image(b, c, y, x) = 100.0f;  // the rows and columns no patch covers
    const auto after = model.forward(image);
    CHECK(std::memcmp(before.data(), after.data(), before.bytes()) == 0);
    image(0, 0, 31, 39) += 1.0f;  // the last pixel a patch covers
    const auto changed = model.forward(image);
    CHECK(std::memcmp(after.data(), changed.data(), 5 * sizeof(float)) != 0);
    CHECK(std::memcmp(after.data() + 5, changed.data() + 5, 5 * sizeof(float)) == 0);  // the other image's logits
    // the families whose patches cover the image (and check that they do) refuse such a config
    constexpr vit::Config mnist_30 = [] {
        vit::Config c = vit::presets::mnist;
        c.image_height = c.image_width = 30;
        c.drop_partial_patches = true;
        return c;
    }();
    const auto mnist = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    CHECK(load_error([&] { (void)vit::load<mnist_30>(mnist, vit::Family::vit_pytorch); }) ==
          "einvit::vit: vit-pytorch models need the image size divisible by the patch (drop_partial_patches is a convolution's way)");
    constexpr vit::Config wider = [] {
        vit::Config c = timm_partial_patches;
        c.patch_order = vit::PatchOrder::c_p1_p2;
        return c;
    }();
    for (const auto family : {vit::Family::torchvision, vit::Family::torch_encoder})
        CHECK(load_error([&] { (void)vit::load<wider>(file, family); }) ==
              std::string("einvit::vit: ") + vit::to_string(family) +
                  " models need the image size divisible by the patch (drop_partial_patches is a convolution's way)");
}

TEST_CASE("vit load: in a sharded checkpoint a mis-shaped tensor names its shard, and unexpected tensors theirs") {
    const auto sharded = einvit::io::ShardedCheckpoint::open(golden("hf_vit_sharded/model.safetensors.index.json"));
    REQUIRE(sharded.files().size() == 4);
    const std::string shard2 = golden("hf_vit_sharded/model-00002-of-00004.safetensors");
    REQUIRE(sharded.find("vit.encoder.layer.0.intermediate.dense.weight").second->path() == shard2);
    const std::string mis_shaped = load_error([&] { (void)vit::load<hf_narrow_mlp>(sharded, vit::Family::hf); });
    CHECK(mis_shaped == shard2 + ": tensor 'vit.encoder.layer.0.intermediate.dense.weight' has shape [128, 64], expected [64, 64]");
    const std::string extra = load_error([&] { (void)vit::load<hf_one_block>(sharded, vit::Family::hf); });
    CHECK(extra.find(golden("hf_vit_sharded/model.safetensors.index.json") + ": ") == 0);
    CHECK(extra.find("unexpected tensor(s)") != std::string::npos);
    CHECK(extra.find("'vit.encoder.layer.1.") != std::string::npos);
    CHECK(extra.find(" in model-0000") != std::string::npos);
    const std::string missing = load_error([&] { (void)vit::load<hf_small>(sharded, vit::Family::timm); });
    CHECK(missing.find(golden("hf_vit_sharded/model.safetensors.index.json") + ": missing tensor") == 0);
    CHECK(load_error([&] { (void)vit::load<hf_small>(sharded, vit::Family::hf); }) == "(no error)");
}

TEST_CASE("vit try_load: a fault comes back as the error load raises; a good checkpoint gives the same model") {
    const auto file = einvit::io::SafeTensors::open(golden("timm_vit_tiny_patch16_224.safetensors"));
    const auto same_error = [&](const auto& loaded, const std::string& raised, einvit::errc kind = einvit::errc::format) {
        REQUIRE_FALSE(loaded.has_value());
        CHECK(loaded.failure().kind() == kind);
        CHECK(std::string(loaded.failure().what()) == raised);
    };
    same_error(vit::try_load<vit::presets::vit_small_patch16_224>(file, vit::Family::timm),
               load_error([&] { (void)vit::load<vit::presets::vit_small_patch16_224>(file, vit::Family::timm); }));
    same_error(vit::try_load<tiny_depth_11>(file, vit::Family::timm),
               load_error([&] { (void)vit::load<tiny_depth_11>(file, vit::Family::timm); }));
    same_error(vit::try_load<vit::presets::vit_tiny_patch16_224>(file, vit::Family::torchvision),
               load_error([&] { (void)vit::load<vit::presets::vit_tiny_patch16_224>(file, vit::Family::torchvision); }));
    same_error(vit::try_load_weights<vit::presets::deit_tiny_distilled_patch16_224>(file, vit::Family::timm),
               load_error([&] { (void)vit::load<vit::presets::deit_tiny_distilled_patch16_224>(file, vit::Family::timm); }));
    // a distillation token asked of a family that has none: an invalid_argument, as load raises
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    const auto mnist = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    const std::string no_dist = load_error([&] { (void)vit::load<mnist_distilled>(mnist, vit::Family::vit_pytorch); });
    CHECK(no_dist.find("vit-pytorch has no distilled models") != std::string::npos);
    same_error(vit::try_load_weights<mnist_distilled>(mnist, vit::Family::vit_pytorch), no_dist, einvit::errc::invalid_argument);
    // after the first fault nothing more is read or packed: ViT-Ti's checkpoint read as torchvision's
    // fails at its first tensor and returns (before, each of the 150 tensors after it got its own
    // message and a vector of zeros, and the zeros were packed: 1141 allocations here)
    {
        const std::size_t before = einvit_test::allocation_count();
        const auto tried = vit::try_load_weights<vit::presets::vit_tiny_patch16_224>(file, vit::Family::torchvision);
        const std::size_t allocations = einvit_test::allocation_count() - before;
        REQUIRE_FALSE(tried.has_value());
        CHECK(std::string(tried.failure().what()).find("missing tensor 'conv_proj.weight'") != std::string::npos);
        MESSAGE("allocations by a try_load_weights that fails at its first tensor: " << allocations);
        CHECK(allocations < 40);
    }

    auto tried = vit::try_load<vit::presets::mnist>(mnist, vit::Family::vit_pytorch);
    REQUIRE(tried.has_value());
    const Model loaded = vit::load<vit::presets::mnist>(mnist, vit::Family::vit_pytorch);
    std::vector<float> image(2 * 28 * 28), workspace(Model::workspace_floats<2>);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>(i % 31) / 31.0f - 0.5f;
    float logits[2][2 * 10];
    tried.value().forward_into<2>(Model::Input<2>(image.data()), logits[0], workspace.data());
    loaded.forward_into<2>(Model::Input<2>(image.data()), logits[1], workspace.data());
    CHECK(std::memcmp(logits[0], logits[1], sizeof logits[0]) == 0);
}

TEST_CASE("vit: weights put together by hand are checked against the config, every table and layer") {
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    const auto mnist = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    const auto weights = [&] {
        auto tried = vit::try_load_weights<vit::presets::mnist>(mnist, vit::Family::vit_pytorch);
        REQUIRE(tried.has_value());
        return std::move(tried.value());
    };
    CHECK_NOTHROW(static_cast<void>(Model(weights())));
    const auto refused = [&](auto corrupt, const char* named) {
        vit::Weights w = weights();
        corrupt(w);
        CHECK_THROWS_WITH_AS(Model(std::move(w)), doctest::Contains(named), einvit::error);
    };
    // a short position table was read past its end; a missing norm scale was taken for none
    refused([](vit::Weights& w) { w.pos.resize(10); }, "pos has 10 values, the config needs");
    refused([](vit::Weights& w) { w.blocks[0].norm1.gamma.clear(); }, "blocks[0].norm1.gamma has 0 values");
    refused([](vit::Weights& w) { w.blocks[1].fc1.bias.resize(3); }, "blocks[1].fc1.bias has 3 values");
    refused([](vit::Weights& w) { std::swap(w.head, w.blocks[0].fc2); }, "blocks[0].fc2 is");
    refused([](vit::Weights& w) { w.cls.clear(); }, "cls has 0 values");
    refused([](vit::Weights& w) { w.norm.beta.push_back(1.0f); }, "norm.beta has");
    // a table or layer the config does not use (weights made for another variant) is refused too
    refused([](vit::Weights& w) { w.pre_logits = std::move(w.head); }, "the config has no pre_logits, the weights have one (10 x ");
    refused([](vit::Weights& w) { w.head_norm.gamma.assign(5, 1.0f); }, "the config has no head_norm.gamma, the weights have 5 values");
    refused([](vit::Weights& w) { w.dist.assign(64, 0.0f); }, "the config has no dist");
}

TEST_CASE("vit forward: forward_into allocates nothing; 1 and 2 threads give identical logits") {
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    const auto file = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    const Model model = vit::load<vit::presets::mnist>(file, vit::Family::vit_pytorch);
    std::vector<float> image(8 * 28 * 28);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>(i % 29) / 29.0f - 0.5f;
    alignas(64) static float workspace[Model::workspace_floats<8>];
    float logits[2][8 * 10];
    einvit::set_num_threads(1);
    model.forward_into<8>(Model::Input<8>(image.data()), logits[0], workspace);  // warms the GEMM's buffers
    einvit::set_num_threads(2);
    model.forward_into<8>(Model::Input<8>(image.data()), logits[1], workspace);
    CHECK(std::memcmp(logits[0], logits[1], sizeof logits[0]) == 0);
    einvit_test::AllocationScope scope;
    model.forward_into<8>(Model::Input<8>(image.data()), logits[1], workspace);
    CHECK(scope.count() == 0);
    CHECK(std::memcmp(logits[0], logits[1], sizeof logits[0]) == 0);
    einvit::set_num_threads(einvit::detail::default_threads());
}

namespace {

// DeiT-B/16 distilled with one block: at batch 8 its products have 1584 rows, where ViT-B's K = 768
// products take Strassen's algorithm by default on AVX2 and AVX-512 (slots 0 and 1 of the scratch).
constexpr vit::Config deit_base_one_block = [] {
    vit::Config c = vit::presets::deit_base_distilled_patch16_224;
    c.depth = 1;
    return c;
}();
constexpr vit::Config siglip_base_one_block = [] {
    vit::Config c = vit::presets::vit_base_patch16_siglip_224;
    c.depth = 1;
    return c;
}();

// The first `count` images of a batch of B on a thread of its own (whose kernel scratch buffers start
// empty) with one kernel thread: returns the allocations the pass made, and checks its logits against
// the same pass on this thread with the default threads.
template <class Model, std::size_t B>
std::size_t cold_pass_allocations(const Model& model, std::size_t count) {
    using Input = typename Model::template Input<B>;
    std::vector<float> image(Input::size());
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 7919) % 253) / 126.0f - 1.0f;
    std::vector<float> workspace(Model::template workspace_floats<B> + 1), cold(B * Model::out_dim), warm(cold.size());
    std::size_t allocations = 0;
    einvit::set_num_threads(1);
    std::thread([&] {
        einvit_test::AllocationScope scope;  // the workspace off a 64-byte boundary: the scratch aligns itself
        model.template forward_into_first<B>(count, Input(image.data()), cold.data(), workspace.data() + 1);
        allocations = scope.count();
    }).join();
    einvit::set_num_threads(einvit::detail::default_threads());
    model.template forward_into_first<B>(count, Input(image.data()), warm.data(), workspace.data());
    CHECK(std::memcmp(cold.data(), warm.data(), count * Model::out_dim * sizeof(float)) == 0);
    return allocations;
}

}  // namespace

TEST_CASE("vit forward: on one kernel thread, the first pass allocates nothing (the workspace holds the kernels' scratch)") {
    {
        using Model = vit::VisionTransformer<vit::presets::mnist>;
        const auto file = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
        const Model model = vit::load<vit::presets::mnist>(file, vit::Family::vit_pytorch);
        CHECK(cold_pass_allocations<Model, 8>(model, 8) == 0);
        CHECK(cold_pass_allocations<Model, 8>(model, 3) == 0);
        CHECK(cold_pass_allocations<Model, 1>(model, 1) == 0);
    }
    using Model = vit::VisionTransformer<deit_base_one_block>;
    const Model model = Model::try_create(einvit_test::random_weights<deit_base_one_block>()).value();
    // the plan holds Strassen's operands where the default setting gives a product that algorithm
    constexpr einvit::ScratchPlan<float> plan = Model::scratch_plan<8>;
    constexpr bool strassen_at_8 = einvit::gemm::detail::strassen_pays<float>(8 * Model::T, 3 * Model::I, Model::D);
    CHECK((plan.slots[1] != 0) == strassen_at_8);
    CHECK(Model::workspace_floats<8> == Model::activation_floats<8> + plan.elements());
    CHECK(cold_pass_allocations<Model, 8>(model, 8) == 0);
    CHECK(cold_pass_allocations<Model, 8>(model, 2) == 0);
    CHECK(cold_pass_allocations<Model, 1>(model, 1) == 0);
    // SigLIP-B/16's attention pooling: its keys' and values' product over batch 8's 1568 tokens too
    using Siglip = vit::VisionTransformer<siglip_base_one_block>;
    const Siglip siglip = Siglip::try_create(einvit_test::random_weights<siglip_base_one_block>()).value();
    CHECK(cold_pass_allocations<Siglip, 8>(siglip, 8) == 0);
    CHECK(cold_pass_allocations<Siglip, 1>(siglip, 1) == 0);
}

TEST_CASE("vit: attention pooling (SigLIP's map): what does not fit is refused, naming it; masked patches count for nothing") {
    using einvit_test::timm_siglip_map;
    using Model = vit::VisionTransformer<timm_siglip_map>;
    const auto siglip = einvit::io::SafeTensors::open(golden("timm_siglip_map.safetensors"));
    CHECK(load_error([&] { (void)vit::load<timm_siglip_map>(siglip, vit::Family::timm); }) == "(no error)");
    // the same tokens pooled by their mean: the pool's tensors are left over, named
    constexpr vit::Config mean_pooled = [] {
        vit::Config c = timm_siglip_map;
        c.pooling = vit::Pooling::mean_patches;
        return c;
    }();
    const std::string unpooled = load_error([&] { (void)vit::load<mean_pooled>(siglip, vit::Family::timm); });
    CHECK_MESSAGE(unpooled.find("13 unexpected tensor(s) for this timm model: ") != std::string::npos, unpooled);
    CHECK(unpooled.find("'attn_pool.") != std::string::npos);
    // a map config over a checkpoint without a pool: its latent is missing
    const auto reg_gap = einvit::io::SafeTensors::open(golden("timm_reg_gap.safetensors"));
    constexpr vit::Config reg_map = [] {
        vit::Config c = timm_siglip_map;
        c.register_tokens = 4;
        c.prefix_position = false;
        c.final_norm = false;
        c.head_norm = true;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<reg_map>(reg_gap, vit::Family::timm); })
              .find("missing tensor 'attn_pool.latent' (expected shape [1, 1, 64])") != std::string::npos);
    CHECK(load_error([&] { (void)vit::load<timm_siglip_map>(siglip, vit::Family::torchvision); }) ==
          "einvit::vit: torchvision models have no attention pooling (pooling = map is timm's global_pool \"map\" and SigLIP's)");
    // transformers' SigLIP and CLIP towers: what their checkpoints cannot be, refused before any tensor is read
    using einvit_test::hf_clip_small;
    using einvit_test::hf_siglip_small;
    const auto hf_siglip = einvit::io::SafeTensors::open(golden("hf_siglip.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_siglip_small>(hf_siglip, vit::Family::hf_siglip); }) == "(no error)");
    CHECK(load_error([&] { (void)vit::load<timm_siglip_map>(hf_siglip, vit::Family::hf_siglip); }) ==
          "einvit::vit: hf-siglip models with attention pooling have no classifier (num_classes = 0: the pooled features; SiglipForImageClassification pools by the tokens' mean, pooling = mean_all)");
    constexpr vit::Config siglip_cls = [] {
        vit::Config c = hf_siglip_small;
        c.class_token = true;
        c.pooling = vit::Pooling::cls;
        return c;
    }();
    const std::string siglip_pooling =
        "einvit::vit: hf-siglip models pool by attention (pooling = map, num_classes = 0), or by the tokens' mean into a classifier (pooling = mean_all, SiglipForImageClassification)";
    CHECK(load_error([&] { (void)vit::load<siglip_cls>(hf_siglip, vit::Family::hf_siglip); }) == siglip_pooling);
    // SiglipForImageClassification: the tokens' mean into its classifier; its unused attention pool unread
    using einvit_test::hf_siglip_classifier;
    const auto siglip_classifier = einvit::io::SafeTensors::open(golden("hf_siglip_classifier.safetensors"));
    CHECK(load_error([&] { (void)vit::load<hf_siglip_classifier>(siglip_classifier, vit::Family::hf_siglip); }) == "(no error)");
    constexpr vit::Config siglip_mean_features = [] {
        vit::Config c = hf_siglip_classifier;
        c.num_classes = 0;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<siglip_mean_features>(siglip_classifier, vit::Family::hf_siglip); }) == siglip_pooling);
    // a SiglipVisionModel's checkpoint has no classifier to read
    CHECK(load_error([&] { (void)vit::load<hf_siglip_classifier>(hf_siglip, vit::Family::hf_siglip); }) ==
          golden("hf_siglip.safetensors") + ": missing tensor 'classifier.weight' (expected shape [7, 64])");
    constexpr vit::Config siglip_narrow_mlp = [] {
        vit::Config c = hf_siglip_small;
        c.mlp_dim = 64;
        return c;
    }();
    CHECK(load_error([&] { (void)vit::load<siglip_narrow_mlp>(hf_siglip, vit::Family::hf_siglip); })
              .find("tensor 'vision_model.encoder.layers.0.mlp.fc1.weight' has shape [128, 64], expected [64, 64]") != std::string::npos);
    CHECK(load_error([&] { (void)vit::load<hf_siglip_small>(hf_siglip, vit::Family::hf_clip); }) ==
          "einvit::vit: hf-clip models have no attention pooling (pooling = map is timm's global_pool \"map\" and SigLIP's)");
    const auto hf_clip = einvit::io::SafeTensors::open(golden("hf_clip.safetensors"));
    constexpr vit::Config clip_features = [] {
        vit::Config c = hf_clip_small;
        c.num_classes = 0;
        return c;
    }();
    // the pooled features without the projection: the checkpoint's projection is left over, named
    CHECK(load_error([&] { (void)vit::load<clip_features>(hf_clip, vit::Family::hf_clip); })
              .find("1 unexpected tensor(s) for this hf-clip model: 'visual_projection.weight' [24, 64]") != std::string::npos);
    // the text tower is left unread only as a two-tower model's: read as a timm model, it is named
    CHECK(load_error([&] { (void)vit::load<hf_clip_small>(hf_clip, vit::Family::timm); }).find("missing tensor 'patch_embed.proj.weight'") !=
          std::string::npos);
    static_assert(vit::config_problem(vit::Config{.dim = 100, .heads = 8, .dim_head = 16, .pooling = vit::Pooling::map}) ==
                  vit::ConfigProblem::map_pooling_needs_dim_divisible_by_heads);
    static_assert(vit::config_problem(vit::Config{.dim = 96, .heads = 8, .dim_head = 16, .pooling = vit::Pooling::map}) ==
                  vit::ConfigProblem::none);
    // weights put together by hand: the pool's tables are checked as the blocks' are
    const auto refused = [&](auto corrupt, const char* named) {
        vit::Weights w = einvit_test::random_weights<timm_siglip_map>();
        corrupt(w);
        CHECK_THROWS_WITH_AS(Model(std::move(w)), doctest::Contains(named), einvit::error);
    };
    refused([](vit::Weights& w) { w.pool.query.resize(63); }, "pool.query has 63 values, the config needs 64");
    refused([](vit::Weights& w) { w.pool.norm.beta.clear(); }, "pool.norm.beta has 0 values");
    refused([](vit::Weights& w) { std::swap(w.pool.kv, w.pool.proj); }, "pool.kv is 64 x 64, the config needs 128 x 64");
    CHECK_THROWS_WITH_AS(vit::VisionTransformer<mean_pooled>(einvit_test::random_weights<timm_siglip_map>()),
                         doctest::Contains("the config has no pool.query, the weights have 64 values"), einvit::error);
    // with the padding mask, a masked patch's pixels change nothing: no token attends to it, nor the pool
    const Model model = vit::load<timm_siglip_map>(siglip, vit::Family::timm);
    constexpr std::size_t B = 2, pixels = 3 * 32 * 32;
    std::vector<float> image(B * pixels);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 31) % 43) / 43.0f - 0.5f;
    std::vector<std::uint8_t> keep(B * Model::NP, 1);
    keep[5] = keep[Model::NP + 0] = keep[Model::NP + 15] = 0;  // image 0's patch 5; image 1's patches 0 and 15
    Model::Workspace<B> workspace;
    Model::Output<B> masked, changed, unmasked;
    model.forward_into<B>(Model::Input<B>(image.data()), masked, workspace, nullptr, keep.data());
    model.forward_into<B>(Model::Input<B>(image.data()), unmasked, workspace);
    for (std::size_t y = 0; y < 8; ++y)  // patch 5 is row 1, column 1 of image 0's 4 x 4 patches; patch 0 of image 1
        for (std::size_t x = 0; x < 8; ++x)
            for (std::size_t c = 0; c < 3; ++c) {
                image[(c * 32 + 8 + y) * 32 + 8 + x] += 3.0f;
                image[pixels + (c * 32 + y) * 32 + x] -= 2.0f;
            }
    model.forward_into<B>(Model::Input<B>(image.data()), changed, workspace, nullptr, keep.data());
    CHECK(std::memcmp(masked.data(), changed.data(), masked.bytes()) == 0);
    CHECK(std::memcmp(masked.data(), unmasked.data(), masked.bytes()) != 0);  // the mask did drop something
    // and a first pass of a map model on one kernel thread allocates nothing: its plan holds the pool's scratch
    CHECK(cold_pass_allocations<Model, 8>(model, 8) == 0);
    CHECK(cold_pass_allocations<Model, 1>(model, 1) == 0);
}

// A model of config C with random weights (seed): each image of a batch of B gives what it gives alone.
template <vit::Config C, std::size_t B>
void check_batch_as_alone(unsigned seed) {
    using Model = vit::VisionTransformer<C>;
    const Model model(einvit_test::random_weights<C>(seed));
    constexpr std::size_t pixels = C.channels * C.image_height * C.image_width;
    std::vector<float> image(B * pixels);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 37) % 53) / 53.0f - 0.5f;
    typename Model::template Workspace<B> batch_workspace;
    typename Model::template Workspace<1> one_workspace;
    typename Model::template Output<B> batch;
    model.template forward_into<B>(typename Model::template Input<B>(image.data()), batch, batch_workspace);
    for (std::size_t b = 0; b < B; ++b) {
        CAPTURE(b);
        typename Model::template Output<1> alone;
        model.template forward_into<1>(typename Model::template Input<1>(image.data() + b * pixels), alone, one_workspace);
        for (std::size_t j = 0; j < Model::out_dim; ++j) {
            CAPTURE(j);
            REQUIRE(std::isfinite(alone.data()[j]));
            CHECK(batch.data()[b * Model::out_dim + j] == doctest::Approx(alone.data()[j]).epsilon(1e-5));
        }
    }
}

TEST_CASE("vit: attention pooling beside a narrow attention (3 x inner_dim < 2 x dim): each image's buffers stay apart") {
    // The pool projects keys and values (2 x dim per token) into the buffer of the blocks' q, k and v
    // (3 x inner_dim per token), and its attention output and MLP follow it in the workspace: with
    // dim_head 4 of 4 heads (inner_dim 16, dim 64) the pool's keys and values are the larger, and a
    // layout sized for the blocks alone put image 0's pooled output over image 1's keys at batch 4.
    // A batch then gives each image what it gives alone.
    static constexpr vit::Config narrow = [] {
        vit::Config c = einvit_test::timm_siglip_map;
        c.dim_head = 4;
        return c;
    }();
    using Model = vit::VisionTransformer<narrow>;
    static_assert(3 * Model::I < 2 * Model::D && 4 * Model::I < 2 * Model::D);
    check_batch_as_alone<narrow, 4>(11);
}

TEST_CASE("vit: a SwiGLU MLP (DINOv2 giant's kind) from random weights: fc1 twice as wide, each image of a batch as alone") {
    // random_weights sizes fc1 as the model does (a gate and a value for each of fc2's inputs); the model
    // refuses weights of any other width
    using Model = vit::VisionTransformer<einvit_test::timm_swiglu_reg>;
    static_assert(Model::FC1 == 2 * Model::MLP);
    check_batch_as_alone<einvit_test::timm_swiglu_reg, 3>(5);
}

TEST_CASE("vit forward: the checked forward_into takes tensors sized at compile time, in an arena or on the heap") {
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    const auto file = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    Model model = vit::load<vit::presets::mnist>(file, vit::Family::vit_pytorch);
    einvit::Tensor<float, einvit::Shape<2, 1, 28, 28>> image;
    for (std::size_t i = 0; i < image.size(); ++i) image.data()[i] = static_cast<float>(i % 31) / 31.0f - 0.5f;
    const Model::Output<2> want = model.forward<2>(image);
    // out and the workspace in one arena sized by the compile-time plan
    constexpr std::size_t plan = einvit::arena_bytes<float, einvit::Shape<2, Model::out_dim>> +
                                 einvit::arena_bytes<float, einvit::Shape<Model::workspace_floats<2>>>;
    static einvit::StaticArena<plan> arena;
    Model::Output<2> out(arena);
    Model::Workspace<2> workspace(arena);
    CHECK(arena.used() == plan);
    model.forward_into<2>(Model::Input<2>(image.data()), out, workspace);
    CHECK(std::memcmp(out.data(), want.data(), sizeof(float) * out.size()) == 0);
    // views do as well; a workspace for a larger batch serves a smaller one
    Model::Output<1> one;
    Model::Workspace<8> larger;
    model.forward_into<1>(Model::Input<1>(image.data()), one.view(), larger.view());
    CHECK(std::memcmp(one.data(), want.data(), sizeof(float) * one.size()) == 0);
}

TEST_CASE("vit forward: forward_into_first runs the first images of a batch; without Strassen's products each as the whole batch gives it") {
    using Model = vit::VisionTransformer<vit::presets::mnist>;
    const auto file = einvit::io::SafeTensors::open(golden("vit_pytorch_mnist.safetensors"));
    const Model model = vit::load<vit::presets::mnist>(file, vit::Family::vit_pytorch);
    std::vector<float> image(8 * 28 * 28);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 13) % 37) / 37.0f - 0.5f;
    Model::Workspace<8> workspace;
    Model::Output<8> full, part;
    model.forward_into<8>(Model::Input<8>(image.data()), full, workspace);
    for (const std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
        CAPTURE(count);
        for (std::size_t i = 0; i < part.size(); ++i) part.data()[i] = -12345.0f;  // rows past count stay so
        model.forward_into_first<8>(count, Model::Input<8>(image.data()), part, workspace);
        CHECK(std::memcmp(part.data(), full.data(), sizeof(float) * 10 * count) == 0);
        bool untouched = true;
        for (std::size_t i = 10 * count; i < part.size(); ++i) untouched = untouched && part.data()[i] == -12345.0f;
        CHECK(untouched);
    }
    // the first image alone, through the pointer form, is forward<1>'s
    float one[10];
    model.forward_into_first<8>(1, Model::Input<8>(image.data()), one, workspace.data());
    Model::Output<1> alone;
    model.forward_into<1>(Model::Input<1>(image.data()), alone, workspace);
    CHECK(std::memcmp(one, alone.data(), sizeof one) == 0);
    const std::string error = load_error([&] { model.forward_into_first<8>(9, Model::Input<8>(image.data()), part, workspace); });
    CHECK(error == "einvit::vit: forward_into_first: 9 images asked of a batch of 8");
}

namespace {
// forward_into_first<8>(3, ...) against forward_into<3> on the same three images, with a padding mask
template <vit::Config C>
void first_three_of_eight() {
    using Model = vit::VisionTransformer<C>;
    const Model model = Model::try_create(einvit_test::random_weights<C>()).value();
    constexpr std::size_t pixels = C.channels * C.image_height * C.image_width;
    std::vector<float> image(8 * pixels);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 29) % 41) / 41.0f - 0.5f;
    std::vector<std::uint8_t> keep(8 * Model::NP);
    for (std::size_t i = 0; i < keep.size(); ++i) keep[i] = (i * 7) % 5 != 0;  // a fifth of the patches masked
    typename Model::template Workspace<8> workspace8;
    typename Model::template Workspace<3> workspace3;
    typename Model::template Output<8> first;
    typename Model::template Output<3> alone;
    for (std::size_t i = 0; i < first.size(); ++i) first.data()[i] = -777.0f;
    model.template forward_into_first<8>(3, typename Model::template Input<8>(image.data()), first, workspace8, keep.data());
    model.template forward_into<3>(typename Model::template Input<3>(image.data()), alone, workspace3, nullptr, keep.data());
    CHECK(std::memcmp(first.data(), alone.data(), sizeof(float) * alone.size()) == 0);
    bool untouched = true;
    for (std::size_t i = alone.size(); i < first.size(); ++i) untouched = untouched && first.data()[i] == -777.0f;
    CHECK(untouched);
}

}  // namespace

TEST_CASE("vit forward: forward_into_first with a padding mask, distillation, post-norm, mean pooling and pre_logits") {
    first_three_of_eight<distilled_post_norm>();
    first_three_of_eight<mean_pooled_sincos>();
    first_three_of_eight<einvit_test::registers_distilled>();  // registers, layer scale, norm before the blocks
    first_three_of_eight<einvit_test::timm_map_prefix>();      // attention pooling over prefix tokens and patches
}

TEST_CASE("vit forward: ViT-Ti at one image and at batch 8 allocates nothing after its first pass, whichever threads take which items") {
    // ViT-Ti's products take the kernels' shared-out paths (one image's row shares in chunks of panels,
    // batch 8's row blocks) and attention its items: after the first pass of each size with 2 threads,
    // passes allocate nothing, and give the logits of one thread
    using Model = vit::VisionTransformer<vit::presets::vit_tiny_patch16_224>;
    const auto file = einvit::io::SafeTensors::open(golden("timm_vit_tiny_patch16_224.safetensors"));
    const Model model = vit::load<vit::presets::vit_tiny_patch16_224>(file, vit::Family::timm);
    std::vector<float> image(8 * 3 * 224 * 224), workspace(Model::workspace_floats<8>);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 7919) % 251) / 125.0f - 1.0f;
    std::vector<float> one[2] = {std::vector<float>(1000), std::vector<float>(8 * 1000)};
    std::vector<float> two[2] = {std::vector<float>(1000), std::vector<float>(8 * 1000)};
    einvit::set_num_threads(1);
    model.forward_into<1>(Model::Input<1>(image.data()), one[0].data(), workspace.data());
    model.forward_into<8>(Model::Input<8>(image.data()), one[1].data(), workspace.data());
    einvit::set_num_threads(2);
    model.forward_into<1>(Model::Input<1>(image.data()), two[0].data(), workspace.data());
    model.forward_into<8>(Model::Input<8>(image.data()), two[1].data(), workspace.data());
    std::size_t allocations = 0;
    for (int pass = 0; pass < 3; ++pass) {
        einvit_test::AllocationScope scope;
        model.forward_into<1>(Model::Input<1>(image.data()), two[0].data(), workspace.data());
        model.forward_into<8>(Model::Input<8>(image.data()), two[1].data(), workspace.data());
        allocations += scope.count();
    }
    einvit::set_num_threads(einvit::detail::default_threads());
    CHECK(allocations == 0);
    CHECK(std::memcmp(one[0].data(), two[0].data(), one[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(one[1].data(), two[1].data(), one[1].size() * sizeof(float)) == 0);
    // the first image of the batch is the one image
    CHECK(std::memcmp(one[0].data(), one[1].data(), one[0].size() * sizeof(float)) == 0);
}

TEST_CASE("vit forward: features() is what the head sees; attention maps are distributions over tokens") {
    using Model = vit::VisionTransformer<vit::presets::vit_tiny_patch16_224>;
    const auto file = einvit::io::SafeTensors::open(golden("timm_vit_tiny_patch16_224.safetensors"));
    Model model = vit::load<vit::presets::vit_tiny_patch16_224>(file, vit::Family::timm);
    einvit::Tensor<float, einvit::Shape<2, 3, 224, 224>> image;
    for (std::size_t i = 0; i < image.size(); ++i) image.data()[i] = static_cast<float>((i * 7919) % 255) / 127.0f - 1.0f;
    const auto logits = model.forward(image);
    const auto feats = model.features(Model::Input<2>(image.data()));
    static_assert(std::is_same_v<std::remove_const_t<decltype(feats)>, einvit::Tensor<float, einvit::Shape<2, 192>>>);
    const auto from_tensor = model.features(image);  // as forward takes it (docs/models.md)
    CHECK(std::memcmp(from_tensor.data(), feats.data(), feats.bytes()) == 0);
    einvit::Tensor<float, einvit::Shape<1000, 192>> head_w;
    einvit::Tensor<float, einvit::Shape<1000>> head_b;
    file.read_as_float(*file.find("head.weight"), head_w.data());
    file.read_as_float(*file.find("head.bias"), head_b.data());
    const auto again = einvit::linear(feats, head_w, head_b);
    for (std::size_t i = 0; i < logits.size(); ++i) REQUIRE(again.data()[i] == doctest::Approx(logits.data()[i]).epsilon(1e-5));
    std::vector<float> workspace(Model::workspace_floats<2>), out(2 * 1000), maps(12 * 2 * 197);
    model.forward_into<2>(Model::Input<2>(image.data()), out.data(), workspace.data(), maps.data());
    for (std::size_t l = 0; l < 12; ++l)
        for (std::size_t b = 0; b < 2; ++b) {
            double sum = 0;
            for (std::size_t t = 0; t < 197; ++t) {
                const float a = maps[(l * 2 + b) * 197 + t];
                REQUIRE(a >= 0.0f);
                sum += a;
            }
            REQUIRE(sum == doctest::Approx(1.0).epsilon(1e-5));
        }
    CHECK(std::memcmp(out.data(), logits.data(), out.size() * sizeof(float)) == 0);
    // the full matrices (for rollout): row 0 of each is the class-token map above
    std::vector<float> full(12 * 2 * 197 * 197);
    model.forward_with_attention<2>(Model::Input<2>(image.data()), out.data(), workspace.data(), full.data());
    for (std::size_t l = 0; l < 12; ++l)
        for (std::size_t b = 0; b < 2; ++b)
            for (std::size_t t = 0; t < 197; ++t)
                REQUIRE(full[((l * 2 + b) * 197 + 0) * 197 + t] == maps[(l * 2 + b) * 197 + t]);
    double row_sum = 0;
    for (std::size_t t = 0; t < 197; ++t) row_sum += full[(5 * 2 + 1) * 197 * 197 + 100 * 197 + t];
    CHECK(row_sum == doctest::Approx(1.0).epsilon(1e-5));
    // every row of every layer, the last one included (whose queries the class-pooled model otherwise
    // computes for the class token only), is what a model that runs every token through every layer
    // gives: the same weights pooling the mean of the tokens
    using MeanModel = vit::VisionTransformer<tiny_mean_pooled>;
    MeanModel mean_model = vit::load<tiny_mean_pooled>(file, vit::Family::timm);
    std::vector<float> mean_full(full.size()), mean_workspace(MeanModel::workspace_floats<2>), mean_out(2 * 1000);
    mean_model.forward_with_attention<2>(MeanModel::Input<2>(image.data()), mean_out.data(), mean_workspace.data(),
                                         mean_full.data());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < full.size(); ++i) differ += full[i] != mean_full[i];
    CHECK_MESSAGE(differ == 0, differ << " attention weights differ from the mean-pooled model's");
    CHECK(std::memcmp(out.data(), logits.data(), out.size() * sizeof(float)) == 0);
    // the checked forms: the same values through einvit tensors whose shapes the compiler checked
    Model::Output<2> checked_out;
    Model::Workspace<2> checked_workspace;
    Model::AttentionMaps<2> checked_maps;
    static_assert(std::is_same_v<Model::AttentionMaps<2>::shape_type, einvit::Shape<12, 2, 197>>);
    model.forward_into<2>(Model::Input<2>(image.data()), checked_out, checked_workspace, checked_maps);
    CHECK(std::memcmp(checked_maps.data(), maps.data(), maps.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(checked_out.data(), logits.data(), logits.bytes()) == 0);
    Model::AttentionMatrices<2> checked_full;
    model.forward_with_attention<2>(Model::Input<2>(image.data()), checked_out.view(), checked_workspace, checked_full);
    CHECK(std::memcmp(checked_full.data(), full.data(), full.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(checked_out.data(), logits.data(), logits.bytes()) == 0);
}
