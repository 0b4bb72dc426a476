// A user's program: prints 2.5 + e^0 = 3.5 for every element and exits 0 when all is well.
#include <einvit/einvit.hpp>

#include <cstdio>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3>> a, b;
    a = 2.5f;
    einvit::Tensor<float, einvit::Shape<2, 3>> c = a + einvit::exp(b);
    float total = einvit::sum<0>(einvit::sum<1>(c))();
    std::printf("sum = %g\n", static_cast<double>(total));
    return total == 21.0f ? 0 : 1;
}
