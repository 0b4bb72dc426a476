// einvit-dispatch: the model built for x86_64_v4 (the flags are in examples/CMakeLists.txt).
#define DISPATCH_LOAD load_x86_64_v4
#define DISPATCH_CLASSIFY classify_x86_64_v4
#define DISPATCH_ABI abi_x86_64_v4
#include "variant.hpp"
