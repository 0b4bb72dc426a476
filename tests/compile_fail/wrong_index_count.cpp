// Indexing with fewer indices than the rank names the shape and the count.
// expect: wrong number of indices: a tensor takes exactly one index per dimension
// expect: index_count_equals_rank<einvit::Shape<2, 3, 4>, 2>
#include <einvit/einvit.hpp>

int main() {
    einvit::Tensor<float, einvit::Shape<2, 3, 4>> t;
#ifdef EINVIT_COMPILE_FAIL
    return static_cast<int>(t(1, 2));
#else
    return static_cast<int>(t(1, 2, 3));
#endif
}
