# Runs BIN with ARGS (a list) and requires exit status 0 and standard output matching EXPECT (a regular
# expression); FORBID, when given, must match neither standard output nor standard error. (A test's
# PASS_REGULAR_EXPRESSION alone ignores the exit status: a program that printed the right line and then
# failed or crashed would pass.)
#   cmake -DBIN=... "-DARGS=a;b" -DEXPECT=... [-DFORBID=...] -P expect_output.cmake
execute_process(COMMAND ${BIN} ${ARGS} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "exit: ${status}\nstdout: ${out}\nstderr: ${err}")
if(NOT status STREQUAL "0")
  message(FATAL_ERROR "${BIN} exited with status '${status}', expected 0")
endif()
if(NOT out MATCHES "${EXPECT}")
  message(FATAL_ERROR "standard output does not match '${EXPECT}'")
endif()
if(DEFINED FORBID AND (out MATCHES "${FORBID}" OR err MATCHES "${FORBID}"))
  message(FATAL_ERROR "the output matches '${FORBID}'")
endif()
