// The host's half of the Cortex-M example: what a build would do before flashing the board.
//
//   einvit_cortex_m_pack MODEL.safetensors OUT_DIR IMAGE...
//
// Loads the shipped checkpoint and writes, into OUT_DIR:
//   model.einvit   its weight image, packed as the board's build packs (this program is built with
//                  EINVIT_NO_XSIMD: einvit's scalar kernels, as on a Cortex-M, which xsimd has no
//                  instruction set for; the image's header records the packing, and the board refuses
//                  an image packed for another);
//   images.bin     the images as the model's input (28 x 28 floats each, normalised as in training);
//   expected.txt   what the board must print for them: the same lines from a forward pass here;
//   wrong_packing/ the same, its image's header saying panels of 16 floats, as a build for AVX-512
//                  would pack them: the board must refuse it and say why.
#include <einvit/einvit.hpp>
#include <einvit/vit/load.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "classify/fashion_mnist.hpp"
#include "report.hpp"

static_assert(!EINVIT_USE_XSIMD, "einvit_cortex_m_pack packs for the scalar kernels: build it with EINVIT_NO_XSIMD");

namespace {
void write_file(const std::string& path, const void* data, std::size_t bytes) {
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    const bool ok = fp && std::fwrite(data, 1, bytes, fp) == bytes;
    if ((fp && std::fclose(fp) != 0) || !ok) throw std::runtime_error(path + ": cannot write");
}
}  // namespace

int main(int argc, char** argv) try {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s MODEL.safetensors OUT_DIR IMAGE...\n", argv[0]);
        return 2;
    }
    using Model = einvit::vit::VisionTransformer<einvit_examples::fashion_mnist>;
    const std::string out = argv[2];
    const Model model = einvit::vit::load<einvit_examples::fashion_mnist>(einvit::io::SafeTensors::open(argv[1]),
                                                                          einvit::vit::Family::vit_pytorch);
    const std::vector<std::byte> image = model.weight_image();
    einvit::vit::WeightImageFile::write(out + "/model.einvit", image);
    std::vector<std::byte> wrong = image;
    const std::uint64_t avx512_panel = 16;  // the panels' width in floats: the word after the magic and the version
    std::memcpy(wrong.data() + 2 * sizeof(std::uint64_t), &avx512_panel, sizeof avx512_panel);
    std::filesystem::create_directories(out + "/wrong_packing");
    einvit::vit::WeightImageFile::write(out + "/wrong_packing/model.einvit", wrong);

    std::vector<float> images;
    std::string expected;
    std::vector<float> workspace(Model::workspace_floats<1>);
    einvit::set_num_threads(1);
    for (int i = 3; i < argc; ++i) {
        float input[einvit_examples::pixels], logits[Model::out_dim];
        einvit_examples::load_grey_28(argv[i], input);
        images.insert(images.end(), input, input + einvit_examples::pixels);
        model.forward_into<1>(Model::Input<1>(input), logits, workspace.data());
        expected += board::result_line(static_cast<std::size_t>(i - 3), logits, Model::out_dim).view();
    }
    for (const char* dir : {"/", "/wrong_packing/"})
        write_file(out + dir + "images.bin", images.data(), images.size() * sizeof(float));
    write_file(out + "/expected.txt", expected.data(), expected.size());
    std::printf("%s", expected.c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "einvit_cortex_m_pack: %s\n", e.what());
    return 1;
}
