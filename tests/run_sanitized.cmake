# Runs the sanitizer build's tests (DIR: its tests/ folder; SEEDS: the fuzz seeds; GOLDEN: the parity tests' checkpoints):
# the unit tests, the safetensors reader's tests, the weight image tests and the fuzz replays of the reader, of the loader
# and of the image path (the seeds, the checkpoints, and every input that once crashed them). A sanitizer report makes the
# program exit non-zero.
set(ENV{ASAN_OPTIONS} "detect_leaks=1:abort_on_error=0")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
# one program per entry, its arguments after "|"
set(programs "einvit_unit" "einvit_safetensors_tests" "einvit_weight_image_tests"
             "einvit_fuzz_safetensors_replay|${SEEDS}/safetensors|${REGRESSIONS}/safetensors"
             "einvit_fuzz_load_replay|${SEEDS}/load|${GOLDEN}")
if(EXISTS ${REGRESSIONS}/load)  # (no input has broken the load target yet: the folder comes with the first)
  list(APPEND programs "einvit_fuzz_load_replay|${REGRESSIONS}/load")
endif()
if(EXISTS ${DIR}/einvit_fuzz_image_replay)
  list(APPEND programs "einvit_fuzz_image_replay|${SEEDS}/image|${REGRESSIONS}/image")
endif()
foreach(entry IN LISTS programs)
  string(REPLACE "|" ";" cmd "${entry}")
  list(POP_FRONT cmd exe)
  set(args ${cmd})
  execute_process(COMMAND ${DIR}/${exe} ${args} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${exe} failed under the sanitizers (${status}):\n${out}\n${err}")
  endif()
  string(REGEX MATCH "[^\n]*(test cases|inputs replayed)[^\n]*" summary "${out}")
  message(STATUS "${exe}: ${summary}")
endforeach()
