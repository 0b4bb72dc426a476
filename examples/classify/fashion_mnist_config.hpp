// The config of the ViT einvit ships (examples/data/fashion_mnist_vit.safetensors), in einvit's terms:
// what tools/train_fashion_mnist.py trains with vit-pytorch. No other dependency, so benchmarks and
// tests can name the model too.
#pragma once

#include <einvit/einvit.hpp>

namespace einvit_examples {

inline constexpr einvit::vit::Config fashion_mnist = [] {
    einvit::vit::Config c;
    c.image_height = c.image_width = 28;
    c.patch = 4;
    c.channels = 1;
    c.dim = 64;
    c.depth = 6;
    c.heads = 4;
    c.dim_head = 16;
    c.mlp_dim = 128;
    c.num_classes = 10;
    c.qkv_bias = false;
    c.patch_norm = true;
    c.patch_order = einvit::vit::PatchOrder::p1_p2_c;
    c.layer_norm_eps = 1e-5f;
    return c;
}();

}  // namespace einvit_examples
