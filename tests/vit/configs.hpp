// Model configs that several ViT test files load checkpoints of.
#pragma once

#include <einvit/vit/config.hpp>

namespace einvit_test {

// The HF transformers model of tests/golden/vit/gen.py (hf_vit, and its four shards in hf_vit_sharded)
inline constexpr einvit::vit::Config hf_small = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 32, 7);
    c.mlp_dim = 128;
    c.layer_norm_eps = 1e-12f;
    return c;
}();

// the Fashion-MNIST-size model of tests/golden/vit/gen.py with a distillation token (which its checkpoint lacks)
inline constexpr einvit::vit::Config mnist_distilled = [] {
    einvit::vit::Config c = einvit::vit::presets::mnist;
    c.distillation_token = true;
    return c;
}();

// DeiT's distillation token and head, post-norm blocks, vit-pytorch's patch norms and head norm
inline constexpr einvit::vit::Config distilled_post_norm{
    .image_height = 32, .image_width = 24, .patch = 8, .channels = 3, .dim = 32, .depth = 2, .heads = 2, .dim_head = 16,
    .mlp_dim = 64, .num_classes = 5, .pooling = einvit::vit::Pooling::cls, .class_token = true, .distillation_token = true,
    .norm = einvit::vit::NormPlacement::post, .patch_norm = true, .head_norm = true};
// mean pooling of the patch tokens without a class token, sine-cosine positions, timm's pre_logits
inline constexpr einvit::vit::Config mean_pooled_sincos{
    .image_height = 32, .image_width = 32, .patch = 8, .channels = 1, .dim = 32, .depth = 2, .heads = 4, .dim_head = 8,
    .mlp_dim = 48, .num_classes = 7, .pooling = einvit::vit::Pooling::mean_patches, .class_token = false,
    .representation_size = 24, .position = einvit::vit::PositionEmbedding::sincos_2d,
    .activation = einvit::vit::Activation::gelu_tanh};

// DINOv2's kind (tests/golden/vit/gen.py's timm_dinov2_reg_features): class token, 4 registers,
// positions for the patches alone, layer scale, no head (the class token's features)
inline constexpr einvit::vit::Config timm_dinov2_reg = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 3, 4, 8, 48, 0);
    c.register_tokens = 4;
    c.prefix_position = false;
    c.layer_scale = true;
    return c;
}();

// gen.py's timm_reg_norm_pre: registers inside the position table, a LayerNorm before the blocks and
// no patch bias (timm's pre_norm), layer scale
inline constexpr einvit::vit::Config timm_reg_norm_pre = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 32, 6);
    c.image_width = 40;
    c.mlp_dim = 128;
    c.register_tokens = 2;
    c.embed_norm = true;
    c.patch_bias = false;
    c.layer_scale = true;
    return c;
}();

// registers after the class and distillation tokens, positions for the patches alone, a LayerNorm
// before the blocks, no patch bias, layer scale (folded into proj and fc2: random weights hold it so)
inline constexpr einvit::vit::Config registers_distilled{
    .image_height = 24, .image_width = 32, .patch = 8, .channels = 3, .dim = 32, .depth = 2, .heads = 2, .mlp_dim = 64,
    .num_classes = 6, .class_token = true, .distillation_token = true, .register_tokens = 3, .patch_bias = false,
    .prefix_position = false, .layer_scale = true, .embed_norm = true};

// gen.py's timm_siglip_map: SigLIP's kind, no class token, attention pooling ("map") after the final norm
inline constexpr einvit::vit::Config timm_siglip_map = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 32, 5);
    c.mlp_dim = 128;
    c.class_token = false;
    c.pooling = einvit::vit::Pooling::map;
    return c;
}();

// gen.py's timm_map_prefix_features: attention pooling over a class token, 2 registers and the patches
// (positions for the patches alone), no head: the pooled features
inline constexpr einvit::vit::Config timm_map_prefix = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(96, 2, 6, 8, 40, 0);
    c.image_width = 48;
    c.mlp_dim = 240;
    c.register_tokens = 2;
    c.prefix_position = false;
    c.pooling = einvit::vit::Pooling::map;
    return c;
}();

// gen.py's hf_siglip: transformers' SigLIP vision tower (tanh GELU, attention pooling, no class token)
inline constexpr einvit::vit::Config hf_siglip_small = [] {
    einvit::vit::Config c = timm_siglip_map;
    c.num_classes = 0;
    c.activation = einvit::vit::Activation::gelu_tanh;
    return c;
}();

// gen.py's hf_clip: transformers' CLIP vision tower with its projection to 24 as the head (no bias)
inline constexpr einvit::vit::Config hf_clip_small = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 32, 24);
    c.mlp_dim = 128;
    c.embed_norm = true;
    c.patch_bias = false;
    c.layer_norm_eps = 1e-5f;
    c.activation = einvit::vit::Activation::quick_gelu;
    return c;
}();

// gen.py's hf_siglip_resampled and hf_clip_resampled: those models made at 32 x 32 (4 x 4 patches of 8) run
// with interpolate_pos_encoding=True at 40 x 24 (5 x 3) and 56 x 40 (7 x 5): their tables resampled as it does
inline constexpr einvit::vit::Config hf_siglip_resampled = [] {
    einvit::vit::Config c = hf_siglip_small;
    c.image_height = 40;
    c.image_width = 24;
    return c;
}();
inline constexpr einvit::vit::Config hf_clip_resampled = [] {
    einvit::vit::Config c = hf_clip_small;
    c.image_height = 56;
    c.image_width = 40;
    return c;
}();

// gen.py's hf_dinov2_resampled: transformers' Dinov2Model pretrained on 56 x 56 (7 x 7 patches of 8) run
// at 40 x 48 (5 x 6): its position table resampled as its interpolate_pos_encoding does; the features
inline constexpr einvit::vit::Config hf_dinov2_resampled = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 40, 0);
    c.image_width = 48;
    c.mlp_dim = 128;
    c.layer_scale = true;
    return c;
}();

// gen.py's hf_dinov2_native: the same kind at its pretraining size, 56 x 56 (the table as it is)
inline constexpr einvit::vit::Config hf_dinov2_native = [] {
    einvit::vit::Config c = hf_dinov2_resampled;
    c.image_height = c.image_width = 56;
    return c;
}();

// gen.py's hf_dinov2_strip: the same at 8 x 392, 1 x 49 patches: as many as the table's 7 x 7, resampled
inline constexpr einvit::vit::Config hf_dinov2_strip = [] {
    einvit::vit::Config c = hf_dinov2_resampled;
    c.image_height = 8;
    c.image_width = 392;
    return c;
}();

// gen.py's timm_resampled: a timm checkpoint for 48 x 48 (6 x 6 patches of 8) made at 64 x 40 (8 x 5), its
// pos_embed resampled as timm's checkpoint_filter_fn does (bicubic, antialiased)
inline constexpr einvit::vit::Config timm_resampled = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 64, 6);
    c.image_width = 40;
    c.mlp_dim = 128;
    return c;
}();

// gen.py's torchvision_resampled: a torchvision checkpoint for 32 x 32 (4 x 4 patches of 8) loaded at 56 x 56
// (7 x 7), its table resampled as torchvision's interpolate_embeddings does (bicubic, align_corners=True)
inline constexpr einvit::vit::Config torchvision_resampled = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 56, 11);
    c.mlp_dim = 128;
    return c;
}();

// gen.py's timm_resampled_reg: 4 registers, positions for the patches alone (no_embed_class), from 48 x 48
// to 24 x 32 (3 x 4: fewer rows and columns)
inline constexpr einvit::vit::Config timm_resampled_reg = [] {
    einvit::vit::Config c = timm_resampled;
    c.image_height = 24;
    c.image_width = 32;
    c.register_tokens = 4;
    c.prefix_position = false;
    return c;
}();

// gen.py's timm_resampled_distilled: DeiT's distillation token (two prefix rows), from 32 x 32 to 56 x 56
inline constexpr einvit::vit::Config timm_resampled_distilled = [] {
    einvit::vit::Config c = timm_resampled;
    c.image_height = c.image_width = 56;
    c.distillation_token = true;
    return c;
}();

// gen.py's timm_partial_patches: 38 x 45 pixels in patches of 8, 4 x 5 patches (the last 6 rows and 5
// columns unread, as timm's convolution leaves them)
inline constexpr einvit::vit::Config timm_partial_patches = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 38, 5);
    c.image_width = 45;
    c.mlp_dim = 128;
    c.drop_partial_patches = true;
    return c;
}();

// gen.py's hf_siglip_partial: transformers' SiglipVisionModel at 36 x 36 in patches of 8 (4 x 4 read),
// as google/siglip-so400m-patch14-384 reads 27 x 27 patches of 14 in 384
inline constexpr einvit::vit::Config hf_siglip_partial = [] {
    einvit::vit::Config c = hf_siglip_small;
    c.image_height = c.image_width = 36;
    c.drop_partial_patches = true;
    return c;
}();

// gen.py's hf_siglip_classifier: transformers' SiglipForImageClassification, the tokens' mean into 7 classes
inline constexpr einvit::vit::Config hf_siglip_classifier = [] {
    einvit::vit::Config c = hf_siglip_small;
    c.pooling = einvit::vit::Pooling::mean_all;
    c.num_classes = 7;
    return c;
}();

// gen.py's hf_dinov2_classifier: transformers' Dinov2ForImageClassification (hf_dinov2_resampled's model
// under "dinov2.", at 40 x 48), its classifier over [class token | patch tokens' mean] into 7 classes
inline constexpr einvit::vit::Config hf_dinov2_classifier = [] {
    einvit::vit::Config c = hf_dinov2_resampled;
    c.pooling = einvit::vit::Pooling::cls_and_mean;
    c.num_classes = 7;
    return c;
}();

// gen.py's hf_dinov2_reg_resampled: transformers' Dinov2WithRegistersModel pretrained on 56 x 56 run at 40 x 48:
// hf_dinov2_resampled's kind with 4 registers after the class token, which have no positions
inline constexpr einvit::vit::Config hf_dinov2_reg_resampled = [] {
    einvit::vit::Config c = hf_dinov2_resampled;
    c.register_tokens = 4;
    c.prefix_position = false;
    return c;
}();

// gen.py's hf_dinov2_reg_native: the same at its pretraining size, 56 x 56 (the table as it is)
inline constexpr einvit::vit::Config hf_dinov2_reg_native = [] {
    einvit::vit::Config c = hf_dinov2_reg_resampled;
    c.image_height = c.image_width = 56;
    return c;
}();

// gen.py's hf_dinov2_reg_classifier: Dinov2WithRegistersForImageClassification at 40 x 48, its classifier over
// [class token | patch tokens' mean] (the registers not in the mean) into 7 classes
inline constexpr einvit::vit::Config hf_dinov2_reg_classifier = [] {
    einvit::vit::Config c = hf_dinov2_reg_resampled;
    c.pooling = einvit::vit::Pooling::cls_and_mean;
    c.num_classes = 7;
    return c;
}();

// gen.py's timm_swiglu_reg: DINOv2 giant's kind (timm's vit_giant_patch14_reg4_dinov2) in small: SwiGLU MLPs
// (SwiGLUPacked: fc1 256 wide, silu of its first half times its second into fc2's 128), class token, 4 registers
// without positions, layer scale, no head
inline constexpr einvit::vit::Config timm_swiglu_reg = [] {
    einvit::vit::Config c = timm_dinov2_reg;
    c.depth = 2;
    c.mlp_dim = 128;
    c.activation = einvit::vit::Activation::swiglu;
    return c;
}();

// gen.py's hf_dinov2_swiglu: transformers' Dinov2Model with use_swiglu_ffn (facebook/dinov2-giant's kind) at
// its pretraining size: an MLP of (int(128 x 2 / 3) + 7) / 8 x 8 = 88, weights_in 176 wide
inline constexpr einvit::vit::Config hf_dinov2_swiglu = [] {
    einvit::vit::Config c = hf_dinov2_native;
    c.mlp_dim = 88;
    c.activation = einvit::vit::Activation::swiglu;
    return c;
}();

// gen.py's hf_vit_resampled: hf_small's kind made at 32 x 32 (4 x 4 patches of 8) run at 40 x 24 (5 x 3) with
// interpolate_pos_encoding=True: its position table resampled as transformers does in the pass
inline constexpr einvit::vit::Config hf_vit_resampled = [] {
    einvit::vit::Config c = hf_small;
    c.image_height = 40;
    c.image_width = 24;
    return c;
}();

// gen.py's hf_vit_partial: hf_small's kind at 32 x 36 (4 x 4 patches, 4 columns unread) with
// interpolate_pos_encoding=True: the image is not square, so transformers resamples the 4 x 4 table to 4 x 4
// (to its own size: the identity, as einvit's loader must give it)
inline constexpr einvit::vit::Config hf_vit_partial = [] {
    einvit::vit::Config c = hf_small;
    c.image_width = 36;
    c.drop_partial_patches = true;
    return c;
}();

// transformers' base models (ViTModel, DeiTModel): c without its classifier, read for the pooler_output (the
// pooler, `pooler` wide, a representation layer) or, with `pooler` 0, the class token's features (the pooler unread)
constexpr einvit::vit::Config hf_base_model(einvit::vit::Config c, std::size_t pooler) {
    c.num_classes = 0;
    c.representation_size = pooler;
    return c;
}

// gen.py's hf_vit_model_pooler and hf_vit_model_cls: transformers' ViTModel
inline constexpr einvit::vit::Config hf_vit_model_pooler = hf_base_model(hf_small, 64);
inline constexpr einvit::vit::Config hf_vit_model_cls = hf_base_model(hf_small, 0);

// gen.py's hf_deit_distilled: transformers' DeiTForImageClassificationWithTeacher (the class and distillation
// tokens' classifiers, averaged) at its size, 32 x 32
inline constexpr einvit::vit::Config hf_deit_distilled = [] {
    einvit::vit::Config c = hf_small;
    c.distillation_token = true;
    return c;
}();

// gen.py's hf_deit_model_pooler and hf_deit_model_cls: transformers' DeiTModel, a distilled DeiT's base model
inline constexpr einvit::vit::Config hf_deit_model_pooler = hf_base_model(hf_deit_distilled, 64);
inline constexpr einvit::vit::Config hf_deit_model_cls = hf_base_model(hf_deit_distilled, 0);

// gen.py's hf_deit_resampled: the same made at 32 x 32 (4 x 4) run at 56 x 40 (7 x 5), interpolate_pos_encoding
inline constexpr einvit::vit::Config hf_deit_resampled = [] {
    einvit::vit::Config c = hf_deit_distilled;
    c.image_height = 56;
    c.image_width = 40;
    return c;
}();

// gen.py's hf_deit_classifier: transformers' DeiTForImageClassification, whose classifier reads the class
// token alone: its distillation token is a prefix token no head reads, a register with a position
inline constexpr einvit::vit::Config hf_deit_classifier = [] {
    einvit::vit::Config c = hf_small;
    c.register_tokens = 1;
    return c;
}();

// nn.TransformerEncoder's kind (tests/golden/vit/gen.py's torch_encoder_postnorm): post-norm blocks, no final norm
inline constexpr einvit::vit::Config post_norm = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 3, 4, 8, 32, 10);
    c.mlp_dim = 128;
    c.norm = einvit::vit::NormPlacement::post;
    c.final_norm = false;
    c.layer_norm_eps = 1e-5f;
    return c;
}();

// vit-pytorch's SimpleViT kind (vit_pytorch_simple_sincos): no class token, mean of all tokens, sine-cosine positions
inline constexpr einvit::vit::Config simple_sincos = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 2, 4, 8, 32, 9);
    c.dim_head = 16;
    c.mlp_dim = 128;
    c.class_token = false;
    c.pooling = einvit::vit::Pooling::mean_all;
    c.position = einvit::vit::PositionEmbedding::sincos_2d;
    c.qkv_bias = false;
    c.proj_bias = false;
    c.patch_norm = true;
    c.patch_order = einvit::vit::PatchOrder::p1_p2_c;
    c.layer_norm_eps = 1e-5f;
    return c;
}();

// the seeds' MNIST ViT with a padding mask (vit_pytorch_seed_mask): a head norm, no final norm, scale dim ** -0.5
inline constexpr einvit::vit::Config seed_mask = [] {
    einvit::vit::Config c = einvit::vit::presets::vit(64, 3, 4, 7, 28, 10);
    c.channels = 1;
    c.dim_head = 16;
    c.mlp_dim = 128;
    c.qkv_bias = false;
    c.final_norm = false;
    c.head_norm = true;
    c.patch_order = einvit::vit::PatchOrder::p1_p2_c;
    c.layer_norm_eps = 1e-5f;
    c.attention_scale = 0.125f;  // the seeds scale by dim ** -0.5
    return c;
}();

}  // namespace einvit_test
