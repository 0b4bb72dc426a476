// einvit/vit/model.hpp — the Vision Transformer forward pass.
//
//   auto model = einvit::vit::load<einvit::vit::presets::vit_base_patch16_224>(
//       einvit::io::SafeTensors::open("vit.safetensors"), einvit::vit::Family::timm);   // (vit/load.hpp)
//   auto logits = model.forward(image);            // image: (B, 3, 224, 224) -> (B, 1000)
//
// Every shape is a compile-time constant of the Config. The weights live in the model (linear layers
// pre-packed for the GEMM once, at load), or in a weight image the model reads in place
// (weight_image(), from_weight_image(): a mapped file, or a program's read-only data). A forward pass
// works in a workspace whose size, workspace_bytes<B, Threads>, is a compile-time constant, the kernels'
// scratch for each thread included: forward() keeps one inside the model (allocated on the first call
// for that batch size, for the pool's threads), forward_into() takes the caller's and, with no more
// threads in the pool than the workspace holds the scratch for, allocates nothing.
//
// The transformer block, pre-norm (ViT) order:
//   qkv = LN1(x) Wqkvᵀ + b       (LN1 applied as the GEMM packs x: no normalised copy of x)
//   a = attention(q, k, v) read as strided views of qkv;
//   x += a Wprojᵀ + b            (residual fused into the GEMM)
//   m = GELU(LN2(x) W1ᵀ + b1)    (LN2 in the packing, bias and GELU in the epilogue); x += m W2ᵀ + b2
// and post-norm (the original Transformer): x = LN1(x + Attn(x)); x = LN2(x + MLP(x)).
// With class-token pooling, the last block computes keys and values for every token but everything
// else (queries, attention, projection, MLP, the final norm) only for the class (and distillation)
// token, the rows the head reads: the same logits for about 7% less work on ViT-B/16.
// With attention pooling (Pooling::map, SigLIP's), the pool's query, learned and the same for every
// image, is projected once at load (latent W_qᵀ + b_q); a pass computes the keys and values of every
// token, one query row's attention per head, the projection and the pool's residual MLP.
#pragma once

#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "einvit/backend/cpu/attention.hpp"
#include "einvit/backend/cpu/gemm.hpp"
#include "einvit/backend/cpu/rows.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"
#include "einvit/core/mapped_file.hpp"
#include "einvit/core/memory.hpp"
#include "einvit/core/profile.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/core/tensor.hpp"
#include "einvit/vit/config.hpp"

namespace einvit::inline EINVIT_ABI::vit {

/// A linear layer's parameters: weight packed for the GEMM (from PyTorch's (out, in)), optional bias.
struct LinearWeights {
    gemm::PackedB<float> weight;
    std::vector<float> bias;  ///< empty: no bias
    std::size_t in = 0, out = 0;
    const float* bias_or_null() const noexcept { return bias.empty() ? nullptr : bias.data(); }
    /// Sets the weight from `w` (out x in, row-major) and the bias from `b` (out values, or null). The
    /// packed weight goes into `store` when it has room, otherwise onto the heap.
    void set(const float* w, const float* b, std::size_t out_features, std::size_t in_features,
             gemm::PackedStore<float>* store = nullptr) {
        in = in_features;
        out = out_features;
        weight = gemm::PackedB<float>(gemm::Strided<float>{w, 1, in_features}, in_features, out_features, store);
        if (b) bias.assign(b, b + out_features);
        else bias.clear();
    }
};

/// A LayerNorm's parameters.
struct NormWeights {
    std::vector<float> gamma, beta;
};

struct BlockWeights {
    NormWeights norm1, norm2;
    LinearWeights qkv, proj, fc1, fc2;
};

/// Attention pooling's parameters (Pooling::map; timm's attn_pool): `query` is the learned latent
/// already through the query projection (dim values: latent W_qᵀ + b_q, computed at load), kv the keys'
/// and values' projection (2 dim outputs, keys first), then proj, and the residual MLP (fc1, fc2) behind
/// its LayerNorm.
struct PoolWeights {
    std::vector<float> query;
    LinearWeights kv, proj;
    NormWeights norm;
    LinearWeights fc1, fc2;
};

/// Every parameter of a model, in einvit's own layout.
struct Weights {
    gemm::PackedStore<float> store;  ///< the packed weights' memory, one block (see load_weights)
    LinearWeights patch;
    NormWeights patch_norm_in, patch_norm_out;
    std::vector<float> cls, dist, reg, pos;  ///< reg: registers x dim; pos: the rows the config's table covers x dim
    NormWeights embed_norm;
    std::vector<BlockWeights> blocks;  ///< with layer scale, proj's and fc2's rows (and biases) hold it, scaled at load
    NormWeights norm;
    PoolWeights pool;  ///< attention pooling's (Pooling::map); empty otherwise
    NormWeights head_norm;
    LinearWeights pre_logits, head, head_dist;
};

namespace detail {

constexpr std::size_t pad16(std::size_t n) noexcept { return (n + 15) / 16 * 16; }

// A weight image (VisionTransformer::weight_image): a header of 64 bytes (the magic "EINVITWI", then
// seven 64-bit words: format version, the build's panel width nr and deepest depth block max_kc, the
// config's fingerprint, the number of tables, the image's bytes, 0), a table of contents (each table's
// byte offset and float count, 64-bit words), then the tables, each at a 64-byte boundary.
inline constexpr char image_magic[8] = {'E', 'I', 'N', 'V', 'I', 'T', 'W', 'I'};
inline constexpr std::uint64_t image_version = 3;  // 2: the registers' and embed_norm's tables added; 3: attention pooling's
inline constexpr std::size_t image_header_bytes = 64, image_entry_bytes = 16;
constexpr std::size_t image_align(std::size_t bytes) noexcept { return (bytes + 63) / 64 * 64; }

}  // namespace detail

/// A weight image file (VisionTransformer::weight_image, written by `write`), memory-mapped (read into
/// an aligned block where there is no mmap), for VisionTransformer::from_weight_image: keep it for the
/// life of the models made over it. Move-only.
class WeightImageFile {
public:
    /// Maps `path`; raises errc::io naming the file and what went wrong.
    static WeightImageFile open(const std::string& path) { return try_open(path).value(); }
    /// The same, returning the error.
    static result<WeightImageFile> try_open(const std::string& path) {
        WeightImageFile f;
        f.path_ = path;
        if (std::string e = f.file_.open(path); !e.empty()) return error(errc::io, path + ": " + e);
        return f;
    }
    /// Writes `image` to `path`, replacing what is there; raises errc::io naming the file and the fault.
    static void write(const std::string& path, const std::vector<std::byte>& image) {
        std::FILE* fp = std::fopen(path.c_str(), "wb");
        if (!fp) raise(errc::io, path + ": cannot create: " + std::strerror(errno));
        const bool written = std::fwrite(image.data(), 1, image.size(), fp) == image.size();
        if (std::fclose(fp) != 0 || !written) raise(errc::io, path + ": cannot write the weight image");
    }
    const void* data() const noexcept { return file_.data(); }
    std::size_t size() const noexcept { return file_.size(); }
    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
    einvit::detail::MappedFile file_;
};

namespace detail {

// An einvit tensor or view (what the checked forward_into takes), by value or by reference.
template <class X>
concept tensor_like = requires {
    typename std::remove_cvref_t<X>::shape_type;
    typename std::remove_cvref_t<X>::value_type;
    typename std::remove_cvref_t<X>::backend_type;
    std::remove_cvref_t<X>::is_contiguous();
};
template <class X>
struct is_owning_tensor : std::false_type {};
template <class T, class S, class B>
struct is_owning_tensor<Tensor<T, S, B>> : std::true_type {};

// 2-D sine-cosine position embedding (vit-pytorch's posemb_sincos_2d, temperature 10000): for each
// patch (y, x), [sin(x ω), cos(x ω), sin(y ω), cos(y ω)] with ω_i = 1 / 10000^(i / (dim/4 - 1)).
inline void sincos_2d(float* out, std::size_t gh, std::size_t gw, std::size_t dim) {
    const std::size_t q = dim / 4;
    for (std::size_t y = 0; y < gh; ++y)
        for (std::size_t x = 0; x < gw; ++x) {
            float* row = out + (y * gw + x) * dim;
            for (std::size_t i = 0; i < q; ++i) {
                const double omega = 1.0 / std::pow(10000.0, q > 1 ? double(i) / double(q - 1) : 0.0);
                row[i] = static_cast<float>(std::sin(double(x) * omega));
                row[q + i] = static_cast<float>(std::cos(double(x) * omega));
                row[2 * q + i] = static_cast<float>(std::sin(double(y) * omega));
                row[3 * q + i] = static_cast<float>(std::cos(double(y) * omega));
            }
        }
}

// Each of n images (channels x height x width) cut into its grid of p x p patches, row by row, each
// patch's pixels in `order` (a grid that leaves pixels at the right or bottom edge leaves them unread).
inline void patchify(const float* img, float* patches, std::size_t n, std::size_t channels, std::size_t height,
                     std::size_t width, std::size_t p, PatchOrder order) {
    const std::size_t gh = height / p, gw = width / p, pd = channels * p * p;
    for (std::size_t b = 0; b < n; ++b)
        for (std::size_t gy = 0; gy < gh; ++gy)
            for (std::size_t gx = 0; gx < gw; ++gx) {
                float* dst = patches + ((b * gh + gy) * gw + gx) * pd;
                for (std::size_t c = 0; c < channels; ++c)
                    for (std::size_t i = 0; i < p; ++i) {
                        const float* src = img + ((b * channels + c) * height + gy * p + i) * width + gx * p;
                        if (order == PatchOrder::c_p1_p2)
                            std::memcpy(dst + (c * p + i) * p, src, p * sizeof(float));
                        else
                            for (std::size_t j = 0; j < p; ++j) dst[(i * p + j) * channels + c] = src[j];
                    }
            }
}

// The attention of tokens [0, rows) of each of n images to all t of its tokens, averaged over the
// `heads` heads (for attention maps and rollout): recomputed from q and k (qkv: n x t rows of q | k | v,
// each `inner` = heads x hd wide) in plain loops, without the padding mask, into map (n x rows x t);
// row holds t floats. Sizes as values, not template arguments: one copy serves every config.
inline void attention_rows(std::size_t n, const float* qkv, float scale, float* map, std::size_t rows, float* row,
                           std::size_t t, std::size_t inner, std::size_t hd, std::size_t heads) {
    for (std::size_t b = 0; b < n; ++b)
        for (std::size_t i = 0; i < rows; ++i) {
            float* m = map + (b * rows + i) * t;
            for (std::size_t j = 0; j < t; ++j) m[j] = 0;
            for (std::size_t hh = 0; hh < heads; ++hh) {
                const float* q = qkv + (b * t + i) * 3 * inner + hh * hd;
                for (std::size_t j = 0; j < t; ++j) {
                    const float* k = qkv + (b * t + j) * 3 * inner + inner + hh * hd;
                    float dot = 0;
                    for (std::size_t d = 0; d < hd; ++d) dot += q[d] * k[d];
                    row[j] = dot;
                }
                kernels::softmax_rows(reference{}, row, t, row, t, 1, t, scale);
                for (std::size_t j = 0; j < t; ++j) m[j] += row[j] / static_cast<float>(heads);
            }
        }
}

}  // namespace detail

template <Config C, class Backend = cpu>
class VisionTransformer {
    static_assert(check_config<C>());
    static_assert(std::is_base_of_v<cpu, Backend>, "einvit::vit: the CPU model runs on einvit::cpu (or a backend derived from it)");

public:
    static constexpr Config config = C;
    static constexpr std::size_t D = C.dim, T = C.tokens(), NP = C.patches(), PD = C.patch_dim(), I = C.inner_dim(),
                                 HD = C.head_dim(), MLP = C.mlp_dim, P = C.prefix_tokens(), F = C.feature_dim();
    /// A gated MLP (Activation::swiglu), and fc1's outputs (MLP, or 2 x MLP gated): Config's gated_mlp(), fc1_dim().
    static constexpr bool gated_mlp = C.gated_mlp();
    static constexpr std::size_t FC1 = C.fc1_dim();
    /// Width of forward()'s output: the classes, or the features when the model has no head.
    static constexpr std::size_t out_dim = C.num_classes ? C.num_classes : F;
    /// Attention pooling (Pooling::map): its head size, and the keys and values it projects per token.
    static constexpr bool attention_pooling = C.pooling == Pooling::map;
    static constexpr std::size_t PHD = C.pool_head_dim(), pool_kv = attention_pooling ? 2 * D : 0;

    template <std::size_t B>
    using Input = TensorView<const float, Shape<B, C.channels, C.image_height, C.image_width>, Backend>;
    template <std::size_t B>
    using Output = Tensor<float, Shape<B, out_dim>, Backend>;

    /// Where a forward pass's activations at batch B lie in its workspace (offsets in floats, each
    /// buffer padded to 64 bytes), the one layout that both sizes the workspace and places the buffers:
    /// the residual stream, the patches, the blocks' q, k and v (and the attention pool's keys and
    /// values), the attention output (and the pool's), fc1's outputs, the pooled features, the features,
    /// then the token keep mask (bytes). (The head writes its output to the caller's buffer.)
    template <std::size_t B>
    struct Layout {
        static constexpr std::size_t x = 0, patches = x + detail::pad16(B * T * D),
                                     qkv = patches + detail::pad16(B * NP * PD),
                                     att = qkv + detail::pad16(B * T * (3 * I > pool_kv ? 3 * I : pool_kv)),
                                     mlp = att + detail::pad16(B * (T * I > D ? T * I : D)),
                                     pooled = mlp + detail::pad16(B * T * FC1), feats = pooled + detail::pad16(B * D),
                                     keep = feats + detail::pad16(B * F),
                                     end = keep + detail::pad16((B * T + 3) / 4);
    };
    /// Floats of a forward pass's activations at batch B (Layout<B>).
    template <std::size_t B>
    static constexpr std::size_t activation_floats = Layout<B>::end;
    /// The scratch the kernels of a forward pass of up to B images take on each of `threads` threads,
    /// slot by slot (see ScratchPlan): the packed A blocks of its products (and Strassen's operands where
    /// the default setting gives its products that algorithm), the attention kernel's buffers, and with
    /// more threads than one the A that the threads share (the calling thread's).
    template <std::size_t B>
    static constexpr ScratchPlan<float> scratch_plan_for(std::size_t threads) noexcept {
        constexpr std::size_t M = B * T;  // the most rows a product takes
        constexpr gemm::StrassenUse use = gemm::detail::strassen_by_default;
        const auto product = [&](std::size_t rows, std::size_t in, std::size_t out) {
            return gemm::scratch_plan<float>(rows, in, out, use, threads);
        };
        ScratchPlan<float> plan = kernels::attention_scratch_plan<float>(HD, HD, T, T);
        plan.need(product(NP, PD, D));  // the patch embedding, an image at a time
        plan.need(product(M, D, 3 * I));
        if (C.proj_out) plan.need(product(M, I, D));
        plan.need(product(M, D, FC1));
        plan.need(product(M, MLP, D));
        if (C.representation_size) plan.need(product(B, D, C.representation_size));
        if (C.num_classes) plan.need(product(B, F, C.num_classes));
        if (C.num_classes && C.distillation_token) plan.need(product(B, D, C.num_classes));
        if (attention_pooling) {
            plan.need(kernels::attention_scratch_plan<float>(PHD, PHD, 1, T));
            plan.need(product(M, D, 2 * D));
            plan.need(product(B, D, D));
            plan.need(product(B, D, MLP));
            plan.need(product(B, MLP, D));
        }
        return plan;
    }
    /// scratch_plan_for<B>(Threads), a compile-time constant.
    template <std::size_t B, std::size_t Threads = 1>
    static constexpr ScratchPlan<float> scratch_plan = scratch_plan_for<B>(Threads);

    /// Floats of workspace a forward pass of batch B on up to `threads` threads needs: its activations
    /// (activation_floats<B>), then the kernels' scratch for each thread (scratch_plan_for<B>(threads),
    /// laid out by ScratchPlan::elements(threads)), which the pass lends them (ScratchScope), so that it
    /// allocates nothing, from its first call (with the default Strassen setting: another one may give a
    /// product Strassen's algorithm where the plan did not, whose scratch then comes from the heap).
    template <std::size_t B>
    static constexpr std::size_t workspace_floats_for(std::size_t threads) noexcept {
        return activation_floats<B> + scratch_plan_for<B>(threads).elements(threads);
    }
    /// workspace_floats_for<B>(Threads), a compile-time constant: by default for one thread.
    template <std::size_t B, std::size_t Threads = 1>
    static constexpr std::size_t workspace_floats = workspace_floats_for<B>(Threads);

    /// Floats of all the packed weights (the linear layers', each as much as PackedStore::room gives it):
    /// the size of the block load_weights places them in (a compile-time constant).
    static constexpr std::size_t packed_weight_floats = [] {
        constexpr auto packed = [](std::size_t in, std::size_t out) { return gemm::PackedStore<float>::room(gemm::PackedB<float>::elements(in, out)); };
        std::size_t n = packed(PD, D) + C.depth * (packed(D, 3 * I) + (C.proj_out ? packed(I, D) : 0) + packed(D, FC1) + packed(MLP, D));
        if (C.representation_size) n += packed(D, C.representation_size);
        if (C.num_classes) n += packed(F, C.num_classes) + (C.distillation_token ? packed(D, C.num_classes) : 0);
        if (attention_pooling) n += packed(D, 2 * D) + packed(D, D) + packed(D, MLP) + packed(MLP, D);
        return n;
    }();

    /// Bytes of workspace a forward pass of batch B on up to Threads threads needs (a compile-time constant).
    template <std::size_t B, std::size_t Threads = 1>
    static constexpr std::size_t workspace_bytes = workspace_floats<B, Threads> * sizeof(float);

    /// The threads a workspace of `floats` floats holds the kernels' scratch for at batch B: the most
    /// (up to 64) whose workspace_floats fits in it (0 when not even one thread's does).
    template <std::size_t B>
    static constexpr std::size_t threads_in_workspace(std::size_t floats) noexcept {
        std::size_t threads = 0;
        while (threads < 64 && workspace_floats_for<B>(threads + 1) <= floats) ++threads;
        return threads;
    }

    VisionTransformer() = default;
    /// Moving leaves the source with no weights (as a default-constructed model): its views go with them.
    VisionTransformer(VisionTransformer&& o) noexcept : v_(std::exchange(o.v_, Views{})) {
#if EINVIT_HEAP  // the views stay valid: the vectors' buffers move with them
        w_ = std::move(o.w_);
        workspace_ = std::move(o.workspace_);
#endif
    }
    VisionTransformer& operator=(VisionTransformer&& o) noexcept {
        if (this != &o) {
#if EINVIT_HEAP
            w_ = std::move(o.w_);
            workspace_ = std::move(o.workspace_);
#endif
            v_ = std::exchange(o.v_, Views{});
        }
        return *this;
    }
#if EINVIT_HEAP  // a model that owns its weights, and what allocates (forward, features, weight_image): not without a heap
    /// A model with these weights; raises if they do not fit the config (weights_fault says how).
    explicit VisionTransformer(Weights w) : w_(std::move(w)) {
        if (const message fault = weights_fault(w_); !fault.empty()) raise(errc::invalid_argument, fault);
        v_ = views_of(w_);
    }

    /// The same, returning the fault as an error instead of raising it (builds without exceptions).
    static result<VisionTransformer> try_create(Weights w) {
        if (const message fault = weights_fault(w); !fault.empty()) return error(errc::invalid_argument, fault);
        return VisionTransformer(std::move(w), checked{});
    }

    /// What is wrong with `w` for this config: its first table whose size the config does not give
    /// ("einvit::vit: blocks[3].fc1 is ..."), or "" when nothing is.
    static message weights_fault(const Weights& w);

    /// The weights the model owns (empty for a model over a weight image, whose weights are the image's).
    const Weights& weights() const noexcept { return w_; }

    /// The model's weights as a weight image: its packed weights, biases, norms and embeddings as this
    /// build lays them out, behind a header naming the build's packing (panel width, depth blocks) and
    /// a fingerprint of the config, every table 64-byte aligned. from_weight_image takes it back without
    /// a copy: written to a file and memory-mapped, or linked into a program's read-only data.
    std::vector<std::byte> weight_image() const;
#endif

    /// A model over a weight image that weight_image() of a build that packs as this one made (the same
    /// instruction set's panel width and depth blocks: the header says which), at a 64-byte boundary,
    /// which the caller keeps, unchanged, for the model's life: the model's weights are views into it,
    /// so making it copies nothing and allocates nothing. Every field and table is checked against the
    /// config and the image's `bytes` before anything is read through it; what does not fit is an
    /// error naming it (errc::format; a misaligned start, errc::invalid_argument).
    static result<VisionTransformer> try_from_weight_image(const void* image, std::size_t bytes);
    /// The same, raising the error.
    static VisionTransformer from_weight_image(const void* image, std::size_t bytes) {
        return try_from_weight_image(image, bytes).value();
    }
    /// A model over a mapped weight image file (kept for the model's life); errors name the file.
    static result<VisionTransformer> try_from_weight_image(const WeightImageFile& file) {
        auto model = try_from_weight_image(file.data(), file.size());
        if (!model) return error(model.failure().kind(), file.path() + ": " + model.failure().what());
        return model;
    }
    static VisionTransformer from_weight_image(const WeightImageFile& file) { return try_from_weight_image(file).value(); }
    // a temporary file would be unmapped before the model's first use: keep the WeightImageFile
    static result<VisionTransformer> try_from_weight_image(WeightImageFile&&) = delete;
    static VisionTransformer from_weight_image(WeightImageFile&&) = delete;

#if EINVIT_HEAP
    /// Logits (B, num_classes), or the features when num_classes is 0. Allocates its workspace on the
    /// first call for a batch size (or a larger thread count: it holds the kernels' scratch for each of
    /// the pool's threads), and the returned tensor.
    template <std::size_t B>
    Output<B> forward(const Input<B>& image) {
        Output<B> out(uninitialized);
        const std::size_t threads = num_threads();
        run<B>(B, image, out.data(), own_workspace<B>(threads), nullptr, 1, nullptr, false, threads);
        return out;
    }
    template <std::size_t B>
    Output<B> forward(const Tensor<float, Shape<B, C.channels, C.image_height, C.image_width>, Backend>& image) {
        return forward<B>(Input<B>(image.data()));
    }

    /// The pre-head embedding (B, feature_dim): the pooled token after the head norm and the
    /// representation layer, what the classifier sees.
    template <std::size_t B>
    Tensor<float, Shape<B, F>, Backend> features(const Input<B>& image) {
        Tensor<float, Shape<B, F>, Backend> out(uninitialized);
        const std::size_t threads = num_threads();
        run<B>(B, image, out.data(), own_workspace<B>(threads), nullptr, 1, nullptr, true, threads);
        return out;
    }
    template <std::size_t B>
    Tensor<float, Shape<B, F>, Backend> features(const Tensor<float, Shape<B, C.channels, C.image_height, C.image_width>, Backend>& image) {
        return features<B>(Input<B>(image.data()));
    }
#endif

    /// The forward pass into `out` (B x out_dim floats) using `workspace` (workspace_floats<B, Threads>
    /// floats, 64-byte aligned is best), which also holds the kernels' scratch for up to Threads threads
    /// (by default one): with no more threads than that in the pool (set_num_threads, or a build without
    /// threads) it allocates nothing, from its first call (with the default gemm::set_strassen setting,
    /// which the plan is made for); the pool's threads beyond Threads grow buffers of their own on their
    /// first pass, then reuse them.
    /// `attention_maps`, when given, receives each layer's attention of the class token (or of token 0)
    /// to every token, averaged over heads (computed without the padding mask): depth x B x T floats. `keep_patches`, when given, is the
    /// seeds' padding mask: B x patches bytes, nonzero keeps a patch; prefix tokens are always kept,
    /// masked tokens get no attention and attend uniformly (vit-pytorch's masked_fill with -finfo.max).
    template <std::size_t B, std::size_t Threads = 1>
    void forward_into(const Input<B>& image, float* out, float* workspace, float* attention_maps = nullptr,
                      const std::uint8_t* keep_patches = nullptr) const {
        run<B>(B, image, out, workspace, attention_maps, 1, keep_patches, false, Threads);
    }

    /// A tensor holding the workspace of a forward pass of batch B on up to Threads threads, on the heap
    /// or in an arena (`typename Model::template Workspace<1> workspace(arena);`), for the checked
    /// forward_into below.
    template <std::size_t B, std::size_t Threads = 1>
    using Workspace = Tensor<float, Shape<workspace_floats<B, Threads>>, Backend>;

    /// forward_into with `out` and `workspace` as einvit tensors or views (Output<B> and Workspace<B>, or
    /// views of them), whose sizes are checked at compile time: `out` must have shape (B, out_dim), the
    /// workspace at least workspace_floats<B> floats (one for a larger batch will do), both contiguous
    /// floats on this model's backend. A buffer that does not fit is a compile error saying which. The
    /// kernels' scratch is lent to as many threads as the workspace holds it for (threads_in_workspace:
    /// a Workspace<B, 2> serves two).
    template <std::size_t B, class Out, class Work>
        requires detail::tensor_like<Out> && detail::tensor_like<Work>
    void forward_into(const Input<B>& image, Out&& out, Work&& workspace, float* attention_maps = nullptr,
                      const std::uint8_t* keep_patches = nullptr) const {
        if constexpr (buffers_fit<B, Out, Work>())
            forward_into<B, lent_threads<B, Work>>(image, out.data(), workspace.data(), attention_maps, keep_patches);
    }
    /// The same with the class token's attention maps into an einvit tensor or view of shape
    /// (depth, B, tokens): AttentionMaps<B>, checked at compile time as out is.
    template <std::size_t B, class Out, class Work, class Maps>
        requires detail::tensor_like<Out> && detail::tensor_like<Work> && detail::tensor_like<Maps>
    void forward_into(const Input<B>& image, Out&& out, Work&& workspace, Maps&& attention_maps,
                      const std::uint8_t* keep_patches = nullptr) const {
        if constexpr (buffers_fit<B, Out, Work, Maps, Shape<C.depth, B, T>>())
            forward_into<B, lent_threads<B, Work>>(image, out.data(), workspace.data(), attention_maps.data(), keep_patches);
    }
    /// What forward_into's attention maps and forward_with_attention's matrices are written into: each
    /// layer's attention of the class token (of token 0) to every token, (depth, B, tokens); each layer's
    /// full attention matrix, (depth, B, tokens, tokens). Both averaged over the heads.
    template <std::size_t B>
    using AttentionMaps = Tensor<float, Shape<C.depth, B, T>, Backend>;
    template <std::size_t B>
    using AttentionMatrices = Tensor<float, Shape<C.depth, B, T, T>, Backend>;

    /// The forward pass of the first `count` images of a batch of capacity B (count <= B; 0 does
    /// nothing), for a server that builds for its largest batch and runs whatever has arrived: `image`
    /// and `workspace` are batch B's, `out` receives count x out_dim floats (its first count rows, for an
    /// Output<B>), `keep_patches` count x patches bytes, and the pass costs what `count` images do (its
    /// products take count x tokens rows). Each image's output is what a pass of the count images
    /// gives it: bit for bit the full batch's, except where a product takes Strassen's algorithm (whose
    /// sums mix rows of the batch's upper and lower halves, so the rounding depends on the batch). A
    /// count above B raises invalid_argument. `out` and `workspace` are pointers, or tensors or views
    /// checked as forward_into's.
    template <std::size_t B, std::size_t Threads = 1>
    void forward_into_first(std::size_t count, const Input<B>& image, float* out, float* workspace,
                            const std::uint8_t* keep_patches = nullptr) const {
        if (count > B)
            raise(errc::invalid_argument, "einvit::vit: forward_into_first: ", count, " images asked of a batch of ", B);
        if (count != 0) run<B>(count, image, out, workspace, nullptr, 1, keep_patches, false, Threads);
    }
    template <std::size_t B, class Out, class Work>
        requires detail::tensor_like<Out> && detail::tensor_like<Work>
    void forward_into_first(std::size_t count, const Input<B>& image, Out&& out, Work&& workspace,
                            const std::uint8_t* keep_patches = nullptr) const {
        if constexpr (buffers_fit<B, Out, Work>())
            forward_into_first<B, lent_threads<B, Work>>(count, image, out.data(), workspace.data(), keep_patches);
    }

    /// The forward pass, also writing every layer's full attention matrix averaged over heads into
    /// `attention` (depth x B x T x T floats; row i is token i's attention to every token), for
    /// attention rollout.
    template <std::size_t B, std::size_t Threads = 1>
    void forward_with_attention(const Input<B>& image, float* out, float* workspace, float* attention) const {
        run<B>(B, image, out, workspace, attention, T, nullptr, false, Threads);
    }
    /// The same with out, the workspace and `attention` (AttentionMatrices<B>: (depth, B, tokens, tokens))
    /// as einvit tensors or views, their sizes checked at compile time as forward_into's are.
    template <std::size_t B, class Out, class Work, class Att>
        requires detail::tensor_like<Out> && detail::tensor_like<Work> && detail::tensor_like<Att>
    void forward_with_attention(const Input<B>& image, Out&& out, Work&& workspace, Att&& attention) const {
        if constexpr (buffers_fit<B, Out, Work, Att, Shape<C.depth, B, T, T>>())
            forward_with_attention<B, lent_threads<B, Work>>(image, out.data(), workspace.data(), attention.data());
    }

private:
    // What a forward pass reads: views of the weights, which the model owns (w_) or a weight image holds.
    struct LinearView {
        gemm::PackedB<float> weight;  // a view (PackedB::view)
        const float* bias = nullptr;  // null: none
    };
    struct NormView {
        const float* gamma = nullptr;
        const float* beta = nullptr;
    };
    struct BlockView {
        NormView norm1, norm2;
        LinearView qkv, proj, fc1, fc2;
    };
    struct PoolView {
        const float* query = nullptr;
        LinearView kv, proj;
        NormView norm;
        LinearView fc1, fc2;
    };
    struct Views {
        LinearView patch;
        NormView patch_norm_in, patch_norm_out;
        const float *cls = nullptr, *dist = nullptr, *reg = nullptr, *pos = nullptr;
        NormView embed_norm;
        std::array<BlockView, C.depth> blocks;
        NormView norm;
        PoolView pool;
        NormView head_norm;
        LinearView pre_logits, head, head_dist;
    };
    // What a checked form asks of each buffer it writes (Buf as forwarded): floats, writable, on this
    // backend, contiguous, and not a tensor of its own passed as a temporary (its values would be lost).
    template <class Buf>
    struct Written {
        using T = std::remove_cvref_t<Buf>;
        static constexpr bool floats = std::is_same_v<std::remove_const_t<typename T::value_type>, float>;
        static constexpr bool writable = !std::is_const_v<std::remove_pointer_t<decltype(std::declval<Buf&>().data())>>;
        static constexpr bool backend = std::is_same_v<typename T::backend_type, Backend>;
        static constexpr bool contiguous = T::is_contiguous();
        static constexpr bool kept = !(detail::is_owning_tensor<T>::value && !std::is_lvalue_reference_v<Buf>);
    };
    // The checked forms' buffers: out (B, out_dim) floats, the workspace workspace_floats<B> or more, and
    // the attention's tensor (Att; void: none) of shape AttShape, each as Written asks (the workspace may
    // be a temporary). False, after the failed assertion, when not.
    template <std::size_t B, class Out, class Work, class Att = void, class AttShape = void>
    static constexpr bool buffers_fit() {
        using O = Written<Out>;
        using W = Written<Work>;
        constexpr bool with_attention = !std::is_void_v<Att>;
        using A = Written<std::conditional_t<with_attention, Att, Out>>;  // without one, out's facts again
        constexpr bool floats = O::floats && W::floats && A::floats;
        static_assert(floats, "einvit::vit: the forward pass writes floats: out, the workspace and the attention's tensor must hold float");
        constexpr bool writable = O::writable && W::writable && A::writable;
        static_assert(writable, "einvit::vit: the forward pass writes into out, the workspace and the attention's tensor: none may be const");
        constexpr bool backend = O::backend && W::backend && A::backend;
        static_assert(backend, "einvit::vit: out, the workspace and the attention's tensor must be on the model's backend");
        constexpr bool shape = std::is_same_v<typename O::T::shape_type, Shape<B, out_dim>>;
        static_assert(shape, "einvit::vit: forward_into's out must have shape (B, out_dim): Output<B>");
        constexpr bool attention_shape =
            std::is_same_v<typename A::T::shape_type, std::conditional_t<with_attention, AttShape, typename O::T::shape_type>>;
        static_assert(attention_shape, "einvit::vit: the attention's tensor must have shape (depth, B, tokens) for forward_into's maps "
                                       "(AttentionMaps<B>), (depth, B, tokens, tokens) for forward_with_attention's matrices (AttentionMatrices<B>)");
        constexpr bool room = W::T::size() >= workspace_floats<B>;
        static_assert(room, "einvit::vit: the workspace is smaller than workspace_floats<B>: use Workspace<B>");
        constexpr bool contiguous = O::contiguous && W::contiguous && A::contiguous;
        static_assert(contiguous, "einvit::vit: out, the workspace and the attention's tensor must be contiguous");
        constexpr bool kept = O::kept && A::kept;
        static_assert(kept, "einvit::vit: out or the attention's tensor is a temporary tensor, whose values would be lost: pass a named one");
        return floats && writable && backend && shape && attention_shape && room && contiguous && kept;
    }

    // The threads a checked forward_into's workspace (Work as forwarded) holds the scratch for.
    template <std::size_t B, class Work>
    static constexpr std::size_t lent_threads = threads_in_workspace<B>(std::remove_cvref_t<Work>::size());

#if EINVIT_HEAP
    // forward()'s and features()' workspace, made to hold a pass of batch B on `threads` threads
    template <std::size_t B>
    float* own_workspace(std::size_t threads) {
        if (const std::size_t floats = workspace_floats_for<B>(threads); workspace_.size() < floats) workspace_.assign(floats, 0.0f);
        return workspace_.data();
    }
#endif

    // The pass; the workspace holds the kernels' scratch for `threads` threads (workspace_floats_for).
    template <std::size_t B>
    void run(std::size_t n, const Input<B>& image, float* out, float* workspace, float* attention_maps, std::size_t map_rows,
             const std::uint8_t* keep_patches, bool features_only, std::size_t threads) const {
        // the workspace is laid out for B images (the first n of them are computed), then the scratch
#if EINVIT_THREADS
        const ScratchScope<float> lend(threads == 1 ? scratch_plan<B> : scratch_plan_for<B>(threads), workspace + activation_floats<B>,
                                       threads);
#else  // one thread, whatever the workspace holds
        (void)threads;
        const ScratchScope<float> lend(scratch_plan<B>, workspace + activation_floats<B>);
#endif
        using L = Layout<B>;
        float* x = workspace + L::x;
        float* patches = workspace + L::patches;
        float* qkv = workspace + L::qkv;
        float* att = workspace + L::att;
        float* mlp = workspace + L::mlp;
        float* pooled = workspace + L::pooled;
        float* feats = workspace + L::feats;
        kernels::AttentionMask mask;
        if (keep_patches) {
            auto* keep = reinterpret_cast<std::uint8_t*>(workspace + L::keep);
            for (std::size_t b = 0; b < n; ++b)
                for (std::size_t t = 0; t < T; ++t) keep[b * T + t] = t < P ? 1 : keep_patches[b * NP + t - P] != 0;
            mask = kernels::AttentionMask{keep, T, true};
        }
        {
            EINVIT_PROFILE_SCOPE(profile::Op::patch_embed);
            embed(n, image.data(), x, patches);
        }
        for (std::size_t l = 0; l < C.depth; ++l)
            block(n, v_.blocks[l], x, qkv, att, mlp, attention_maps ? attention_maps + l * n * map_rows * T : nullptr,
                  map_rows, mask, l + 1 == C.depth ? kept_rows : T);
        // after the last block, x holds kept_rows tokens per image
        if (C.final_norm) layer_norm(v_.norm, x, x, n * kept_rows);  // pre- or post-norm blocks alike
        EINVIT_PROFILE_SCOPE(profile::Op::head);
        head(n, x, qkv, att, mlp, pooled, feats, out, features_only, mask);
    }

    // With class-token pooling the head reads only the class tokens (class, distillation: not the
    // registers), and every operation after the last block's attention works token by token: that
    // block computes keys and values for every token but the rest (its queries' attention, projection,
    // MLP, the final norm) only for the class tokens, which it packs to the front of x. The logits are the same.
    static constexpr std::size_t kept_rows = C.pooling == Pooling::cls ? C.class_tokens() : T;
    // Rows of the position table: every token's, or the patches' alone (sine-cosine, no_embed_class).
    static constexpr std::size_t position_rows =
        C.position == PositionEmbedding::learned && C.prefix_position ? T : NP;
    // The configuration's floating-point fields as constants of the class: clang 14 crashes generating
    // code that reads a float member of the template parameter object C at run time.
    static constexpr float layer_norm_eps = C.layer_norm_eps;
    static constexpr float attention_scale = C.attention_scale;

    // Packs tokens [0, rows) of each image to the front of x: image b's token i to row b * rows + i.
    static void keep_prefix(std::size_t n, float* x, std::size_t rows) noexcept {
        if (rows == T) return;
        for (std::size_t b = 1; b < n; ++b)  // destination rows lie before the source rows still to read
            std::memmove(x + b * rows * D, x + b * T * D, rows * D * sizeof(float));
    }

    static void layer_norm(const NormView& n, const float* in, float* out, std::size_t rows) {
        EINVIT_PROFILE_SCOPE(profile::Op::layer_norm);
        norm_rows(n, in, out, rows);
    }
    static void norm_rows(const NormView& n, const float* in, float* out, std::size_t rows) {  // untimed: the head's own
        kernels::layer_norm_rows(Backend{}, in, D, out, D, rows, D, n.gamma, n.beta, layer_norm_eps);
    }
    static void linear(const LinearView& l, const float* in, std::size_t ld_in, float* out, std::size_t ld_out,
                       std::size_t rows, gemm::Activation act = gemm::Activation::none, bool accumulate = false,
                       const NormView* norm = nullptr) {
        linear_columns(l, in, ld_in, out, ld_out, rows, 0, l.weight.n(), act, accumulate, norm);
    }
    // The output features [c0, c1) only (panel-aligned, see gemm::multiply_columns), written in place.
    // With `norm`, the input rows go through that LayerNorm as the GEMM packs them (gemm::RowNorm).
    static void linear_columns(const LinearView& l, const float* in, std::size_t ld_in, float* out, std::size_t ld_out,
                               std::size_t rows, std::size_t c0, std::size_t c1,
                               gemm::Activation act = gemm::Activation::none, bool accumulate = false,
                               const NormView* norm = nullptr) {
        gemm::Epilogue<float> ep;
        ep.bias = l.bias;
        ep.activation = act;
        const gemm::RowNorm<float> row_norm{norm ? norm->gamma : nullptr, norm ? norm->beta : nullptr, layer_norm_eps};
        gemm::multiply_columns(Backend{}, rows, gemm::Strided<float>{in, ld_in, 1}, l.weight, c0, c1, out, ld_out, ep,
                               accumulate, norm ? &row_norm : nullptr);
    }
    static constexpr gemm::Activation mlp_activation() {
        switch (C.activation) {
            case Activation::gelu_tanh: return gemm::Activation::gelu_tanh;
            case Activation::relu: return gemm::Activation::relu;
            case Activation::quick_gelu: return gemm::Activation::quick_gelu;
            case Activation::swiglu: return gemm::Activation::none;  // the gate follows the product
            case Activation::gelu_erf: break;
        }
        return gemm::Activation::gelu_erf;
    }

    // Patches -> tokens: x[b, P + n] = patch_n · Wᵀ + bias + pos; prefix tokens; position embedding.
    void embed(std::size_t n, const float* img, float* x, float* patches) const {
        detail::patchify(img, patches, n, C.channels, C.image_height, C.image_width, C.patch, C.patch_order);
        if constexpr (C.patch_norm)
            kernels::layer_norm_rows(Backend{}, patches, PD, patches, PD, n * NP, PD, v_.patch_norm_in.gamma,
                                     v_.patch_norm_in.beta, layer_norm_eps);
        for (std::size_t b = 0; b < n; ++b) linear(v_.patch, patches + b * NP * PD, PD, x + (b * T + P) * D, D, NP);
        if constexpr (C.patch_norm)
            for (std::size_t b = 0; b < n; ++b)
                kernels::layer_norm_rows(Backend{}, x + (b * T + P) * D, D, x + (b * T + P) * D, D, NP, D,
                                         v_.patch_norm_out.gamma, v_.patch_norm_out.beta, layer_norm_eps);
        for (std::size_t b = 0; b < n; ++b) {
            float* xb = x + b * T * D;
            if constexpr (C.class_token) std::memcpy(xb, v_.cls, D * sizeof(float));
            if constexpr (C.distillation_token) std::memcpy(xb + D, v_.dist, D * sizeof(float));
            if constexpr (C.register_tokens != 0) std::memcpy(xb + C.class_tokens() * D, v_.reg, C.register_tokens * D * sizeof(float));
            float* covered = xb + (T - position_rows) * D;  // the rows the position table covers: the last ones
            for (std::size_t i = 0; i < position_rows * D; ++i) covered[i] += v_.pos[i];
        }
        if constexpr (C.embed_norm) norm_rows(v_.embed_norm, x, x, n * T);
    }

    // Attention of the first `rows` tokens of each image (T, or kept_rows in the last block) to every
    // token; x_out then holds `rows` tokens per image. `norm`, when given, is applied to `in` on its way
    // into the qkv projection.
    void attention(std::size_t n, const BlockView& bw, const float* in, float* x_out, float* qkv, float* att, bool accumulate,
                   float* map, std::size_t map_rows, float* scratch, const kernels::AttentionMask& mask,
                   std::size_t rows, const NormView* norm = nullptr) const {
        {
            EINVIT_PROFILE_SCOPE(profile::Op::qkv);
            // keys and values of every token, queries of `rows` (of every token when the attention
            // maps asked for need them)
            const gemm::Activation none = gemm::Activation::none;
            if (rows < T && I % gemm::nr<float> == 0 && !(map && map_rows > rows)) {
                linear_columns(bw.qkv, in, D, qkv, 3 * I, n * T, I, 3 * I, none, false, norm);
                for (std::size_t b = 0; b < n; ++b)
                    linear_columns(bw.qkv, in + b * T * D, D, qkv + b * T * 3 * I, 3 * I, rows, 0, I, none, false, norm);
            } else {
                linear(bw.qkv, in, D, qkv, 3 * I, n * T, none, false, norm);
            }
        }
        const float scale = attention_scale > 0 ? attention_scale : 1.0f / std::sqrt(static_cast<float>(HD));
        using HTc = kernels::HeadTensor<const float>;
        const kernels::AttentionSize size{n, C.heads, rows, T, HD, HD};
        {
            EINVIT_PROFILE_SCOPE(profile::Op::attention);
            kernels::attention(Backend{}, size, HTc{qkv, T * 3 * I, HD, 3 * I}, HTc{qkv + I, T * 3 * I, HD, 3 * I},
                               HTc{qkv + 2 * I, T * 3 * I, HD, 3 * I}, kernels::HeadTensor<float>{att, rows * I, HD, I},
                               scale, mask);
            if (map) attention_rows(n, qkv, scale, map, map_rows, scratch);
        }
        keep_prefix(n, x_out, rows);
        EINVIT_PROFILE_SCOPE(profile::Op::proj);
        if constexpr (C.proj_out) {
            linear(bw.proj, att, I, x_out, D, n * rows, gemm::Activation::none, accumulate);
        } else {
            for (std::size_t i = 0; i < n * rows * D; ++i) x_out[i] = accumulate ? x_out[i] + att[i] : att[i];
        }
    }

    // The attention of tokens [0, rows) to every token, averaged over heads (detail::attention_rows).
    void attention_rows(std::size_t n, const float* qkv, float scale, float* map, std::size_t rows, float* row) const {
        detail::attention_rows(n, qkv, scale, map, rows, row, T, I, HD, C.heads);
    }

    // x += fc2(act(fc1(norm(in)))), norm when given. A gated MLP: x += fc2(silu(g) · v), where g and v
    // are fc1's two halves, the gate made in place over g (so fc2 reads MLP of each row's FC1 values).
    static void mlp_layers(const BlockView& bw, const float* in, float* x, float* mlp, std::size_t rows,
                           const NormView* norm = nullptr) {
        {
            EINVIT_PROFILE_SCOPE(profile::Op::fc1);
            linear(bw.fc1, in, D, mlp, FC1, rows, mlp_activation(), false, norm);
            if constexpr (gated_mlp) kernels::swiglu_rows(Backend{}, mlp, FC1, mlp, FC1, rows, MLP);
        }
        EINVIT_PROFILE_SCOPE(profile::Op::fc2);
        linear(bw.fc2, mlp, FC1, x, D, rows, gemm::Activation::none, true);
    }

    // One transformer block; its output keeps `rows` tokens per image (see kept_rows).
    void block(std::size_t n, const BlockView& bw, float* x, float* qkv, float* att, float* mlp, float* map,
               std::size_t map_rows, const kernels::AttentionMask& mask, std::size_t rows) const {
        if constexpr (C.norm == NormPlacement::pre) {
            // LN1 and LN2 applied by the GEMMs as they pack x for qkv and fc1: no normalised copy of x
            attention(n, bw, x, x, qkv, att, true, map, map_rows, mlp, mask, rows, &bw.norm1);
            mlp_layers(bw, x, x, mlp, n * rows, &bw.norm2);
        } else {
            attention(n, bw, x, x, qkv, att, true, map, map_rows, mlp, mask, rows);
            layer_norm(bw.norm1, x, x, n * rows);
            mlp_layers(bw, x, x, mlp, n * rows);
            layer_norm(bw.norm2, x, x, n * rows);
        }
    }

    // timm's attention pooling (Pooling::map) of each image's T tokens in x into pooled (n x D): the
    // pool's query (projected at load, the same for every image: batch stride 0) attends to every token's
    // key with the model's heads, each dim / heads wide (the padding mask, when given, drops keys);
    // pooled = proj(a), then pooled += fc2(act(fc1(norm(pooled)))). kv, att and mlp are the blocks' buffers.
    void attention_pool(std::size_t n, const float* x, float* kv, float* att, float* mlp, float* pooled,
                        const kernels::AttentionMask& mask) const {
        linear(v_.pool.kv, x, D, kv, 2 * D, n * T);
        using HTc = kernels::HeadTensor<const float>;
        kernels::AttentionMask keys = mask;
        keys.mask_queries = false;  // the query is the pool's own, never a dropped token
        kernels::attention(Backend{}, kernels::AttentionSize{n, C.heads, 1, T, PHD, PHD}, HTc{v_.pool.query, 0, PHD, D},
                           HTc{kv, T * 2 * D, PHD, 2 * D}, HTc{kv + D, T * 2 * D, PHD, 2 * D},
                           kernels::HeadTensor<float>{att, D, PHD, D}, 1.0f / std::sqrt(static_cast<float>(PHD)), keys);
        linear(v_.pool.proj, att, D, pooled, D, n);
        linear(v_.pool.fc1, pooled, D, mlp, MLP, n, mlp_activation(), false, &v_.pool.norm);
        linear(v_.pool.fc2, mlp, MLP, pooled, D, n, gemm::Activation::none, true);
    }

    // Pools each image's tokens (kept_rows of them per image in x) and applies the head; qkv, att and
    // mlp are free for attention pooling's use.
    void head(std::size_t n, const float* x, float* qkv, float* att, float* mlp, float* pooled, float* feats, float* out,
              bool features_only, const kernels::AttentionMask& mask) const {
        if constexpr (attention_pooling) {
            attention_pool(n, x, qkv, att, mlp, pooled, mask);
        } else {
            (void)qkv, (void)att, (void)mlp, (void)mask;
            for (std::size_t b = 0; b < n; ++b) {
                const float* xb = x + b * kept_rows * D;
                // pooled's row; for cls_and_mean the features' row, [class token | the patch tokens' mean]
                constexpr bool both = C.pooling == Pooling::cls_and_mean;
                float* pb = both ? feats + b * F : pooled + b * D;
                if constexpr (C.pooling == Pooling::cls || both) std::memcpy(pb, xb, D * sizeof(float));
                if constexpr (C.pooling != Pooling::cls) {
                    float* mean = both ? pb + D : pb;
                    const std::size_t first = C.pooling == Pooling::mean_all ? 0 : P;
                    for (std::size_t d = 0; d < D; ++d) mean[d] = 0;
                    for (std::size_t t = first; t < T; ++t)  // token by token, along the rows of x
                        for (std::size_t d = 0; d < D; ++d) mean[d] += xb[t * D + d];
                    for (std::size_t d = 0; d < D; ++d) mean[d] /= static_cast<float>(T - first);
                }
            }
        }
        if constexpr (C.head_norm) norm_rows(v_.head_norm, pooled, pooled, n);
        const float* f = C.pooling == Pooling::cls_and_mean ? feats : pooled;
        if constexpr (C.representation_size != 0) {
            linear(v_.pre_logits, pooled, D, feats, F, n, gemm::Activation::tanh);
            f = feats;
        }
        if (C.num_classes == 0 || features_only) {
            std::memcpy(out, f, n * F * sizeof(float));
        } else if constexpr (C.distillation_token) {
            // (head(x[:, 0]) + head_dist(x[:, 1])) / 2, as DeiT infers
            linear(v_.head, f, F, out, out_dim, n);
            // the distillation token of each image, read in place: rows of x with stride T * D
            linear(v_.head_dist, x + D, kept_rows * D, out, out_dim, n, gemm::Activation::none, true);
            for (std::size_t i = 0; i < n * out_dim; ++i) out[i] *= 0.5f;
        } else {
            linear(v_.head, f, F, out, out_dim, n);
        }
    }

    // Every parameter the config uses has the size it reads (the loader's weights always do; weights
    // put together by hand are checked here, so that a short table is an error rather than a read
    // past its end, and a missing norm is not taken for one without scale).
#if EINVIT_HEAP
    struct checked {};
    VisionTransformer(Weights w, checked) : w_(std::move(w)), v_(views_of(w_)) {}
#endif

    static LinearView view_of(const LinearWeights& l) noexcept {
        return {gemm::PackedB<float>::view(l.weight), l.bias_or_null()};
    }
    static NormView view_of(const NormWeights& n) noexcept { return {n.gamma.data(), n.beta.data()}; }
    static Views views_of(const Weights& w) noexcept {
        Views v;
        v.patch = view_of(w.patch);
        v.patch_norm_in = view_of(w.patch_norm_in);
        v.patch_norm_out = view_of(w.patch_norm_out);
        v.cls = w.cls.data();
        v.dist = w.dist.data();
        v.reg = w.reg.data();
        v.pos = w.pos.data();
        v.embed_norm = view_of(w.embed_norm);
        for (std::size_t l = 0; l < C.depth; ++l) {
            const BlockWeights& b = w.blocks[l];
            v.blocks[l] = {view_of(b.norm1), view_of(b.norm2), view_of(b.qkv), view_of(b.proj), view_of(b.fc1), view_of(b.fc2)};
        }
        v.norm = view_of(w.norm);
        v.pool = {w.pool.query.data(), view_of(w.pool.kv), view_of(w.pool.proj), view_of(w.pool.norm), view_of(w.pool.fc1),
                  view_of(w.pool.fc2)};
        v.head_norm = view_of(w.head_norm);
        v.pre_logits = view_of(w.pre_logits);
        v.head = view_of(w.head);
        v.head_dist = view_of(w.head_dist);
        return v;
    }

    // ---- weight images (weight_image, try_from_weight_image) ----
    // Each table a model of this config reads, in a weight image's order: `name` (in block `block`, or
    // outside the blocks at no_block) and its kind: a packed k x n weight (PackedB::elements(k, n)
    // floats; k = n = 0 where the config has no such layer), a bias of n floats (or none), or n values
    // (0 where the config has none).
    enum class ParamKind { packed, bias, values };
    struct Param {
        const char* name;
        std::size_t block;
        ParamKind kind;
        std::size_t k, n;
        const char* part = "";  // a norm's ".gamma" or ".beta"
    };
    static constexpr std::size_t no_block = static_cast<std::size_t>(-1);
    // The table's name in errors ("blocks[2].norm2.beta"), appended to `text`; made only for an error.
    static message& append_name(message& text, const Param& p) {
        if (p.block != no_block) text.append("blocks[", p.block, "].");
        return text.append(p.name, p.part);
    }
    // A failure of the weight image's check (einvit::failure: made out of line, in the caller's place)
    template <class... Parts>
    static result<VisionTransformer> image_fault(errc kind, const Parts&... parts) {
        return failure<VisionTransformer>(kind, "einvit::vit: weight image: ", parts...);
    }
    // Calls f(param, values, packed) for each table of `v` (Views, const Views or const Weights, the
    // owning form): `values` the table (a bias or values: a pointer, or the owning vector), `packed` the
    // layer's weight (a packed param; null otherwise). The one list of a model's tables: the weight image's
    // layout, its check, and weights_fault's check of weights put together by hand.
    template <class V, class Fn>
    static constexpr void each_param(V& v, Fn&& f) {
        constexpr std::size_t R = C.representation_size, NC = C.num_classes;
        const auto linear = [&](auto& l, const char* name, std::size_t block, std::size_t in, std::size_t out, bool used) {
            f(Param{name, block, ParamKind::packed, used ? in : 0, used ? out : 0}, l.bias, &l.weight);
            f(Param{name, block, ParamKind::bias, 0, used ? out : 0}, l.bias, nullptr);
        };
        const auto norm = [&](auto& n, const char* name, std::size_t block, std::size_t size, bool used) {
            f(Param{name, block, ParamKind::values, 0, used ? size : 0, ".gamma"}, n.gamma, nullptr);
            f(Param{name, block, ParamKind::values, 0, used ? size : 0, ".beta"}, n.beta, nullptr);
        };
        const auto values = [&](auto& p, const char* name, std::size_t size) {
            f(Param{name, no_block, ParamKind::values, 0, size}, p, nullptr);
        };
        linear(v.patch, "patch", no_block, PD, D, true);
        norm(v.patch_norm_in, "patch_norm_in", no_block, PD, C.patch_norm);
        norm(v.patch_norm_out, "patch_norm_out", no_block, D, C.patch_norm);
        values(v.cls, "cls", C.class_token ? D : 0);
        values(v.dist, "dist", C.distillation_token ? D : 0);
        values(v.reg, "reg", C.register_tokens * D);
        values(v.pos, "pos", position_rows * D);
        norm(v.embed_norm, "embed_norm", no_block, D, C.embed_norm);
        for (std::size_t l = 0; l < C.depth; ++l) {
            auto& b = v.blocks[l];
            norm(b.norm1, "norm1", l, D, true);
            norm(b.norm2, "norm2", l, D, true);
            linear(b.qkv, "qkv", l, D, 3 * I, true);
            linear(b.proj, "proj", l, I, D, C.proj_out);
            linear(b.fc1, "fc1", l, D, FC1, true);
            linear(b.fc2, "fc2", l, MLP, D, true);
        }
        norm(v.norm, "norm", no_block, D, C.final_norm);
        constexpr bool map = attention_pooling;
        values(v.pool.query, "pool.query", map ? D : 0);
        linear(v.pool.kv, "pool.kv", no_block, D, 2 * D, map);
        linear(v.pool.proj, "pool.proj", no_block, D, D, map);
        norm(v.pool.norm, "pool.norm", no_block, D, map);
        linear(v.pool.fc1, "pool.fc1", no_block, D, MLP, map);
        linear(v.pool.fc2, "pool.fc2", no_block, MLP, D, map);
        norm(v.head_norm, "head_norm", no_block, D, C.head_norm);
        linear(v.pre_logits, "pre_logits", no_block, D, R, R != 0);
        linear(v.head, "head", no_block, F, NC, NC != 0);
        linear(v.head_dist, "head_dist", no_block, D, NC, NC != 0 && C.distillation_token);
    }
    // The most floats each table may hold (a bias: its n), for weight_image_max_bytes.
    template <class Fn>
    static constexpr void each_param_size(Fn&& f) {
        struct L {
            int bias = 0, weight = 0;
        };
        struct N {
            int gamma = 0, beta = 0;
        };
        struct B {
            N norm1, norm2;
            L qkv, proj, fc1, fc2;
        };
        struct Pool {
            int query = 0;
            L kv, proj;
            N norm;
            L fc1, fc2;
        };
        struct Vs {
            L patch;
            N patch_norm_in, patch_norm_out;
            int cls = 0, dist = 0, reg = 0, pos = 0;
            N embed_norm;
            std::array<B, C.depth> blocks{};
            N norm;
            Pool pool;
            N head_norm;
            L pre_logits, head, head_dist;
        } v;
        each_param(v, [&](const Param& p, int&, int*) {
            f(p.kind == ParamKind::packed ? gemm::PackedB<float>::elements(p.k, p.n) : p.n);
        });
    }
    static constexpr std::size_t param_count = [] {
        std::size_t n = 0;
        each_param_size([&](std::size_t) { ++n; });
        return n;
    }();
    // The config's fingerprint in a weight image's header: FNV-1a over its fields.
    static constexpr std::uint64_t config_fingerprint = [] {
        std::uint64_t h = 0xcbf29ce484222325ull;
        const auto mix = [&](std::uint64_t x) {
            for (int i = 0; i < 8; ++i) {
                h ^= (x >> (8 * i)) & 0xff;
                h *= 0x100000001b3ull;
            }
        };
        for (std::size_t x : {C.image_height, C.image_width, C.patch, C.channels, C.dim, C.depth, C.heads, C.dim_head, C.mlp_dim,
                              C.num_classes, C.representation_size, C.register_tokens})
            mix(x);
        for (bool x : {C.class_token, C.distillation_token, C.qkv_bias, C.proj_out, C.proj_bias, C.final_norm, C.patch_norm, C.head_norm,
                       C.prefix_position, C.layer_scale, C.embed_norm, C.patch_bias})
            mix(x);
        for (int x : {static_cast<int>(C.pooling), static_cast<int>(C.norm), static_cast<int>(C.position), static_cast<int>(C.activation),
                      static_cast<int>(C.patch_order)})
            mix(static_cast<std::uint64_t>(x));
        mix(std::bit_cast<std::uint32_t>(layer_norm_eps));
        mix(std::bit_cast<std::uint32_t>(attention_scale));
        return h;
    }();

public:
    /// Bytes of the largest weight image of this config (every linear layer with a bias): a buffer of
    /// this size holds any (a compile-time constant, for a static buffer on a board without a heap).
    static constexpr std::size_t weight_image_max_bytes = [] {
        std::size_t bytes = detail::image_align(detail::image_header_bytes + detail::image_entry_bytes * param_count);
        each_param_size([&](std::size_t floats) { bytes += detail::image_align(floats * sizeof(float)); });
        return bytes;
    }();

private:
#if EINVIT_HEAP
    Weights w_;  // the weights, when the model owns them
    Views v_;
    std::vector<float> workspace_;  // forward()'s and features()'
#else
    Views v_;  // over a weight image: without a heap a model owns nothing
#endif
};


#if EINVIT_HEAP
template <Config C, class Backend>
message VisionTransformer<C, Backend>::weights_fault(const Weights& w) {
    if (w.blocks.size() != C.depth)
        return message("einvit::vit: the weights have ", w.blocks.size(), " blocks, the config ", C.depth);
    // each table as each_param gives it (the weight image's list): a layer or table the config does not
    // use must be empty, so that weights made for another variant are refused, not half read
    message fault;  // the first one
    each_param(w, [&](const Param& p, const std::vector<float>& values, const gemm::PackedB<float>* packed) {
        if (!fault.empty()) return;
        if (p.kind == ParamKind::packed) {
            if (packed->k() == p.k && packed->n() == p.n) return;
            fault += "einvit::vit: ";
            if (p.n == 0)
                append_name(fault += "the config has no ", p).append(", the weights have one (", packed->n(), " x ", packed->k(), ")");
            else
                append_name(fault, p).append(" is ", packed->n(), " x ", packed->k(), ", the config needs ", p.n, " x ", p.k);
        } else if (values.size() != p.n && !(p.kind == ParamKind::bias && values.empty())) {  // an empty bias: none
            const char* bias = p.kind == ParamKind::bias ? ".bias" : "";
            fault += "einvit::vit: ";
            if (p.n == 0)
                append_name(fault += "the config has no ", p).append(bias, ", the weights have ", values.size(), " values");
            else
                append_name(fault, p).append(bias, " has ", values.size(), " values, the config needs ", p.n);
        }
    });
    return fault;
}

template <Config C, class Backend>
std::vector<std::byte> VisionTransformer<C, Backend>::weight_image() const {
    // the table of contents first (offsets and counts), then the tables at them
    if (!v_.patch.weight.data())
        raise(errc::invalid_argument, "einvit::vit: weight_image: the model has no weights (default-constructed, or moved from)");
    std::vector<std::uint64_t> toc;
    toc.reserve(2 * param_count);
    std::size_t at = detail::image_align(detail::image_header_bytes + detail::image_entry_bytes * param_count);
    each_param(v_, [&](const Param& p, const float* values, const gemm::PackedB<float>* packed) {
        std::size_t floats = 0;
        if (p.kind == ParamKind::packed) floats = packed->data() ? gemm::PackedB<float>::elements(packed->k(), packed->n()) : 0;
        else floats = values ? p.n : 0;
        toc.push_back(at);
        toc.push_back(floats);
        at += detail::image_align(floats * sizeof(float));
    });
    std::vector<std::byte> image(at);
    const std::uint64_t header[7] = {detail::image_version, gemm::nr<float>, gemm::max_kc<float>, config_fingerprint,
                                     param_count, at, 0};
    std::memcpy(image.data(), detail::image_magic, sizeof detail::image_magic);
    std::memcpy(image.data() + sizeof detail::image_magic, header, sizeof header);
    std::memcpy(image.data() + detail::image_header_bytes, toc.data(), toc.size() * sizeof(std::uint64_t));
    std::size_t i = 0;
    each_param(v_, [&](const Param& p, const float* values, const gemm::PackedB<float>* packed) {
        const float* from = p.kind == ParamKind::packed ? packed->data() : values;
        if (toc[2 * i + 1]) std::memcpy(image.data() + toc[2 * i], from, toc[2 * i + 1] * sizeof(float));
        ++i;
    });
    return image;
}
#endif

template <Config C, class Backend>
result<VisionTransformer<C, Backend>> VisionTransformer<C, Backend>::try_from_weight_image(const void* image, std::size_t bytes) {
    const auto* base = static_cast<const std::byte*>(image);
    if (!image || bytes < detail::image_header_bytes)
        return image_fault(errc::format, bytes, " bytes, shorter than its ", detail::image_header_bytes, "-byte header");
    if (const std::size_t off = reinterpret_cast<std::uintptr_t>(image) % 64; off != 0)
        return image_fault(errc::invalid_argument, "it must start at a 64-byte boundary (it starts ", off,
                           " bytes past one); a memory-mapped file or an aligned buffer does");
    if (std::memcmp(base, detail::image_magic, sizeof detail::image_magic) != 0)
        return image_fault(errc::format, "not an einvit weight image (it does not start with \"EINVITWI\")");
    std::uint64_t header[7];
    std::memcpy(header, base + sizeof detail::image_magic, sizeof header);
    const std::uint64_t version = header[0], nr = header[1], max_kc = header[2], fingerprint = header[3], entries = header[4],
                        total = header[5];
    if (header[6] != 0) return image_fault(errc::format, "its reserved header word is ", header[6], ", not 0");
    if (version != detail::image_version)
        return image_fault(errc::format, "format version ", version, ", this build reads version ", detail::image_version);
    if (nr != gemm::nr<float> || max_kc != gemm::max_kc<float>)
        return image_fault(errc::format, "packed for panels of ", nr, " floats and depth blocks of up to ", max_kc, "; this build packs ",
                           gemm::nr<float>, " and ", gemm::max_kc<float>, " (make the image with a build for the same instruction set)");
    if (fingerprint != config_fingerprint) return image_fault(errc::format, "made for another model config than this one");
    if (entries != param_count) return image_fault(errc::format, entries, " tables, the config has ", param_count);
    if (total > bytes) return image_fault(errc::format, "truncated: ", bytes, " bytes of the ", total, " its header gives");
    const std::size_t tables_start = detail::image_header_bytes + detail::image_entry_bytes * param_count;
    if (total < tables_start)
        return image_fault(errc::format, "its header gives ", total, " bytes, fewer than its table of contents takes");
    // each table where the contents say, inside the image, aligned, of the size the config gives it
    Views v;
    std::size_t i = 0;
    message fault;
    each_param(v, [&](const Param& p, const float*& values, gemm::PackedB<float>* packed) {
        const std::size_t entry = i++;
        if (!fault.empty()) return;
        std::uint64_t at[2];
        std::memcpy(at, base + detail::image_header_bytes + entry * detail::image_entry_bytes, sizeof at);
        const std::uint64_t offset = at[0], floats = at[1];
        const std::size_t want = p.kind == ParamKind::packed ? gemm::PackedB<float>::elements(p.k, p.n) : p.n;
        const bool fits = floats == want || (p.kind == ParamKind::bias && floats == 0);
        if (!fits) {
            const char* what = p.kind == ParamKind::packed ? " weight" : p.kind == ParamKind::bias ? " bias" : "";
            append_name(fault, p).append(what, " has ", floats, " floats, the config needs ",
                                         p.kind == ParamKind::bias && want ? "0 or " : "", want);
            return;
        }
        if (offset < tables_start || offset > total || offset % 64 != 0 || floats > (total - offset) / sizeof(float)) {
            append_name(fault, p).append("'s ", floats, " floats at offset ", offset,
                                         " are not a 64-byte aligned table after the contents and inside the image's ", total, " bytes");
            return;
        }
        const auto* data = reinterpret_cast<const float*>(base + offset);
        if (p.kind == ParamKind::packed) *packed = gemm::PackedB<float>::view(floats ? data : nullptr, p.k, p.n);
        else values = floats ? data : nullptr;
    });
    if (!fault.empty()) return image_fault(errc::format, fault);
    VisionTransformer model;
    model.v_ = std::move(v);
    return model;
}

}  // namespace einvit::vit
