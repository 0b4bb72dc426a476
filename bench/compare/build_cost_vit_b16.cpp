// The smallest useful ViT-B/16 program, for bench/compare's build-cost figures (compile time, peak
// compiler memory, binary size): load a timm checkpoint, classify one image given as raw float32
// (3 x 224 x 224, normalised), print the top class.
#include <einvit/einvit.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>

int main(int argc, char** argv) {
    namespace vit = einvit::vit;
    constexpr auto C = vit::presets::vit_base_patch16_224;
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s CHECKPOINT IMAGE.f32\n", argv[0]);
        return 2;
    }
    try {
        auto model = vit::load<C>(einvit::io::SafeTensors::open(argv[1]), vit::Family::timm);
        einvit::Tensor<float, einvit::Shape<1, 3, 224, 224>> image;
        std::ifstream(argv[2], std::ios::binary).read(reinterpret_cast<char*>(image.data()), static_cast<std::streamsize>(image.bytes()));
        const auto logits = model.forward(image);
        std::printf("class %td\n", std::max_element(logits.begin(), logits.end()) - logits.begin());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
