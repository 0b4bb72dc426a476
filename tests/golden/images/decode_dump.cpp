// Decodes image files as einvit-classify does (examples/classify/decode.hpp) and writes the pixels
// raw, for check_decode.py to compare with Pillow's:
//     einvit_decode_dump CHANNELS OUT_DIR FILE...
// For each FILE, one line on stdout: "FILE: W x H" after writing OUT_DIR/<file name>.u8 (rows of W
// pixels of CHANNELS bytes), or "FILE: error: MESSAGE" for a file that is refused.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../../examples/classify/decode.hpp"

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: einvit_decode_dump CHANNELS OUT_DIR FILE...\n");
        return 2;
    }
    const int channels = std::atoi(argv[1]);
    const std::filesystem::path out_dir = argv[2];
    for (int i = 3; i < argc; ++i) {
        try {
            const einvit_examples::Image img = einvit_examples::decode_image(argv[i], channels);
            std::vector<unsigned char> bytes(img.pixels.size());
            for (std::size_t k = 0; k < bytes.size(); ++k) {
                const float v = img.pixels[k];
                if (!(v >= 0.0f && v <= 255.0f) || v != std::floor(v)) {
                    std::printf("%s: error: pixel %zu is %g, not an 8-bit value\n", argv[i], k, static_cast<double>(v));
                    return 1;
                }
                bytes[k] = static_cast<unsigned char>(v);
            }
            const auto path = out_dir / (std::filesystem::path(argv[i]).filename().string() + ".u8");
            std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
            std::printf("%s: %zu x %zu\n", argv[i], img.width, img.height);
        } catch (const einvit_examples::Failure& f) {
            std::printf("%s: error: %s\n", argv[i], f.message.c_str());
        }
    }
    return 0;
}
