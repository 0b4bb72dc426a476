// The checked forward_into refuses a workspace smaller than the batch needs, at compile time.
// expect: the workspace is smaller than workspace_floats<B>: use Workspace<B>
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
#ifdef EINVIT_COMPILE_FAIL
    Model::Workspace<1> workspace;  // batch 1's workspace for a batch of 2
#else
    Model::Workspace<2> workspace;
#endif
    if (image.size() == 0) model.forward_into<2>(Model::Input<2>(image.data()), out, workspace);  // compiled, never run
    return 0;
}
