// Decoding image files (needs stb_image; Debian: libstb-dev), and turning one into an ImageNet-size ViT's input, the way each family's own pipeline does:
// decode (PNG, JPEG or BMP, size checked before decoding), resize with an antialiasing filter
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
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <stb_image.h>


namespace einvit_examples {

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

/// An image as floats in [0, 255], rows of `width` pixels of `channels` interleaved values.
struct Image {
    std::size_t width = 0, height = 0, channels = 0;
    std::vector<float> pixels;
};

/// Whether a JPEG's Huffman tables are well formed: every DHT segment, before and between scans,
/// holds tables of at most 256 codes that fit the segment. stb_image 2.27 (Debian 12's) writes past
/// a table when the codes add up to more (found by tests/fuzz/fuzz_image.cpp), so einvit checks
/// before stb_image sees the file.
inline bool jpeg_tables_ok(const std::vector<unsigned char>& b) {
    const std::size_t n = b.size();
    std::size_t at = 2;  // after SOI
    while (at + 1 < n) {
        if (b[at] != 0xFF) {  // entropy-coded data
            ++at;
            continue;
        }
        const unsigned m = b[at + 1];
        if (m == 0xFF) {  // fill byte
            ++at;
            continue;
        }
        if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {  // stuffed zero, TEM, SOI, RSTn
            at += 2;
            continue;
        }
        if (m == 0xD9) return true;  // EOI
        if (at + 4 > n) return true;  // truncated: stb_image reports it
        const std::size_t length = (std::size_t{b[at + 2]} << 8) | b[at + 3];
        if (length < 2) return false;
        const std::size_t end = std::min(n, at + 2 + length);
        if (m == 0xC4)
            for (std::size_t p = at + 4; p < end;) {
                if (p + 17 > end) return false;
                std::size_t codes = 0;
                for (std::size_t i = 1; i <= 16; ++i) codes += b[p + i];
                if (codes > 256 || p + 17 + codes > end) return false;
                p += 17 + codes;
            }
        at += 2 + length;
    }
    return true;
}

/// Decodes a PNG, JPEG or BMP file image held in memory to `channels` (1: grey, 3: RGB) channels;
/// `name` names it in errors. The signature and the dimensions (at most 16384 a side and 64M pixels)
/// are checked before anything is decoded.
inline Image decode_image(const std::vector<unsigned char>& bytes, const std::string& name, int channels) {
    if (!has_image_signature(bytes)) fail(name + ": not a PNG, JPEG or BMP image");
    if (bytes.size() > 0x7fffffff) fail(name + ": file too large");
    if (bytes[0] == 0xFF && !jpeg_tables_ok(bytes)) fail(name + ": cannot decode: corrupt JPEG (bad Huffman table)");
    int w = 0, h = 0, n = 0;
    const int len = static_cast<int>(bytes.size());
    if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &n)) fail(name + ": cannot decode: " + stbi_failure_reason());
    if (w <= 0 || h <= 0 || w > 16384 || h > 16384 || static_cast<long long>(w) * h > 64ll * 1024 * 1024)
        fail(name + ": image of " + std::to_string(w) + " x " + std::to_string(h) +
             " pixels is too large (at most 16384 a side, 64M pixels)");
    unsigned char* data = stbi_load_from_memory(bytes.data(), len, &w, &h, &n, channels);
    if (!data) fail(name + ": cannot decode: " + stbi_failure_reason());
    Image img;
    img.width = static_cast<std::size_t>(w);
    img.height = static_cast<std::size_t>(h);
    img.channels = static_cast<std::size_t>(channels);
    img.pixels.assign(data, data + img.width * img.height * img.channels);
    stbi_image_free(data);
    return img;
}

/// The same for the file at `path`.
inline Image decode_image(const std::string& path, int channels) { return decode_image(read_file(path), path, channels); }

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
};

inline constexpr float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};

/// Resize (shorter side to `p.resize_short`, or both sides to the input size), crop the centre to
/// `height` x `width` (the offset rounded half to even, as torchvision does), scale to [0, 1] and
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
    }
    const auto top = static_cast<std::size_t>(std::nearbyint(static_cast<double>(rh - height) / 2.0));
    const auto left = static_cast<std::size_t>(std::nearbyint(static_cast<double>(rw - width) / 2.0));
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
