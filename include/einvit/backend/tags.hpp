// einvit/backend/tags.hpp — backends are empty tag types chosen by a template parameter.
//
// Kernels are overloads on the tag. Inheritance is the fallback chain: a kernel written for
// `reference` serves `cpu` until `cpu` has a faster one, so the scalar reference is always there to
// test against. A backend is never chosen by a macro (that would let two translation units disagree).
#pragma once

#include <type_traits>

namespace einvit {

/// Where a backend's tensors live.
enum class memory_space { host, device };

/// Scalar reference kernels: plain loops, no SIMD, no threads. The oracle every fast kernel is
/// tested against, and the backend for targets with nothing else.
struct reference {
    static constexpr const char* name = "reference";
    static constexpr memory_space memory = memory_space::host;
};

/// The CPU backend: xsimd SIMD kernels (AVX-512, AVX2, NEON, ...) and, later, a thread pool; falls back
/// to `reference` for anything it has no kernel of its own for.
struct cpu : reference {
    static constexpr const char* name = "cpu";
};

/// The NVIDIA GPU backend. The name is reserved: its kernels come with einvit/cuda.hpp and nvcc.
struct cuda {
    static constexpr const char* name = "cuda";
    static constexpr memory_space memory = memory_space::device;
};

/// True for the backend tags einvit knows.
template <class B>
inline constexpr bool is_backend_v =
    std::is_base_of_v<reference, B> || std::is_same_v<B, cuda>;

/// True for backends whose tensors live in host memory and are evaluated by host code.
template <class B>
inline constexpr bool is_host_backend_v = std::is_base_of_v<reference, B>;

}  // namespace einvit
