// Thread safety, as docs/reliability.md promises it: 8 application threads share one loaded model,
// each with its own workspace, and run 100 forward passes each (every thread its own images, the
// kernels' pool of 2 threads under them; half the threads' workspaces hold the kernels' scratch for
// both of the pool's threads, so that the pool's other thread works in memory those threads lent it);
// every output is bitwise identical to a single-threaded run.
// CTest builds and runs it under ThreadSanitizer, which reports any data race.
//
//   einvit_thread_test CHECKPOINT     (a vit-pytorch checkpoint of vit::presets::mnist)
#include <einvit/einvit.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

namespace vit = einvit::vit;
using Model = vit::VisionTransformer<vit::presets::mnist>;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: einvit_thread_test CHECKPOINT\n");
        return 2;
    }
    constexpr std::size_t threads = 8, runs = 100, images = 4, pixels = 28 * 28, classes = Model::out_dim;
    try {
        einvit::set_num_threads(2);
        const auto file = einvit::io::SafeTensors::open(argv[1]);
        const Model model = vit::load<vit::presets::mnist>(file, vit::Family::vit_pytorch);
        // each thread's images, and the single-threaded answers
        std::vector<float> input(threads * images * pixels);
        std::uint64_t state = 12345;
        for (float& v : input) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            v = static_cast<float>(state >> 40) / static_cast<float>(1 << 24) * 4.0f - 2.0f;
        }
        std::vector<float> want(threads * images * classes), workspace(Model::workspace_floats<1>);
        for (std::size_t i = 0; i < threads * images; ++i)
            model.forward_into<1>(Model::Input<1>(input.data() + i * pixels), want.data() + i * classes, workspace.data());
        std::vector<std::size_t> mismatches(threads, 0);
        std::vector<std::thread> pool;
        for (std::size_t t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                const bool lends_both = t % 2 == 1;
                std::vector<float> ws(lends_both ? Model::workspace_floats<1, 2> : Model::workspace_floats<1>), out(classes);
                for (std::size_t r = 0; r < runs; ++r) {
                    const std::size_t i = t * images + r % images;
                    const Model::Input<1> image(input.data() + i * pixels);
                    if (lends_both) model.forward_into<1, 2>(image, out.data(), ws.data());
                    else model.forward_into<1>(image, out.data(), ws.data());
                    if (std::memcmp(out.data(), want.data() + i * classes, classes * sizeof(float)) != 0) ++mismatches[t];
                }
            });
        for (auto& th : pool) th.join();
        std::size_t total = 0;
        for (std::size_t m : mismatches) total += m;
        std::printf("%zu threads x %zu forwards sharing one model: %zu outputs differ from the single-threaded run\n", threads,
                    runs, total);
        return total == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "einvit_thread_test: %s\n", e.what());
        return 1;
    }
}
