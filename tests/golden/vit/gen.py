#!/usr/bin/env python3
"""Writes reference checkpoints, inputs and logits for einvit's ViT parity tests.

Each case builds a model with the library that defines it (timm, torchvision, vit-pytorch, or plain
torch.nn for the post-norm encoder), with random weights (a fixed seed, every parameter perturbed so
that no bias or LayerNorm is left at its trivial initial value), saves its state_dict as safetensors
exactly as that library names it, and runs 8 random inputs through it in float32:

    OUT/<case>.safetensors       the checkpoint
    OUT/<case>.input.bin         float32, (8, C, H, W)
    OUT/<case>.logits.bin        float32, (8, classes), or (8, dim): the features of a model without a head
    OUT/<case>.mask.bin          uint8, (8, patches): the padding mask, for the case that has one
    OUT/<case>.pos_embed.bin     float32: the position table timm resampled, for the cases run at another
                                 image size than their checkpoint's
    OUT/timm_presets.txt         what timm builds for each pretrained architecture einvit has a preset of
    OUT/hf_vit_sharded/          the HF case as save_pretrained writes it in 100 KB shards with
                                 model.safetensors.index.json

Run:  .venv/bin/python tests/golden/vit/gen.py OUT [case ...]
(the venv: tools/make-venv.sh, which tools/run-tests.sh calls: Debian's python3-torch and
python3-torchvision seen through --system-site-packages, timm, vit-pytorch and transformers from PyPI). The checkpoints are large, so they are generated
during the test run, never committed.
"""
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import save_file

BATCH = 8


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() <= 1 or "token" in name or "pos" in name or not p.any():  # biases, norms, zero-initialised heads
                p.add_(torch.randn(p.shape, generator=g) * 0.02)
    model.eval()
    return model


class TorchEncoderViT(nn.Module):
    """A ViT on nn.TransformerEncoderLayer in the original post-norm order (norm_first=False), with a
    Linear patch embedding over (c p1 p2) patches, a class token and a learned 1-D position table."""

    def __init__(self, image=32, patch=8, channels=3, dim=64, depth=3, heads=4, mlp=128, classes=10, final_norm=False):
        super().__init__()
        self.patch = patch
        n = (image // patch) ** 2
        self.patch_embed = nn.Linear(channels * patch * patch, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, n + 1, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=False, layer_norm_eps=1e-5)
        self.encoder = nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(dim, eps=1e-5) if final_norm else None,
                                             enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, img):
        b, c, h, w = img.shape
        p = self.patch
        x = img.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), c * p * p)
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1) + self.pos_embedding
        x = self.encoder(x)
        return self.head(x[:, 0])


class SeedViT(nn.Module):
    """The ViT of the seeds' first post (an earlier vit-pytorch): Residual(PreNorm(...)) blocks, attention
    scaled by dim ** -0.5, no final norm, a LayerNorm + Linear head, and the padding mask: a per-patch
    keep mask padded with True for the class token, expanded to 2-D, masked scores filled with
    -finfo.max."""

    class Residual(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x, **kw):
            return self.fn(x, **kw) + x

    class PreNorm(nn.Module):
        def __init__(self, dim, fn):
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.fn = fn

        def forward(self, x, **kw):
            return self.fn(self.norm(x), **kw)

    class Attention(nn.Module):
        def __init__(self, dim, heads, dim_head):
            super().__init__()
            self.heads = heads
            self.scale = dim ** -0.5
            self.to_qkv = nn.Linear(dim, heads * dim_head * 3, bias=False)
            self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(0.0))

        def forward(self, x, mask=None):
            b, n, _ = x.shape
            q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
            dots = torch.einsum("bhid,bhjd->bhij", q, k) * self.scale
            if mask is not None:
                mask = torch.nn.functional.pad(mask.flatten(1), (1, 0), value=True)
                mask = mask[:, None, :] * mask[:, :, None]
                dots.masked_fill_(~mask[:, None], -torch.finfo(dots.dtype).max)
            out = torch.einsum("bhij,bhjd->bhid", dots.softmax(dim=-1), v)
            return self.to_out(out.transpose(1, 2).reshape(b, n, -1))

    class FeedForward(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0))

        def forward(self, x, **kw):
            return self.net(x)

    class Transformer(nn.Module):
        def __init__(self, dim, depth, heads, dim_head, mlp_dim):
            super().__init__()
            S = SeedViT
            self.layers = nn.ModuleList([nn.ModuleList([S.Residual(S.PreNorm(dim, S.Attention(dim, heads, dim_head))),
                                                        S.Residual(S.PreNorm(dim, S.FeedForward(dim, mlp_dim)))])
                                         for _ in range(depth)])

        def forward(self, x, mask=None):
            for attn, ff in self.layers:
                x = attn(x, mask=mask)
                x = ff(x)
            return x

    def __init__(self, image=28, patch=7, channels=1, dim=64, depth=3, heads=4, dim_head=16, mlp_dim=128, classes=10):
        super().__init__()
        self.patch = patch
        n = (image // patch) ** 2
        self.pos_embedding = nn.Parameter(torch.randn(1, n + 1, dim))
        self.patch_to_embedding = nn.Linear(channels * patch * patch, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.transformer = SeedViT.Transformer(dim, depth, heads, dim_head, mlp_dim)
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, classes))
        self.mask = None

    def forward(self, img):
        b, c, h, w = img.shape
        p = self.patch
        # 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'
        x = img.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)
        x = self.patch_to_embedding(x)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1) + self.pos_embedding
        x = self.transformer(x, self.mask)
        return self.mlp_head(x[:, 0])


class HfLogits(nn.Module):
    """transformers' model returns an output object; this returns its logits and keeps its names. With
    `interpolate`, the model runs at another size than its config's, its position table resampled in the
    pass (interpolate_pos_encoding=True)."""

    def __init__(self, model, interpolate=False):
        super().__init__()
        self.model = model
        self.interpolate = interpolate

    def forward(self, x):
        if self.interpolate:
            return self.model(pixel_values=x, interpolate_pos_encoding=True).logits
        return self.model(pixel_values=x).logits

    def state_dict(self, *args, **kwargs):
        return self.model.state_dict(*args, **kwargs)


class HfImageFeatures(nn.Module):
    """transformers' two-tower model (CLIPModel, SiglipModel) as an image encoder: get_image_features,
    its state_dict whole (the text tower's tensors too, which einvit leaves unread). With `interpolate`, run
    at another size than its config's, its position table resampled in the pass."""

    def __init__(self, model, interpolate=False):
        super().__init__()
        self.model = model
        self.interpolate = interpolate

    def forward(self, x):
        return self.model.get_image_features(pixel_values=x, interpolate_pos_encoding=self.interpolate)

    def state_dict(self, *args, **kwargs):
        return self.model.state_dict(*args, **kwargs)


class Resized(nn.Module):
    """A model made at another image size than its checkpoint's, as its library moves a checkpoint there:
    the checkpoint (its state_dict) is `source`'s, and each pass loads `resample(state_dict, target)` into
    `target` (timm's checkpoint_filter_fn, as create_model(name, pretrained=True, img_size=...) does;
    torchvision's interpolate_embeddings), which resamples the position table to target's grid. `table`
    gives target's resampled table, for a direct comparison."""

    def __init__(self, source, target, resample, table):
        super().__init__()
        self.source = source
        self.target = [target]  # not a submodule: its weights are source's, resampled in each pass
        self.resample, self.table = resample, table

    def forward(self, x):
        target = self.target[0].eval()
        target.load_state_dict(self.resample({k: v.clone() for k, v in self.source.state_dict().items()}, target))
        return target(x)

    def state_dict(self, *args, **kwargs):
        return self.source.state_dict(*args, **kwargs)


def timm_resized(source, target):
    from timm.models.vision_transformer import checkpoint_filter_fn
    return Resized(source, target, checkpoint_filter_fn, lambda m: m.pos_embed)


def torchvision_resized(source, target):
    from torchvision.models.vision_transformer import interpolate_embeddings
    return Resized(source, target, lambda state, m: interpolate_embeddings(m.image_size, m.patch_size, state),
                   lambda m: m.encoder.pos_embedding)


class HfClassToken(nn.Module):
    """transformers' ViTModel, DeiTModel: last_hidden_state[:, 0], the final norm's class token (the pooler unused)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).last_hidden_state[:, 0]

    def state_dict(self, *args, **kwargs):
        return self.model.state_dict(*args, **kwargs)


class HfPooled(nn.Module):
    """transformers' Dinov2Model, SiglipVisionModel, ViTModel, DeiTModel: their pooler_output (Dinov2Model's: the
    final norm's class token; ViTModel's and DeiTModel's: Linear + tanh over it)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).pooler_output

    def state_dict(self, *args, **kwargs):
        return self.model.state_dict(*args, **kwargs)


class HfRegistersClassifier(nn.Module):
    """transformers' Dinov2WithRegistersForImageClassification as transformers 4.52 and later run it: its
    classifier over [class token | the patch tokens' mean], the registers left out of the mean (4.48 to 4.51,
    this venv's among them, averaged them in too). Its state_dict holds the base model under
    "dinov2_with_registers.", as that class's does."""

    def __init__(self, model, classes):
        super().__init__()
        self.dinov2_with_registers = model
        self.classifier = nn.Linear(2 * model.config.hidden_size, classes)

    def forward(self, x):
        tokens = self.dinov2_with_registers(pixel_values=x).last_hidden_state
        patches = tokens[:, 1 + self.dinov2_with_registers.config.num_register_tokens:]
        return self.classifier(torch.cat([tokens[:, 0], patches.mean(dim=1)], dim=1))


def build(case):
    torch.manual_seed(1234)
    if case == "timm_vit_tiny_patch16_224":
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=224, patch_size=16, embed_dim=192, depth=12, num_heads=3), (3, 224, 224)
    if case == "timm_vit_base_patch16_224":
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12), (3, 224, 224)
    if case == "timm_vit_small_160x224":
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=(160, 224), patch_size=16, embed_dim=384, depth=4, num_heads=6,
                                 num_classes=100), (3, 160, 224)
    if case == "timm_deit_tiny_distilled":
        from timm.models.deit import VisionTransformerDistilled
        return VisionTransformerDistilled(img_size=224, patch_size=16, embed_dim=192, depth=12, num_heads=3), (3, 224, 224)
    if case == "torchvision_vit_32":
        from torchvision.models.vision_transformer import VisionTransformer
        return VisionTransformer(image_size=64, patch_size=16, num_layers=3, num_heads=4, hidden_dim=128, mlp_dim=256,
                                 num_classes=37), (3, 64, 64)
    if case == "torchvision_pre_logits":  # the representation layer (Linear + tanh) before the head
        from torchvision.models.vision_transformer import VisionTransformer
        return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128,
                                 num_classes=11, representation_size=48), (3, 32, 32)
    if case == "torchvision_resampled":  # a checkpoint for 32 x 32 (4 x 4 patches) run at 56 x 56 (7 x 7)
        from torchvision.models.vision_transformer import VisionTransformer
        common = dict(patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=11)
        source = VisionTransformer(image_size=32, **common)
        with torch.no_grad():  # positions that count against the patches, so that their resampling does
            source.encoder.pos_embedding.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(37))
            source.heads.head.weight.normal_(0.0, 0.16, generator=torch.Generator().manual_seed(41))  # (zero at init)
        return torchvision_resized(source, VisionTransformer(image_size=56, **common)), (3, 56, 56)
    if case == "vit_pytorch_mean":
        from vit_pytorch import ViT
        return ViT(image_size=(48, 64), patch_size=8, num_classes=21, dim=96, depth=3, heads=4, dim_head=32, mlp_dim=192,
                   pool="mean", channels=3), (3, 48, 64)
    if case == "vit_pytorch_mnist":
        from vit_pytorch import ViT
        return ViT(image_size=28, patch_size=7, num_classes=10, dim=64, depth=6, heads=8, dim_head=64, mlp_dim=128,
                   channels=1), (1, 28, 28)
    if case == "timm_avg_pool_fc_norm":
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0,
                                 global_pool="avg", num_classes=5), (3, 32, 32)
    if case == "vit_pytorch_simple_sincos":
        from vit_pytorch import SimpleViT
        return SimpleViT(image_size=32, patch_size=8, num_classes=9, dim=64, depth=2, heads=4, mlp_dim=128, dim_head=16,
                         channels=3), (3, 32, 32)
    if case == "hf_vit":
        from transformers import ViTConfig, ViTForImageClassification
        config = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=64, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=128, num_labels=7, hidden_act="gelu",
                           qkv_bias=True, layer_norm_eps=1e-12)
        return HfLogits(ViTForImageClassification(config)), (3, 32, 32)
    if case == "torch_encoder_postnorm":
        return TorchEncoderViT(), (3, 32, 32)
    if case == "torch_encoder_postnorm_final_norm":  # nn.TransformerEncoder(..., norm=LayerNorm)
        return TorchEncoderViT(final_norm=True), (3, 32, 32)
    if case == "vit_pytorch_seed_mask":
        return SeedViT(), (1, 28, 28)
    if case == "timm_deit3_small":  # DeiT-III at full size: layer scale, positions for the patches alone
        from timm.models.vision_transformer import VisionTransformer
        return layer_scales(VisionTransformer(img_size=224, patch_size=16, embed_dim=384, depth=12, num_heads=6,
                                              init_values=1.0, no_embed_class=True)), (3, 224, 224)
    if case == "timm_reg_gap":  # registers without a class token, the patch tokens' mean through fc_norm
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0,
                                 class_token=False, reg_tokens=4, no_embed_class=True, global_pool="avg",
                                 num_classes=5), (3, 32, 32)
    if case == "timm_dinov2_reg_features":  # DINOv2's kind: class token, registers, layer scale, no head
        from timm.models.vision_transformer import VisionTransformer
        return layer_scales(VisionTransformer(img_size=48, patch_size=8, embed_dim=64, depth=3, num_heads=4,
                                              init_values=1.0, reg_tokens=4, no_embed_class=True, num_classes=0)), (3, 48, 48)
    if case == "timm_swiglu_reg":  # DINOv2 giant's kind (vit_giant_patch14_reg4_dinov2) in small: SwiGLUPacked MLPs
        from timm.layers import SwiGLUPacked
        from timm.models.vision_transformer import VisionTransformer
        model = VisionTransformer(img_size=48, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=4.0,
                                  mlp_layer=SwiGLUPacked, act_layer=torch.nn.SiLU, init_values=1.0, reg_tokens=4,
                                  no_embed_class=True, num_classes=0)
        gated_inputs([b.mlp.fc1 for b in model.blocks])
        return layer_scales(model), (3, 48, 48)
    if case == "timm_reg_norm_pre":  # registers inside the position table, norm_pre (CLIP's), layer scale
        from timm.models.vision_transformer import VisionTransformer
        return layer_scales(VisionTransformer(img_size=(32, 40), patch_size=8, embed_dim=64, depth=2, num_heads=4,
                                              mlp_ratio=2.0, init_values=1.0, reg_tokens=2, pre_norm=True,
                                              num_classes=6)), (3, 32, 40)
    if case == "timm_clip_quickgelu":  # OpenAI's CLIP tower: norm_pre, no patch bias, QuickGELU in the MLP
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0,
                                 pre_norm=True, act_layer="quick_gelu", num_classes=7), (3, 32, 32)
    if case == "timm_siglip_map":  # SigLIP's kind: no class token, attention pooling ("map") after the final norm
        from timm.models.vision_transformer import VisionTransformer
        return sharp_pool(VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0,
                                            class_token=False, global_pool="map", num_classes=5)), (3, 32, 32)
    if case == "timm_map_prefix_features":  # attention pooling over a class token and registers too, no head
        from timm.models.vision_transformer import VisionTransformer
        return sharp_pool(VisionTransformer(img_size=(40, 48), patch_size=8, embed_dim=96, depth=2, num_heads=6,
                                            mlp_ratio=2.5, reg_tokens=2, no_embed_class=True, global_pool="map",
                                            num_classes=0)), (3, 40, 48)
    if case == "timm_siglip_base_2_blocks":  # SigLIP-B/16's widths and 196 tokens, two blocks: the pool at full size
        from timm.models.vision_transformer import VisionTransformer
        return sharp_pool(VisionTransformer(img_size=224, patch_size=16, embed_dim=768, depth=2, num_heads=12,
                                            class_token=False, global_pool="map", num_classes=0)), (3, 224, 224)
    if case in ("hf_siglip", "hf_siglip_resampled"):  # SiglipModel: the vision tower's pooled features (get_image_features)
        from transformers import SiglipConfig, SiglipModel
        config = SiglipConfig(
            vision_config=dict(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=128),  # hidden_act gelu_pytorch_tanh, eps 1e-6: SigLIP's
            text_config=dict(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=37, max_position_embeddings=16))
        model = SiglipModel(config)
        sharp_hf_pool(model.vision_model.head)
        if case == "hf_siglip_resampled":  # made at 32 x 32 (4 x 4), run at 40 x 24 (5 x 3) with interpolate_pos_encoding
            with torch.no_grad():  # positions that count against the patches, so that their resampling does
                model.vision_model.embeddings.position_embedding.weight.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(29))
            return HfImageFeatures(model, interpolate=True), (3, 40, 24)
        return HfImageFeatures(model), (3, 32, 32)
    if case in ("hf_clip", "hf_clip_resampled"):  # CLIPModel: the image embedding (get_image_features: visual_projection, no bias)
        from transformers import CLIPConfig, CLIPModel
        config = CLIPConfig(
            vision_config=dict(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=128),  # hidden_act quick_gelu, eps 1e-5: OpenAI's
            text_config=dict(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=37, max_position_embeddings=16),
            projection_dim=24)
        model = CLIPModel(config)
        if case == "hf_clip_resampled":  # made at 32 x 32 (4 x 4), run at 56 x 40 (7 x 5) with interpolate_pos_encoding
            with torch.no_grad():
                model.vision_model.embeddings.position_embedding.weight.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(31))
            return HfImageFeatures(model, interpolate=True), (3, 56, 40)
        return HfImageFeatures(model), (3, 32, 32)
    if case in ("hf_dinov2_resampled", "hf_dinov2_native", "hf_dinov2_strip"):  # Dinov2Model pretrained at 56 x 56
        from transformers import Dinov2Config, Dinov2Model
        config = Dinov2Config(image_size=56, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                              mlp_ratio=2)
        # run at 40 x 48: its 7 x 7 position table interpolated to 5 x 6 in the forward pass
        # (and at 8 x 392: 1 x 49 patches, as many as 7 x 7, which transformers resamples all the same)
        shape = {"hf_dinov2_resampled": (3, 40, 48), "hf_dinov2_native": (3, 56, 56), "hf_dinov2_strip": (3, 8, 392)}[case]
        model = Dinov2Model(config)
        with torch.no_grad():  # positions that count against the patches, so that their resampling does
            model.embeddings.position_embeddings.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(3))
        return layer_scales(HfPooled(model)), shape
    if case == "hf_dinov2_swiglu":  # facebook/dinov2-giant's kind in small (use_swiglu_ffn: an MLP of 88, fc1 176 wide)
        from transformers import Dinov2Config, Dinov2Model
        config = Dinov2Config(image_size=56, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                              mlp_ratio=2, use_swiglu_ffn=True)
        model = Dinov2Model(config)
        with torch.no_grad():
            model.embeddings.position_embeddings.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(3))
        gated_inputs([layer.mlp.weights_in for layer in model.encoder.layer])
        return layer_scales(HfPooled(model)), (3, 56, 56)
    if case in ("timm_resampled", "timm_resampled_reg", "timm_resampled_distilled"):
        # a checkpoint for one grid run at another: 6 x 6 patches to 8 x 5 (more rows, fewer columns);
        # registers without positions (no_embed_class) from 6 x 6 to 3 x 4; DeiT's two prefix rows, 4 x 4 to 7 x 7
        from timm.models.vision_transformer import VisionTransformer
        from timm.models.deit import VisionTransformerDistilled
        kind, common = case[len("timm_resampled"):], dict(patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0,
                                                           num_classes=6)
        if kind == "_reg":
            common.update(reg_tokens=4, no_embed_class=True)
        make = VisionTransformerDistilled if kind == "_distilled" else VisionTransformer
        source_size, target_size = {"": (48, (64, 40)), "_reg": (48, (24, 32)), "_distilled": (32, 56)}[kind]
        source, target = make(img_size=source_size, **common), make(img_size=target_size, **common)
        with torch.no_grad():  # positions that count against the patches, so that their resampling does
            source.pos_embed.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(5))
        size = target_size if isinstance(target_size, tuple) else (target_size, target_size)
        return timm_resized(source, target), (3,) + size
    if case == "timm_dynamic_img_size":  # timm's dynamic_img_size: a model for 48 x 48 run at 64 x 40, its table
        # resampled in the pass (resample_abs_pos_embed: bicubic, antialiased), as timm_resampled's loader does
        from timm.models.vision_transformer import VisionTransformer
        model = VisionTransformer(img_size=48, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0, num_classes=6,
                                  dynamic_img_size=True)
        with torch.no_grad():  # positions that count, and a head that makes their resampling's error show
            model.pos_embed.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(19))
            model.head.weight.normal_(0.0, 0.16, generator=torch.Generator().manual_seed(23))
        return model, (3, 64, 40)
    if case == "timm_partial_patches":  # 38 x 45 in patches of 8: 4 x 5 patches, the last 6 rows and 5 columns unread
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=(38, 45), patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0,
                                 num_classes=5), (3, 38, 45)
    if case == "hf_siglip_partial":  # google/siglip-so400m-patch14-384's kind: 36 x 36 in patches of 8, 4 x 4 read
        from transformers import SiglipVisionConfig, SiglipVisionModel
        config = SiglipVisionConfig(image_size=36, patch_size=8, hidden_size=64, num_hidden_layers=2,
                                    num_attention_heads=4, intermediate_size=128)
        model = SiglipVisionModel(config)
        sharp_hf_pool(model.vision_model.head)
        return HfPooled(model), (3, 36, 36)
    if case == "hf_dinov2_classifier":  # Dinov2ForImageClassification: [class token | patch mean] into a classifier
        from transformers import Dinov2Config, Dinov2ForImageClassification
        config = Dinov2Config(image_size=56, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                              mlp_ratio=2, num_labels=7)
        model = Dinov2ForImageClassification(config)
        with torch.no_grad():  # as hf_dinov2_resampled's: run at 40 x 48, the 7 x 7 table resampled to 5 x 6
            model.dinov2.embeddings.position_embeddings.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(3))
        return layer_scales(HfLogits(model)), (3, 40, 48)
    if case in ("hf_dinov2_reg_resampled", "hf_dinov2_reg_native", "hf_dinov2_reg_classifier"):
        # Dinov2WithRegistersModel pretrained at 56 x 56: 4 registers after the class token, without positions;
        # run at 40 x 48 (its 7 x 7 table resampled antialiased to 5 x 6 in the pass) or at 56 x 56 (as it is)
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel
        config = Dinov2WithRegistersConfig(image_size=56, patch_size=8, hidden_size=64, num_hidden_layers=2,
                                           num_attention_heads=4, mlp_ratio=2, num_register_tokens=4)
        model = Dinov2WithRegistersModel(config)
        with torch.no_grad():  # positions and registers that count (the registers start at zero)
            model.embeddings.position_embeddings.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(3))
            model.embeddings.register_tokens.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(4))
        shape = (3, 56, 56) if case == "hf_dinov2_reg_native" else (3, 40, 48)
        if case == "hf_dinov2_reg_classifier":
            return layer_scales(HfRegistersClassifier(model, 7)), shape
        return layer_scales(HfPooled(model)), shape
    if case == "hf_siglip_classifier":  # SiglipForImageClassification: the tokens' mean into a classifier
        from transformers import SiglipConfig, SiglipForImageClassification
        config = SiglipConfig(
            vision_config=dict(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=128),
            text_config=dict(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=37, max_position_embeddings=16),
            num_labels=7)
        return HfLogits(SiglipForImageClassification(config)), (3, 32, 32)  # (its vision_model.head unused)
    if case in ("hf_vit_resampled", "hf_vit_partial"):
        # ViTForImageClassification made at 32 x 32 (4 x 4) run with interpolate_pos_encoding at 40 x 24 (5 x 3),
        # and at 32 x 36 (4 x 4 patches, the last 4 columns unread): not square, so the 4 x 4 table is
        # resampled to 4 x 4 (since transformers 4.45 to its size: the identity; before, by factors 4.1 / 4)
        from transformers import ViTConfig, ViTForImageClassification
        config = ViTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=128, num_labels=7)
        model = ViTForImageClassification(config)
        seed, shape = {"hf_vit_resampled": (11, (3, 40, 24)), "hf_vit_partial": (17, (3, 32, 36))}[case]
        with torch.no_grad():  # positions that count against the patches, so that their resampling does
            model.vit.embeddings.position_embeddings.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(seed))
        return HfLogits(sharp_classifiers(model), interpolate=True), shape
    if case in ("hf_vit_model_pooler", "hf_vit_model_cls"):  # ViTModel (google/vit-*-in21k's kind): no classifier
        from transformers import ViTConfig, ViTModel
        config = ViTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=128)
        model = ViTModel(config)  # with its pooler: pooler_output, or the class token's features with it unread
        return (HfPooled(model) if case == "hf_vit_model_pooler" else HfClassToken(model)), (3, 32, 32)
    if case in ("hf_deit_distilled", "hf_deit_resampled", "hf_deit_classifier"):
        # transformers' DeiT: WithTeacher (the class and distillation tokens' classifiers averaged) at its size
        # and made at 32 x 32 (4 x 4) run at 56 x 40 (7 x 5); DeiTForImageClassification (the class token's)
        from transformers import DeiTConfig, DeiTForImageClassification, DeiTForImageClassificationWithTeacher
        config = DeiTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=128, num_labels=7)
        make = DeiTForImageClassification if case == "hf_deit_classifier" else DeiTForImageClassificationWithTeacher
        model = make(config)
        if case != "hf_deit_resampled":
            return HfLogits(model), (3, 32, 32)
        with torch.no_grad():
            model.deit.embeddings.position_embeddings.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(13))
        return HfLogits(sharp_classifiers(model), interpolate=True), (3, 56, 40)
    if case in ("hf_deit_model_pooler", "hf_deit_model_cls"):  # DeiTModel (a distilled DeiT's base model): no classifier
        from transformers import DeiTConfig, DeiTModel
        config = DeiTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=128)
        model = DeiTModel(config)  # with its pooler: pooler_output, or the class token's features with it unread
        return (HfPooled(model) if case == "hf_deit_model_pooler" else HfClassToken(model)), (3, 32, 32)
    raise SystemExit(f"unknown case {case}")


def sharp_classifiers(model, factor=8.0):
    """transformers' classifiers scaled up (their initial weights, std 0.02, give logits of about 0.2): the
    logits of about 2 that make a resampling's error show against the parity bound, 1e-4 of the largest."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "classifier" in name and name.endswith(".weight"):
                p.mul_(factor)
    return model


def gated_inputs(layers):
    """A SwiGLU MLP's fc1 (gate and value halves) drawn wide enough that the gate's product counts in the
    outputs: timm's GluMlp starts its value half at weights near 0 and biases of 1, the gate a mere
    pass-through of silu."""
    g = torch.Generator().manual_seed(29)
    with torch.no_grad():
        for fc1 in layers:
            fc1.weight.copy_(torch.randn(fc1.weight.shape, generator=g) * 0.15)
            fc1.bias.copy_(torch.randn(fc1.bias.shape, generator=g) * 0.5)
    return layers


def layer_scales(model):
    """LayerScale's gammas drawn from [0.2, 1], so that each branch counts and each channel's differs."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".gamma") or name.endswith(".lambda1"):
                p.uniform_(0.2, 1.0)
    return model


def sharp_pool(model):
    """Attention pooling's scores spread over several units, as a trained pool's are: at timm's initial
    values the latent's query is so small that the pool attends uniformly, whatever its scale."""
    g = torch.Generator().manual_seed(5)
    pool = model.attn_pool
    with torch.no_grad():
        pool.latent.copy_(torch.randn(pool.latent.shape, generator=g))
        pool.q.weight.copy_(torch.randn(pool.q.weight.shape, generator=g) * 0.4)
        pool.kv.weight.copy_(torch.randn(pool.kv.weight.shape, generator=g) * 0.1)
    return model


def sharp_hf_pool(head):
    """transformers' SigLIP pool (SiglipMultiheadAttentionPoolingHead) peaked as sharp_pool does timm's."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        head.probe.copy_(torch.randn(head.probe.shape, generator=g))
        w = head.attention.in_proj_weight
        dim = w.shape[1]
        w.copy_(torch.randn(w.shape, generator=g) * torch.tensor([0.4] * dim + [0.1] * (2 * dim)).unsqueeze(1))


# timm's pretrained architectures that einvit has presets of: what timm builds for each name, which
# tests/vit/test_vit_parity.cpp compares with the preset of that name
PRESETS = ["vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224", "vit_base_patch32_224",
           "vit_large_patch16_224", "deit_tiny_distilled_patch16_224", "deit3_small_patch16_224",
           "deit3_medium_patch16_224", "deit3_base_patch16_224", "deit3_large_patch16_224",
           "vit_medium_patch16_reg4_gap_256", "vit_base_patch16_reg4_gap_256", "vit_small_patch14_reg4_dinov2",
           "vit_base_patch16_clip_224", "vit_base_patch16_clip_quickgelu_224", "vit_base_patch16_siglip_224",
           "vit_base_patch16_siglip_384", "vit_large_patch16_siglip_256", "vit_so400m_patch14_siglip_224",
           "vit_so400m_patch14_siglip_384", "vit_giant_patch14_dinov2", "vit_giant_patch14_reg4_dinov2"]


def describe_presets(path):
    """One line per preset: its name, then what einvit's Config says of it, read from the model timm
    builds for that name (random weights)."""
    import timm
    # the shapes are what count: the parameters' initialisation (most of the time for the large ones) skipped
    keep = {attr: getattr(torch.nn.init, attr) for attr in ("kaiming_uniform_", "uniform_", "normal_", "trunc_normal_")}
    for attr in keep:
        setattr(torch.nn.init, attr, lambda t, *a, **k: t)
    # a SwiGLU MLP (einvit's Activation::swiglu, 4): timm's SwiGLUPacked, silu of fc1's first half times its second
    swiglu = lambda mlp: (type(mlp).__name__ == "GluMlp" and type(mlp.act).__name__ == "SiLU" and not mlp.gate_last)
    lines = []
    for name in PRESETS:
        skip = {} if "distilled" in name else {"weight_init": "skip"}  # (timm's DeiT distilled has no "skip")
        m = timm.create_model(name, pretrained=False, **skip)
        b = m.blocks[0]
        has = lambda mod: int(not isinstance(mod, torch.nn.Identity))
        fields = dict(image_height=m.patch_embed.img_size[0], image_width=m.patch_embed.img_size[1],
                      patch=m.patch_embed.patch_size[0], channels=m.patch_embed.proj.in_channels, dim=m.embed_dim,
                      depth=len(m.blocks), heads=b.attn.num_heads, head_dim=b.attn.head_dim,
                      mlp_dim=b.mlp.fc2.in_features, num_classes=m.num_classes,
                      pooling={"token": 0, "avg": 2, "map": 3}[m.global_pool], class_token=int(m.cls_token is not None),
                      distillation_token=int(getattr(m, "dist_token", None) is not None),
                      register_tokens=m.num_reg_tokens, qkv_bias=int(b.attn.qkv.bias is not None),
                      patch_bias=int(m.patch_embed.proj.bias is not None), prefix_position=int(not m.no_embed_class), layer_scale=has(b.ls1), embed_norm=has(m.norm_pre),
                      final_norm=has(m.norm), head_norm=has(m.fc_norm), position_rows=m.pos_embed.shape[1],
                      layer_norm_eps_e7=round(b.norm1.eps * 1e7),
                      activation=4 if swiglu(b.mlp) else {"GELU": 0, "QuickGELU": 3}[type(b.mlp.act).__name__],
                      pool_heads=m.attn_pool.num_heads if m.attn_pool is not None else 0,
                      pool_mlp_dim=m.attn_pool.mlp.fc1.out_features if m.attn_pool is not None else 0)
        lines.append(name + " " + " ".join(f"{k}={v}" for k, v in fields.items()))
        del m
    for attr, f in keep.items():
        setattr(torch.nn.init, attr, f)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


CASES = ["timm_vit_tiny_patch16_224", "timm_vit_base_patch16_224", "timm_vit_small_160x224", "timm_deit_tiny_distilled",
         "torchvision_vit_32", "vit_pytorch_mean", "vit_pytorch_mnist", "torch_encoder_postnorm", "timm_avg_pool_fc_norm",
         "hf_vit", "vit_pytorch_simple_sincos", "vit_pytorch_seed_mask", "torchvision_pre_logits",
         "torch_encoder_postnorm_final_norm", "timm_deit3_small", "timm_reg_gap", "timm_dinov2_reg_features",
         "timm_reg_norm_pre", "timm_clip_quickgelu", "timm_siglip_map", "timm_map_prefix_features",
         "timm_siglip_base_2_blocks", "hf_siglip", "hf_clip", "hf_dinov2_resampled", "hf_dinov2_native",
         "hf_dinov2_strip", "timm_resampled", "timm_resampled_reg", "timm_resampled_distilled", "timm_partial_patches",
         "hf_siglip_partial", "hf_siglip_classifier", "hf_dinov2_classifier", "hf_vit_resampled", "hf_deit_distilled",
         "hf_deit_resampled", "hf_deit_classifier", "hf_vit_partial", "hf_vit_model_pooler", "hf_vit_model_cls",
         "timm_dynamic_img_size", "hf_dinov2_reg_resampled", "hf_dinov2_reg_native", "hf_dinov2_reg_classifier",
         "hf_siglip_resampled", "hf_clip_resampled", "torchvision_resampled", "timm_swiglu_reg", "hf_dinov2_swiglu",
         "hf_deit_model_pooler", "hf_deit_model_cls"]


def main():
    out = sys.argv[1]
    cases = sys.argv[2:] or CASES
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    if not sys.argv[2:]:
        describe_presets(os.path.join(out, "timm_presets.txt"))
    for i, case in enumerate(cases):
        model, shape = build(case)
        perturb(model, 100 + i)
        g = torch.Generator().manual_seed(7 + i)
        x = torch.randn((BATCH,) + shape, generator=g)
        if isinstance(model, SeedViT):  # a padding mask: the last 3 + b patches of image b dropped
            keep = torch.ones(BATCH, 16, dtype=torch.bool)
            for b in range(BATCH):
                keep[b, 16 - 3 - b:] = False
            model.mask = keep
            keep.numpy().astype("uint8").tofile(os.path.join(out, case + ".mask.bin"))
        with torch.no_grad():
            y = model(x)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, os.path.join(out, case + ".safetensors"))
        if case == "hf_vit":  # the same model as HF writes it in shards, with an index
            model.model.save_pretrained(os.path.join(out, case + "_sharded"), safe_serialization=True, max_shard_size="100KB")
        if isinstance(model, Resized):  # the position table as the library resampled it, for a direct comparison
            model.table(model.target[0]).detach().numpy().astype("float32").tofile(os.path.join(out, case + ".pos_embed.bin"))
        x.numpy().astype("float32").tofile(os.path.join(out, case + ".input.bin"))
        y.numpy().astype("float32").tofile(os.path.join(out, case + ".logits.bin"))
        print(f"{case}: {len(state)} tensors, logits {tuple(y.shape)}, max |logit| {y.abs().max().item():.3f}")


if __name__ == "__main__":
    main()
