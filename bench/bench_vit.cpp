// ViT forward latency and peak memory: loads a checkpoint, runs batch-1 forward passes, prints one
// JSON line (median, min and max latency in ms, peak resident memory in MiB). tools/compare_vit.py runs
// it beside PyTorch, each system in its own process.
//
//   build/bench/einvit_bench_vit CHECKPOINT [--model vit_base_patch16_224|vit_small_patch16_224|vit_tiny_patch16_224]
//                                [--runs N] [--threads N]        (timm checkpoints)
#include <einvit/einvit.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace vit = einvit::vit;

namespace {

// This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: on Linux that keeps the
// peak of the process that forked this one, so a small program started by a large one reports the
// large one's peak.
double peak_resident_mib() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double kib = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::atof(line + 6);
    std::fclose(f);
    return kib / 1024.0;
}

template <vit::Config C>
int run(const std::string& path, int runs) {
    // the mapped checkpoint is released once loaded: the model holds its own packed copy
    auto model = vit::load<C>(einvit::io::SafeTensors::open(path), vit::Family::timm);
    einvit::Tensor<float, einvit::Shape<1, 3, C.image_height, C.image_width>> image;
    const auto values = einvit_bench::random_vector(image.size(), 12345);
    std::copy(values.begin(), values.end(), image.begin());
    float checksum = 0;
    for (int i = 0; i < 3; ++i) checksum += model.forward(image).data()[0];  // warm-up
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto logits = model.forward(image);
        const auto t1 = std::chrono::steady_clock::now();
        checksum += logits.data()[0];
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double peak_mib = peak_resident_mib();
    std::printf("{\"system\": \"einvit\", \"median_ms\": %.3f, \"min_ms\": %.3f, \"max_ms\": %.3f, \"peak_rss_mib\": %.1f, "
                "\"checksum\": %.6g}\n",
                ms[ms.size() / 2], ms.front(), ms.back(), peak_mib, checksum);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CHECKPOINT [--model NAME] [--runs N] [--threads N]\n", argv[0]);
        return 2;
    }
    std::string model = "vit_base_patch16_224";
    int runs = 20;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--model") == 0) model = argv[i + 1];
        else if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(1, std::atoi(argv[i + 1]));
        else if (std::strcmp(argv[i], "--threads") == 0) einvit::set_num_threads(static_cast<std::size_t>(std::max(1, std::atoi(argv[i + 1]))));
        else {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    try {
        if (model == "vit_base_patch16_224") return run<vit::presets::vit_base_patch16_224>(argv[1], runs);
        if (model == "vit_small_patch16_224") return run<vit::presets::vit_small_patch16_224>(argv[1], runs);
        if (model == "vit_tiny_patch16_224") return run<vit::presets::vit_tiny_patch16_224>(argv[1], runs);
        std::fprintf(stderr, "unknown model %s\n", model.c_str());
        return 2;
    } catch (const einvit::error& e) {
        std::fprintf(stderr, "einvit_bench_vit: %s\n", e.what());
        return 1;
    }
}
