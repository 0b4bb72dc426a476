// einvit's side of bench/compare: one model in one process, driven line by line on stdin so that
// bench/compare/compare.py can time it alternately with the other systems, each in its own process.
//
//   einvit_compare_worker MODEL CHECKPOINT THREADS
//     MODEL: vit_tiny_patch16_224, vit_small_patch16_224, vit_base_patch16_224,
//            vit_base_patch16_siglip_224 (timm checkpoints) or fashion_mnist (the shipped vit-pytorch model)
//   einvit_compare_worker --peak THREADS      prints the measured FMA peak in GFLOP/s and exits
//   EINVIT_STRASSEN=0 or 1 in the environment: the weights' products without Strassen's algorithm, or
//   with it wherever the shape fits (gemm::set_strassen; by default where the instruction set measured it faster)
//
// Commands (one reply line each):
//   run B IN OUT   forward a batch of B (1 or 8) read from IN (float32), logits written to OUT -> "ok"
//   time B N       N forward passes of batch B (after IN's data, or zeros) -> N latencies in ms
//   rss            peak resident memory of this process (VmHWM) in MiB
//   profile B N    (built with EINVIT_PROFILE: target einvit_compare_profiler) N forward passes of batch
//                  B -> "total:MS" then "OP:MS" per operation, milliseconds per forward pass
//   quit
#include <einvit/einvit.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "../../examples/classify/fashion_mnist_config.hpp"
#include "../bench_common.hpp"

namespace vit = einvit::vit;

namespace {

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
struct Worker {
    using Model = vit::VisionTransformer<C>;
    static constexpr std::size_t image = C.channels * C.image_height * C.image_width, classes = Model::out_dim;
    Model model;
    // batch 8's buffers are made on its first use, so the peak memory measured after batch 1 is batch 1's
    std::vector<float> input1 = std::vector<float>(image), input8 = {};
    std::vector<float> ws1 = std::vector<float>(Model::template workspace_floats<1>), ws8 = {};
    std::vector<float> out = std::vector<float>(8 * classes);

    std::vector<float>& input(std::size_t b) {
        if (b == 8 && input8.empty()) input8.resize(8 * image);
        return b == 1 ? input1 : input8;
    }
    void forward(std::size_t b) {
        if (b == 1) {
            model.template forward_into<1>(typename Model::template Input<1>(input1.data()), out.data(), ws1.data());
        } else {
            if (ws8.empty()) ws8.resize(Model::template workspace_floats<8>);
            model.template forward_into<8>(typename Model::template Input<8>(input(8).data()), out.data(), ws8.data());
        }
    }

    int serve() {
        std::string line;
        while (std::getline(std::cin, line)) {
            std::istringstream in(line);
            std::string cmd;
            in >> cmd;
            std::size_t b = 0;
            if (cmd == "quit") return 0;
            if (cmd == "rss") {
                std::printf("%.1f\n", peak_resident_mib());
            } else if (cmd == "run" && (in >> b) && (b == 1 || b == 8)) {
                std::string from, to;
                in >> from >> to;
                std::vector<float>& x = input(b);
                std::ifstream f(from, std::ios::binary);
                if (!f.read(reinterpret_cast<char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)))) {
                    std::printf("error: cannot read %s\n", from.c_str());
                } else {
                    forward(b);
                    std::ofstream o(to, std::ios::binary);
                    o.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(b * classes * sizeof(float)));
                    std::printf(o ? "ok\n" : "error: cannot write\n");
                }
            } else if (cmd == "time" && (in >> b) && (b == 1 || b == 8)) {
                std::size_t n = 0;
                in >> n;
                std::string reply;
                for (std::size_t i = 0; i < n; ++i) {
                    const auto t0 = std::chrono::steady_clock::now();
                    forward(b);
                    const auto t1 = std::chrono::steady_clock::now();
                    reply += std::to_string(std::chrono::duration<double, std::milli>(t1 - t0).count()) + (i + 1 < n ? " " : "");
                }
                std::printf("%s\n", reply.c_str());
            } else if (cmd == "profile" && einvit::profile::enabled && (in >> b) && (b == 1 || b == 8)) {
                std::size_t n = 0;
                in >> n;
                forward(b);  // warm
                einvit::profile::reset();
                const auto t0 = std::chrono::steady_clock::now();
                for (std::size_t i = 0; i < n; ++i) forward(b);
                const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                std::string reply = "total:" + std::to_string(total / static_cast<double>(n ? n : 1));
                for (std::size_t op = 0; op < einvit::profile::op_count; ++op)
                    reply += std::string(" ") + einvit::profile::op_names[op] + ":" +
                             std::to_string(einvit::profile::seconds(op) * 1e3 / static_cast<double>(n ? n : 1));
                std::printf("%s\n", reply.c_str());
            } else {
                std::printf("error: unknown command '%s'\n", line.c_str());
            }
            std::fflush(stdout);
        }
        return 0;
    }
};

template <vit::Config C>
int serve(const char* checkpoint, vit::Family family) {
    Worker<C> w{vit::load<C>(einvit::io::SafeTensors::open(checkpoint), family)};
    std::printf("ready\n");
    std::fflush(stdout);
    return w.serve();
}

double fma_peak(std::size_t threads) {
    constexpr std::size_t W = einvit::simd::width<float>, chains = 12, steps = 2000000;
    einvit::set_num_threads(threads);
    std::vector<double> rates;
    for (int rep = 0; rep < 7; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        einvit::parallel_for(threads, 1, [&](std::size_t, std::size_t) {
            volatile float sink = einvit_bench::fma_chains(steps, std::make_index_sequence<chains>{});
            (void)sink;
        });
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rates.push_back(2.0 * W * chains * steps * static_cast<double>(threads) / s / 1e9);
    }
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--peak") == 0) {
        std::printf("%.1f\n", fma_peak(static_cast<std::size_t>(std::max(1, std::atoi(argv[2])))));
        return 0;
    }
    if (argc != 4) {
        std::fprintf(stderr, "usage: einvit_compare_worker MODEL CHECKPOINT THREADS | --peak THREADS\n");
        return 2;
    }
    try {
        einvit::set_num_threads(static_cast<std::size_t>(std::max(1, std::atoi(argv[3]))));
        // EINVIT_STRASSEN=0 or 1: the weights' products without or with Strassen's algorithm (gemm::set_strassen)
        if (const char* strassen = std::getenv("EINVIT_STRASSEN")) einvit::gemm::set_strassen(std::strcmp(strassen, "0") != 0);
        const std::string m = argv[1];
        if (m == "vit_tiny_patch16_224") return serve<vit::presets::vit_tiny_patch16_224>(argv[2], vit::Family::timm);
        if (m == "vit_small_patch16_224") return serve<vit::presets::vit_small_patch16_224>(argv[2], vit::Family::timm);
        if (m == "vit_base_patch16_224") return serve<vit::presets::vit_base_patch16_224>(argv[2], vit::Family::timm);
        if (m == "vit_base_patch16_siglip_224") return serve<vit::presets::vit_base_patch16_siglip_224>(argv[2], vit::Family::timm);
        if (m == "fashion_mnist") return serve<einvit_examples::fashion_mnist>(argv[2], vit::Family::vit_pytorch);
        std::fprintf(stderr, "einvit_compare_worker: unknown model %s\n", argv[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "einvit_compare_worker: %s\n", e.what());
    }
    return 1;
}
