// Weights of the right sizes for any config, drawn at random (seeded): for tests that compare one
// forward pass with another, and for benchmarks, whose time does not depend on the values.
#pragma once

#include <einvit/einvit.hpp>

#include <cstddef>
#include <random>
#include <vector>

namespace einvit_test {

template <einvit::vit::Config C>
einvit::vit::Weights random_weights(unsigned seed = 7) {
    using Model = einvit::vit::VisionTransformer<C>;
    constexpr std::size_t D = Model::D, I = Model::I, MLP = Model::MLP, PD = Model::PD, F = Model::F;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    const auto values = [&](std::size_t n) {
        std::vector<float> v(n);
        for (float& x : v) x = normal(rng);
        return v;
    };
    const auto linear = [&](einvit::vit::LinearWeights& l, std::size_t in, std::size_t out) {
        const std::vector<float> w = values(in * out), b = values(out);
        l.set(w.data(), b.data(), out, in);
    };
    const auto norm = [&](einvit::vit::NormWeights& n, std::size_t size) {
        n.gamma = values(size);
        for (float& g : n.gamma) g += 1.0f;
        n.beta = values(size);
    };
    einvit::vit::Weights w;
    linear(w.patch, PD, D);
    if constexpr (!C.patch_bias) w.patch.bias.clear();
    if constexpr (C.patch_norm) {
        norm(w.patch_norm_in, PD);
        norm(w.patch_norm_out, D);
    }
    if constexpr (C.class_token) w.cls = values(D);
    if constexpr (C.distillation_token) w.dist = values(D);
    if constexpr (C.register_tokens != 0) w.reg = values(C.register_tokens * D);
    constexpr bool all_rows = C.position == einvit::vit::PositionEmbedding::learned && C.prefix_position;
    w.pos = values((all_rows ? Model::T : Model::NP) * D);
    if constexpr (C.embed_norm) norm(w.embed_norm, D);
    w.blocks.resize(C.depth);
    for (auto& b : w.blocks) {
        norm(b.norm1, D);
        norm(b.norm2, D);
        linear(b.qkv, D, 3 * I);
        if constexpr (C.proj_out) linear(b.proj, I, D);
        linear(b.fc1, D, Model::FC1);  // a gated MLP: a gate and a value for each of fc2's inputs
        linear(b.fc2, MLP, D);
    }
    if constexpr (C.final_norm) norm(w.norm, D);
    if constexpr (C.pooling == einvit::vit::Pooling::map) {
        w.pool.query = values(D);
        linear(w.pool.kv, D, 2 * D);
        linear(w.pool.proj, D, D);
        norm(w.pool.norm, D);
        linear(w.pool.fc1, D, MLP);
        linear(w.pool.fc2, MLP, D);
    }
    if constexpr (C.head_norm) norm(w.head_norm, D);
    if constexpr (C.representation_size != 0) linear(w.pre_logits, D, F);
    if constexpr (C.num_classes != 0) {
        linear(w.head, F, C.num_classes);
        if constexpr (C.distillation_token) linear(w.head_dist, D, C.num_classes);
    }
    return w;
}

}  // namespace einvit_test
