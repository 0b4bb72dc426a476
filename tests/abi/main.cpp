// abi.mixed_builds: one program whose files include einvit built four ways, as a program that picks a
// fast path at run time is built (flags in tests/CMakeLists.txt):
//   native          -march=native
//   portable        a portable instruction set (x86-64-v2; no SIMD, or no threads, where native is no better)
//   bare            no exceptions, bounds checks, einvit's scalar kernels (-DEINVIT_NO_XSIMD)
//   bare_portable   the same for the portable instruction set
// einvit's inline functions would have the same names in all of them; the linker would keep one of
// each, and a product packed by one variant's code would be multiplied by another's (wrong numbers,
// or an instruction the CPU lacks). Each variant's einvit is in its own inline namespace (EINVIT_ABI),
// so each runs its own code: every variant's product, expression and model output must be right, and
// the variants' namespaces must differ (bare and bare_portable differ only in the instruction set
// their scalar code is compiled for).
//
//     einvit_abi_mix MODEL    (MODEL: the shipped examples/data/fashion_mnist_vit.safetensors)
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "report.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODEL.safetensors\n", argv[0]);
        return 2;
    }
    constexpr int variants = 4;
    const einvit_abi_test::Report reports[variants] = {einvit_abi_native(argv[1]), einvit_abi_portable(argv[1]),
                                                       einvit_abi_bare(argv[1]), einvit_abi_bare_portable(argv[1])};
    const char* names[variants] = {"native", "portable", "bare", "bare_portable"};
    int failures = 0;
    const auto expect = [&](bool ok, const char* variant, const char* what) {
        if (!ok) {
            std::printf("FAILED: %s: %s\n", variant, what);
            ++failures;
        }
    };
    for (int v = 0; v < variants; ++v) {
        const einvit_abi_test::Report& r = reports[v];
        std::printf("%-13s %-32s %2zu-float packets, exceptions %s: gemm error %.3g, expression error %.3g, logits", names[v],
                    r.abi, r.packet_width, r.exceptions ? "on " : "off", r.gemm_error, r.expression_error);
        for (float l : r.logits) std::printf(" %.4f", static_cast<double>(l));
        std::printf("\n");
        expect(r.gemm_error < 1e-3, names[v], "the packed product matches doubles");
        expect(r.expression_error < 1e-5, names[v], "the expression matches doubles");
        expect(r.model_ran, names[v], "the shipped model loads and runs");
        for (int w = 0; w < v; ++w) {
            expect(std::strcmp(r.abi, reports[w].abi) != 0, names[v], "each variant has a namespace of its own");
            float worst = 0;
            for (int c = 0; c < 10; ++c) worst = std::fmax(worst, std::fabs(r.logits[c] - reports[w].logits[c]));
            expect(worst < 1e-4f, names[v], "the model's logits agree with the other variants'");
        }
    }
    expect(reports[0].exceptions && reports[1].exceptions, "native", "the native and portable variants have exceptions");
    // an error raised by one build's einvit is caught, outside every build, as std::runtime_error
    for (int v = 0; v < 2; ++v) {
        std::string message;
        try {
            if (reports[v].raise_error) reports[v].raise_error();
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
        std::printf("%s raised: %s\n", names[v], message.c_str());
        expect(message.find("is out of range for a tensor of shape (2, 3)") != std::string::npos, names[v],
               "its error is caught as std::runtime_error");
    }
    expect(!reports[2].exceptions && !reports[3].exceptions, "bare", "the bare variants are built without exceptions");
    expect(reports[2].packet_width == 1 && reports[3].packet_width == 1, "bare", "the bare variants take the scalar kernels");
    std::printf("%s\n", failures ? "abi.mixed_builds: FAILED" : "abi.mixed_builds: ok");
    return failures ? 1 : 0;
}
