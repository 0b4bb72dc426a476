# The kernels' unit tests built for aarch64 (NEON through xsimd) with a cross compiler and run under
# qemu-user: cmake -DCXX=aarch64-linux-gnu-g++ -DQEMU=qemu-aarch64 -DSOURCES=a.cpp;b.cpp
# -DINCLUDE=<einvit's include/> -DXSIMD=<dir holding xsimd/> -DDOCTEST=<dir holding doctest/>
# -DGOLDEN=<tests/golden> -DWORK=<scratch dir> [-DEXCLUDE=<doctest test-case patterns, comma-separated>]
# -P cross_aarch64.cmake
# (and the no-heap example built for aarch64 without NEON: see the end)
#
# xsimd and doctest are header-only, so the host's copies serve; they are linked into a directory of
# their own, since the host's whole include directory would hide the cross C library's headers.
# EINVIT_USE_XSIMD=1 makes a missing xsimd an error rather than a silent scalar build.
foreach(var CXX QEMU SOURCES INCLUDE XSIMD DOCTEST GOLDEN WORK)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "cross_aarch64.cmake: -D${var}= is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORK}/include)
file(CREATE_LINK ${XSIMD}/xsimd ${WORK}/include/xsimd SYMBOLIC)
file(CREATE_LINK ${DOCTEST}/doctest ${WORK}/include/doctest SYMBOLIC)

set(flags -std=c++20 -O2 -DNDEBUG -DEINVIT_USE_XSIMD=1 "-DEINVIT_GOLDEN_DIR=\"${GOLDEN}\""
          -Wall -Wextra -Wpedantic -Werror -I${INCLUDE} -isystem ${WORK}/include)
set(objects "")
foreach(src IN LISTS SOURCES)
  get_filename_component(name ${src} NAME_WE)
  set(obj ${WORK}/${name}.o)
  execute_process(COMMAND ${CXX} ${flags} -c ${src} -o ${obj} RESULT_VARIABLE status ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${src} does not compile for aarch64:\n${err}")
  endif()
  list(APPEND objects ${obj})
endforeach()
execute_process(COMMAND ${CXX} ${objects} -o ${WORK}/einvit_unit_aarch64 -lpthread RESULT_VARIABLE status ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "linking the aarch64 unit tests failed:\n${err}")
endif()

# The C library the cross compiler links against, for qemu's -L (its sysroot).
execute_process(COMMAND ${CXX} -print-sysroot OUTPUT_VARIABLE sysroot OUTPUT_STRIP_TRAILING_WHITESPACE)
if(sysroot STREQUAL "" OR sysroot STREQUAL "/")
  get_filename_component(cxx_name ${CXX} NAME)
  string(REGEX REPLACE "-g\\+\\+.*$" "" triple ${cxx_name})
  set(sysroot /usr/${triple})
endif()
set(run ${QEMU} -L ${sysroot} ${WORK}/einvit_unit_aarch64)
if(DEFINED EXCLUDE AND NOT EXCLUDE STREQUAL "")
  list(APPEND run "--test-case-exclude=${EXCLUDE}")
endif()
execute_process(COMMAND ${run} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the aarch64 unit tests failed under qemu (exit ${status})")
endif()

# An aarch64 target without NEON (-march=armv8-a+nosimd, as a core without Advanced SIMD): xsimd is
# there but has no instruction set for it, so einvit takes its scalar kernels by itself, and the
# no-heap example builds warning-free without exceptions and runs.
get_filename_component(root ${INCLUDE} DIRECTORY)
execute_process(COMMAND ${CXX} -std=c++20 -O2 -march=armv8-a+nosimd -fno-exceptions -fno-rtti -Wall -Wextra -Wpedantic -Werror
                        -I${INCLUDE} -isystem ${WORK}/include ${root}/examples/no_heap.cpp ${root}/examples/count_heap.cpp
                        -o ${WORK}/no_heap_nosimd -lpthread
                RESULT_VARIABLE status ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the no-heap example does not build for aarch64 without NEON:\n${err}")
endif()
execute_process(COMMAND ${QEMU} -L ${sysroot} ${WORK}/no_heap_nosimd RESULT_VARIABLE status OUTPUT_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the no-heap example failed for aarch64 without NEON (exit ${status}):\n${out}")
endif()
message(STATUS "aarch64 without NEON: the no-heap example built (scalar kernels) and ran")
