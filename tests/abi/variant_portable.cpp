// abi.mixed_builds: the portable variant (its flags are in tests/CMakeLists.txt).
#define EINVIT_ABI_TEST_VARIANT einvit_abi_portable
#include "variant.hpp"
