// einvit/vit/load.hpp — building a VisionTransformer from a checkpoint of one of the model families.
//
//   auto file = einvit::io::SafeTensors::open("vit_base_patch16_224.safetensors");
//   auto model = einvit::vit::load<einvit::vit::presets::vit_base_patch16_224>(file, einvit::vit::Family::timm);
//
// Each family names its tensors its own way; the maps here take them into einvit's layout:
// - timm (VisionTransformer, DeiT, DeiT-III): patch_embed.proj, cls_token, dist_token, reg_token,
//   pos_embed, norm_pre, blocks.N.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2,
//   ls2.gamma}, norm, attn_pool.{latent, q, kv, proj, norm, mlp.fc1, mlp.fc2} (global_pool "map"),
//   fc_norm (global_pool "avg"), pre_logits.fc, head, head_dist. Layer scale (ls1, ls2) is folded into
//   attn.proj's and mlp.fc2's rows and biases as they are packed; the pool's latent goes through its q
//   projection once, at load. A pos_embed for another (square) grid than the config's is resampled as
//   timm's checkpoint_filter_fn does when a model is made at another image size (bicubic, antialiased).
// - torchvision (vit_b_16 ...): conv_proj, class_token, encoder.pos_embedding,
//   encoder.layers.encoder_layer_N.{ln_1, self_attention.in_proj_*, self_attention.out_proj, ln_2,
//   mlp.0, mlp.3}, encoder.ln, heads.head (heads.pre_logits with a representation layer). A table for
//   another square grid is resampled as torchvision's interpolate_embeddings does (bicubic, align_corners).
// - hf (transformers' ViTForImageClassification): vit.embeddings.*, vit.encoder.layer.N.{layernorm_before,
//   attention.attention.{query,key,value}, attention.output.dense, layernorm_after,
//   intermediate.dense, output.dense}, vit.layernorm, classifier; q, k and v are joined into one qkv. Or
//   ViTModel (google/vit-*-in21k): the same without "vit." and without a classifier, its pooler.dense the
//   representation layer (pooler_output), or left unread (representation_size = 0: the class token's). A
//   position table for another grid is resampled as transformers' interpolate_pos_encoding does in a pass
//   (bicubic to the grid's size; transformers 4.45 and later), as DINOv2's below.
// - hf_deit (transformers' DeiTForImageClassificationWithTeacher, facebook/deit-*-distilled-*: the class
//   and distillation tokens' classifiers averaged): deit.embeddings.{cls_token, distillation_token,
//   position_embeddings, patch_embeddings.projection}, deit.encoder.layer.N.{...as ViT's}, deit.layernorm,
//   cls_classifier, distillation_classifier. Or DeiTForImageClassification: the class token's classifier
//   alone, its distillation token taken as a register (register_tokens = 1). Or DeiTModel: the same without
//   "deit." and without classifiers, its pooler.dense as ViTModel's. Tables resampled as hf's.
// - hf_siglip (transformers' SiglipVisionModel, or SiglipModel's vision tower): vision_model.{embeddings.
//   {patch_embedding, position_embedding}, encoder.layers.N.{layer_norm1, self_attn.{q,k,v,out}_proj,
//   layer_norm2, mlp.fc1, mlp.fc2}, post_layernorm, head.{probe, attention.in_proj_*, attention.out_proj,
//   layernorm, mlp.fc1, mlp.fc2}}: attention pooling (Pooling::map), no classifier. Or
//   SiglipForImageClassification: the tokens' mean (Pooling::mean_all) into `classifier`, its checkpoint's
//   head.* (unused by its forward pass) left unread.
// - hf_clip (transformers' CLIPVisionModel, CLIPVisionModelWithProjection, or CLIPModel's vision tower):
//   vision_model.{embeddings.{class_embedding, patch_embedding, position_embedding}, pre_layrnorm,
//   encoder.layers.N.{...as SigLIP's}, post_layernorm}, visual_projection (the head, without a bias).
//   A two-tower checkpoint's text tower (text_model.*, text_projection, logit_scale, logit_bias) is
//   left unread: the model is the image encoder. SigLIP's and CLIP's position tables for another grid are
//   resampled as their interpolate_pos_encoding does when asked (bicubic to the grid's size), as ViT's.
// - hf_dinov2 (transformers' Dinov2Model, facebook/dinov2-*): embeddings.{cls_token, mask_token (unread),
//   position_embeddings, patch_embeddings.projection}, encoder.layer.N.{norm1, attention.attention.
//   {query,key,value}, attention.output.dense, layer_scale1.lambda1, norm2, mlp.fc1, mlp.fc2,
//   layer_scale2.lambda1}, layernorm: the class token's features (pooler_output); or, under "dinov2.",
//   Dinov2ForImageClassification's, with its classifier over the class token and the patch tokens' mean
//   (Pooling::cls_and_mean). Its position table is
//   for the pretraining grid (37 x 37 at 518); for another grid it is resampled at load exactly as
//   transformers' interpolate_pos_encoding does in every pass (bicubic to the grid's size). With registers
//   (Dinov2WithRegistersModel, facebook/dinov2-with-registers-*; register_tokens = 4, prefix_position =
//   false): embeddings.register_tokens too, "dinov2_with_registers." before a classifier's base model, the
//   table's class-token row added to the class token at load and the rest resampled antialiased (as timm).
// - vit_pytorch (lucidrains' ViT): to_patch_embedding.{0,1,2,3} or .1, cls_token, pos_embedding,
//   transformer.layers.N.0.{norm, to_qkv, to_out.0}, transformer.layers.N.1.net.{0,1,4},
//   transformer.norm, mlp_head (or mlp_head.0 / mlp_head.1 with a head norm); patches in (p1 p2 c) order.
// - vit_pytorch_simple (lucidrains' SimpleViT: no class token, fixed 2-D sine-cosine positions, mean
//   pooling): to_patch_embedding.{1,2,3}, transformer.layers.N.0.{norm, to_qkv, to_out},
//   transformer.layers.N.1.net.{0,1,3}, transformer.norm, linear_head.
// - vit_pytorch_seed (the earlier vit-pytorch the seeds print, with the padding mask):
//   patch_to_embedding, cls_token, pos_embedding, transformer.layers.N.0.fn.{norm, fn.to_qkv, fn.to_out.0},
//   transformer.layers.N.1.fn.{norm, fn.net.0, fn.net.3}, mlp_head.0 (LayerNorm), mlp_head.1; no final norm.
// - torch_encoder (a ViT built on nn.TransformerEncoderLayer, as in the seeds): patch_embed.{weight,bias}
//   (Linear), cls_token, pos_embedding, encoder.layers.N.{self_attn.in_proj_*, self_attn.out_proj,
//   linear1, linear2, norm1, norm2}, encoder.norm (if a final norm), head.
// Every tensor the config needs must be there with the right shape, and every tensor in the file must be
// used: a missing, extra or mis-shaped tensor raises errc::format naming the file, the tensor, the shape
// expected and the shape found. Nothing is half-loaded: the model is built only when all of it loaded.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "einvit/core/config.hpp"

#if !EINVIT_HEAP
#error "einvit/vit/load.hpp loads a checkpoint into memory it allocates, and this build has no heap (EINVIT_NO_HEAP): make a weight image on a host (einvit::vit::VisionTransformer::weight_image) and read it with try_from_weight_image"
#endif
#include "einvit/core/error.hpp"
#include "einvit/io/safetensors.hpp"
#include "einvit/io/sharded.hpp"
#include "einvit/vit/config.hpp"
#include "einvit/vit/model.hpp"

namespace einvit::inline EINVIT_ABI::vit {

/// The code base a checkpoint comes from, which fixes its tensor names.
enum class Family { timm, torchvision, hf, vit_pytorch, vit_pytorch_simple, vit_pytorch_seed, torch_encoder, hf_siglip, hf_clip, hf_dinov2, hf_deit };

/// Family name for messages and command lines ("timm", "torchvision", "hf", "vit-pytorch",
/// "vit-pytorch-simple", "vit-pytorch-seed", "torch-encoder", "hf-siglip", "hf-clip", "hf-dinov2", "hf-deit").
constexpr const char* to_string(Family f) noexcept {
    switch (f) {
        case Family::timm: return "timm";
        case Family::torchvision: return "torchvision";
        case Family::hf: return "hf";
        case Family::vit_pytorch: return "vit-pytorch";
        case Family::vit_pytorch_simple: return "vit-pytorch-simple";
        case Family::vit_pytorch_seed: return "vit-pytorch-seed";
        case Family::torch_encoder: return "torch-encoder";
        case Family::hf_siglip: return "hf-siglip";
        case Family::hf_clip: return "hf-clip";
        case Family::hf_dinov2: return "hf-dinov2";
        case Family::hf_deit: return "hf-deit";
    }
    return "?";
}

namespace detail {

// Reads named tensors from one file or the shards of one checkpoint, checking shapes and remembering
// which were used. A missing tensor is named against the checkpoint's path (the file or the index), a
// mis-shaped one against the file that holds it, an unused one with its shard's name.
class CheckpointReader {
public:
    explicit CheckpointReader(const io::SafeTensors& f) : path_(f.path()) { add(f); }
    explicit CheckpointReader(const io::ShardedCheckpoint& c) : path_(c.path()) {
        for (const io::SafeTensors& f : c.files()) add(f);
    }

    /// Reports a fault in the checkpoint: raises it, or, for try_load_weights, keeps the first (fail()
    /// then returns, and take() reads nothing more: it gives an empty vector, and read_weights packs
    /// nothing and stops at the next block).
    void fail(errc kind, const std::string& message) {
        if (!keep_errors_) raise(kind, message);
        if (!first_error_) first_error_ = error(kind, message);
    }
    void keep_errors() noexcept { keep_errors_ = true; }
    const std::optional<error>& first_error() const noexcept { return first_error_; }
    bool failed() const noexcept { return first_error_.has_value(); }

    /// The tensor `name` as floats; its shape must be `shape` (an empty list: a scalar of one element).
    /// Empty once a fault is kept.
    std::vector<float> take(const std::string& name, std::initializer_list<std::uint64_t> shape) {
        if (failed()) return {};
        const auto [file, t] = find(name);
        if (!t) {
            fail(errc::format, path_ + ": missing tensor '" + name + "' (expected shape " + text(shape) + ")");
            return {};
        }
        bool same = t->rank == shape.size();
        std::size_t r = 0;
        for (std::uint64_t e : shape) same = same && t->shape[r++] == e;
        if (!same) {
            fail(errc::format, files_[file]->path() + ": tensor '" + name + "' has shape " + t->shape_string() + ", expected " + text(shape));
            return {};
        }
        mark(file, t);
        if (const std::string fault = files_[file]->float_fault(*t); !fault.empty()) {
            fail(errc::format, fault);
            return {};
        }
        std::vector<float> out(static_cast<std::size_t>(t->elements()));
        files_[file]->read_as_float(*t, out.data());
        files_[file]->release(*t);  // the model keeps its own (packed) copy
        return out;
    }
    bool has(const std::string& name) const noexcept { return find(name).second != nullptr; }
    /// The tensor's entry (its shape), or null where the checkpoint has none.
    const io::TensorInfo* info(const std::string& name) const noexcept { return find(name).second; }
    /// Marks a tensor the model does not need as used (buffers a family stores but einvit recomputes).
    void ignore(const std::string& name) {
        if (const auto [file, t] = find(name); t) mark(file, t);
    }
    /// Marks every tensor whose name starts with `prefix` as used (a part of the checkpoint that is not
    /// this model: a two-tower model's text tower).
    void ignore_prefix(std::string_view prefix) {
        for (std::size_t f = 0; f < files_.size(); ++f)
            for (std::size_t i = 0; i < used_[f].size(); ++i)
                if (std::string_view(files_[f]->tensors()[i].name).substr(0, prefix.size()) == prefix) used_[f][i] = true;
    }
    /// Reports (fail) the tensors the model did not use, naming them.
    void require_all_used(Family family) {
        if (failed()) return;  // the tensors after a kept fault were never taken
        std::string extra;
        std::size_t count = 0;
        for (std::size_t f = 0; f < files_.size(); ++f)
            for (std::size_t i = 0; i < used_[f].size(); ++i)
                if (!used_[f][i]) {
                    const io::TensorInfo& t = files_[f]->tensors()[i];
                    if (count < 5)
                        extra += (count ? ", '" : "'") + t.name + "' " + t.shape_string() +
                                 (files_.size() > 1 ? " in " + file_name(files_[f]->path()) : std::string());
                    ++count;
                }
        if (count)
            fail(errc::format, path_ + ": " + std::to_string(count) + " unexpected tensor(s) for this " + to_string(family) +
                                   " model: " + extra + (count > 5 ? ", ..." : "") +
                                   " (a different config or family than the checkpoint's?)");
    }

private:
    static std::string text(std::initializer_list<std::uint64_t> shape) {
        std::string s = "[";
        std::size_t i = 0;
        for (std::uint64_t e : shape) s += (i++ ? ", " : "") + std::to_string(e);
        return s + "]";
    }
    static std::string file_name(const std::string& path) { return path.substr(io::detail::file_name_start(path)); }
    void add(const io::SafeTensors& f) {
        files_.push_back(&f);
        used_.emplace_back(f.tensors().size(), false);
    }
    bool keep_errors_ = false;
    std::optional<error> first_error_;
    std::pair<std::size_t, const io::TensorInfo*> find(const std::string& name) const noexcept {
        for (std::size_t f = 0; f < files_.size(); ++f)
            if (const io::TensorInfo* t = files_[f]->find(name)) return {f, t};
        return {0, nullptr};
    }
    void mark(std::size_t file, const io::TensorInfo* t) {
        used_[file][static_cast<std::size_t>(t - files_[file]->tensors().data())] = true;
    }
    std::string path_;
    std::vector<const io::SafeTensors*> files_;
    std::vector<std::vector<bool>> used_;
};

struct Names {
    std::string patch, patch_norm_in, patch_norm_out, cls, dist, pos, norm, head_norm, pre_logits, head, head_dist;
    std::string reg = {}, embed_norm = {};  // timm's alone
};

inline Names family_names(Family f) {
    switch (f) {
        case Family::timm: return {"patch_embed.proj", "", "", "cls_token", "dist_token", "pos_embed", "norm", "fc_norm", "pre_logits.fc", "head", "head_dist", "reg_token", "norm_pre"};
        case Family::torchvision: return {"conv_proj", "", "", "class_token", "", "encoder.pos_embedding", "encoder.ln", "", "heads.pre_logits", "heads.head", ""};
        // transformers' ViT, DeiT and DINOv2: the base model's names (read_weights adds the classifiers' "vit.",
        // "deit.", "dinov2." before them)
        case Family::hf: return {"embeddings.patch_embeddings.projection", "", "", "embeddings.cls_token", "", "embeddings.position_embeddings", "layernorm", "", "", "classifier", ""};
        case Family::vit_pytorch: return {"to_patch_embedding.2", "to_patch_embedding.1", "to_patch_embedding.3", "cls_token", "", "pos_embedding", "transformer.norm", "mlp_head.0", "", "mlp_head", ""};
        case Family::vit_pytorch_seed: return {"patch_to_embedding", "", "", "cls_token", "", "pos_embedding", "", "mlp_head.0", "", "mlp_head.1", ""};
        case Family::vit_pytorch_simple: return {"to_patch_embedding.2", "to_patch_embedding.1", "to_patch_embedding.3", "", "", "", "transformer.norm", "", "", "linear_head", ""};
        case Family::torch_encoder: return {"patch_embed", "", "", "cls_token", "", "pos_embedding", "encoder.norm", "", "", "head", ""};
        case Family::hf_siglip: return {"vision_model.embeddings.patch_embedding", "", "", "", "", "vision_model.embeddings.position_embedding.weight", "vision_model.post_layernorm", "", "", "classifier", ""};
        case Family::hf_clip: return {"vision_model.embeddings.patch_embedding", "", "", "vision_model.embeddings.class_embedding", "", "vision_model.embeddings.position_embedding.weight", "vision_model.post_layernorm", "", "", "visual_projection", "", "", "vision_model.pre_layrnorm"};
        case Family::hf_dinov2: return {"embeddings.patch_embeddings.projection", "", "", "embeddings.cls_token", "", "embeddings.position_embeddings", "layernorm", "", "", "classifier", "", "embeddings.register_tokens"};
        // DeiTForImageClassification's distillation token, which its classifier does not read, is a
        // prefix token no head reads: a register, for einvit
        case Family::hf_deit: return {"embeddings.patch_embeddings.projection", "", "", "embeddings.cls_token", "embeddings.distillation_token", "embeddings.position_embeddings", "layernorm", "", "", "classifier", "distillation_classifier", "embeddings.distillation_token"};
    }
    return {};
}

// Resampling a position table, one axis at a time: for each output row (or column), the source rows
// it reads and their weights.
using Taps = std::vector<std::pair<std::size_t, double>>;

// transformers' interpolate_pos_encoding (ViT, DeiT, DINOv2 since transformers 4.45):
// torch.nn.functional.interpolate(size=out, mode="bicubic", align_corners=False): output i reads around
// source coordinate (i + 0.5) * in / out - 0.5 with Keys' cubic (a = -0.75) over 4 taps, indices clamped.
// With `corners` (align_corners=True: torchvision's interpolate_embeddings), around i * (in - 1) / (out - 1).
inline std::vector<Taps> cubic_taps(std::size_t in, std::size_t out, bool corners = false) {
    std::vector<Taps> taps(out);
    const double a = -0.75;
    const auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };    // |d| <= 1
    const auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 < |d| < 2
    for (std::size_t i = 0; i < out; ++i) {
        const double at_i = static_cast<double>(i);
        const double x = !corners ? (at_i + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5
                         : out > 1 ? at_i * static_cast<double>(in - 1) / static_cast<double>(out - 1)
                                   : 0.0;
        const double first = std::floor(x);
        const double t = std::min(std::max(x - first, 0.0), 1.0);
        const double w[4] = {far(t + 1), near(t), near(1 - t), far(2 - t)};
        for (int j = 0; j < 4; ++j) {
            const double at = std::min(std::max(first - 1 + j, 0.0), static_cast<double>(in - 1));
            taps[i].emplace_back(static_cast<std::size_t>(at), w[j]);
        }
    }
    return taps;
}

// timm's resample_abs_pos_embed: torch.nn.functional.interpolate(size=out, mode="bicubic",
// antialias=True), PIL's way: the cubic with a = -0.5, centred on source coordinate (i + 0.5) * in / out,
// stretched by in / out when shrinking (so every source row counts), cut at the table's edges and its
// weights normalised to sum to 1.
inline std::vector<Taps> antialiased_cubic_taps(std::size_t in, std::size_t out) {
    std::vector<Taps> taps(out);
    const double scale = static_cast<double>(in) / static_cast<double>(out), a = -0.5;
    const double stretch = std::max(scale, 1.0), support = 2.0 * stretch;
    const auto cubic = [a](double d) {
        d = std::abs(d);
        return d < 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : d < 2 ? (((d - 5) * d + 8) * d - 4) * a : 0.0;
    };
    for (std::size_t i = 0; i < out; ++i) {
        const double centre = scale * (static_cast<double>(i) + 0.5);
        // as torch rounds them: truncated toward zero, then clamped to the table
        const auto lo = std::max<long long>(static_cast<long long>(centre - support + 0.5), 0);
        const auto hi = std::min<long long>(static_cast<long long>(centre + support + 0.5), static_cast<long long>(in));
        double total = 0;
        for (long long j = lo; j < hi; ++j) {
            const double w = cubic((static_cast<double>(j) - centre + 0.5) / stretch);
            taps[i].emplace_back(static_cast<std::size_t>(j), w);
            total += w;
        }
        if (total != 0)
            for (auto& tap : taps[i]) tap.second /= total;
    }
    return taps;
}

// A table of h0 x w0 rows of `dim` values resampled to rows.size() x cols.size(), in double.
inline std::vector<float> resample_positions(const float* table, std::size_t w0, const std::vector<Taps>& rows,
                                             const std::vector<Taps>& cols, std::size_t dim) {
    std::vector<float> out(rows.size() * cols.size() * dim);
    std::vector<double> acc(dim);
    for (std::size_t y = 0; y < rows.size(); ++y)
        for (std::size_t x = 0; x < cols.size(); ++x) {
            std::fill(acc.begin(), acc.end(), 0.0);
            for (const auto& [sy, wy] : rows[y])
                for (const auto& [sx, wx] : cols[x]) {
                    const float* row = table + (sy * w0 + sx) * dim;
                    const double w = wy * wx;
                    for (std::size_t d = 0; d < dim; ++d) acc[d] += w * row[d];
                }
            for (std::size_t d = 0; d < dim; ++d) out[(y * cols.size() + x) * dim + d] = static_cast<float>(acc[d]);
        }
    return out;
}

}  // namespace detail

namespace detail {

// Every parameter of a model of config C, read through r (which raises or keeps its faults), into one
// store of `packed_floats` floats (VisionTransformer<C>::packed_weight_floats). The config is a value
// here, not a template argument: one copy of this code serves every model a program loads.
inline Weights read_weights(CheckpointReader& r, Family family, const Config& C, std::size_t packed_floats) {
    const std::uint64_t D = C.dim, T = C.tokens(), I = C.inner_dim(), MLP = C.mlp_dim, NC = C.num_classes, p = C.patch,
                        Ch = C.channels, PD = C.patch_dim(), NP = C.patches(), P = C.prefix_tokens();
    // a gated MLP's fc1 (Activation::swiglu): a gate and a value for each of fc2's inputs
    const bool gated = C.gated_mlp();
    const std::uint64_t FC1 = C.fc1_dim();
    detail::Names n = detail::family_names(family);
    // transformers' image classifiers hold their base model's tensors under its name ("vit.", "deit.",
    // "dinov2."); the base models' own checkpoints (ViTModel, Dinov2Model) have them bare. Read from the
    // file; where it has neither, named as the config's kind (with a classifier or not) would have them.
    const bool hf_vit = family == Family::hf || family == Family::hf_deit || family == Family::hf_dinov2;
    const std::string wrapper = family == Family::hf        ? "vit."
                                : family == Family::hf_deit ? "deit."
                                : C.register_tokens         ? "dinov2_with_registers."
                                                            : "dinov2.";
    const bool wrapped = hf_vit && (r.has(wrapper + n.patch + ".weight") || (C.num_classes && !r.has(n.patch + ".weight")));
    const std::string base_prefix = wrapped ? wrapper : "";
    for (std::string* name : {&n.patch, &n.cls, &n.dist, &n.reg, &n.pos, &n.norm})
        if (!name->empty()) *name = base_prefix + *name;
    if (hf_vit) r.ignore(base_prefix + "embeddings.mask_token");  // masked image modelling's, unused by a forward pass
    // ViTModel (google/vit-*-in21k) and DeiTModel: no classifier; the pooler (Linear + tanh over the class
    // token: pooler_output) is the representation layer, and without one (representation_size = 0:
    // last_hidden_state[:, 0]) it is left unread
    if ((family == Family::hf || family == Family::hf_deit) && !wrapped) {
        n.pre_logits = "pooler.dense";
        if (!C.representation_size) r.ignore_prefix("pooler.");
    }
    Weights w;
    // One block for every packed weight: a run of huge pages on Linux (gemm::PackedStore).
    w.store = gemm::PackedStore<float>(packed_floats);
    auto norm = [&](const std::string& base, std::uint64_t dim) {
        NormWeights nw;
        nw.gamma = r.take(base + ".weight", {dim});
        nw.beta = r.take(base + ".bias", {dim});
        return nw;
    };
    // l's weight (out x in, as taken) packed into the store, and its bias (null: none); nothing once a
    // fault is kept (take() then gave nothing)
    auto pack = [&](LinearWeights& l, const std::vector<float>& weight, const float* bias, std::uint64_t out, std::uint64_t in) {
        if (!r.failed()) l.set(weight.data(), bias, out, in, &w.store);
    };
    // `scale`, when given (out values, or none: empty after a kept fault), multiplies each output's
    // row of the weight and its bias before packing: a layer scale after the layer
    auto linear = [&](const std::string& base, std::uint64_t out, std::uint64_t in, bool bias, const std::vector<float>* scale = nullptr) {
        LinearWeights l;
        auto weight = r.take(base + ".weight", {out, in});
        auto b = bias ? r.take(base + ".bias", {out}) : std::vector<float>{};
        if (scale && !r.failed())
            for (std::size_t o = 0; o < out; ++o) {
                for (std::size_t i = 0; i < in; ++i) weight[o * in + i] *= (*scale)[o];
                if (bias) b[o] *= (*scale)[o];
            }
        pack(l, weight, bias ? b.data() : nullptr, out, in);
        return l;
    };
    // A fault of the config for this family: where `lacking`, fails with "einvit::vit: <family> <lacks>";
    // whether it is not.
    auto refuse_if = [&](bool lacking, const char* lacks) {
        if (lacking) r.fail(errc::invalid_argument, std::string("einvit::vit: ") + to_string(family) + lacks);
        return !lacking;
    };
    // Whether the family's checkpoints hold the tensor `name` names (empty: none), failing where not.
    auto family_has = [&](const std::string& name, const char* lacks) { return refuse_if(name.empty(), lacks); };
    // q, k and v as three layers (transformers' models: `base` + each part's name), joined into one qkv
    auto joined_qkv = [&](const std::string& base, std::initializer_list<const char*> parts) {
        LinearWeights l;
        std::vector<float> qkv_w, qkv_b;
        for (const char* part : parts) {
            const auto pw = r.take(base + part + ".weight", {I, D});
            qkv_w.insert(qkv_w.end(), pw.begin(), pw.end());
            if (C.qkv_bias) {
                const auto pb = r.take(base + part + ".bias", {I});
                qkv_b.insert(qkv_b.end(), pb.begin(), pb.end());
            }
        }
        pack(l, qkv_w, C.qkv_bias ? qkv_b.data() : nullptr, 3 * I, D);
        return l;
    };
    // what one family's models have and another's do not: faults of the config, before any tensor's
    const bool timm = family == Family::timm;
    if (C.register_tokens) family_has(n.reg, " models have no register tokens (register_tokens = 0 in the config)");
    if (C.embed_norm) family_has(n.embed_norm, " models have no norm before the blocks (embed_norm = false in the config)");
    if (C.patch_norm) family_has(n.patch_norm_in, " models have no patch norm (patch_norm = false in the config)");
    if (C.final_norm) family_has(n.norm, " models have no final norm (final_norm = false in the config)");
    if (C.head_norm) family_has(n.head_norm, " models have no norm before the head (head_norm = false in the config)");
    refuse_if(C.layer_scale && !timm && family != Family::hf_dinov2, " models have no layer scale (layer_scale = false in the config)");
    refuse_if(gated && !timm && family != Family::hf_dinov2,
              " models have no SwiGLU MLP (activation = swiglu is timm's SwiGLUPacked and transformers' DINOv2 giant's)");
    // timm's no_embed_class (prefix_position = false): a table for the patches alone. transformers' DINOv2
    // with registers (Dinov2WithRegistersModel) gives the class token a position and the registers none:
    // prefix_position = false, the class token's row added to it at load.
    refuse_if(family == Family::hf_dinov2 && !C.class_token, " models have a class token (class_token = true in the config)");
    const bool hf_registers = family == Family::hf_dinov2 && C.register_tokens && C.class_token;
    refuse_if(C.position == PositionEmbedding::learned && !C.prefix_position && P != 0 && !timm && !hf_registers,
              " models have positions for the prefix tokens too (prefix_position = true in the config)");
    refuse_if(hf_registers && C.prefix_position,
              " models with registers give the registers no position (prefix_position = false in the config: the "
              "class token's position is added to it at load)");
    // transformers' image towers: their class embedding and position table are 1- and 2-D, and the
    // two-tower models' text tower is not this model's
    const bool hf_tower = family == Family::hf_siglip || family == Family::hf_clip;
    refuse_if(C.pooling == Pooling::map && !timm && family != Family::hf_siglip,
              " models have no attention pooling (pooling = map is timm's global_pool \"map\" and SigLIP's)");
    // SigLIP: SiglipVisionModel pools by attention, without a classifier; SiglipForImageClassification
    // takes the tokens' mean into one (its checkpoint's attention pool left unread, as transformers does)
    const bool siglip_classifier = family == Family::hf_siglip && C.pooling != Pooling::map;
    refuse_if(family == Family::hf_siglip && C.pooling == Pooling::map && C.num_classes,
              " models with attention pooling have no classifier (num_classes = 0: the pooled features; SiglipForImageClassification pools by the tokens' mean, pooling = mean_all)");
    refuse_if(siglip_classifier && (C.pooling == Pooling::cls || !C.num_classes),
              " models pool by attention (pooling = map, num_classes = 0), or by the tokens' mean into a classifier (pooling = mean_all, SiglipForImageClassification)");
    if (siglip_classifier) r.ignore_prefix("vision_model.head.");
    // DINOv2: Dinov2Model gives the class token's features; Dinov2ForImageClassification's classifier reads
    // the class token and the patch tokens' mean side by side
    refuse_if(C.pooling == Pooling::cls_and_mean && family != Family::hf_dinov2,
              " models have no classifier over the class token and the patch tokens' mean (pooling = cls_and_mean is transformers' Dinov2ForImageClassification's)");
    refuse_if(family == Family::hf_dinov2 && C.num_classes && C.pooling != Pooling::cls_and_mean,
              " classifiers read the class token and the patch tokens' mean (pooling = cls_and_mean in the config)");
    // DeiT: DeiTForImageClassificationWithTeacher (the class and distillation tokens' classifiers, averaged),
    // DeiTForImageClassification (the class token's alone; its distillation token a register here), or
    // DeiTModel (no classifier: the class token's features, or its pooler's)
    if (family == Family::hf_deit) {
        const bool with_teacher = C.distillation_token && C.register_tokens == 0, alone = !C.distillation_token && C.register_tokens == 1;
        refuse_if(C.pooling != Pooling::cls || !(with_teacher || (alone && C.num_classes)),
                  " models are DeiTForImageClassificationWithTeacher (distillation_token = true, num_classes > 0), "
                  "DeiTForImageClassification (its distillation token, which no classifier reads, as register_tokens = 1) or "
                  "DeiTModel (distillation_token = true, num_classes = 0: the class token's features; representation_size = "
                  "dim: its pooler_output)");
        if (C.distillation_token) n.head = "cls_classifier";
    }
    if (C.num_classes) family_has(n.head, " models have no classifier (num_classes = 0 in the config: the pooled features)");
    if (hf_tower)
        for (const char* other : {"text_model.", "text_projection.", "logit_scale", "logit_bias"}) r.ignore_prefix(other);
    const bool lucidrains =
        family == Family::vit_pytorch || family == Family::vit_pytorch_simple || family == Family::vit_pytorch_seed;
    if (lucidrains && C.patch_order != PatchOrder::p1_p2_c)
        r.fail(errc::invalid_argument, "einvit::vit: vit-pytorch checkpoints need patch_order = p1_p2_c in the config");
    // a patch grid that leaves pixels unread is a stride-patch convolution's (timm's, transformers'); the
    // others' patches cover the image, which they check
    refuse_if((C.image_height % p != 0 || C.image_width % p != 0) &&
                  (lucidrains || family == Family::torchvision || family == Family::torch_encoder),
              " models need the image size divisible by the patch (drop_partial_patches is a convolution's way)");
    if (family == Family::vit_pytorch && !C.patch_norm) {
        w.patch = linear("to_patch_embedding.1", D, PD, C.patch_bias);
    } else if (lucidrains || family == Family::torch_encoder) {
        if (C.patch_norm) w.patch_norm_in = norm(n.patch_norm_in, PD);
        w.patch = linear(n.patch, D, PD, C.patch_bias);
        if (C.patch_norm) w.patch_norm_out = norm(n.patch_norm_out, D);
    } else {
        refuse_if(C.patch_order != PatchOrder::c_p1_p2, " checkpoints need patch_order = c_p1_p2 in the config");
        const auto weight = r.take(n.patch + ".weight", {D, Ch, p, p});  // a convolution: (out, c, p1, p2)
        const auto b = C.patch_bias ? r.take(n.patch + ".bias", {D}) : std::vector<float>{};
        pack(w.patch, weight, C.patch_bias ? b.data() : nullptr, D, PD);
    }
    // (where a fault is kept, not raised, the weights are thrown away: what is left unset or empty stays so)
    if (C.class_token && family_has(n.cls, " models have no class token (class_token = false in the config)"))
        w.cls = hf_tower ? r.take(n.cls, {D}) : r.take(n.cls, {1, 1, D});
    if (C.distillation_token && family_has(n.dist, " has no distilled models")) w.dist = r.take(n.dist, {1, 1, D});
    if (C.register_tokens && !n.reg.empty()) w.reg = r.take(n.reg, {1, C.register_tokens, D});
    if (C.position == PositionEmbedding::learned) {
        const std::uint64_t rows = C.prefix_position ? T : NP;
        // A checkpoint's table for another grid: resampled as the family's own code does. Its rows are the
        // prefix tokens' (where the config gives them positions; DINOv2 with registers: the class token's
        // alone), then a square grid's, as both assume.
        const std::uint64_t prefix = C.prefix_position ? P : hf_registers ? 1 : 0;
        // (transformers' SigLIP and CLIP hold it as an nn.Embedding's weight: rows x D, no batch axis)
        const io::TensorInfo* table = r.info(n.pos);
        const std::uint64_t table_rows = !table                                                                    ? 0
                                         : hf_tower && table->rank == 2 && table->shape[1] == D                    ? table->shape[0]
                                         : table->rank == 3 && table->shape[0] == 1 && table->shape[2] == D ? table->shape[1]
                                                                                                             : 0;
        auto take_table = [&](std::uint64_t table_rows_) {
            return hf_tower ? r.take(n.pos, {table_rows_, D}) : r.take(n.pos, {1, table_rows_, D});
        };
        const auto g0 = static_cast<std::uint64_t>(std::lround(std::sqrt(table_rows > prefix ? double(table_rows - prefix) : 0.0)));
        const bool square = g0 >= 1 && table_rows == prefix + g0 * g0;
        // timm's checkpoint_filter_fn (create_model(..., pretrained=True, img_size=...)): a table of another
        // count of rows (one of as many rows in another shape is taken as it is)
        const bool timm_resamples = timm && square && table_rows != rows;
        // torchvision's interpolate_embeddings (its models are square): a table of another count of rows
        const bool torchvision_resamples = family == Family::torchvision && square && table_rows != rows &&
                                           C.grid_h() == C.grid_w() && C.image_height == C.image_width;
        // transformers' interpolate_pos_encoding, which DINOv2 runs in every pass and ViT, DeiT, SigLIP and CLIP
        // when asked (a checkpoint for another grid runs in transformers only so): unless grid and image are
        // square and the table's (as many patches in another shape are resampled too)
        const bool hf_resamples = ((hf_vit && C.class_token && (C.prefix_position || hf_registers)) || (hf_tower && C.prefix_position)) &&
                                  square && !(C.grid_h() == g0 && C.grid_w() == g0 && C.image_height == C.image_width);
        const bool resamples = timm_resamples || torchvision_resamples || hf_resamples;
        if (resamples || hf_registers) {
            const auto full = take_table(resamples ? table_rows : prefix + rows);
            if (!r.failed()) {
                // timm's and DINOv2 with registers' antialiased; torchvision's with align_corners=True
                const auto taps = [&](std::size_t in, std::size_t out) {
                    return timm_resamples || hf_registers ? antialiased_cubic_taps(in, out) : cubic_taps(in, out, torchvision_resamples);
                };
                const auto patches = resamples
                                         ? resample_positions(full.data() + prefix * D, g0, taps(g0, C.grid_h()), taps(g0, C.grid_w()), D)
                                         : std::vector<float>(full.begin() + static_cast<std::ptrdiff_t>(prefix * D), full.end());
                if (hf_registers) {
                    for (std::size_t d = 0; d < D; ++d) w.cls[d] += full[d];  // as transformers adds it, in float
                    w.pos = patches;
                } else {
                    w.pos.assign(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(prefix * D));  // the prefix rows as they are
                    w.pos.insert(w.pos.end(), patches.begin(), patches.end());
                }
            }
        } else if (family_has(n.pos, " models have no learned position embedding")) {
            w.pos = take_table(rows);
        }
        if (hf_tower) r.ignore("vision_model.embeddings.position_ids");  // older checkpoints kept nn.Embedding's index buffer
    } else {
        w.pos.resize(NP * D);
        einvit::vit::detail::sincos_2d(w.pos.data(), C.grid_h(), C.grid_w(), D);
        if (!n.pos.empty()) r.ignore(n.pos);
    }
    if (C.embed_norm && !n.embed_norm.empty()) w.embed_norm = norm(n.embed_norm, D);
    for (std::size_t l = 0; l < C.depth && !r.failed(); ++l) {
        BlockWeights b;
        const std::string i = std::to_string(l);
        switch (family) {
            case Family::timm: {
                const std::string base = "blocks." + i + ".";
                b.norm1 = norm(base + "norm1", D);
                b.qkv = linear(base + "attn.qkv", 3 * I, D, C.qkv_bias);
                // LayerScale: x + gamma * proj(...) = x + (gamma-scaled proj)(...), the same for fc2
                const auto ls1 = C.layer_scale ? r.take(base + "ls1.gamma", {D}) : std::vector<float>{};
                if (C.proj_out) b.proj = linear(base + "attn.proj", D, I, C.proj_bias, C.layer_scale ? &ls1 : nullptr);
                b.norm2 = norm(base + "norm2", D);
                b.fc1 = linear(base + "mlp.fc1", FC1, D, true);  // SwiGLUPacked's too: gate, then value
                const auto ls2 = C.layer_scale ? r.take(base + "ls2.gamma", {D}) : std::vector<float>{};
                b.fc2 = linear(base + "mlp.fc2", D, MLP, true, C.layer_scale ? &ls2 : nullptr);
                break;
            }
            case Family::torchvision:
            case Family::torch_encoder: {
                const bool tv = family == Family::torchvision;
                const std::string base = tv ? "encoder.layers.encoder_layer_" + i + "." : "encoder.layers." + i + ".";
                const std::string attn = base + (tv ? "self_attention." : "self_attn.");
                b.norm1 = norm(base + (tv ? "ln_1" : "norm1"), D);
                const auto in_w = r.take(attn + "in_proj_weight", {3 * I, D});
                const auto in_b = r.take(attn + "in_proj_bias", {3 * I});
                pack(b.qkv, in_w, in_b.data(), 3 * I, D);
                b.proj = linear(attn + "out_proj", D, I, true);
                b.norm2 = norm(base + (tv ? "ln_2" : "norm2"), D);
                b.fc1 = linear(base + (tv ? "mlp.0" : "linear1"), MLP, D, true);
                b.fc2 = linear(base + (tv ? "mlp.3" : "linear2"), D, MLP, true);
                break;
            }
            case Family::hf:
            case Family::hf_deit:
            case Family::hf_dinov2:
            case Family::hf_siglip:
            case Family::hf_clip: {
                // transformers' layers, q, k and v apart: ViT's (and DeiT's, the same), DINOv2's, and the
                // SigLIP and CLIP towers'
                const bool vit = family == Family::hf || family == Family::hf_deit, dino = family == Family::hf_dinov2,
                           tower = !vit && !dino;
                const std::string base = (tower ? std::string("vision_model.encoder.layers.") : base_prefix + "encoder.layer.") + i + ".";
                b.norm1 = norm(base + (vit ? "layernorm_before" : dino ? "norm1" : "layer_norm1"), D);
                b.qkv = tower ? joined_qkv(base + "self_attn.", {"q_proj", "k_proj", "v_proj"})
                              : joined_qkv(base + "attention.attention.", {"query", "key", "value"});
                // DINOv2's layer scale (lambda1; no other family here passes the refusal above) folded
                // into the rows it scales, as timm's
                const auto ls1 = C.layer_scale ? r.take(base + "layer_scale1.lambda1", {D}) : std::vector<float>{};
                b.proj = linear(base + (tower ? "self_attn.out_proj" : "attention.output.dense"), D, I, true,
                                C.layer_scale ? &ls1 : nullptr);
                b.norm2 = norm(base + (vit ? "layernorm_after" : dino ? "norm2" : "layer_norm2"), D);
                // DINOv2 giant's SwiGLU: weights_in (gate, then value), weights_out
                b.fc1 = linear(base + (vit ? "intermediate.dense" : gated ? "mlp.weights_in" : "mlp.fc1"), FC1, D, true);
                const auto ls2 = C.layer_scale ? r.take(base + "layer_scale2.lambda1", {D}) : std::vector<float>{};
                b.fc2 = linear(base + (vit ? "output.dense" : gated ? "mlp.weights_out" : "mlp.fc2"), D, MLP, true,
                               C.layer_scale ? &ls2 : nullptr);
                break;
            }
            case Family::vit_pytorch_seed:
            case Family::vit_pytorch:
            case Family::vit_pytorch_simple: {
                // ViT: 0.norm, 0.to_qkv, 0.to_out.0, 1.net.{0,1,4}; SimpleViT: 0.to_out, 1.net.{0,1,3};
                // the seeds': the same inside Residual(PreNorm(fn)), so 0.fn.norm, 0.fn.fn.to_qkv, ...
                const bool simple = family == Family::vit_pytorch_simple, seed = family == Family::vit_pytorch_seed;
                const std::string base = "transformer.layers." + i + ".";
                const std::string attn = base + (seed ? "0.fn.fn." : "0."), ff = base + (seed ? "1.fn.fn.net." : "1.net.");
                b.norm1 = norm(base + (seed ? "0.fn.norm" : "0.norm"), D);
                b.qkv = linear(attn + "to_qkv", 3 * I, D, C.qkv_bias);
                if (C.proj_out) b.proj = linear(attn + (simple ? "to_out" : "to_out.0"), D, I, C.proj_bias);
                b.norm2 = seed ? norm(base + "1.fn.norm", D) : norm(ff + "0", D);
                b.fc1 = linear(ff + (seed ? "0" : "1"), MLP, D, true);
                b.fc2 = linear(ff + (simple || seed ? "3" : "4"), D, MLP, true);
                break;
            }
        }
        w.blocks.push_back(std::move(b));
    }
    if (C.final_norm) w.norm = norm(n.norm, D);
    if (C.pooling == Pooling::map && (timm || family == Family::hf_siglip)) {
        // timm's AttentionPoolLatent, SigLIP's MultiheadAttentionPoolingHead (q, k and v in one
        // in_proj): their one latent query is the same for every image, so it goes through the q
        // projection here, once (in double), rather than in every pass
        const std::string pool = timm ? "attn_pool." : "vision_model.head.";
        const auto latent = r.take(pool + (timm ? "latent" : "probe"), {1, 1, D});
        // q's weight (D x D) and bias: timm's own; SigLIP's, in_proj's first D rows, whose other 2 D
        // rows are the keys' and values' (packed from where they lie)
        const auto q_weight = r.take(pool + (timm ? "q.weight" : "attention.in_proj_weight"), {timm ? D : 3 * D, D});
        const auto q_bias = r.take(pool + (timm ? "q.bias" : "attention.in_proj_bias"), {timm ? D : 3 * D});
        if (timm) {
            w.pool.kv = linear(pool + "kv", 2 * D, D, true);
            w.pool.proj = linear(pool + "proj", D, D, true);
            w.pool.norm = norm(pool + "norm", D);
        } else {
            if (!r.failed()) w.pool.kv.set(q_weight.data() + D * D, q_bias.data() + D, 2 * D, D, &w.store);
            w.pool.proj = linear(pool + "attention.out_proj", D, D, true);
            w.pool.norm = norm(pool + "layernorm", D);
        }
        if (!r.failed()) {
            w.pool.query.resize(D);
            for (std::size_t o = 0; o < D; ++o) {
                double sum = q_bias[o];
                for (std::size_t i = 0; i < D; ++i) sum += double(q_weight[o * D + i]) * double(latent[i]);
                w.pool.query[o] = static_cast<float>(sum);
            }
        }
        w.pool.fc1 = linear(pool + "mlp.fc1", MLP, D, true);
        w.pool.fc2 = linear(pool + "mlp.fc2", D, MLP, true);
    }
    if (C.head_norm) w.head_norm = norm(n.head_norm, D);
    if (C.representation_size && family_has(n.pre_logits, " has no representation layer"))
        w.pre_logits = linear(n.pre_logits, C.representation_size, D, true);
    if (NC) {
        const std::string head = family == Family::vit_pytorch && C.head_norm ? "mlp_head.1" : n.head;  // seed: mlp_head.1
        w.head = linear(head, NC, C.feature_dim(), family != Family::hf_clip);  // CLIP's projection has no bias
        if (C.distillation_token) w.head_dist = linear(n.head_dist, NC, D, true);
    }
    r.require_all_used(family);
    return w;
}

template <Config C>
Weights read_weights(CheckpointReader& r, Family family) {
    return read_weights(r, family, C, VisionTransformer<C>::packed_weight_floats);
}

}  // namespace detail

/// Reads every parameter of a model of config C from a checkpoint of the given family: one
/// io::SafeTensors file or an io::ShardedCheckpoint. A missing, extra or mis-shaped tensor, a dtype
/// that is not floating point, or a config the family cannot have raises, naming it.
template <Config C, class Checkpoint>
    requires std::is_constructible_v<detail::CheckpointReader, const Checkpoint&>
Weights load_weights(const Checkpoint& file, Family family) {
    detail::CheckpointReader r(file);
    return detail::read_weights<C>(r, family);
}

/// The same, returning the first such fault as an error instead of raising it (for builds without
/// exceptions: nothing is raised but running out of memory).
template <Config C, class Checkpoint>
    requires std::is_constructible_v<detail::CheckpointReader, const Checkpoint&>
result<Weights> try_load_weights(const Checkpoint& file, Family family) {
    detail::CheckpointReader r(file);
    r.keep_errors();
    Weights w = detail::read_weights<C>(r, family);
    if (r.failed()) return *r.first_error();
    return w;
}

/// A model of config C with the weights of a checkpoint of the given family.
template <Config C, class Backend = cpu, class Checkpoint>
    requires std::is_constructible_v<detail::CheckpointReader, const Checkpoint&>
VisionTransformer<C, Backend> load(const Checkpoint& file, Family family) {
    return VisionTransformer<C, Backend>(load_weights<C>(file, family));
}

/// The same, returning a fault in the checkpoint as an error instead of raising it.
template <Config C, class Backend = cpu, class Checkpoint>
    requires std::is_constructible_v<detail::CheckpointReader, const Checkpoint&>
result<VisionTransformer<C, Backend>> try_load(const Checkpoint& file, Family family) {
    auto w = try_load_weights<C>(file, family);
    if (!w) return w.failure();
    return VisionTransformer<C, Backend>::try_create(std::move(w.value()));
}

}  // namespace einvit::vit
