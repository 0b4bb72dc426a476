// einvit/vit/config.hpp — what a Vision Transformer is, as a constexpr value.
//
//   constexpr einvit::vit::Config mine{.image_height = 28, .image_width = 28, .patch = 7, .channels = 1,
//                                      .dim = 64, .depth = 6, .heads = 8, .dim_head = 8, .mlp_dim = 128,
//                                      .num_classes = 10};
//   einvit::vit::VisionTransformer<mine> model;
//
// A Config is a template argument, so every shape in the model is known at compile time, and a
// config that cannot work is a compile error that says why (see check_config).
#pragma once

#include <cstddef>

#include "einvit/core/config.hpp"

namespace einvit::inline EINVIT_ABI::vit {

/// How the head reads the tokens: the class token; the mean of all tokens (vit-pytorch); the mean of the
/// patch tokens (timm's "avg"); attention pooling (timm's "map": SigLIP): a learned query attends to
/// every token with the model's heads, then a projection and a pre-norm residual MLP of mlp_dim; the
/// class token and the patch tokens' mean side by side, 2 x dim wide (transformers'
/// Dinov2ForImageClassification: DINOv2's linear classifiers).
enum class Pooling { cls, mean_all, mean_patches, map, cls_and_mean };
enum class NormPlacement { pre, post };                    ///< ViT's pre-norm blocks, or the original Transformer's post-norm
enum class PositionEmbedding { learned, sincos_2d };       ///< a learned table, or fixed 2-D sine-cosine
/// The MLP's activation (quick_gelu: x·σ(1.702 x), OpenAI's CLIP). swiglu: a gated MLP (DINOv2 giant's
/// SwiGLU): fc1 gives 2 x mlp_dim values, silu(the first half) · the second half goes into fc2 (mlp_dim
/// in): timm's SwiGLUPacked (mlp.fc1, mlp.fc2), transformers' Dinov2SwiGLUFFN (mlp.weights_in, mlp.weights_out).
enum class Activation { gelu_erf, gelu_tanh, relu, quick_gelu, swiglu };
enum class PatchOrder { c_p1_p2, p1_p2_c };               ///< flattening of a patch: a conv's (timm, torchvision, HF), or vit-pytorch's

struct Config {
    std::size_t image_height = 224;
    std::size_t image_width = 224;
    std::size_t patch = 16;
    std::size_t channels = 3;
    std::size_t dim = 768;
    std::size_t depth = 12;
    std::size_t heads = 12;
    std::size_t dim_head = 0;  ///< 0: dim / heads
    std::size_t mlp_dim = 3072;
    std::size_t num_classes = 1000;  ///< 0: no head; forward returns the features
    Pooling pooling = Pooling::cls;
    bool class_token = true;
    bool distillation_token = false;  ///< DeiT: a second token and head, logits averaged
    std::size_t register_tokens = 0;  ///< timm's reg_token: prefix tokens after the class (and distillation) token that no head reads
    bool qkv_bias = true;
    bool proj_out = true;  ///< an output projection after attention (vit-pytorch drops it when heads = 1 and dim_head = dim)
    bool proj_bias = true;  ///< a bias on that projection (vit-pytorch's SimpleViT has none)
    NormPlacement norm = NormPlacement::pre;
    bool final_norm = true;
    bool patch_norm = false;  ///< vit-pytorch's LayerNorm before and after the patch projection
    bool patch_bias = true;   ///< a bias on the patch projection (timm's models with norm_pre, CLIP's, have none)
    bool head_norm = false;   ///< a LayerNorm in front of the head (the seeds' vit-pytorch mlp_head)
    std::size_t representation_size = 0;  ///< timm's pre_logits: Linear + tanh of this size; 0: none
    PositionEmbedding position = PositionEmbedding::learned;
    bool prefix_position = true;  ///< the learned position table covers the prefix tokens too; false: the patches only (timm's no_embed_class: DeiT-III, models with registers)
    bool layer_scale = false;  ///< each branch's output scaled per channel before the residual add (timm's ls1, ls2: DeiT-III, DINOv2)
    bool embed_norm = false;   ///< a LayerNorm on the tokens before the first block (timm's norm_pre: CLIP image towers)
    /// An image size that is not a multiple of the patch: the patches are the whole ones, and the last
    /// (size % patch) rows or columns of pixels are not read, as a convolution of stride `patch` leaves
    /// them (timm's and transformers' so400m-patch14-384: 27 patches of 14 in 384). false: such a size
    /// is a config error. (Here among the flags: placed between patch_order and layer_norm_eps, it made
    /// clang 14 crash generating code for a function templated on a Config.)
    bool drop_partial_patches = false;
    Activation activation = Activation::gelu_erf;
    PatchOrder patch_order = PatchOrder::c_p1_p2;
    float layer_norm_eps = 1e-6f;
    float attention_scale = 0;  ///< 0: dim_head^-0.5

    // ---- derived sizes ----
    constexpr std::size_t head_dim() const noexcept { return dim_head ? dim_head : (heads ? dim / heads : 0); }
    constexpr std::size_t inner_dim() const noexcept { return heads * head_dim(); }
    constexpr std::size_t grid_h() const noexcept { return patch ? image_height / patch : 0; }
    constexpr std::size_t grid_w() const noexcept { return patch ? image_width / patch : 0; }
    constexpr std::size_t patches() const noexcept { return grid_h() * grid_w(); }
    constexpr std::size_t patch_dim() const noexcept { return channels * patch * patch; }
    /// The tokens a head may read: the class token, then the distillation token.
    constexpr std::size_t class_tokens() const noexcept { return (class_token ? 1 : 0) + (distillation_token ? 1 : 0); }
    /// The tokens before the patches: the class tokens, then the registers.
    constexpr std::size_t prefix_tokens() const noexcept { return class_tokens() + register_tokens; }
    constexpr std::size_t tokens() const noexcept { return patches() + prefix_tokens(); }
    constexpr std::size_t feature_dim() const noexcept {
        return representation_size ? representation_size : pooling == Pooling::cls_and_mean ? 2 * dim : dim;
    }
    /// A gated MLP (Activation::swiglu): fc1 gives a gate and a value for each of fc2's inputs.
    constexpr bool gated_mlp() const noexcept { return activation == Activation::swiglu; }
    /// fc1's outputs: mlp_dim, or 2 x mlp_dim for a gated MLP.
    constexpr std::size_t fc1_dim() const noexcept { return gated_mlp() ? 2 * mlp_dim : mlp_dim; }
    /// The head size of attention pooling (Pooling::map): dim / heads, whatever dim_head is.
    constexpr std::size_t pool_head_dim() const noexcept { return heads ? dim / heads : 0; }
};

/// What is wrong with a config (ConfigProblem::none when nothing is). The enumerator's name is the
/// message: g++ and clang print it in the failed static_assert of check_config().
enum class ConfigProblem {
    none,
    patch_size_is_zero,
    image_height_not_divisible_by_patch,
    image_width_not_divisible_by_patch,
    image_has_no_pixels,
    sizes_must_be_positive,
    dim_not_divisible_by_heads,
    no_projection_needs_inner_dim_equal_to_dim,
    cls_pooling_needs_class_token,
    distillation_token_needs_class_token,
    distilled_model_pools_cls,
    sincos_needs_dim_divisible_by_4,
    layer_norm_eps_must_be_positive,
    attention_scale_negative,
    layer_scale_needs_projection,
    map_pooling_needs_dim_divisible_by_heads,
    image_smaller_than_patch,
    cls_and_mean_pooling_has_no_head_norm_or_pre_logits,
    swiglu_mlp_with_map_pooling,
};

constexpr ConfigProblem config_problem(const Config& c) noexcept {
    if (c.patch == 0) return ConfigProblem::patch_size_is_zero;
    if (!c.drop_partial_patches && c.image_height % c.patch != 0) return ConfigProblem::image_height_not_divisible_by_patch;
    if (!c.drop_partial_patches && c.image_width % c.patch != 0) return ConfigProblem::image_width_not_divisible_by_patch;
    if (c.image_height == 0 || c.image_width == 0 || c.channels == 0) return ConfigProblem::image_has_no_pixels;
    if (c.image_height < c.patch || c.image_width < c.patch) return ConfigProblem::image_smaller_than_patch;
    if (c.dim == 0 || c.heads == 0 || c.depth == 0 || c.mlp_dim == 0) return ConfigProblem::sizes_must_be_positive;
    if (c.dim_head == 0 && c.dim % c.heads != 0) return ConfigProblem::dim_not_divisible_by_heads;
    if (!c.proj_out && c.inner_dim() != c.dim) return ConfigProblem::no_projection_needs_inner_dim_equal_to_dim;
    if ((c.pooling == Pooling::cls || c.pooling == Pooling::cls_and_mean) && !c.class_token) return ConfigProblem::cls_pooling_needs_class_token;
    if (c.distillation_token && !c.class_token) return ConfigProblem::distillation_token_needs_class_token;
    if (c.distillation_token && c.pooling != Pooling::cls) return ConfigProblem::distilled_model_pools_cls;
    if (c.position == PositionEmbedding::sincos_2d && c.dim % 4 != 0) return ConfigProblem::sincos_needs_dim_divisible_by_4;
    // written so that NaN and infinity fail too: either would make every output NaN
    if (!(c.layer_norm_eps > 0 && c.layer_norm_eps <= 3.4028234663852886e38f)) return ConfigProblem::layer_norm_eps_must_be_positive;
    if (!(c.attention_scale >= 0 && c.attention_scale <= 3.4028234663852886e38f)) return ConfigProblem::attention_scale_negative;
    if (c.layer_scale && !c.proj_out) return ConfigProblem::layer_scale_needs_projection;
    if (c.pooling == Pooling::map && c.dim % c.heads != 0) return ConfigProblem::map_pooling_needs_dim_divisible_by_heads;
    if (c.pooling == Pooling::cls_and_mean && (c.head_norm || c.representation_size))
        return ConfigProblem::cls_and_mean_pooling_has_no_head_norm_or_pre_logits;
    if (c.gated_mlp() && c.pooling == Pooling::map) return ConfigProblem::swiglu_mlp_with_map_pooling;
    return ConfigProblem::none;
}

/// The problem in words, for run-time messages.
constexpr const char* describe(ConfigProblem p) noexcept {
    switch (p) {
        case ConfigProblem::none: return "valid";
        case ConfigProblem::patch_size_is_zero: return "the patch size is 0";
        case ConfigProblem::image_height_not_divisible_by_patch:
            return "the image height is not divisible by the patch size (drop_partial_patches = true: the whole patches only, as a convolution of stride patch reads)";
        case ConfigProblem::image_width_not_divisible_by_patch:
            return "the image width is not divisible by the patch size (drop_partial_patches = true: the whole patches only, as a convolution of stride patch reads)";
        case ConfigProblem::image_has_no_pixels: return "the image has no pixels";
        case ConfigProblem::sizes_must_be_positive: return "dim, heads, depth and mlp_dim must be positive";
        case ConfigProblem::dim_not_divisible_by_heads: return "dim is not divisible by heads (set dim_head to choose the head size)";
        case ConfigProblem::no_projection_needs_inner_dim_equal_to_dim: return "without an output projection heads * dim_head must equal dim";
        case ConfigProblem::cls_pooling_needs_class_token: return "cls pooling (and cls_and_mean) needs the class token";
        case ConfigProblem::distillation_token_needs_class_token: return "a distillation token needs the class token";
        case ConfigProblem::distilled_model_pools_cls: return "a distilled model pools the class and distillation tokens";
        case ConfigProblem::sincos_needs_dim_divisible_by_4: return "2-D sine-cosine position embedding needs dim divisible by 4";
        case ConfigProblem::layer_norm_eps_must_be_positive: return "layer_norm_eps must be positive and finite";
        case ConfigProblem::attention_scale_negative: return "attention_scale must be positive and finite (or 0 for dim_head^-0.5)";
        case ConfigProblem::layer_scale_needs_projection: return "layer scale needs the output projection after attention (proj_out)";
        case ConfigProblem::map_pooling_needs_dim_divisible_by_heads: return "attention pooling (map) splits dim into heads: dim must be divisible by heads";
        case ConfigProblem::image_smaller_than_patch: return "the image is smaller than one patch";
        case ConfigProblem::cls_and_mean_pooling_has_no_head_norm_or_pre_logits:
            return "cls_and_mean pooling feeds the head its 2 x dim features directly (no head_norm, no representation_size)";
        case ConfigProblem::swiglu_mlp_with_map_pooling:
            return "attention pooling's MLP is a plain one: no model with it has SwiGLU MLPs (activation = swiglu)";
    }
    return "invalid";
}

/// Instantiated with the problem found, so the compiler's "in instantiation of" line names it:
///   In instantiation of 'struct einvit::vit::invalid_config<ConfigProblem::image_height_not_divisible_by_patch>'
template <ConfigProblem P>
struct invalid_config {
    static_assert(P == ConfigProblem::none,
                  "einvit::vit: invalid Config; the ConfigProblem in the instantiation above says what is wrong");
    static constexpr bool ok = P == ConfigProblem::none;
};

/// A compile error naming the problem when C cannot describe a model.
template <Config C>
constexpr bool check_config() {
    return invalid_config<config_problem(C)>::ok;
}

// ---- presets ---------------------------------------------------------------------------------------

namespace presets {

constexpr Config vit(std::size_t dim, std::size_t depth, std::size_t heads, std::size_t patch, std::size_t image = 224,
                     std::size_t classes = 1000) {
    Config c;
    c.image_height = c.image_width = image;
    c.patch = patch;
    c.dim = dim;
    c.depth = depth;
    c.heads = heads;
    c.mlp_dim = 4 * dim;
    c.num_classes = classes;
    return c;
}

inline constexpr Config vit_tiny_patch16_224 = vit(192, 12, 3, 16);
inline constexpr Config vit_small_patch16_224 = vit(384, 12, 6, 16);
inline constexpr Config vit_base_patch16_224 = vit(768, 12, 12, 16);
inline constexpr Config vit_base_patch32_224 = vit(768, 12, 12, 32);
inline constexpr Config vit_large_patch16_224 = vit(1024, 24, 16, 16);
inline constexpr Config vit_large_patch32_224 = vit(1024, 24, 16, 32);
inline constexpr Config vit_huge_patch14_224 = vit(1280, 32, 16, 14);
/// The ImageNet-21k models of the original paper: 21843 classes and a 768-wide pre_logits layer.
inline constexpr Config vit_base_patch16_224_in21k = [] {
    Config c = vit(768, 12, 12, 16, 224, 21843);
    c.representation_size = 768;
    return c;
}();

constexpr Config deit(std::size_t dim, std::size_t heads, bool distilled) {
    Config c = vit(dim, 12, heads, 16);
    c.distillation_token = distilled;
    return c;
}
inline constexpr Config deit_tiny_patch16_224 = deit(192, 3, false);
inline constexpr Config deit_small_patch16_224 = deit(384, 6, false);
inline constexpr Config deit_base_patch16_224 = deit(768, 12, false);
inline constexpr Config deit_tiny_distilled_patch16_224 = deit(192, 3, true);
inline constexpr Config deit_small_distilled_patch16_224 = deit(384, 6, true);
inline constexpr Config deit_base_distilled_patch16_224 = deit(768, 12, true);

/// A preset as transformers' ViTConfig and DeiTConfig make it: LayerNorm's epsilon 1e-12 (timm's is 1e-6),
/// for their checkpoints (Family::hf, Family::hf_deit):
///   load<hf_layer_norm(deit_base_distilled_patch16_224)>(file, Family::hf_deit)   // facebook/deit-base-distilled-patch16-224
constexpr Config hf_layer_norm(Config c) {
    c.layer_norm_eps = 1e-12f;
    return c;
}

/// DeiT-III (timm's deit3_*): layer scale after each branch, positions for the patches alone.
constexpr Config deit3(std::size_t dim, std::size_t depth, std::size_t heads) {
    Config c = vit(dim, depth, heads, 16);
    c.layer_scale = true;
    c.prefix_position = false;
    return c;
}
inline constexpr Config deit3_small_patch16_224 = deit3(384, 12, 6);
inline constexpr Config deit3_medium_patch16_224 = deit3(512, 12, 8);
inline constexpr Config deit3_base_patch16_224 = deit3(768, 12, 12);
inline constexpr Config deit3_large_patch16_224 = deit3(1024, 24, 16);

/// timm's ViTs with 4 registers, no class token, and the mean of the patch tokens through fc_norm
/// (vit_*_patch16_reg4_gap_256).
constexpr Config vit_reg4_gap_256(std::size_t dim, std::size_t heads) {
    Config c = vit(dim, 12, heads, 16, 256);
    c.class_token = false;
    c.register_tokens = 4;
    c.prefix_position = false;
    c.pooling = Pooling::mean_patches;
    c.final_norm = false;
    c.head_norm = true;
    return c;
}
inline constexpr Config vit_medium_patch16_reg4_gap_256 = vit_reg4_gap_256(512, 8);
inline constexpr Config vit_base_patch16_reg4_gap_256 = vit_reg4_gap_256(768, 12);

/// DINOv2 with registers (timm's vit_small_patch14_reg4_dinov2): 518 x 518 in 14 x 14 patches, layer
/// scale, 4 registers; no head: the model gives the class token's features.
inline constexpr Config vit_small_patch14_reg4_dinov2 = [] {
    Config c = vit(384, 12, 6, 14, 518, 0);
    c.register_tokens = 4;
    c.prefix_position = false;
    c.layer_scale = true;
    return c;
}();

/// CLIP's image tower as timm holds it (vit_base_patch16_clip_224): no bias on the patch projection, a
/// LayerNorm before the blocks, eps 1e-5.
inline constexpr Config vit_base_patch16_clip_224 = [] {
    Config c = vit(768, 12, 12, 16);
    c.embed_norm = true;
    c.patch_bias = false;
    c.layer_norm_eps = 1e-5f;
    return c;
}();

/// OpenAI's CLIP image tower as timm holds it (vit_base_patch16_clip_quickgelu_224): the same with
/// QuickGELU in the MLP, and the projection to CLIP's 512-wide embedding as the head.
inline constexpr Config vit_base_patch16_clip_quickgelu_224 = [] {
    Config c = vit_base_patch16_clip_224;
    c.activation = Activation::quick_gelu;
    c.num_classes = 512;
    return c;
}();

/// SigLIP's image towers as timm holds them (vit_*_siglip_*): no class token, attention pooling ("map")
/// over every token after the final norm, no head: the model gives the pooled 768 (1024, 1152)
/// features, the image embedding SigLIP compares with its text tower's.
constexpr Config siglip(std::size_t dim, std::size_t depth, std::size_t heads, std::size_t patch, std::size_t image,
                        std::size_t mlp_dim) {
    Config c = vit(dim, depth, heads, patch, image, 0);
    c.mlp_dim = mlp_dim;
    c.class_token = false;
    c.pooling = Pooling::map;
    return c;
}
inline constexpr Config vit_base_patch16_siglip_224 = siglip(768, 12, 12, 16, 224, 3072);
inline constexpr Config vit_base_patch16_siglip_384 = siglip(768, 12, 12, 16, 384, 3072);
inline constexpr Config vit_large_patch16_siglip_256 = siglip(1024, 24, 16, 16, 256, 4096);
/// The shape-optimised 400M tower (PaliGemma's): 27 blocks of 1152, an MLP of int(1152 x 3.7362).
inline constexpr Config vit_so400m_patch14_siglip_224 = siglip(1152, 27, 16, 14, 224, 4304);
/// ... at 384: 27 x 27 patches of 14, the last 6 rows and columns of pixels unread (drop_partial_patches)
inline constexpr Config vit_so400m_patch14_siglip_384 = [] {
    Config c = siglip(1152, 27, 16, 14, 384, 4304);
    c.drop_partial_patches = true;
    return c;
}();

/// SigLIP's towers as transformers holds them (google/siglip-*, Family::hf_siglip): the same shapes with
/// the original's tanh GELU (timm 0.9's presets above build the erf GELU; the two differ by up to 4.7e-4).
inline constexpr Config siglip_base_patch16_224 = [] {
    Config c = vit_base_patch16_siglip_224;
    c.activation = Activation::gelu_tanh;
    return c;
}();
inline constexpr Config siglip_so400m_patch14_224 = [] {
    Config c = vit_so400m_patch14_siglip_224;
    c.activation = Activation::gelu_tanh;
    return c;
}();
/// google/siglip-so400m-patch14-384 (the image tower of many vision-language models)
inline constexpr Config siglip_so400m_patch14_384 = [] {
    Config c = vit_so400m_patch14_siglip_384;
    c.activation = Activation::gelu_tanh;
    return c;
}();

/// DINOv2 as transformers holds it (facebook/dinov2-{small,base,large}, Family::hf_dinov2) at 224: 16 x 16
/// patches of 14, layer scale, positions for the class token too (the loader resamples the pretraining
/// grid's table as transformers does), no head: the class token's features.
constexpr Config dinov2(std::size_t dim, std::size_t depth, std::size_t heads) {
    Config c = vit(dim, depth, heads, 14, 224, 0);
    c.layer_scale = true;
    return c;
}
inline constexpr Config dinov2_small_patch14_224 = dinov2(384, 12, 6);
inline constexpr Config dinov2_base_patch14_224 = dinov2(768, 12, 12);
inline constexpr Config dinov2_large_patch14_224 = dinov2(1024, 24, 16);
/// DINOv2's linear classifiers as transformers holds them (facebook/dinov2-{small,base,large}-imagenet1k-1-layer:
/// Dinov2ForImageClassification) at 224: ImageNet-1k's classes from [class token | patch tokens' mean].
constexpr Config dinov2_linear_classifier(Config c) {
    c.pooling = Pooling::cls_and_mean;
    c.num_classes = 1000;
    return c;
}
inline constexpr Config dinov2_small_imagenet1k_1_layer = dinov2_linear_classifier(dinov2_small_patch14_224);
inline constexpr Config dinov2_base_imagenet1k_1_layer = dinov2_linear_classifier(dinov2_base_patch14_224);
inline constexpr Config dinov2_large_imagenet1k_1_layer = dinov2_linear_classifier(dinov2_large_patch14_224);
/// DINOv2 with registers as transformers holds it (facebook/dinov2-with-registers-{small,base,large},
/// Family::hf_dinov2: Dinov2WithRegistersModel) at 224: as dinov2() with 4 registers after the class token,
/// which have no positions (the loader adds the table's class-token row to the class token); no head.
/// A classifier over it (Dinov2WithRegistersForImageClassification): dinov2_linear_classifier(...), whose
/// mean is the patch tokens', the registers left out (transformers 4.52 and later).
constexpr Config dinov2_with_registers(std::size_t dim, std::size_t depth, std::size_t heads) {
    Config c = dinov2(dim, depth, heads);
    c.register_tokens = 4;
    c.prefix_position = false;
    return c;
}
inline constexpr Config dinov2_with_registers_small_patch14_224 = dinov2_with_registers(384, 12, 6);
inline constexpr Config dinov2_with_registers_base_patch14_224 = dinov2_with_registers(768, 12, 12);
inline constexpr Config dinov2_with_registers_large_patch14_224 = dinov2_with_registers(1024, 24, 16);

/// DINOv2's giant models (ViT-g/14, 1.1 billion parameters): 40 blocks of 1536, 24 heads, SwiGLU MLPs of
/// 4096 (fc1 8192 wide), layer scale. As transformers holds them (facebook/dinov2-giant, Family::hf_dinov2)
/// at 224, and with registers (facebook/dinov2-with-registers-giant); no head.
constexpr Config dinov2_giant(Config c) {
    c.dim = 1536;
    c.depth = 40;
    c.heads = 24;
    c.mlp_dim = 4096;
    c.activation = Activation::swiglu;
    return c;
}
inline constexpr Config dinov2_giant_patch14_224 = dinov2_giant(dinov2_small_patch14_224);
inline constexpr Config dinov2_with_registers_giant_patch14_224 = dinov2_giant(dinov2_with_registers_small_patch14_224);
/// ... as timm holds them (vit_giant_patch14_dinov2, vit_giant_patch14_reg4_dinov2: 518 x 518, Family::timm)
inline constexpr Config vit_giant_patch14_dinov2 = [] {
    Config c = dinov2_giant(dinov2_small_patch14_224);
    c.image_height = c.image_width = 518;
    return c;
}();
inline constexpr Config vit_giant_patch14_reg4_dinov2 = dinov2_giant(vit_small_patch14_reg4_dinov2);
/// DINOv2's linear classifiers on the giant models and on the models with registers, as transformers'
/// conversions of Meta's linear heads hold them (dinov2-giant-imagenet1k-1-layer: Dinov2ForImageClassification;
/// dinov2-with-registers-{small,base,large,giant}-imagenet1k-1-layer: Dinov2WithRegistersForImageClassification,
/// whose mean leaves the registers out, as Meta's heads were trained) at 224.
inline constexpr Config dinov2_giant_imagenet1k_1_layer = dinov2_linear_classifier(dinov2_giant_patch14_224);
inline constexpr Config dinov2_with_registers_small_imagenet1k_1_layer = dinov2_linear_classifier(dinov2_with_registers_small_patch14_224);
inline constexpr Config dinov2_with_registers_base_imagenet1k_1_layer = dinov2_linear_classifier(dinov2_with_registers_base_patch14_224);
inline constexpr Config dinov2_with_registers_large_imagenet1k_1_layer = dinov2_linear_classifier(dinov2_with_registers_large_patch14_224);
inline constexpr Config dinov2_with_registers_giant_imagenet1k_1_layer = dinov2_linear_classifier(dinov2_with_registers_giant_patch14_224);

/// The seeds' MNIST model: 28 x 28 grey images in 7 x 7 patches, in the layout of vit-pytorch's ViT
/// (LayerNorms around the patch projection, no qkv bias, LayerNorm eps 1e-5).
inline constexpr Config mnist = [] {
    Config c;
    c.image_height = c.image_width = 28;
    c.patch = 7;
    c.channels = 1;
    c.dim = 64;
    c.depth = 6;
    c.heads = 8;
    c.dim_head = 64;
    c.mlp_dim = 128;
    c.num_classes = 10;
    c.qkv_bias = false;
    c.patch_norm = true;
    c.patch_order = PatchOrder::p1_p2_c;
    c.layer_norm_eps = 1e-5f;
    return c;
}();

}  // namespace presets

}  // namespace einvit::vit
