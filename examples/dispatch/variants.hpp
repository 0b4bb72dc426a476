// einvit-dispatch's builds of the model: the same code (variant.hpp) compiled three times, for
// x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and the x86-64 baseline (SSE2). Each build's einvit is
// in its own inline namespace (EINVIT_ABI), so the three coexist in one program; between them and the
// dispatcher only plain data crosses: a path, floats, a message.
#pragma once

#include <cstddef>

namespace dispatch {

inline constexpr std::size_t classes = 10, pixels = 28 * 28;

/// Loads the shipped Fashion-MNIST model into the build's own copy, once, before classify. Returns
/// nullptr, or the error's message (a string of the build's own).
using Load = const char* (*)(const char* model_path);
/// Runs the loaded model on one 28 x 28 input (normalised as einvit-classify does) into `logits` (10
/// floats), in a workspace the build keeps: nothing is allocated after the first call.
using Classify = void (*)(const float* input, float* logits);

const char* load_x86_64_v4(const char* model_path);
const char* load_x86_64_v3(const char* model_path);
const char* load_x86_64(const char* model_path);
void classify_x86_64_v4(const float* input, float* logits);
void classify_x86_64_v3(const float* input, float* logits);
void classify_x86_64(const float* input, float* logits);

/// The instruction set each build was compiled for, as its EINVIT_ABI names it.
const char* abi_x86_64_v4();
const char* abi_x86_64_v3();
const char* abi_x86_64();

}  // namespace dispatch
