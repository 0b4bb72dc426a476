// abi.mixed_builds: the native variant (its flags are in tests/CMakeLists.txt).
#define EINVIT_ABI_TEST_VARIANT einvit_abi_native
#include "variant.hpp"
