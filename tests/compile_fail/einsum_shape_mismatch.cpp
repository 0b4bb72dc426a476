// einsum operands that disagree on an index's length name both lengths.
// expect: Shape mismatch
// expect: lengths_equal<5, 4>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<3, 4>> a;
#ifdef EINVIT_COMPILE_FAIL
    einvit::Tensor<float, einvit::Shape<5, 2>> b;
#else
    einvit::Tensor<float, einvit::Shape<4, 2>> b;
#endif
    auto c = einvit::einsum<"ij,jk->ik">(a, b);
    return static_cast<int>(c(0, 0));
}
