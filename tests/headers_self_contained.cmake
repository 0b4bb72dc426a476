# Every public header compiles on its own, warning-free: for each HEADER under INCLUDE, a translation
# unit holding only `#include <HEADER>` is compiled (syntax only) with CXX and FLAGS (a list).
file(GLOB_RECURSE headers RELATIVE ${INCLUDE} ${INCLUDE}/einvit/*.hpp)
list(SORT headers)
set(failed "")
foreach(h IN LISTS headers)
  if(h MATCHES "/eigen\\.hpp$" AND NOT EIGEN)
    continue()  # the Eigen backend, where Eigen is not installed
  endif()
  set(tu ${WORK}/self_contained.cpp)
  file(WRITE ${tu} "#include <${h}>\n")
  execute_process(COMMAND ${CXX} ${FLAGS} -I${INCLUDE} ${EIGEN} -fsyntax-only ${tu}
                  RESULT_VARIABLE status ERROR_VARIABLE err OUTPUT_VARIABLE out)
  if(NOT status EQUAL 0)
    list(APPEND failed ${h})
    message("${h} does not compile on its own:\n${err}")
  endif()
endforeach()
list(LENGTH headers n)
if(failed)
  message(FATAL_ERROR "not self-contained: ${failed}")
endif()
message(STATUS "${n} headers compile on their own")
