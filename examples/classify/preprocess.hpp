// Turning an image into an ImageNet-size ViT's input, the way each family's own pipeline does:
// decode (PNG, JPEG or BMP: decode.hpp), resize with an antialiasing filter
// (the separable convolution resampling that PIL, and so torchvision and timm, use), crop the
// centre, scale to [0, 1] and normalise per channel, in (channel, row, column) order.
//
// Resampling works on floats, clamped to [0, 255] after each pass as PIL clamps 8-bit images (bicubic
// overshoots at edges); PIL also rounds to integers after each of its two passes, einvit does not:
// results differ from PIL's by at most about one grey level.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "decode.hpp"

namespace einvit_examples {

enum class Filter { bilinear, bicubic };

namespace detail {

inline double filter_weight(Filter f, double x) {
    x = std::fabs(x);
    if (f == Filter::bilinear) return x < 1 ? 1 - x : 0;
    constexpr double a = -0.5;  // PIL's bicubic (Keys, a = -0.5)
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

// One pass along an axis of `n_in` samples to `n_out`, for the outputs [from, from + count): for
// each, the first input sample it reads and its normalised weights.
struct Taps {
    std::vector<std::size_t> first, count;
    std::vector<double> weights;  // `width` per output sample
    std::size_t width = 0;
};

inline Taps make_taps(Filter f, std::size_t n_in, std::size_t n_out, std::size_t from, std::size_t outputs) {
    const double scale = static_cast<double>(n_in) / static_cast<double>(n_out);
    const double stretch = std::max(scale, 1.0);  // widen the filter when shrinking: antialiasing
    const double support = (f == Filter::bilinear ? 1.0 : 2.0) * stretch;
    Taps t;
    t.width = static_cast<std::size_t>(std::ceil(support)) * 2 + 1;
    t.first.resize(outputs);
    t.count.resize(outputs);
    t.weights.assign(outputs * t.width, 0.0);
    for (std::size_t o = 0; o < outputs; ++o) {
        const double centre = (static_cast<double>(from + o) + 0.5) * scale;
        const auto lo = static_cast<std::ptrdiff_t>(std::max(0.0, std::floor(centre - support + 0.5)));
        const auto hi = static_cast<std::ptrdiff_t>(std::min(static_cast<double>(n_in), std::floor(centre + support + 0.5)));
        double sum = 0;
        std::size_t k = 0;
        for (std::ptrdiff_t j = lo; j < hi && k < t.width; ++j, ++k) {
            const double w = filter_weight(f, (static_cast<double>(j) - centre + 0.5) / stretch);
            t.weights[o * t.width + k] = w;
            sum += w;
        }
        if (sum != 0)
            for (std::size_t q = 0; q < k; ++q) t.weights[o * t.width + q] /= sum;
        t.first[o] = static_cast<std::size_t>(lo);
        t.count[o] = k;
    }
    return t;
}

}  // namespace detail

/// The window [x0, x0 + w) x [y0, y0 + h) of the image resized to `width` x `height`, with the filter
/// widened by the shrink factor (antialiased), the horizontal pass first, as PIL does. Only the
/// window is computed, so a centre crop of an image with an extreme aspect ratio costs no more memory
/// than the crop (w x the input's height for the first pass).
inline Image resize(const Image& in, std::size_t width, std::size_t height, Filter f, std::size_t x0, std::size_t y0, std::size_t w,
                    std::size_t h) {
    const std::size_t c = in.channels;
    Image mid{w, in.height, c, std::vector<float>(w * in.height * c)};
    const detail::Taps tx = detail::make_taps(f, in.width, width, x0, w);
    for (std::size_t y = 0; y < in.height; ++y)
        for (std::size_t x = 0; x < w; ++x)
            for (std::size_t ch = 0; ch < c; ++ch) {
                double v = 0;
                for (std::size_t k = 0; k < tx.count[x]; ++k)
                    v += tx.weights[x * tx.width + k] * in.pixels[(y * in.width + tx.first[x] + k) * c + ch];
                mid.pixels[(y * w + x) * c + ch] = static_cast<float>(std::clamp(v, 0.0, 255.0));
            }
    Image out{w, h, c, std::vector<float>(w * h * c)};
    const detail::Taps ty = detail::make_taps(f, in.height, height, y0, h);
    for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x)
            for (std::size_t ch = 0; ch < c; ++ch) {
                double v = 0;
                for (std::size_t k = 0; k < ty.count[y]; ++k)
                    v += ty.weights[y * ty.width + k] * mid.pixels[((ty.first[y] + k) * w + x) * c + ch];
                out.pixels[(y * w + x) * c + ch] = static_cast<float>(std::clamp(v, 0.0, 255.0));
            }
    return out;
}

/// How a model family turns an image into its input.
struct Preprocessing {
    std::size_t resize_short = 0;  // shorter side to this, keeping the aspect ratio (0: both sides to the input size)
    Filter filter = Filter::bicubic;
    float mean[3] = {0.5f, 0.5f, 0.5f};
    float std[3] = {0.5f, 0.5f, 0.5f};
    const char* description = "";
    std::size_t resize_square = 0;  // (resize_short 0) both sides to this, the aspect not kept, then the centre crop (HF's DeiT: 256)
    bool crop_floor = false;  // the crop's offset (size - crop) / 2 rounded down, as HF's image processors do (else half to even)
};

inline constexpr float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};

/// Resize (shorter side to `p.resize_short`, both sides to `p.resize_square`, or both to the input size), crop the centre to
/// `height` x `width` (the offset rounded half to even, as torchvision does, or down: `p.crop_floor`), scale to [0, 1] and
/// normalise; writes channels x height x width floats to `out`.
inline void preprocess(const Image& img, const Preprocessing& p, std::size_t height, std::size_t width, float* out) {
    std::size_t rw = width, rh = height;
    if (p.resize_short) {
        if (img.width <= img.height) {
            rw = p.resize_short;
            rh = static_cast<std::size_t>(static_cast<double>(p.resize_short) * static_cast<double>(img.height) / static_cast<double>(img.width));
        } else {
            rh = p.resize_short;
            rw = static_cast<std::size_t>(static_cast<double>(p.resize_short) * static_cast<double>(img.width) / static_cast<double>(img.height));
        }
        rw = std::max(rw, width);
        rh = std::max(rh, height);
    } else if (p.resize_square) {
        rw = std::max(p.resize_square, width);
        rh = std::max(p.resize_square, height);
    }
    const auto top = p.crop_floor ? (rh - height) / 2 : static_cast<std::size_t>(std::nearbyint(static_cast<double>(rh - height) / 2.0));
    const auto left = p.crop_floor ? (rw - width) / 2 : static_cast<std::size_t>(std::nearbyint(static_cast<double>(rw - width) / 2.0));
    // resize only the crop's window (the same pixels as resizing all, then cropping)
    const bool same = rw == img.width && rh == img.height;
    const Image r = same ? Image{} : resize(img, rw, rh, p.filter, left, top, width, height);
    const Image& src = same ? img : r;
    const std::size_t x0 = same ? left : 0, y0 = same ? top : 0, c = src.channels;
    for (std::size_t ch = 0; ch < c; ++ch)
        for (std::size_t y = 0; y < height; ++y)
            for (std::size_t x = 0; x < width; ++x) {
                const float v = src.pixels[((y0 + y) * src.width + x0 + x) * c + ch] / 255.0f;
                out[(ch * height + y) * width + x] = (v - p.mean[ch % 3]) / p.std[ch % 3];
            }
}

}  // namespace einvit_examples
