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

}  // namespace einvit_test
