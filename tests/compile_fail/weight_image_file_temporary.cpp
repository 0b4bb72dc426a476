// A model over a temporary weight image file would read it after it is unmapped: it does not compile.
// expect: use of deleted function
#include <einvit/einvit.hpp>

namespace {
constexpr einvit::vit::Config small{.image_height = 28, .image_width = 28, .patch = 7, .channels = 1, .dim = 16, .depth = 1,
                                    .heads = 2, .dim_head = 8, .mlp_dim = 32, .num_classes = 10};
using Model = einvit::vit::VisionTransformer<small>;
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return 0;  // compiled, run only with a file
#ifdef EINVIT_COMPILE_FAIL
    auto model = Model::try_from_weight_image(einvit::vit::WeightImageFile::open(argv[1]));  // the file: a temporary
#else
    const auto file = einvit::vit::WeightImageFile::open(argv[1]);
    auto model = Model::try_from_weight_image(file);
#endif
    return model ? 0 : 1;
}
