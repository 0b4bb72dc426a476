// Reducing along an axis the tensor does not have names the shape and the axis.
// expect: reduction axis out of range
// expect: axis_in_range<einvit::Shape<2, 3, 4>, 3>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3, 4>> t;
#ifdef EINVIT_COMPILE_FAIL
    auto s = einvit::sum<3>(t);
#else
    auto s = einvit::sum<-1>(t);
#endif
    return static_cast<int>(s(0, 0));
}
