// abi.mixed_builds: the bare variant (its flags are in tests/CMakeLists.txt).
#define EINVIT_ABI_TEST_VARIANT einvit_abi_bare
#include "variant.hpp"
