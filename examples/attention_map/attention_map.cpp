// einvit-attention-map: what the shipped Fashion-MNIST ViT looks at. For each image it writes a PNG
// with the image beside it overlaid by the class token's attention rollout (Abnar & Zuidema): per
// layer, the attention matrix averaged over heads, plus the identity for the residual path,
// rows renormalised, multiplied through the layers; the class token's row over the patches is the map.
//
//   einvit-attention-map [--model FILE] [--out DIR] [--scale N] IMAGE...
#include <einvit/einvit.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>

#include "../classify/fashion_mnist.hpp"

namespace {

using Model = einvit::vit::VisionTransformer<einvit_examples::fashion_mnist>;
constexpr std::size_t T = Model::T, side = 28, grid = einvit_examples::fashion_mnist.grid_h();

// Rollout of depth x T x T head-averaged attention matrices: the class token's row.
std::vector<double> rollout(const Model::AttentionMatrices<1>& attention) {
    std::vector<double> r(T * T, 0.0), next(T * T);
    for (std::size_t i = 0; i < T; ++i) r[i * T + i] = 1.0;
    for (std::size_t l = 0; l < einvit_examples::fashion_mnist.depth; ++l) {
        const float* a = attention.data() + l * T * T;
        // A' = (A + I) / 2, rows sum to 1; R = A' R
        for (std::size_t i = 0; i < T; ++i)
            for (std::size_t j = 0; j < T; ++j) {
                double s = 0;
                for (std::size_t k = 0; k < T; ++k) s += (0.5 * a[i * T + k] + (i == k ? 0.5 : 0.0)) * r[k * T + j];
                next[i * T + j] = s;
            }
        r.swap(next);
    }
    return std::vector<double>(r.begin() + 1, r.begin() + T);  // class token -> each patch
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_path = std::string(EINVIT_DATA_DIR) + "/fashion_mnist_vit.safetensors", out_dir = ".";
    int scale = 8;
    std::vector<std::string> images;
    const char* usage = "usage: einvit-attention-map [--model FILE] [--out DIR] [--scale 1..32] IMAGE...\n";
    const auto refuse = [](const std::string& problem) {
        std::fprintf(stderr, "einvit-attention-map: %s\n", problem.c_str());
        return 2;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool takes_value = a == "--model" || a == "--out" || a == "--scale";
        if (takes_value && i + 1 >= argc) return refuse(a + " needs a value");
        if (a == "--model") {
            model_path = argv[++i];
        } else if (a == "--out") {
            out_dir = argv[++i];
            if (out_dir.empty()) return refuse("--out: expected a folder, got ''");
        } else if (a == "--scale") {
            const std::string v = argv[++i];
            char* end = nullptr;
            const long x = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) || *end || x < 1 || x > 32)
                return refuse("--scale: expected a number from 1 to 32, got '" + v + "'");
            scale = static_cast<int>(x);
        } else if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            return refuse("unknown option " + a);
        } else {
            images.push_back(a);
        }
    }
    if (images.empty()) {
        std::fputs(usage, stderr);
        return 2;
    }
    // two images of one name (from two folders) would write one output, the second over the first
    std::set<std::string> outputs;
    for (const auto& path : images)
        if (!outputs.insert(std::filesystem::path(path).stem().string()).second)
            return refuse(path + ": another image of the same name would write the same output, " +
                          std::filesystem::path(path).stem().string() + "_attention.png");
    try {
        const auto file = einvit::io::SafeTensors::open(model_path);
        const Model model = einvit::vit::load<einvit_examples::fashion_mnist>(file, einvit::vit::Family::vit_pytorch);
        std::vector<float> input(side * side);
        Model::Output<1> logits;
        Model::Workspace<1> workspace;
        Model::AttentionMatrices<1> attention;  // (depth, 1, T, T): each layer's, averaged over the heads
        for (const auto& path : images) {
            std::vector<unsigned char> pixels;
            einvit_examples::load_grey_28(path, input.data(), &pixels);
            model.forward_with_attention<1>(Model::Input<1>(input.data()), logits, workspace, attention);  // sizes checked at compile time
            const auto map = rollout(attention);
            const double lo = *std::min_element(map.begin(), map.end()), hi = *std::max_element(map.begin(), map.end());
            // side by side: the image, and the image tinted red by the map, each upscaled `scale` times
            const int w = static_cast<int>(2 * side) * scale, h = static_cast<int>(side) * scale;
            std::vector<unsigned char> rgb(static_cast<std::size_t>(w * h * 3));
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) {
                    const std::size_t sx = static_cast<std::size_t>(x / scale) % side, sy = static_cast<std::size_t>(y / scale);
                    const double g = pixels[sy * side + sx] / 255.0;
                    unsigned char* o = &rgb[static_cast<std::size_t>((y * w + x) * 3)];
                    if (x < w / 2) {
                        o[0] = o[1] = o[2] = static_cast<unsigned char>(255 * g);
                    } else {
                        const std::size_t patch = (sy / (side / grid)) * grid + sx / (side / grid);
                        const double m = hi > lo ? (map[patch] - lo) / (hi - lo) : 0.0;
                        o[0] = static_cast<unsigned char>(255 * std::min(1.0, 0.35 * g + 0.65 * m));
                        o[1] = o[2] = static_cast<unsigned char>(255 * 0.35 * g);
                    }
                }
            const std::string out = out_dir + "/" + std::filesystem::path(path).stem().string() + "_attention.png";
            if (!stbi_write_png(out.c_str(), w, h, 3, rgb.data(), w * 3)) {
                std::fprintf(stderr, "einvit-attention-map: %s: cannot write\n", out.c_str());
                return 1;
            }
            std::printf("%s\n", out.c_str());
        }
    } catch (const einvit_examples::Failure& f) {  // an image that cannot be read or decoded
        std::fprintf(stderr, "einvit-attention-map: %s\n", f.message.c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "einvit-attention-map: %s\n", e.what());
        return 1;
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        std::fprintf(stderr, "einvit-attention-map: cannot write the list of outputs\n");
        return 1;
    }
    return 0;
}
