// Decoding image files for the examples: PNG with libpng, JPEG with libjpeg-turbo, BMP with
// stb_image's BMP reader (Debian: libpng-dev, libjpeg62-turbo-dev, libstb-dev; stb_parts.cpp compiles
// the BMP reader alone). Decoded as Pillow does, so that a model sees what its PyTorch pipeline sees:
// JPEG with libjpeg's defaults (accurate integer IDCT, smooth chroma upsampling), alpha dropped, not
// blended; 16-bit PNG samples cut to their high byte; colour to grey with ITU-R 601-2 weights in
// 16-bit fixed point.
//
// Hostile files: the signature and the dimensions (at most 16384 a side, 64M pixels) are checked
// before any pixel buffer is made; a truncated JPEG is an error (Pillow's default too), not grey
// fill; a progressive JPEG may have at most 256 scans and libjpeg 1 GiB of working memory; libpng's
// own limits (8 MB per ancillary chunk, 1000 of them) apply. Every failure is a Failure naming the file.
//
// libjpeg and libpng report errors with longjmp. The functions that call setjmp below own no C++
// object: their state lives in a caller's frame and the pixels in a caller's vector, so a longjmp
// skips only C frames and trivially destructible locals.
#pragma once

#include <csetjmp>
#include <cstddef>
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <filesystem>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stb_image.h>

namespace einvit_examples {

/// A problem with an input, for one line on stderr.
struct Failure {
    std::string message;
};
[[noreturn]] inline void fail(const std::string& message) { throw Failure{message}; }

/// Refuses what is not a regular file (a FIFO would block the open, a device such as /dev/zero read
/// without end, a directory fail with the library's words), and one over `limit` bytes.
inline void require_regular_file(const std::string& path, std::uintmax_t limit = std::uintmax_t{1} << 30) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) fail(path + ": cannot open");
    if (!std::filesystem::is_regular_file(status)) fail(path + ": not a regular file");
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec && size > limit) fail(path + ": larger than " + std::to_string(limit >> 20) + " MiB");
}

inline std::vector<unsigned char> read_file(const std::string& path) {
    require_regular_file(path);
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path + ": cannot open");
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) fail(path + ": cannot read");
    return bytes;
}

enum class ImageFormat { unknown, png, jpeg, bmp };

inline ImageFormat image_format(const std::vector<unsigned char>& b) {
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (b.size() >= 8 && std::memcmp(b.data(), png, 8) == 0) return ImageFormat::png;
    if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ImageFormat::jpeg;
    if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return ImageFormat::bmp;
    return ImageFormat::unknown;
}

/// An image as floats in [0, 255], rows of `width` pixels of `channels` interleaved values.
struct Image {
    std::size_t width = 0, height = 0, channels = 0;
    std::vector<float> pixels;
};

inline constexpr std::size_t max_image_side = 16384, max_image_pixels = std::size_t{64} << 20;

namespace detail {

inline constexpr int max_jpeg_scans = 256;
inline constexpr long max_jpeg_memory = 1L << 30;

/// What a decoder is given and what it returns: 8-bit pixels, 1 (grey) or 3 (RGB) channels.
struct Decoding {
    const unsigned char* data = nullptr;
    std::size_t size = 0, at = 0;  // `at`: libpng's read position
    std::size_t width = 0, height = 0, channels = 0;
    std::vector<unsigned char>* pixels = nullptr;
    char message[JMSG_LENGTH_MAX + 64] = {};
};

inline bool too_large(Decoding& d, std::size_t w, std::size_t h) {
    if (w > 0 && h > 0 && w <= max_image_side && h <= max_image_side && w * h <= max_image_pixels) return false;
    std::snprintf(d.message, sizeof d.message, "image of %zu x %zu pixels is too large (at most 16384 a side, 64M pixels)", w, h);
    return true;
}

/// The pixel buffer, or null (with a message) when it cannot be had.
inline unsigned char* reserve(Decoding& d, std::size_t w, std::size_t h, std::size_t c) noexcept {
    try {
        d.pixels->assign(w * h * c, 0);
    } catch (const std::bad_alloc&) {
        std::snprintf(d.message, sizeof d.message, "out of memory for %zu x %zu pixels", w, h);
        return nullptr;
    }
    d.width = w;
    d.height = h;
    d.channels = c;
    return d.pixels->data();
}

// ---- JPEG ----

struct JpegState {
    jpeg_decompress_struct info;
    jpeg_error_mgr errors;  // libjpeg passes &info; info.err points here
    jpeg_progress_mgr progress;
    std::jmp_buf jump;
    Decoding* decoding;
};

// libjpeg keeps client_data (set before jpeg_create_decompress, which preserves it) for the application
inline JpegState& jpeg_state(j_common_ptr c) { return *static_cast<JpegState*>(c->client_data); }

inline void jpeg_fail(j_common_ptr c) {
    JpegState& s = jpeg_state(c);
    char text[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, text);
    std::snprintf(s.decoding->message, sizeof s.decoding->message, "cannot decode JPEG: %s", text);
    std::longjmp(s.jump, 1);
}

// Warnings: running out of data is an error (libjpeg would fill the rest with grey); other
// corrupt-data warnings (extraneous bytes, a restart marker out of place) decode on, as Pillow does.
inline void jpeg_message(j_common_ptr c, int level) {
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(c);
}

inline void jpeg_progress(j_common_ptr c) {
    JpegState& s = jpeg_state(c);
    if (s.info.input_scan_number > max_jpeg_scans) {
        std::snprintf(s.decoding->message, sizeof s.decoding->message, "cannot decode JPEG: more than %d scans", max_jpeg_scans);
        std::longjmp(s.jump, 1);
    }
}

// libjpeg's structures are C aggregates with no constructors: zeroing them is their initial state.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclass-memaccess"
#endif
inline void clear(JpegState& s) { std::memset(static_cast<void*>(&s), 0, sizeof s); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

inline bool decode_jpeg(JpegState& s) {
    Decoding& d = *s.decoding;
    jpeg_decompress_struct& info = s.info;
    info.err = jpeg_std_error(&s.errors);
    info.client_data = &s;
    s.errors.error_exit = jpeg_fail;
    s.errors.emit_message = jpeg_message;
    if (setjmp(s.jump)) {
        jpeg_destroy_decompress(&info);
        return false;
    }
    jpeg_create_decompress(&info);
    s.progress.progress_monitor = jpeg_progress;
    info.progress = &s.progress;
    info.mem->max_memory_to_use = max_jpeg_memory;
    jpeg_mem_src(&info, d.data, static_cast<unsigned long>(d.size));
    jpeg_read_header(&info, TRUE);
    bool ok = !too_large(d, info.image_width, info.image_height);
    if (ok && (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK)) {
        std::snprintf(d.message, sizeof d.message, "cannot decode JPEG: CMYK images are not supported");
        ok = false;
    }
    if (ok) {
        info.out_color_space = info.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
        jpeg_start_decompress(&info);
        const std::size_t w = info.output_width, c = static_cast<std::size_t>(info.output_components);
        unsigned char* out = reserve(d, w, info.output_height, c);
        ok = out != nullptr;
        while (ok && info.output_scanline < info.output_height) {
            JSAMPROW row = out + std::size_t{info.output_scanline} * w * c;
            if (jpeg_read_scanlines(&info, &row, 1) != 1) ERREXIT(&info, JERR_INPUT_EMPTY);
        }
    }
    jpeg_destroy_decompress(&info);  // what follows the last scan line is not needed
    return ok;
}

// ---- PNG ----

struct PngState {
    png_structp png;
    png_infop info;
    Decoding* decoding;
};

inline void png_fail(png_structp png, png_const_charp text) {
    auto* d = static_cast<Decoding*>(png_get_error_ptr(png));
    std::snprintf(d->message, sizeof d->message, "cannot decode PNG: %s", text);
    png_longjmp(png, 1);
}
inline void png_warning_ignored(png_structp, png_const_charp) {}

inline void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
    auto* d = static_cast<Decoding*>(png_get_io_ptr(png));
    if (n > d->size - d->at) png_error(png, "file is truncated");
    std::memcpy(out, d->data + d->at, n);
    d->at += n;
}

inline bool decode_png(PngState& s) {
    Decoding& d = *s.decoding;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, png_fail, png_warning_ignored);
    if (!s.png) {
        std::snprintf(d.message, sizeof d.message, "cannot decode PNG: out of memory");
        return false;
    }
    if (setjmp(png_jmpbuf(s.png))) {
        png_destroy_read_struct(&s.png, &s.info, nullptr);
        return false;
    }
    s.info = png_create_info_struct(s.png);
    if (!s.info) png_error(s.png, "out of memory");
    png_set_read_fn(s.png, &d, png_read_bytes);
    png_read_info(s.png, s.info);
    const png_uint_32 w = png_get_image_width(s.png, s.info), h = png_get_image_height(s.png, s.info);
    const int type = png_get_color_type(s.png, s.info), depth = png_get_bit_depth(s.png, s.info);
    bool ok = !too_large(d, w, h);
    if (ok) {
        if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s.png);
        if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(s.png);
        if (depth == 16) png_set_strip_16(s.png);
        png_set_strip_alpha(s.png);
        const int passes = png_set_interlace_handling(s.png);
        png_read_update_info(s.png, s.info);
        const std::size_t c = (type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
        if (png_get_channels(s.png, s.info) != c || png_get_rowbytes(s.png, s.info) != w * c)
            png_error(s.png, "unexpected layout after conversion to 8-bit samples");
        unsigned char* out = reserve(d, w, h, c);
        ok = out != nullptr;
        for (int pass = 0; ok && pass < passes; ++pass)
            for (std::size_t y = 0; y < h; ++y) png_read_row(s.png, out + y * w * c, nullptr);
    }
    png_destroy_read_struct(&s.png, &s.info, nullptr);
    return ok;
}

// ---- BMP ----

// stb_image reads a truncated BMP's missing pixels as zeros; Pillow refuses it, and so does einvit.
// For the uncompressed layouts (the only ones stb_image reads), the pixel rows' extent is known
// from the headers.
inline bool bmp_truncated(const Decoding& d) {
    auto u16 = [&](std::size_t at) { return std::size_t{d.data[at]} | std::size_t{d.data[at + 1]} << 8; };
    auto u32 = [&](std::size_t at) { return u16(at) | u16(at + 2) << 16; };
    if (d.size < 18) return true;
    const std::size_t offset = u32(10), header = u32(14);
    std::size_t w = 0, h = 0, bits = 0, compression = 0;
    if (header == 12 && d.size >= 26) {  // OS/2 BITMAPCOREHEADER
        w = u16(18);
        h = u16(20);
        bits = u16(24);
    } else if (header >= 40 && d.size >= 34) {
        w = u32(18);
        const std::size_t raw_h = u32(22);
        h = raw_h >= 0x80000000u ? 0x100000000u - raw_h : raw_h;  // negative: rows top-down
        bits = u16(28);
        compression = u32(30);
    } else {
        return false;  // stb_image reports the header
    }
    if (compression != 0 && compression != 3 && compression != 6) return false;  // not read by stb_image
    if (w > max_image_side || h > max_image_side || bits > 32) return false;      // refused elsewhere
    const std::size_t row = (w * bits + 31) / 32 * 4;
    return offset > d.size || d.size - offset < row * h;
}

inline bool decode_bmp(Decoding& d) {
    if (bmp_truncated(d)) {
        std::snprintf(d.message, sizeof d.message, "cannot decode BMP: file is truncated");
        return false;
    }
    int w = 0, h = 0, n = 0;
    if (d.size > 0x7fffffff || !stbi_info_from_memory(d.data, static_cast<int>(d.size), &w, &h, &n)) {
        std::snprintf(d.message, sizeof d.message, "cannot decode BMP: %s", d.size > 0x7fffffff ? "file too large" : stbi_failure_reason());
        return false;
    }
    // a top-down BMP's height is negative in its header, and stbi_info passes it on as it is
    const auto side = [](int s) { return static_cast<std::size_t>(s < 0 ? -static_cast<long long>(s) : s); };
    if (too_large(d, side(w), side(h))) return false;
    unsigned char* rgb = stbi_load_from_memory(d.data, static_cast<int>(d.size), &w, &h, &n, 3);
    if (!rgb) {
        std::snprintf(d.message, sizeof d.message, "cannot decode BMP: %s", stbi_failure_reason());
        return false;
    }
    unsigned char* out = reserve(d, static_cast<std::size_t>(w), static_cast<std::size_t>(h), 3);
    if (out) std::memcpy(out, rgb, d.pixels->size());
    stbi_image_free(rgb);
    return out != nullptr;
}

}  // namespace detail

/// Decodes a PNG, JPEG or BMP file held in memory to `channels` (1: grey, 3: RGB) channels; `name`
/// names it in errors.
inline Image decode_image(const std::vector<unsigned char>& bytes, const std::string& name, int channels) {
    if (channels != 1 && channels != 3) fail(name + ": cannot decode to " + std::to_string(channels) + " channels");
    const ImageFormat format = image_format(bytes);
    if (format == ImageFormat::unknown) fail(name + ": not a PNG, JPEG or BMP image");
    std::vector<unsigned char> pixels;
    detail::Decoding d;
    d.data = bytes.data();
    d.size = bytes.size();
    d.pixels = &pixels;
    bool ok = false;
    if (format == ImageFormat::jpeg) {
        detail::JpegState s;
        detail::clear(s);
        s.decoding = &d;
        ok = detail::decode_jpeg(s);
    } else if (format == ImageFormat::png) {
        detail::PngState s{nullptr, nullptr, &d};
        ok = detail::decode_png(s);
    } else {
        ok = detail::decode_bmp(d);
    }
    if (!ok) fail(name + ": " + d.message);

    Image img;
    img.width = d.width;
    img.height = d.height;
    img.channels = static_cast<std::size_t>(channels);
    const std::size_t n = d.width * d.height;
    img.pixels.resize(n * img.channels);
    const unsigned char* p = pixels.data();
    if (d.channels == img.channels) {
        for (std::size_t i = 0; i < n * img.channels; ++i) img.pixels[i] = p[i];
    } else if (d.channels == 1) {  // grey to RGB: the value thrice
        for (std::size_t i = 0; i < n; ++i) img.pixels[3 * i] = img.pixels[3 * i + 1] = img.pixels[3 * i + 2] = p[i];
    } else {  // RGB to grey, as Pillow's convert("L")
        for (std::size_t i = 0; i < n; ++i)
            img.pixels[i] = static_cast<float>((p[3 * i] * 19595u + p[3 * i + 1] * 38470u + p[3 * i + 2] * 7471u + 0x8000u) >> 16);
    }
    return img;
}

/// The same for the file at `path`.
inline Image decode_image(const std::string& path, int channels) { return decode_image(read_file(path), path, channels); }

}  // namespace einvit_examples
