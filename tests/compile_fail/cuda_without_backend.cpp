// A CUDA tensor in a host-only build is refused with the way out.
// expect: the CUDA backend \(einvit::cuda\) has no kernels in this build
// expect: backend_runs_on_host<einvit::cuda>
#include <einvit/einvit.hpp>

int main() {
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<4>, einvit::cuda> a;
#else
    einvit::Tensor<float, einvit::Shape<4>, einvit::cpu> a;
#endif
    return static_cast<int>(a.size());
}
