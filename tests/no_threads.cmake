# einvit with a standard library built without threads, as bare-metal toolchains build libstdc++
# (no gthreads: no std::thread, std::mutex): the host compiler given a copy of its own bits/c++config.h
# with _GLIBCXX_HAS_GTHREADS taken out. The no-exceptions program (arena, loaders, kernels, the shipped
# model), the no-heap example (also from the single header) and the weight image example (the shipped
# model with no heap) must build warning-free without threads and exceptions, and run.
#   cmake -DCXX=g++ -DROOT=<source tree> -DMODEL=<shipped model> -DWORK=<scratch dir> -P no_threads.cmake
cmake_minimum_required(VERSION 3.21)  # (list() keeps empty elements)
foreach(var CXX ROOT MODEL WORK)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "no_threads.cmake: -D${var}= is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORK}/bits)
file(WRITE ${WORK}/probe.cpp "#include <cstddef>\n")
execute_process(COMMAND ${CXX} -std=c++20 -M ${WORK}/probe.cpp OUTPUT_VARIABLE deps RESULT_VARIABLE status)
string(REGEX MATCH "[^ \\\\\n]*/bits/c\\+\\+config\\.h" config "${deps}")
if(NOT status EQUAL 0 OR config STREQUAL "")
  message(FATAL_ERROR "no_threads.cmake: cannot find the compiler's bits/c++config.h (not libstdc++?)")
endif()
file(READ ${config} text)
string(REGEX REPLACE "\n#define _GLIBCXX_HAS_GTHREADS 1\n" "\n" without "${text}")
if(without STREQUAL text)
  message(FATAL_ERROR "no_threads.cmake: ${config} does not define _GLIBCXX_HAS_GTHREADS")
endif()
file(WRITE ${WORK}/bits/c++config.h "${without}")

set(flags -std=c++20 -O2 -Wall -Wextra -Wpedantic -Werror -fno-exceptions -fno-rtti -I${WORK} -DEINVIT_EXPECT_NO_THREADS)
# name | the headers (include/, or the single header) | sources | arguments | what it must print
foreach(program "no_exceptions|${ROOT}/include|${ROOT}/tests/no_exceptions/no_exceptions.cpp,${ROOT}/examples/count_heap.cpp|${MODEL}|no_exceptions: ok"
                "no_heap|${ROOT}/include|${ROOT}/examples/no_heap.cpp,${ROOT}/examples/count_heap.cpp||"
                "no_heap_single_header|${ROOT}/single_include|${ROOT}/examples/no_heap.cpp,${ROOT}/examples/count_heap.cpp||"
                "weight_image|${ROOT}/include|${ROOT}/examples/weight_image.cpp,${ROOT}/examples/count_heap.cpp|${MODEL},${WORK}/model.einvit|heap allocations: 0\n")
  string(REPLACE "|" ";" parts "${program}")
  list(POP_FRONT parts name headers sources)
  string(REPLACE "," ";" sources "${sources}")
  execute_process(COMMAND ${CXX} ${flags} -I${headers} ${sources} -o ${WORK}/${name} RESULT_VARIABLE status ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${name} does not build without threads:\n${err}")
  endif()
  list(GET parts 0 args)
  string(REPLACE "," ";" args "${args}")
  list(GET parts 1 expect)
  execute_process(COMMAND ${WORK}/${name} ${args} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0 OR NOT out MATCHES "${expect}")
    message(FATAL_ERROR "${name} built without threads failed (${status}):\n${out}\n${err}")
  endif()
  message(STATUS "${name}: built without threads and ran")
endforeach()
