// What einvit-classify and einvit-attention-map share: the shipped model's config (what
// tools/train_fashion_mnist.py trains, in einvit's terms), its input normalisation, and turning an
// image file into the model's input.
#pragma once

#include <einvit/einvit.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "fashion_mnist_config.hpp"
#include "preprocess.hpp"

namespace einvit_examples {

inline constexpr std::size_t side = 28, pixels = side * side;
inline constexpr float mean = 0.2860f, stdev = 0.3530f;  // of the training set, as in training

/// A grey image as the model's input: 28 x 28 by area averaging, normalised. `grey_28`, when given,
/// receives the 28 x 28 grey pixels.
inline void grey_28_input(const Image& img, float* input, std::vector<unsigned char>* grey_28 = nullptr) {
    const std::size_t W = img.width, H = img.height;
    const float* grey = img.pixels.data();
    if (grey_28) grey_28->assign(pixels, 0);
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
}

/// A PNG, JPEG or BMP file as the model's input (its signature and size checked before decoding).
inline void load_grey_28(const std::string& path, float* input, std::vector<unsigned char>* grey_28 = nullptr) {
    grey_28_input(decode_image(path, 1), input, grey_28);
}

}  // namespace einvit_examples
