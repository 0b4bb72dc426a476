// einvit::profile (EINVIT_PROFILE, defined for this whole program): a forward pass of the shipped
// Fashion-MNIST ViT counts every operation the expected number of times, each takes some time, their
// sum fits inside the wall time of the passes, and reset() zeroes the totals.
//
//   einvit_profile_test CHECKPOINT     (examples/data/fashion_mnist_vit.safetensors)
#ifndef EINVIT_PROFILE
#error "build with EINVIT_PROFILE defined"
#endif
#include <einvit/einvit.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <vector>

#include "../../examples/classify/fashion_mnist_config.hpp"

namespace vit = einvit::vit;
namespace profile = einvit::profile;
constexpr auto C = einvit_examples::fashion_mnist;
using Model = vit::VisionTransformer<C>;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: einvit_profile_test CHECKPOINT\n");
        return 2;
    }
    static_assert(profile::enabled);
    int failures = 0;
    auto check = [&](bool ok, const char* what, std::size_t op, double value) {
        if (!ok) {
            std::fprintf(stderr, "FAILED: %s (%s: %g)\n", what, op < profile::op_count ? profile::op_names[op] : "-", value);
            ++failures;
        }
    };
    try {
        const Model model = vit::load<C>(einvit::io::SafeTensors::open(argv[1]), vit::Family::vit_pytorch);
        constexpr std::size_t passes = 3, pixels = C.channels * C.image_height * C.image_width;
        std::vector<float> input(pixels, 0.25f), out(Model::out_dim), workspace(Model::workspace_floats<1>);
        model.forward_into<1>(Model::Input<1>(input.data()), out.data(), workspace.data());
        profile::reset();
        for (std::size_t op = 0; op < profile::op_count; ++op) check(profile::calls(op) == 0 && profile::seconds(op) == 0, "reset", op, 0);
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < passes; ++i) model.forward_into<1>(Model::Input<1>(input.data()), out.data(), workspace.data());
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        for (float v : out) check(std::isfinite(v), "finite logits", profile::op_count, v);

        // pre-norm blocks apply their LayerNorms inside the qkv and fc1 GEMMs' packing (gemm::RowNorm): only
        // the final norm is a LayerNorm of its own; post-norm blocks have two each
        const std::size_t norms = C.norm == vit::NormPlacement::pre ? (C.final_norm ? 1 : 0) : 2 * C.depth;
        const std::size_t expected[profile::op_count] = {1, norms, C.depth, C.depth, C.depth, C.depth, C.depth, 1};
        double sum = 0;
        for (std::size_t op = 0; op < profile::op_count; ++op) {
            check(profile::calls(op) == passes * expected[op], "calls per pass", op, static_cast<double>(profile::calls(op)));
            check(expected[op] == 0 || profile::seconds(op) > 0, "time spent", op, profile::seconds(op));
            sum += profile::seconds(op);
            std::printf("%-12s %3llu calls %9.3f us per pass\n", profile::op_names[op],
                        static_cast<unsigned long long>(profile::calls(op)), profile::seconds(op) * 1e6 / passes);
        }
        check(sum <= wall, "operations within the passes' wall time", profile::op_count, sum / wall);
        std::printf("operations %.1f us of %.1f us per pass\n", sum * 1e6 / passes, wall * 1e6 / passes);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "einvit_profile_test: %s\n", e.what());
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
