// The checked forward_with_attention refuses a tensor for the attention that is not (depth, B, tokens,
// tokens), at compile time (here the class token's maps, forward_into's, given for the full matrices).
// expect: the attention's tensor must have shape \(depth, B, tokens\) for forward_into's maps
#include <einvit/einvit.hpp>

namespace {
constexpr einvit::vit::Config small{.image_height = 28, .image_width = 28, .patch = 7, .channels = 1, .dim = 16, .depth = 1,
                                    .heads = 2, .dim_head = 8, .mlp_dim = 32, .num_classes = 10};
using Model = einvit::vit::VisionTransformer<small>;
}  // namespace

int main() {
    Model model;
    einvit::Tensor<float, einvit::Shape<2, 1, 28, 28>> image;
    Model::Output<2> out;
    Model::Workspace<2> workspace;
#ifdef EINVIT_COMPILE_FAIL
    Model::AttentionMaps<2> attention;  // (1, 2, 17): the maps, not the matrices
#else
    Model::AttentionMatrices<2> attention;  // (1, 2, 17, 17)
#endif
    if (image.size() == 0)  // compiled, never run
        model.forward_with_attention<2>(Model::Input<2>(image.data()), out, workspace, attention);
    return 0;
}
