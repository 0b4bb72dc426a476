// A Vision Transformer with no heap: the shipped model's weights as a weight image, read into a static
// buffer whose size is a compile-time constant, and a forward pass in a static workspace, on one thread.
//
//   einvit_example_weight_image MODEL.safetensors IMAGE.einvit
//
// First, as a host would before flashing a board, it loads the checkpoint and writes its weight image
// (einvit's packed layout, for this build's instruction set). Then, as the board would, it reads the
// image into static memory, makes the model over it (no copy) and classifies a test pattern, counting
// the calls to operator new: none. The logits must equal the loaded model's, bit for bit.
#include <einvit/einvit.hpp>
#include <einvit/vit/load.hpp>

#include <cstdio>
#include <cstring>

#include "classify/fashion_mnist_config.hpp"

// Defined in count_heap.cpp, which replaces the global operator new with a counting one.
std::size_t heap_allocations() noexcept;

namespace {
using Model = einvit::vit::VisionTransformer<einvit_examples::fashion_mnist>;
// The board's memory, all of it static and sized at compile time.
alignas(64) unsigned char weights[Model::weight_image_max_bytes];
alignas(64) float workspace[Model::workspace_floats<1>];
float pixels[28 * 28], logits[Model::out_dim];
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL.safetensors IMAGE.einvit\n", argv[0]);
        return 2;
    }
    // the host: the checkpoint, loaded and packed, written as a weight image
    const Model loaded = einvit::vit::load<einvit_examples::fashion_mnist>(einvit::io::SafeTensors::open(argv[1]),
                                                                           einvit::vit::Family::vit_pytorch);
    einvit::vit::WeightImageFile::write(argv[2], loaded.weight_image());
    for (std::size_t i = 0; i < 28 * 28; ++i) pixels[i] = static_cast<float>((i * 7) % 28) / 28.0f - 0.5f;
    float want[Model::out_dim];
    einvit::set_num_threads(1);
    loaded.forward_into<1>(Model::Input<1>(pixels), want, workspace);

    // the board: the image read into static memory, the model over it, a forward pass
    const std::size_t before = heap_allocations();
    std::FILE* fp = std::fopen(argv[2], "rb");
    const std::size_t bytes = fp ? std::fread(weights, 1, sizeof weights, fp) : 0;
    if (fp) std::fclose(fp);
    auto model = Model::try_from_weight_image(weights, bytes);
    if (!model) {
        std::fprintf(stderr, "%s: %s\n", argv[2], model.failure().what());
        return 1;
    }
    model.value().forward_into<1>(Model::Input<1>(pixels), logits, workspace);
    const std::size_t allocations = heap_allocations() - before;

    std::size_t top = 0;
    for (std::size_t c = 1; c < Model::out_dim; ++c) top = logits[c] > logits[top] ? c : top;
    const bool same = std::memcmp(logits, want, sizeof logits) == 0;
    std::printf("weight image: %zu bytes (at most %zu); workspace: %zu bytes (%zu of them the kernels' scratch)\n", bytes,
                Model::weight_image_max_bytes, sizeof workspace, Model::scratch_plan<1>.elements() * sizeof(float));
    std::printf("class %zu; logits equal to the loaded model's: %s, heap allocations: %zu\n", top, same ? "yes" : "NO", allocations);
    return same && allocations == 0 ? 0 : 1;
}
