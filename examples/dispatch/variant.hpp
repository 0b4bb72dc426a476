// One build of einvit-dispatch's model (see variants.hpp); DISPATCH_LOAD, DISPATCH_CLASSIFY and
// DISPATCH_ABI name its functions. Nothing here may run on a CPU without this build's instruction set: the dispatcher only
// calls it where the CPU has it.
#pragma once

#include <einvit/einvit.hpp>
#include <einvit/vit/load.hpp>

#include <string>
#include <utility>

#include "../classify/fashion_mnist_config.hpp"
#include "variants.hpp"

#define DISPATCH_STRING_(x) #x
#define DISPATCH_STRING(x) DISPATCH_STRING_(x)

const char* dispatch::DISPATCH_ABI() { return DISPATCH_STRING(EINVIT_ABI); }

namespace {
using Model = einvit::vit::VisionTransformer<einvit_examples::fashion_mnist>;
Model& model() {  // this build's copy, empty until loaded
    static Model m;
    return m;
}
}  // namespace

const char* dispatch::DISPATCH_LOAD(const char* model_path) {
    static std::string error;  // the message, for the caller to print
    auto file = einvit::io::SafeTensors::try_open(model_path);
    if (!file) return (error = file.failure().what()).c_str();
    auto loaded = einvit::vit::try_load<einvit_examples::fashion_mnist>(file.value(), einvit::vit::Family::vit_pytorch);
    if (!loaded) return (error = loaded.failure().what()).c_str();
    model() = std::move(loaded).value();
    return nullptr;
}

void dispatch::DISPATCH_CLASSIFY(const float* input, float* logits) {
    static Model::Workspace<1> workspace;  // made on the first call, reused
    model().forward_into<1>(Model::Input<1>(input), logits, workspace.data());
}
