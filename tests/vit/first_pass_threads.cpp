// A forward pass on a pool of 2 threads whose workspace holds the kernels' scratch for both
// (Workspace<B, 2>: ScratchScope lends every task of the pass's jobs its share) allocates nothing from
// its very first call, and gives the logits of one thread, bit for bit. Its own process, so that no
// earlier pass has grown the pool's task buffers: the same pass with a workspace for one thread
// afterwards must allocate (the other task's buffers, made then), which shows that the count sees
// what the pool's other thread allocates.
//
//   einvit_first_pass_threads CHECKPOINT     (a vit-pytorch checkpoint of vit::presets::mnist)
#include <einvit/einvit.hpp>
#include <einvit/vit/load.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

#include "../unit/alloc_counter.hpp"
#include "random_weights.hpp"

namespace vit = einvit::vit;

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) ++failures;
}

// The first pass of `count` images of a batch of B with a workspace for 2 threads: its allocations
// (expected none), and its logits against the same pass on one thread.
template <class Model, std::size_t B>
std::size_t first_pass_allocations(const Model& model, std::size_t count, const char* what) {
    using Input = typename Model::template Input<B>;
    std::vector<float> image(Input::size());
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 7919) % 253) / 126.0f - 1.0f;
    typename Model::template Workspace<B, 2> workspace;
    typename Model::template Output<B> two, one;
    einvit::set_num_threads(2);
    std::size_t allocations = 0;
    {
        const einvit_test::AllocationScope scope;
        model.template forward_into_first<B>(count, Input(image.data()), two, workspace);
        allocations = scope.count();
    }
    einvit::set_num_threads(1);
    model.template forward_into_first<B>(count, Input(image.data()), one, workspace);
    einvit::set_num_threads(2);
    std::printf("%s: %zu allocations in the first pass on 2 threads\n", what, allocations);
    expect(std::memcmp(two.data(), one.data(), count * Model::out_dim * sizeof(float)) == 0, "the logits of one thread, bit for bit");
    return allocations;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: einvit_first_pass_threads CHECKPOINT\n");
        return 2;
    }
    try {
        einvit::set_num_threads(2);  // the pool's threads start here, before any count
        using Mnist = vit::VisionTransformer<vit::presets::mnist>;
        const auto file = einvit::io::SafeTensors::open(argv[1]);
        const Mnist mnist = vit::load<vit::presets::mnist>(file, vit::Family::vit_pytorch);
        using Tiny = vit::VisionTransformer<vit::presets::vit_tiny_patch16_224>;
        const Tiny tiny = Tiny::try_create(einvit_test::random_weights<vit::presets::vit_tiny_patch16_224>()).value();
        static_assert(Tiny::threads_in_workspace<8>(Tiny::workspace_floats<8, 2>) == 2);
        static_assert(Tiny::threads_in_workspace<8>(Tiny::workspace_floats<8>) == 1);
        static_assert(Tiny::threads_in_workspace<8>(Tiny::workspace_floats<8> - 1) == 0);
        // the kernels' shared-out paths: one image's row shares (the A that the threads share, in the
        // calling thread's slot), batch 8's row blocks and Strassen's where they pay, attention's items
        expect(first_pass_allocations<Tiny, 1>(tiny, 1, "ViT-Ti/16, one image") == 0, "ViT-Ti/16 at one image allocates nothing");
        expect(first_pass_allocations<Tiny, 8>(tiny, 8, "ViT-Ti/16, batch 8") == 0, "ViT-Ti/16 at batch 8 allocates nothing");
        expect(first_pass_allocations<Tiny, 8>(tiny, 3, "ViT-Ti/16, 3 of batch 8") == 0, "ViT-Ti/16, 3 images of 8, allocates nothing");
        expect(first_pass_allocations<Mnist, 8>(mnist, 8, "the MNIST-size model, batch 8") == 0, "the MNIST-size model allocates nothing");
        // a workspace for one thread: the other task grows its own buffers on its first pass
        std::vector<float> image(Tiny::Input<8>::size(), 0.25f), workspace(Tiny::workspace_floats<8>), out(8 * Tiny::out_dim);
        std::size_t allocations = 0;
        {
            const einvit_test::AllocationScope scope;
            tiny.forward_into<8>(Tiny::Input<8>(image.data()), out.data(), workspace.data());
            allocations = scope.count();
        }
        std::printf("ViT-Ti/16, batch 8, a workspace for one thread: %zu allocations in the first pass on 2 threads\n", allocations);
        expect(allocations > 0, "with a workspace for one thread, the other thread's task allocates its own buffers");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "einvit_first_pass_threads: %s\n", e.what());
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
