// einvit-dispatch IMAGE...: classifies Fashion-MNIST images with the shipped model, built three times
// (AVX-512, AVX2 + FMA, the x86-64 baseline; variants.hpp), running the widest build this CPU has. The
// program itself is built for the baseline, so it runs on any x86-64 CPU. With --all it runs every
// build the CPU has and checks that they agree.
//
// This is how to ship one binary that takes AVX-512 where there is AVX-512: one file of your model code
// per instruction set, compiled with that -march, and a dispatcher that asks the CPU. einvit's build
// namespaces (EINVIT_ABI) keep the builds' inline functions apart; without them the linker would keep
// one copy of each, and the baseline path could run AVX-512 instructions. The standard library's
// inline functions (std::string's, std::vector's) have no such namespace: link the baseline's objects
// first (examples/CMakeLists.txt does), so that the copies the linker keeps are the baseline's.
#include <cpuid.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "../classify/fashion_mnist.hpp"
#include "variants.hpp"

namespace {

struct Build {
    const char* name;
    dispatch::Load load;
    dispatch::Classify classify;
    const char* (*abi)();
    bool runs;          // this CPU has its instructions
    bool used = false;  // run here: the widest build this CPU has, or with --all every one it has
};

// What x86-64-v3 adds that __builtin_cpu_supports cannot be asked about with every compiler: F16C and
// MOVBE (CPUID leaf 1, ECX bits 29 and 22) and LZCNT (leaf 0x80000001, ECX bit 5; without it lzcnt runs
// as bsr and gives other numbers instead of trapping).
bool has_f16c_movbe_lzcnt() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29)) || !(c & (1u << 22))) return false;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 5));
}

std::vector<Build> builds() {
    __builtin_cpu_init();
    const bool v2 = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt");
    const bool v3 = v2 && __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") && has_f16c_movbe_lzcnt();
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
    return {{"x86-64-v4", dispatch::load_x86_64_v4, dispatch::classify_x86_64_v4, dispatch::abi_x86_64_v4, v4},
            {"x86-64-v3", dispatch::load_x86_64_v3, dispatch::classify_x86_64_v3, dispatch::abi_x86_64_v3, v3},
            {"x86-64", dispatch::load_x86_64, dispatch::classify_x86_64, dispatch::abi_x86_64, true}};
}

std::size_t top(const float* logits) {
    std::size_t best = 0;
    for (std::size_t c = 1; c < dispatch::classes; ++c)
        if (logits[c] > logits[best]) best = c;
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    bool all = false;
    std::vector<std::string> images;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--all") == 0)
            all = true;
        else
            images.emplace_back(argv[i]);
    }
    if (images.empty()) {
        std::fprintf(stderr, "usage: einvit-dispatch [--all] IMAGE...\n");
        return 2;
    }
    const std::string model = std::string(EINVIT_DATA_DIR) + "/fashion_mnist_vit.safetensors";
    const char* labels[dispatch::classes] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                             "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    std::vector<Build> all_builds = builds();
    for (const Build& b : all_builds)
        std::printf("build %-10s %-34s %s\n", b.name, b.abi(), b.runs ? "this CPU runs it" : "not for this CPU");
    bool widest_taken = false;
    for (Build& b : all_builds) {  // widest first; each build used loads its copy of the model once
        b.used = b.runs && (all || !widest_taken);
        widest_taken = widest_taken || b.used;
        if (!b.used) continue;
        if (const char* error = b.load(model.c_str())) {
            std::fprintf(stderr, "%s: %s\n", model.c_str(), error);
            return 1;
        }
    }
    int failures = 0;
    for (const std::string& path : images) {
        float input[dispatch::pixels];
        try {
            einvit_examples::load_grey_28(path, input);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
            ++failures;
            continue;
        }
        float first[dispatch::classes] = {};
        bool have_first = false;
        for (const Build& b : all_builds) {
            if (!b.used) continue;
            float logits[dispatch::classes];
            b.classify(input, logits);
            std::printf("%s: %s (%s)\n", path.c_str(), labels[top(logits)], b.name);
            if (have_first) {  // another build: the same class, logits within rounding
                float worst = 0;
                for (std::size_t c = 0; c < dispatch::classes; ++c) worst = std::fmax(worst, std::fabs(logits[c] - first[c]));
                const bool agree = top(logits) == top(first) && worst < 1e-4f;
                std::printf("%s: %s agrees with the widest build: %s (largest logit difference %.2g)\n", path.c_str(), b.name,
                            agree ? "yes" : "NO", static_cast<double>(worst));
                failures += agree ? 0 : 1;
            } else {
                std::memcpy(first, logits, sizeof first);
                have_first = true;
            }
        }
    }
    return failures ? 1 : 0;
}
