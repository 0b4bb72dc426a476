// libFuzzer target: an image file's bytes to a model's input, as einvit-classify does it: the
// signature and size checks, decoding (libpng, libjpeg-turbo, stb_image's BMP reader; to grey and RGB), the Fashion-MNIST model's 28 x 28
// area average and the ImageNet families' antialiased resizes, centre crops and normalisation. Every
// rejected input must be a Failure naming the file. Run with tools/fuzz.sh; link with
// examples/classify/stb_parts.cpp, libpng and libjpeg. (Debian's libpng and libjpeg are not
// instrumented: the sanitizers see einvit's side of their interfaces and stb's BMP reader, and the
// fuzzer's coverage guidance sees only that code; both libraries are fuzzed continuously upstream.)
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../../examples/classify/fashion_mnist.hpp"
#include "../../examples/classify/models.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace einvit_examples;
    const std::vector<unsigned char> bytes(data, data + size);
    try {
        const Image grey = decode_image(bytes, "fuzz", 1);
        float input28[pixels];
        grey_28_input(grey, input28);
        // resizing costs in proportion to the pixels: keep the fuzzer fast on large images
        if (grey.width * grey.height > 256 * 256) return 0;
        const Image rgb = decode_image(bytes, "fuzz", 3);
        // timm's resize and crop, and one of the other ways einvit-classify has, picked by the input's
        // length (two per input keep the fuzzer as fast as before): timm's at 256, torchvision's
        // bilinear, HF DINOv2's (the crop's offset rounded down), HF DeiT's (both sides, then the
        // centre), HF ViT's (both sides, no crop)
        std::vector<float> input(3 * 256 * 256);
        preprocess(rgb, timm_augreg(), 224, 224, input.data());
        switch (size % 5) {
            case 0: preprocess(rgb, timm_256(), 256, 256, input.data()); break;
            case 1: preprocess(rgb, torchvision_imagenet(256), 224, 224, input.data()); break;
            case 2: preprocess(rgb, hf_dinov2(), 224, 224, input.data()); break;
            case 3: preprocess(rgb, hf_deit(), 224, 224, input.data()); break;
            default: preprocess(rgb, hf_vit(), 224, 224, input.data()); break;
        }
    } catch (const Failure& f) {
        if (f.message.rfind("fuzz: ", 0) != 0) __builtin_trap();  // every error names the file
    }
    return 0;
}
