// What each build variant of abi.mixed_builds reports (see main.cpp).
#pragma once

#include <cstddef>

namespace einvit_abi_test {
struct Report {
    const char* abi = "none";       // the variant's EINVIT_ABI, as a string
    std::size_t packet_width = 0;   // floats in its packets
    bool exceptions = false;        // whether it was built with exceptions
    double gemm_error = 1e30;       // (until measured) the packed product's largest error against doubles
    double expression_error = 1e30; // (until measured) an expression's largest error against doubles
    bool model_ran = false;
    float logits[10] = {};          // the shipped model's logits for one image
    void (*raise_error)() = nullptr; // raises an einvit error (variants with exceptions)
};
}  // namespace einvit_abi_test

einvit_abi_test::Report einvit_abi_native(const char* model_path);
einvit_abi_test::Report einvit_abi_portable(const char* model_path);
einvit_abi_test::Report einvit_abi_bare(const char* model_path);
einvit_abi_test::Report einvit_abi_bare_portable(const char* model_path);
