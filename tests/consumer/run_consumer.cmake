# Builds and runs tests/consumer against einvit: -DMODE=find_package|add_subdirectory
# -DEINVIT_SOURCE_DIR=... -DWORK_DIR=... -DCXX=... -P run_consumer.cmake
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}")
  endif()
  message(STATUS "${out}")
endfunction()

set(consumer_args -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "find_package")
  # Configure einvit alone, install it into a prefix, then find it from there.
  run(${CMAKE_COMMAND} -S ${EINVIT_SOURCE_DIR} -B ${WORK_DIR}/einvit-build -DCMAKE_CXX_COMPILER=${CXX}
      -DEINVIT_BUILD_TESTS=OFF -DEINVIT_BUILD_BENCH=OFF -DEINVIT_BUILD_EXAMPLES=OFF
      -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/einvit-build)
  if(NOT EXISTS ${WORK_DIR}/prefix/include/einvit/einvit.hpp)
    message(FATAL_ERROR "cmake --install did not install einvit/einvit.hpp")
  endif()
  list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCONSUMER_MODE=find_package)
else()
  list(APPEND consumer_args -DCONSUMER_MODE=add_subdirectory -DEINVIT_SOURCE_DIR=${EINVIT_SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR} -B ${WORK_DIR}/consumer-build ${consumer_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
run(${WORK_DIR}/consumer-build/consumer)
