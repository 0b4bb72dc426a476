# Runs PROGRAM with ARG and requires it to end abnormally (an abort, not exit 0) having printed a line
# that matches EXPECT on standard error: cmake -DPROGRAM=... -DARG=... -DEXPECT=... -P expect_abort.cmake
execute_process(COMMAND ${PROGRAM} ${ARG} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "exit: ${status}\nstdout: ${out}\nstderr: ${err}")
# an abort is reported as a string ("Child aborted" or "Subprocess aborted"); an exit, even a failing one,
# as a number
if(status MATCHES "^[0-9]+$" OR NOT status MATCHES "abort")
  message(FATAL_ERROR "${PROGRAM} ${ARG} ended with '${status}'; it should have aborted")
endif()
if(NOT err MATCHES "${EXPECT}")
  message(FATAL_ERROR "${PROGRAM} ${ARG}: standard error does not match '${EXPECT}'")
endif()
