// What einvit-classify and einvit-attention-map share: the shipped model's config (what
// tools/train_fashion_mnist.py trains, in einvit's terms), its input normalisation, and turning an
// image file into the model's input. Needs stb_image (Debian: libstb-dev).
#pragma once

#include <einvit/einvit.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <stb_image.h>

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
inline constexpr std::size_t side = 28, pixels = side * side;
inline constexpr float mean = 0.2860f, stdev = 0.3530f;  // of the training set, as in training

/// A problem with an input, for one line on stderr.
struct Failure {
    std::string message;
};
[[noreturn]] inline void fail(const std::string& message) { throw Failure{message}; }

inline std::vector<unsigned char> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path + ": cannot open");
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) fail(path + ": cannot read");
    return bytes;
}

inline bool has_image_signature(const std::vector<unsigned char>& b) {
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (b.size() >= 8 && std::memcmp(b.data(), png, 8) == 0) return true;
    if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return true;  // JPEG
    return b.size() >= 2 && b[0] == 'B' && b[1] == 'M';                               // BMP
}

/// A PNG, JPEG or BMP file as the model's input: grey, 28 x 28 by area averaging, normalised. The
/// signature and the size are checked before decoding. `grey_28`, when given, receives the 28 x 28
/// grey pixels.
inline void load_grey_28(const std::string& path, float* input, std::vector<unsigned char>* grey_28 = nullptr) {
    const auto bytes = read_file(path);
    if (!has_image_signature(bytes)) fail(path + ": not a PNG, JPEG or BMP image");
    if (bytes.size() > 0x7fffffff) fail(path + ": file too large");
    int w = 0, h = 0, n = 0;
    const int len = static_cast<int>(bytes.size());
    if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &n)) fail(path + ": cannot decode: " + stbi_failure_reason());
    if (w <= 0 || h <= 0 || w > 16384 || h > 16384 || static_cast<long long>(w) * h > 64ll * 1024 * 1024)
        fail(path + ": image of " + std::to_string(w) + " x " + std::to_string(h) +
             " pixels is too large (at most 16384 a side, 64M pixels)");
    unsigned char* grey = stbi_load_from_memory(bytes.data(), len, &w, &h, &n, 1);
    if (!grey) fail(path + ": cannot decode: " + stbi_failure_reason());
    if (grey_28) grey_28->assign(pixels, 0);
    const auto W = static_cast<std::size_t>(w), H = static_cast<std::size_t>(h);
    for (std::size_t y = 0; y < side; ++y)
        for (std::size_t x = 0; x < side; ++x) {
            const std::size_t y0 = y * H / side, y1 = std::max(y0 + 1, (y + 1) * H / side);
            const std::size_t x0 = x * W / side, x1 = std::max(x0 + 1, (x + 1) * W / side);
            double sum = 0;
            for (std::size_t sy = y0; sy < y1; ++sy)
                for (std::size_t sx = x0; sx < x1; ++sx) sum += grey[sy * W + sx];
            const double v = sum / static_cast<double>((y1 - y0) * (x1 - x0));
            if (grey_28) (*grey_28)[y * side + x] = static_cast<unsigned char>(v + 0.5);
            input[y * side + x] = (static_cast<float>(v / 255.0) - mean) / stdev;
        }
    stbi_image_free(grey);
}

}  // namespace einvit_examples
