// The architectures einvit-classify runs, chosen at run time from a checkpoint: the shipped
// Fashion-MNIST model and the ImageNet-size ViTs of timm (ViT and DeiT), torchvision and HF
// transformers (ViT, DeiT, DINOv2's linear classifiers, with registers and giant too). einvit's models are shaped at compile time, so each architecture here is one
// VisionTransformer<Config> behind a small virtual interface; a program that knows its model
// uses VisionTransformer<Config> directly.
#pragma once

#include <einvit/einvit.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fashion_mnist.hpp"
#include "preprocess.hpp"

namespace einvit_examples {

namespace vit = einvit::vit;

/// A loaded model behind a run-time interface: one image in, logits out.
class Classifier {
public:
    virtual ~Classifier() = default;
    /// `input`: channels x height x width floats, preprocessed; `logits`: num_classes floats.
    virtual void logits(const float* input, float* logits) const = 0;
    /// The model's weight image (VisionTransformer::weight_image).
    virtual std::vector<std::byte> weight_image() const = 0;
};

template <vit::Config C>
class ClassifierOf final : public Classifier {
    using Model = vit::VisionTransformer<C>;

public:
    explicit ClassifierOf(Model m) : model_(std::move(m)), workspace_(Model::template workspace_floats<1>) {}
    void logits(const float* input, float* out) const override {
        model_.template forward_into<1>(typename Model::template Input<1>(input), out, workspace_.data());
    }
    std::vector<std::byte> weight_image() const override { return model_.weight_image(); }

private:
    Model model_;
    mutable std::vector<float> workspace_;  // one image at a time, one thread calling
};

/// A checkpoint as --model names it: one safetensors file, the index of one in several files
/// (`model.safetensors.index.json`, as transformers' save_pretrained writes a large model), or the folder
/// save_pretrained wrote, holding either.
class Checkpoint {
public:
    static Checkpoint open(const std::string& path) {
        namespace fs = std::filesystem;
        Checkpoint c;
        std::error_code ec;
        if (fs::is_directory(path, ec)) {
            const std::string dir = path.empty() || path.back() == '/' ? path : path + "/";
            if (fs::exists(dir + "model.safetensors", ec)) c.file_.emplace(einvit::io::SafeTensors::open(dir + "model.safetensors"));
            else if (fs::exists(dir + "model.safetensors.index.json", ec))
                c.shards_.emplace(einvit::io::ShardedCheckpoint::open(dir + "model.safetensors.index.json"));
            else
                fail(path + ": a folder without model.safetensors or model.safetensors.index.json (the files save_pretrained writes)");
        } else if (path.size() >= 5 && std::string_view(path).substr(path.size() - 5) == ".json") {
            c.shards_.emplace(einvit::io::ShardedCheckpoint::open(path));
        } else {
            c.file_.emplace(einvit::io::SafeTensors::open(path));
        }
        return c;
    }
    /// The tensor `name`, or null.
    const einvit::io::TensorInfo* find(std::string_view name) const noexcept {
        return file_ ? file_->find(name) : shards_->find(name).first;
    }
    /// The file's path, or the index's.
    const std::string& path() const noexcept { return file_ ? file_->path() : shards_->path(); }
    /// A model of config C with the checkpoint's weights.
    template <vit::Config C>
    vit::VisionTransformer<C> load(vit::Family family) const {
        return file_ ? vit::load<C>(*file_, family) : vit::load<C>(*shards_, family);
    }

private:
    Checkpoint() = default;
    std::optional<einvit::io::SafeTensors> file_;
    std::optional<einvit::io::ShardedCheckpoint> shards_;
};

/// What identifies an architecture in a checkpoint.
struct Signature {
    std::size_t dim = 0, depth = 0, patch = 0, height = 0, width = 0, channels = 0, classes = 0, registers = 0;
    bool distilled = false, representation = false, class_token = true, layer_scale = false, prefix_position = true;
    bool gated_mlp = false;  // SwiGLU MLPs (DINOv2 giant's)
    bool operator==(const Signature&) const = default;
    std::string text() const {
        return "dim " + std::to_string(dim) + ", depth " + std::to_string(depth) + ", patch " + std::to_string(patch) + ", " +
               std::to_string(height) + " x " + std::to_string(width) + " x " + std::to_string(channels) + ", " +
               std::to_string(classes) + " classes" + (class_token ? "" : ", no class token") +
               (distilled ? ", distillation token" : "") + (registers ? ", " + std::to_string(registers) + " registers" : "") +
               (representation ? ", pre_logits layer" : "") + (layer_scale ? ", layer scale" : "") +
               (prefix_position ? "" : ", positions for the patches alone") + (gated_mlp ? ", SwiGLU MLPs" : "");
    }
};

struct Arch {
    const char* name;
    vit::Family family;
    Signature signature;
    Preprocessing preprocessing;
    std::unique_ptr<Classifier> (*open)(const Checkpoint&, vit::Family);
    /// The model over a weight image file (kept by the caller), or null with `error` saying why not.
    std::unique_ptr<Classifier> (*open_image)(const vit::WeightImageFile&, std::string& error);
};

template <vit::Config C>
Signature signature_of() {
    return {C.dim,          C.depth,          C.patch,           C.image_height,       C.image_width,
            C.channels,     C.num_classes,    C.register_tokens, C.distillation_token, C.representation_size != 0,
            C.class_token,  C.layer_scale,    C.prefix_position || C.prefix_tokens() == 0,
            C.gated_mlp()};
}

template <vit::Config C>
Arch arch(const char* name, vit::Family family, Preprocessing p) {
    return {name, family, signature_of<C>(), p,
            [](const Checkpoint& f, vit::Family fam) -> std::unique_ptr<Classifier> {
                return std::make_unique<ClassifierOf<C>>(f.template load<C>(fam));
            },
            [](const vit::WeightImageFile& f, std::string& error) -> std::unique_ptr<Classifier> {
                auto model = vit::VisionTransformer<C>::try_from_weight_image(f);
                if (!model) {
                    error = model.failure().what();
                    return nullptr;
                }
                return std::make_unique<ClassifierOf<C>>(std::move(model).value());
            }};
}

inline Preprocessing fashion_preprocessing() {
    return {0, Filter::bilinear, {mean, mean, mean}, {stdev, stdev, stdev}, "grey, area average to 28 x 28, mean 0.2860, std 0.3530"};
}
inline Preprocessing timm_augreg() { return {248, Filter::bicubic, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, "resize 248 bicubic, crop 224, mean/std 0.5"}; }
inline Preprocessing timm_deit() {
    Preprocessing p{248, Filter::bicubic, {}, {}, "resize 248 bicubic, crop 224, ImageNet mean/std"};
    for (int c = 0; c < 3; ++c) p.mean[c] = imagenet_mean[c], p.std[c] = imagenet_std[c];
    return p;
}
inline Preprocessing torchvision_imagenet(std::size_t resize) {
    Preprocessing p{resize, Filter::bilinear, {}, {}, resize == 256 ? "resize 256 bilinear, crop 224, ImageNet mean/std" : "resize 242 bilinear, crop 224, ImageNet mean/std"};
    for (int c = 0; c < 3; ++c) p.mean[c] = imagenet_mean[c], p.std[c] = imagenet_std[c];
    return p;
}
inline Preprocessing timm_256() { return {284, Filter::bicubic, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, "resize 284 bicubic, crop 256, mean/std 0.5"}; }
inline Preprocessing hf_vit() { return {0, Filter::bilinear, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, "resize to 224 x 224 bilinear, mean/std 0.5"}; }
/// facebook/deit-*-distilled-patch16-224's DeiTImageProcessor: both sides to 256, bicubic, the centre 224
inline Preprocessing hf_deit() {
    Preprocessing p{0, Filter::bicubic, {}, {}, "resize to 256 x 256 bicubic, crop 224, ImageNet mean/std", 256};
    for (int c = 0; c < 3; ++c) p.mean[c] = imagenet_mean[c], p.std[c] = imagenet_std[c];
    return p;
}
/// facebook/dinov2-*-imagenet1k-1-layer's BitImageProcessor: shorter side to 256, bicubic, the centre 224
/// (its offset rounded down)
inline Preprocessing hf_dinov2() {
    Preprocessing p{256, Filter::bicubic, {}, {}, "resize 256 bicubic, crop 224, ImageNet mean/std", 0, true};
    for (int c = 0; c < 3; ++c) p.mean[c] = imagenet_mean[c], p.std[c] = imagenet_std[c];
    return p;
}

/// Every architecture einvit-classify knows, the first of a signature and family being the default.
inline const std::vector<Arch>& architectures() {
    namespace p = vit::presets;
    using F = vit::Family;
    static const std::vector<Arch> all = {
        arch<fashion_mnist>("fashion-mnist", F::vit_pytorch, fashion_preprocessing()),
        // timm: the augreg ViTs first (mean/std 0.5); DeiT has the same shapes and its own statistics
        arch<p::vit_tiny_patch16_224>("vit_tiny_patch16_224", F::timm, timm_augreg()),
        arch<p::vit_small_patch16_224>("vit_small_patch16_224", F::timm, timm_augreg()),
        arch<p::vit_base_patch16_224>("vit_base_patch16_224", F::timm, timm_augreg()),
        arch<p::vit_base_patch32_224>("vit_base_patch32_224", F::timm, timm_augreg()),
        arch<p::vit_large_patch16_224>("vit_large_patch16_224", F::timm, timm_augreg()),
        arch<p::vit_base_patch16_224_in21k>("vit_base_patch16_224_in21k", F::timm, timm_augreg()),
        arch<p::deit_tiny_patch16_224>("deit_tiny_patch16_224", F::timm, timm_deit()),
        arch<p::deit_small_patch16_224>("deit_small_patch16_224", F::timm, timm_deit()),
        arch<p::deit_base_patch16_224>("deit_base_patch16_224", F::timm, timm_deit()),
        arch<p::deit_tiny_distilled_patch16_224>("deit_tiny_distilled_patch16_224", F::timm, timm_deit()),
        arch<p::deit_small_distilled_patch16_224>("deit_small_distilled_patch16_224", F::timm, timm_deit()),
        arch<p::deit_base_distilled_patch16_224>("deit_base_distilled_patch16_224", F::timm, timm_deit()),
        // timm's DeiT-III (layer scale) and the ViTs with registers
        arch<p::deit3_small_patch16_224>("deit3_small_patch16_224", F::timm, timm_deit()),
        arch<p::deit3_base_patch16_224>("deit3_base_patch16_224", F::timm, timm_deit()),
        arch<p::vit_medium_patch16_reg4_gap_256>("vit_medium_patch16_reg4_gap_256", F::timm, timm_256()),
        arch<p::vit_base_patch16_reg4_gap_256>("vit_base_patch16_reg4_gap_256", F::timm, timm_256()),
        // torchvision (IMAGENET1K_V1 weights)
        arch<p::vit_base_patch16_224>("vit_b_16", F::torchvision, torchvision_imagenet(256)),
        arch<p::vit_base_patch32_224>("vit_b_32", F::torchvision, torchvision_imagenet(256)),
        arch<p::vit_large_patch16_224>("vit_l_16", F::torchvision, torchvision_imagenet(242)),
        // HF transformers ViTForImageClassification
        arch<p::hf_layer_norm(p::vit_tiny_patch16_224)>("hf-vit-tiny-patch16-224", F::hf, hf_vit()),
        arch<p::hf_layer_norm(p::vit_small_patch16_224)>("hf-vit-small-patch16-224", F::hf, hf_vit()),
        arch<p::hf_layer_norm(p::vit_base_patch16_224)>("hf-vit-base-patch16-224", F::hf, hf_vit()),
        arch<p::hf_layer_norm(p::vit_large_patch16_224)>("hf-vit-large-patch16-224", F::hf, hf_vit()),
        // HF transformers DeiTForImageClassificationWithTeacher (facebook/deit-*-distilled-patch16-224)
        arch<p::hf_layer_norm(p::deit_tiny_distilled_patch16_224)>("hf-deit-tiny-distilled-patch16-224", F::hf_deit, hf_deit()),
        arch<p::hf_layer_norm(p::deit_small_distilled_patch16_224)>("hf-deit-small-distilled-patch16-224", F::hf_deit, hf_deit()),
        arch<p::hf_layer_norm(p::deit_base_distilled_patch16_224)>("hf-deit-base-distilled-patch16-224", F::hf_deit, hf_deit()),
        // HF transformers Dinov2ForImageClassification (facebook/dinov2-*-imagenet1k-1-layer), at 224
        arch<p::dinov2_small_imagenet1k_1_layer>("hf-dinov2-small-imagenet1k-1-layer", F::hf_dinov2, hf_dinov2()),
        arch<p::dinov2_base_imagenet1k_1_layer>("hf-dinov2-base-imagenet1k-1-layer", F::hf_dinov2, hf_dinov2()),
        arch<p::dinov2_large_imagenet1k_1_layer>("hf-dinov2-large-imagenet1k-1-layer", F::hf_dinov2, hf_dinov2()),
        arch<p::dinov2_giant_imagenet1k_1_layer>("hf-dinov2-giant-imagenet1k-1-layer", F::hf_dinov2, hf_dinov2()),
        // ... and Dinov2WithRegistersForImageClassification (dinov2-with-registers-*-imagenet1k-1-layer: Meta's linear
        // heads for the models with registers, as transformers converts them), at 224
        arch<p::dinov2_with_registers_small_imagenet1k_1_layer>("hf-dinov2-with-registers-small-imagenet1k-1-layer", F::hf_dinov2,
                                                                hf_dinov2()),
        arch<p::dinov2_with_registers_base_imagenet1k_1_layer>("hf-dinov2-with-registers-base-imagenet1k-1-layer", F::hf_dinov2,
                                                               hf_dinov2()),
        arch<p::dinov2_with_registers_large_imagenet1k_1_layer>("hf-dinov2-with-registers-large-imagenet1k-1-layer", F::hf_dinov2,
                                                                hf_dinov2()),
        arch<p::dinov2_with_registers_giant_imagenet1k_1_layer>("hf-dinov2-with-registers-giant-imagenet1k-1-layer", F::hf_dinov2,
                                                                hf_dinov2()),
    };
    return all;
}

/// Whether `a` is the shipped Fashion-MNIST model (the first architecture), whose images take the
/// grey 28 x 28 path and which --eval-idx runs.
inline bool is_fashion(const Arch& a) { return &a == &architectures().front(); }

namespace detail {

inline std::size_t dim_of(const einvit::io::TensorInfo* t, std::size_t axis) {
    return t && axis < t->rank ? static_cast<std::size_t>(t->shape[axis]) : 0;
}

// n's square root where n is a square of a positive side, else 0 (a table of more than 2^40 rows is
// no image's: 0, and no architecture matches)
inline std::size_t square_side(std::size_t n) {
    if (n == 0 || n > (std::size_t{1} << 40)) return 0;
    auto side = static_cast<std::size_t>(std::sqrt(static_cast<double>(n)));
    while (side > 0 && side * side > n) --side;
    while ((side + 1) * (side + 1) <= n) ++side;
    return side * side == n ? side : 0;
}

inline std::size_t count_blocks(const Checkpoint& f, const std::string& before, const std::string& after) {
    std::size_t n = 0;
    while (f.find(before + std::to_string(n) + after)) ++n;
    return n;
}

}  // namespace detail

/// The family of a timm, torchvision or HF checkpoint, and its architecture's signature, read from
/// the tensors' names and shapes. `found` is false for any other layout.
struct Detected {
    bool found = false;
    vit::Family family = vit::Family::timm;
    Signature signature;
};

inline Detected detect(const Checkpoint& f) {
    struct Layout {
        vit::Family family;
        const char *patch, *block_before, *block_after, *pos, *head, *dist, *pre_logits, *cls, *reg, *layer_scale;
        const char* gated;      // a tensor only SwiGLU MLPs have ("": the layout has none)
        std::size_t side = 0;  // the image's side where the position table is resampled to it in every pass (DINOv2's)
    };
    static const Layout layouts[] = {
        {vit::Family::timm, "patch_embed.proj.weight", "blocks.", ".norm1.weight", "pos_embed", "head.weight", "dist_token", "pre_logits.fc.weight",
         "cls_token", "reg_token", "blocks.0.ls1.gamma", ""},
        {vit::Family::torchvision, "conv_proj.weight", "encoder.layers.encoder_layer_", ".ln_1.weight", "encoder.pos_embedding", "heads.head.weight", "",
         "heads.pre_logits.weight", "class_token", "", "", ""},
        {vit::Family::hf, "vit.embeddings.patch_embeddings.projection.weight", "vit.encoder.layer.", ".layernorm_before.weight",
         "vit.embeddings.position_embeddings", "classifier.weight", "", "", "vit.embeddings.cls_token", "", "", ""},
        {vit::Family::hf_deit, "deit.embeddings.patch_embeddings.projection.weight", "deit.encoder.layer.", ".layernorm_before.weight",
         "deit.embeddings.position_embeddings", "cls_classifier.weight", "distillation_classifier.weight", "", "deit.embeddings.cls_token", "", "",
         ""},
        {vit::Family::hf_dinov2, "dinov2.embeddings.patch_embeddings.projection.weight", "dinov2.encoder.layer.", ".norm1.weight",
         "dinov2.embeddings.position_embeddings", "classifier.weight", "", "", "dinov2.embeddings.cls_token", "",
         "dinov2.encoder.layer.0.layer_scale1.lambda1", "dinov2.encoder.layer.0.mlp.weights_in.weight", 224},
        {vit::Family::hf_dinov2, "dinov2_with_registers.embeddings.patch_embeddings.projection.weight",
         "dinov2_with_registers.encoder.layer.", ".norm1.weight", "dinov2_with_registers.embeddings.position_embeddings",
         "classifier.weight", "", "", "dinov2_with_registers.embeddings.cls_token", "dinov2_with_registers.embeddings.register_tokens",
         "dinov2_with_registers.encoder.layer.0.layer_scale1.lambda1", "dinov2_with_registers.encoder.layer.0.mlp.weights_in.weight",
         224},
    };
    Detected d;
    for (const Layout& l : layouts) {
        const auto* patch = f.find(l.patch);
        if (!patch || patch->rank != 4) continue;
        d.found = true;
        d.family = l.family;
        Signature& s = d.signature;
        s.dim = detail::dim_of(patch, 0);
        s.channels = detail::dim_of(patch, 1);
        s.patch = detail::dim_of(patch, 2);
        s.depth = detail::count_blocks(f, l.block_before, l.block_after);
        s.classes = detail::dim_of(f.find(l.head), 0);
        s.distilled = *l.dist && f.find(l.dist);
        s.representation = *l.pre_logits && f.find(l.pre_logits);
        s.class_token = f.find(l.cls) != nullptr;
        s.registers = *l.reg ? detail::dim_of(f.find(l.reg), 1) : 0;
        s.layer_scale = *l.layer_scale && f.find(l.layer_scale);
        s.gated_mlp = *l.gated && f.find(l.gated);
        // square images: the position table holds (side / patch)^2 patches after the prefix tokens, or
        // the patches alone (timm's no_embed_class)
        const std::size_t tokens = detail::dim_of(f.find(l.pos), 1);
        const std::size_t prefix = (s.class_token ? 1 : 0) + (s.distilled ? 1 : 0) + s.registers;
        std::size_t side = detail::square_side(tokens > prefix ? tokens - prefix : 0);
        s.prefix_position = side != 0 || prefix == 0;
        if (side == 0) side = detail::square_side(tokens);
        s.height = s.width = l.side ? l.side : side * s.patch;
        return d;
    }
    return d;
}

inline std::string known_names() {
    std::string s;
    for (const Arch& a : architectures()) s += std::string(s.empty() ? "" : ", ") + a.name;
    return s;
}

/// The architecture named `name` ("" when unnamed: the one that matches the checkpoint).
inline const Arch& choose(const Checkpoint& f, const std::string& name) {
    if (!name.empty()) {
        for (const Arch& a : architectures())
            if (name == a.name) return a;
        fail("--arch " + name + ": unknown architecture; known: " + known_names());
    }
    const Detected d = detect(f);
    if (!d.found) {
        // not timm, torchvision or HF: the shipped model's layout (vit-pytorch), else a clear error
        if (f.find("to_patch_embedding.2.weight")) return architectures().front();
        fail(f.path() + ": not a timm, torchvision or HF transformers ViT checkpoint, nor the Fashion-MNIST model (give --arch NAME; known: " +
             known_names() + ")");
    }
    for (const Arch& a : architectures())
        if (a.family == d.family && a.signature == d.signature) return a;
    fail(f.path() + ": a " + vit::to_string(d.family) + " ViT with " + d.signature.text() +
         ", which einvit-classify has no architecture for (known: " + known_names() + ")");
}

/// The architecture named `name` ("" when unnamed: the first whose config the image was made for) and
/// the model over the weight image `f`.
inline std::pair<const Arch*, std::unique_ptr<Classifier>> choose_image(const vit::WeightImageFile& f, const std::string& name) {
    std::string first_error;
    for (const Arch& a : architectures()) {
        if (!name.empty() && name != a.name) continue;
        std::string error;
        if (auto model = a.open_image(f, error)) return {&a, std::move(model)};
        if (!name.empty()) fail(error + " (--arch " + name + ")");
        if (first_error.empty()) first_error = error;
    }
    if (!name.empty()) fail("--arch " + name + ": unknown architecture; known: " + known_names());
    // another config's image gives every architecture the same fault; anything else is the image's own
    if (first_error.find("made for another model config") == std::string::npos) fail(first_error);
    fail(f.path() + ": a weight image of none of the architectures einvit-classify knows (" + known_names() + ")");
}

}  // namespace einvit_examples
