// einvit-dispatch: the model built for x86_64_v3 (the flags are in examples/CMakeLists.txt).
#define DISPATCH_LOAD load_x86_64_v3
#define DISPATCH_CLASSIFY classify_x86_64_v3
#define DISPATCH_ABI abi_x86_64_v3
#include "variant.hpp"
