// A view whose strides do not match its rank is refused.
// expect: a view needs exactly one stride per dimension of its shape
// expect: strides_match_rank<einvit::Shape<2, 3>, einvit::Strides<1> ?>
#include <einvit/einvit.hpp>

int main() {
    float data[6] = {};
#ifdef EINVIT_COMPILE_FAIL
    einvit::TensorView<float, einvit::Shape<2, 3>, einvit::cpu, einvit::Strides<1>> v(data);
#else
    einvit::TensorView<float, einvit::Shape<2, 3>, einvit::cpu, einvit::Strides<1, 2>> v(data);
#endif
    return static_cast<int>(v.data()[0]);
}
