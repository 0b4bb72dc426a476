// Parity with the libraries that define each model family: checkpoints saved by timm, torchvision,
// vit-pytorch and torch.nn (tests/golden/vit/gen.py, run by CTest before this test), loaded by einvit,
// run on the same 8 inputs. Argmax must agree and max |Δ| <= 1e-4 · max(1, max |logit|).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <einvit/einvit.hpp>
#include <fstream>
#include <sstream>
#include <einvit/vit/load.hpp>
#include <string>
#include <vector>

#include "configs.hpp"
#include "helpers.hpp"

namespace vit = einvit::vit;

namespace {

using einvit_test::golden;

std::vector<float> read_floats(const std::string& path, std::size_t count) {
    std::vector<float> v(count);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    REQUIRE_MESSAGE(f != nullptr, "cannot open " << path << " (run tests/golden/vit/gen.py)");
    const std::size_t got = std::fread(v.data(), sizeof(float), count, f);
    std::fclose(f);
    REQUIRE_MESSAGE(got == count, path << ": expected " << count << " floats, read " << got);
    return v;
}

template <vit::Config C>
void check_parity(const char* name, vit::Family family) {
    constexpr std::size_t B = 8;
    using Model = vit::VisionTransformer<C>;
    const auto file = einvit::io::SafeTensors::open(golden(std::string(name) + ".safetensors"));
    Model model = vit::load<C>(file, family);
    // the compile-time plan of the packed weights' block is exact: every linear layer of the family is in it
    CHECK(model.weights().store.capacity() == Model::packed_weight_floats);
    CHECK(model.weights().store.used() == Model::packed_weight_floats);
    einvit::Tensor<float, einvit::Shape<B, C.channels, C.image_height, C.image_width>> image;
    const auto input = read_floats(golden(std::string(name) + ".input.bin"), image.size());
    std::memcpy(image.data(), input.data(), image.bytes());
    constexpr std::size_t O = Model::out_dim;  // the classes, or the features of a model without a head
    const auto want = read_floats(golden(std::string(name) + ".logits.bin"), B * O);
    einvit::Tensor<float, einvit::Shape<B, O>> got;
    std::vector<std::uint8_t> keep(B * C.patches());
    if (std::FILE* m = std::fopen(golden(std::string(name) + ".mask.bin").c_str(), "rb")) {  // a padding mask
        REQUIRE(std::fread(keep.data(), 1, keep.size(), m) == keep.size());
        std::fclose(m);
        std::vector<float> workspace(Model::template workspace_floats<B>);
        model.template forward_into<B>(typename Model::template Input<B>(image.data()), got.data(), workspace.data(), nullptr,
                                       keep.data());
    } else {
        got = model.forward(image);
    }
    double worst = 0, scale = 1;
    for (std::size_t i = 0; i < want.size(); ++i) {
        worst = std::max(worst, std::fabs(double(got.data()[i]) - double(want[i])));
        scale = std::max(scale, std::fabs(double(want[i])));
    }
    std::size_t argmax_equal = 0;
    for (std::size_t b = 0; b < B; ++b) {
        const float* g = got.data() + b * O;
        const float* w = want.data() + b * O;
        argmax_equal += std::max_element(g, g + O) - g == std::max_element(w, w + O) - w;
    }
    INFO(std::string(name) << ": max |delta| " << worst << ", max |logit| " << scale);
    CHECK(worst <= 1e-4 * scale);
    CHECK(argmax_equal == B);
}

constexpr vit::Config timm_small_160x224 = [] {
    vit::Config c = vit::presets::vit(384, 4, 6, 16, 224, 100);
    c.image_height = 160;
    return c;
}();

constexpr vit::Config torchvision_small = [] {
    vit::Config c = vit::presets::vit(128, 3, 4, 16, 64, 37);
    c.mlp_dim = 256;
    return c;
}();

constexpr vit::Config torchvision_pre_logits = [] {
    vit::Config c = vit::presets::vit(64, 2, 4, 8, 32, 11);
    c.mlp_dim = 128;
    c.representation_size = 48;
    return c;
}();

constexpr vit::Config vit_pytorch_mean = [] {
    vit::Config c;
    c.image_height = 48;
    c.image_width = 64;
    c.patch = 8;
    c.dim = 96;
    c.depth = 3;
    c.heads = 4;
    c.dim_head = 32;
    c.mlp_dim = 192;
    c.num_classes = 21;
    c.pooling = vit::Pooling::mean_all;
    c.qkv_bias = false;
    c.patch_norm = true;
    c.patch_order = vit::PatchOrder::p1_p2_c;
    c.layer_norm_eps = 1e-5f;
    return c;
}();

using einvit_test::post_norm;

constexpr vit::Config post_norm_final = [] {  // nn.TransformerEncoder(..., norm=LayerNorm): a norm after the blocks
    vit::Config c = post_norm;
    c.final_norm = true;
    return c;
}();

constexpr vit::Config timm_avg = [] {
    vit::Config c = vit::presets::vit(64, 2, 4, 8, 32, 5);
    c.mlp_dim = 128;
    c.pooling = vit::Pooling::mean_patches;
    c.final_norm = false;
    c.head_norm = true;  // timm's fc_norm
    return c;
}();

using einvit_test::hf_small;

using einvit_test::simple_sincos;

using einvit_test::seed_mask;

// timm's VisionTransformer with registers and no class token, pooling the patch tokens (not the
// registers) through fc_norm, positions for the patches alone (vit_*_reg4_gap_256's kind)
constexpr vit::Config timm_reg_gap = [] {
    vit::Config c = timm_avg;
    c.class_token = false;
    c.register_tokens = 4;
    c.prefix_position = false;
    return c;
}();

using einvit_test::timm_dinov2_reg;
using einvit_test::timm_reg_norm_pre;

// OpenAI's CLIP image tower's kind: a LayerNorm before the blocks, no patch bias, QuickGELU
constexpr vit::Config timm_clip_quickgelu = [] {
    vit::Config c = vit::presets::vit(64, 2, 4, 8, 32, 7);
    c.mlp_dim = 128;
    c.embed_norm = true;
    c.patch_bias = false;
    c.activation = vit::Activation::quick_gelu;
    return c;
}();

// A preset as tests/golden/vit/gen.py describes what timm builds for a name (timm_presets.txt).
template <vit::Config C>
std::string timm_description(const char* name) {
    const auto b = [](bool x) { return x ? "1" : "0"; };
    const std::size_t pooling = static_cast<std::size_t>(C.pooling);  // timm's "token" 0, "avg" 2, "map" 3
    const bool map = C.pooling == vit::Pooling::map;
    const std::size_t position_rows = C.position != vit::PositionEmbedding::learned ? 0 : C.prefix_position ? C.tokens() : C.patches();
    std::ostringstream s;
    s << name << " image_height=" << C.image_height << " image_width=" << C.image_width << " patch=" << C.patch
      << " channels=" << C.channels << " dim=" << C.dim << " depth=" << C.depth << " heads=" << C.heads << " head_dim=" << C.head_dim()
      << " mlp_dim=" << C.mlp_dim << " num_classes=" << C.num_classes << " pooling=" << pooling << " class_token=" << b(C.class_token)
      << " distillation_token=" << b(C.distillation_token) << " register_tokens=" << C.register_tokens
      << " qkv_bias=" << b(C.qkv_bias) << " patch_bias=" << b(C.patch_bias) << " prefix_position=" << b(C.prefix_position) << " layer_scale=" << b(C.layer_scale)
      << " embed_norm=" << b(C.embed_norm) << " final_norm=" << b(C.final_norm) << " head_norm=" << b(C.head_norm)
      << " position_rows=" << position_rows << " layer_norm_eps_e7=" << std::lround(double(C.layer_norm_eps) * 1e7)
      << " activation=" << static_cast<int>(C.activation) << " pool_heads=" << (map ? C.heads : 0)
      << " pool_mlp_dim=" << (map ? C.mlp_dim : 0);
    return s.str();
}

}  // namespace

TEST_CASE("parity: each preset is what timm builds for its name") {
    namespace p = vit::presets;
    const std::vector<std::string> ours = {
        timm_description<p::vit_tiny_patch16_224>("vit_tiny_patch16_224"),
        timm_description<p::vit_small_patch16_224>("vit_small_patch16_224"),
        timm_description<p::vit_base_patch16_224>("vit_base_patch16_224"),
        timm_description<p::vit_base_patch32_224>("vit_base_patch32_224"),
        timm_description<p::vit_large_patch16_224>("vit_large_patch16_224"),
        timm_description<p::deit_tiny_distilled_patch16_224>("deit_tiny_distilled_patch16_224"),
        timm_description<p::deit3_small_patch16_224>("deit3_small_patch16_224"),
        timm_description<p::deit3_medium_patch16_224>("deit3_medium_patch16_224"),
        timm_description<p::deit3_base_patch16_224>("deit3_base_patch16_224"),
        timm_description<p::deit3_large_patch16_224>("deit3_large_patch16_224"),
        timm_description<p::vit_medium_patch16_reg4_gap_256>("vit_medium_patch16_reg4_gap_256"),
        timm_description<p::vit_base_patch16_reg4_gap_256>("vit_base_patch16_reg4_gap_256"),
        timm_description<p::vit_small_patch14_reg4_dinov2>("vit_small_patch14_reg4_dinov2"),
        timm_description<p::vit_base_patch16_clip_224>("vit_base_patch16_clip_224"),
        timm_description<p::vit_base_patch16_clip_quickgelu_224>("vit_base_patch16_clip_quickgelu_224"),
        timm_description<p::vit_base_patch16_siglip_224>("vit_base_patch16_siglip_224"),
        timm_description<p::vit_base_patch16_siglip_384>("vit_base_patch16_siglip_384"),
        timm_description<p::vit_large_patch16_siglip_256>("vit_large_patch16_siglip_256"),
        timm_description<p::vit_so400m_patch14_siglip_224>("vit_so400m_patch14_siglip_224"),
        timm_description<p::vit_so400m_patch14_siglip_384>("vit_so400m_patch14_siglip_384"),
        timm_description<p::vit_giant_patch14_dinov2>("vit_giant_patch14_dinov2"),
        timm_description<p::vit_giant_patch14_reg4_dinov2>("vit_giant_patch14_reg4_dinov2"),
    };
    std::ifstream in(golden("timm_presets.txt"));
    REQUIRE_MESSAGE(in.good(), "cannot open " << golden("timm_presets.txt") << " (run tests/golden/vit/gen.py)");
    std::vector<std::string> timm;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) timm.push_back(line);
    REQUIRE(timm.size() == ours.size());
    for (std::size_t i = 0; i < ours.size(); ++i) CHECK(ours[i] == timm[i]);
}

TEST_CASE("parity: timm DeiT-III small at full size (layer scale, positions for the patches alone)") {
    check_parity<vit::presets::deit3_small_patch16_224>("timm_deit3_small", vit::Family::timm);
}
TEST_CASE("parity: timm with registers, no class token, the patch tokens' mean through fc_norm") {
    check_parity<timm_reg_gap>("timm_reg_gap", vit::Family::timm);
}
TEST_CASE("parity: timm DINOv2's kind (class token, registers, layer scale), features without a head") {
    check_parity<timm_dinov2_reg>("timm_dinov2_reg_features", vit::Family::timm);
}
TEST_CASE("parity: timm with registers in the position table and norm_pre before the blocks") {
    check_parity<timm_reg_norm_pre>("timm_reg_norm_pre", vit::Family::timm);
}

TEST_CASE("parity: timm's OpenAI CLIP kind (norm_pre, no patch bias, QuickGELU)") {
    check_parity<timm_clip_quickgelu>("timm_clip_quickgelu", vit::Family::timm);
}

TEST_CASE("parity: timm's SigLIP kind (no class token, attention pooling after the final norm)") {
    check_parity<einvit_test::timm_siglip_map>("timm_siglip_map", vit::Family::timm);
}
TEST_CASE("parity: timm's attention pooling over a class token and registers, features without a head") {
    check_parity<einvit_test::timm_map_prefix>("timm_map_prefix_features", vit::Family::timm);
}

TEST_CASE("parity: timm's SigLIP-B/16 widths at 224 (two blocks): attention pooling at full size") {
    constexpr vit::Config siglip_base_2_blocks = [] {
        vit::Config c = vit::presets::vit_base_patch16_siglip_224;
        c.depth = 2;
        return c;
    }();
    check_parity<siglip_base_2_blocks>("timm_siglip_base_2_blocks", vit::Family::timm);
}

TEST_CASE("parity: transformers' SiglipModel, its vision tower's pooled features (the text tower left unread)") {
    check_parity<einvit_test::hf_siglip_small>("hf_siglip", vit::Family::hf_siglip);
}
TEST_CASE("parity: transformers' SiglipForImageClassification (the tokens' mean into its classifier)") {
    check_parity<einvit_test::hf_siglip_classifier>("hf_siglip_classifier", vit::Family::hf_siglip);
}
TEST_CASE("parity: transformers' CLIPModel, its image embedding (projection without a bias; the text tower left unread)") {
    check_parity<einvit_test::hf_clip_small>("hf_clip", vit::Family::hf_clip);
}
TEST_CASE("parity: transformers' SiglipModel and CLIPModel at another size than their configs' (interpolate_pos_encoding)") {
    check_parity<einvit_test::hf_siglip_resampled>("hf_siglip_resampled", vit::Family::hf_siglip);
    check_parity<einvit_test::hf_clip_resampled>("hf_clip_resampled", vit::Family::hf_clip);
}

TEST_CASE("parity: transformers' Dinov2Model at another grid than its pretraining's (the position table resampled as it does)") {
    check_parity<einvit_test::hf_dinov2_resampled>("hf_dinov2_resampled", vit::Family::hf_dinov2);
}
TEST_CASE("parity: transformers' Dinov2ForImageClassification (its classifier over the class token and the patch tokens' mean)") {
    check_parity<einvit_test::hf_dinov2_classifier>("hf_dinov2_classifier", vit::Family::hf_dinov2);
}
TEST_CASE("parity: transformers' Dinov2Model at its pretraining size (the position table as it is)") {
    check_parity<einvit_test::hf_dinov2_native>("hf_dinov2_native", vit::Family::hf_dinov2);
}
TEST_CASE("parity: transformers' Dinov2Model at 1 x 49 patches, as many as its 7 x 7 table's (resampled all the same)") {
    check_parity<einvit_test::hf_dinov2_strip>("hf_dinov2_strip", vit::Family::hf_dinov2);
}
TEST_CASE("parity: transformers' Dinov2WithRegistersModel at another grid (4 registers without positions; the table resampled antialiased)") {
    check_parity<einvit_test::hf_dinov2_reg_resampled>("hf_dinov2_reg_resampled", vit::Family::hf_dinov2);
}
TEST_CASE("parity: transformers' Dinov2WithRegistersModel at its pretraining size (the class token's position added to it)") {
    check_parity<einvit_test::hf_dinov2_reg_native>("hf_dinov2_reg_native", vit::Family::hf_dinov2);
}
TEST_CASE("parity: transformers' Dinov2WithRegistersForImageClassification (the patch tokens' mean without the registers)") {
    check_parity<einvit_test::hf_dinov2_reg_classifier>("hf_dinov2_reg_classifier", vit::Family::hf_dinov2);
}
TEST_CASE("parity: DINOv2 giant's SwiGLU MLPs: timm's SwiGLUPacked (with registers) and transformers' use_swiglu_ffn") {
    check_parity<einvit_test::timm_swiglu_reg>("timm_swiglu_reg", vit::Family::timm);
    check_parity<einvit_test::hf_dinov2_swiglu>("hf_dinov2_swiglu", vit::Family::hf_dinov2);
}

// The position table a timm checkpoint for another grid loads as, against the one timm's loader made.
template <vit::Config C>
void check_resampled_table(const std::string& name, vit::Family family = vit::Family::timm) {
    const auto file = einvit::io::SafeTensors::open(golden(name + ".safetensors"));
    const auto model = vit::load<C>(file, family);
    const std::vector<float>& got = model.weights().pos;
    const auto want = read_floats(golden(name + ".pos_embed.bin"), got.size());
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        worst = std::max(worst, std::fabs(double(got[i]) - double(want[i])));
        scale = std::max(scale, std::fabs(double(want[i])));
    }
    INFO(name << ": the table's max |delta| " << worst << ", max |value| " << scale);
    CHECK(worst <= 1e-5 * scale);
}

TEST_CASE("parity: timm made at another image size than its checkpoint's (pos_embed resampled as timm's loader does)") {
    check_parity<einvit_test::timm_resampled>("timm_resampled", vit::Family::timm);
    check_parity<einvit_test::timm_resampled_reg>("timm_resampled_reg", vit::Family::timm);
    check_parity<einvit_test::timm_resampled_distilled>("timm_resampled_distilled", vit::Family::timm);
    check_resampled_table<einvit_test::timm_resampled>("timm_resampled");
    check_resampled_table<einvit_test::timm_resampled_reg>("timm_resampled_reg");
    check_resampled_table<einvit_test::timm_resampled_distilled>("timm_resampled_distilled");
}
TEST_CASE("parity: torchvision at another image size than its checkpoint's (its interpolate_embeddings)") {
    check_parity<einvit_test::torchvision_resampled>("torchvision_resampled", vit::Family::torchvision);
    check_resampled_table<einvit_test::torchvision_resampled>("torchvision_resampled", vit::Family::torchvision);
}

TEST_CASE("parity: an image size that is not a multiple of the patch, the whole patches read (timm; transformers' SigLIP)") {
    check_parity<einvit_test::timm_partial_patches>("timm_partial_patches", vit::Family::timm);
    check_parity<einvit_test::hf_siglip_partial>("hf_siglip_partial", vit::Family::hf_siglip);
}

TEST_CASE("parity: the seeds' vit-pytorch with a padding mask (masked patches, class token kept)") {
    check_parity<seed_mask>("vit_pytorch_seed_mask", vit::Family::vit_pytorch_seed);
}
TEST_CASE("parity: vit-pytorch SimpleViT (2-D sine-cosine positions, no class token)") {
    check_parity<simple_sincos>("vit_pytorch_simple_sincos", vit::Family::vit_pytorch_simple);
}
TEST_CASE("parity: timm with global_pool avg and fc_norm") { check_parity<timm_avg>("timm_avg_pool_fc_norm", vit::Family::timm); }
TEST_CASE("parity: HF transformers ViTForImageClassification") { check_parity<hf_small>("hf_vit", vit::Family::hf); }
TEST_CASE("parity: transformers' ViTForImageClassification at another size than its config's (interpolate_pos_encoding)") {
    check_parity<einvit_test::hf_vit_resampled>("hf_vit_resampled", vit::Family::hf);
}
TEST_CASE("parity: timm's dynamic_img_size, a model for 48 x 48 run at 64 x 40 (its table resampled in the pass)") {
    check_parity<einvit_test::timm_resampled>("timm_dynamic_img_size", vit::Family::timm);
}
TEST_CASE("parity: transformers' ViTForImageClassification at 32 x 36 (a 4 x 4 grid; the image not square, so resampled)") {
    check_parity<einvit_test::hf_vit_partial>("hf_vit_partial", vit::Family::hf);
}
TEST_CASE("parity: transformers' ViTModel, its pooler_output (the pooler as the representation layer)") {
    check_parity<einvit_test::hf_vit_model_pooler>("hf_vit_model_pooler", vit::Family::hf);
}
TEST_CASE("parity: transformers' ViTModel, the class token's features (last_hidden_state[:, 0]; the pooler unread)") {
    check_parity<einvit_test::hf_vit_model_cls>("hf_vit_model_cls", vit::Family::hf);
}
TEST_CASE("parity: transformers' DeiTForImageClassificationWithTeacher (class and distillation classifiers averaged)") {
    check_parity<einvit_test::hf_deit_distilled>("hf_deit_distilled", vit::Family::hf_deit);
}
TEST_CASE("parity: transformers' DeiTForImageClassificationWithTeacher at another size (interpolate_pos_encoding)") {
    check_parity<einvit_test::hf_deit_resampled>("hf_deit_resampled", vit::Family::hf_deit);
}
TEST_CASE("parity: transformers' DeiTForImageClassification (the class token's classifier; the distillation token unread)") {
    check_parity<einvit_test::hf_deit_classifier>("hf_deit_classifier", vit::Family::hf_deit);
}
TEST_CASE("parity: transformers' DeiTModel, its pooler_output (the pooler as the representation layer)") {
    check_parity<einvit_test::hf_deit_model_pooler>("hf_deit_model_pooler", vit::Family::hf_deit);
}
TEST_CASE("parity: transformers' DeiTModel, the class token's features (last_hidden_state[:, 0]; the pooler unread)") {
    check_parity<einvit_test::hf_deit_model_cls>("hf_deit_model_cls", vit::Family::hf_deit);
}
TEST_CASE("parity: the HF model from save_pretrained's shards and index gives the single file's logits, bit for bit") {
    constexpr std::size_t B = 8;
    using Model = vit::VisionTransformer<hf_small>;
    const auto single = einvit::io::SafeTensors::open(golden("hf_vit.safetensors"));
    const auto sharded = einvit::io::ShardedCheckpoint::open(golden("hf_vit_sharded/model.safetensors.index.json"));
    REQUIRE(sharded.files().size() > 1);
    Model a = vit::load<hf_small>(single, vit::Family::hf), b = vit::load<hf_small>(sharded, vit::Family::hf);
    einvit::Tensor<float, einvit::Shape<B, 3, 32, 32>> image;
    const auto input = read_floats(golden("hf_vit.input.bin"), image.size());
    std::memcpy(image.data(), input.data(), image.bytes());
    const auto la = a.forward(image), lb = b.forward(image);
    CHECK(std::memcmp(la.data(), lb.data(), la.bytes()) == 0);
}
TEST_CASE("parity: timm ViT-Ti/16 at 224") { check_parity<vit::presets::vit_tiny_patch16_224>("timm_vit_tiny_patch16_224", vit::Family::timm); }
TEST_CASE("parity: timm ViT-B/16 at 224") { check_parity<vit::presets::vit_base_patch16_224>("timm_vit_base_patch16_224", vit::Family::timm); }
TEST_CASE("parity: timm ViT-S at 160 x 224 (non-square)") { check_parity<timm_small_160x224>("timm_vit_small_160x224", vit::Family::timm); }
TEST_CASE("parity: timm DeiT-Ti distilled") {
    check_parity<vit::presets::deit_tiny_distilled_patch16_224>("timm_deit_tiny_distilled", vit::Family::timm);
}
TEST_CASE("parity: torchvision VisionTransformer") { check_parity<torchvision_small>("torchvision_vit_32", vit::Family::torchvision); }
TEST_CASE("parity: torchvision with a representation layer (pre_logits, Linear + tanh)") {
    check_parity<torchvision_pre_logits>("torchvision_pre_logits", vit::Family::torchvision);
}
TEST_CASE("parity: vit-pytorch with mean pooling, 48 x 64") { check_parity<vit_pytorch_mean>("vit_pytorch_mean", vit::Family::vit_pytorch); }
TEST_CASE("parity: vit-pytorch MNIST-size model (28 x 28, 1 channel, 7 x 7 patches)") {
    check_parity<vit::presets::mnist>("vit_pytorch_mnist", vit::Family::vit_pytorch);
}
TEST_CASE("parity: post-norm encoder on nn.TransformerEncoderLayer") {
    check_parity<post_norm>("torch_encoder_postnorm", vit::Family::torch_encoder);
    check_parity<post_norm_final>("torch_encoder_postnorm_final_norm", vit::Family::torch_encoder);
}
