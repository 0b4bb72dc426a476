// Helpers the ViT test files share: where the golden checkpoints are, and an error's message.
#pragma once

#include <einvit/einvit.hpp>

#include <string>

namespace einvit_test {

/// A file of the golden checkpoints (tests/golden/vit/gen.py writes them before the tests run).
inline std::string golden(const std::string& name) { return std::string(EINVIT_VIT_GOLDEN_DIR) + "/" + name; }

/// The message of the einvit::error that `thunk` raises, or "(no error)".
inline std::string error_of(const auto& thunk) {
    try {
        thunk();
    } catch (const einvit::error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace einvit_test
