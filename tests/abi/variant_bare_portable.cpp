// abi.mixed_builds: the bare_portable variant (its flags are in tests/CMakeLists.txt).
#define EINVIT_ABI_TEST_VARIANT einvit_abi_bare_portable
#include "variant.hpp"
