# The shipped model on bare-metal Cortex-M7 and Cortex-M4 cores (examples/cortex_m/): built with
# arm-none-eabi-g++ (no operating system, no exceptions, no threads, no heap, einvit's scalar kernels),
# run on QEMU's mps2-an500 and mps2-an386 boards, and compared with the same forward passes on the host.
#   cmake -DCXX=arm-none-eabi-g++ -DSIZE=arm-none-eabi-size -DNM=arm-none-eabi-nm -DQEMU=qemu-system-arm -DPACK=<einvit_cortex_m_pack>
#         -DROOT=<source tree> -DWORK=<scratch dir> -P cortex_m.cmake
# PACK writes the weight image, the images and the lines the board must print; the board's lines must
# give the same class, and logits within 2 thousandths of the host's as both print them (rounded to
# thousandths: the board's libm and code generation differ from the host's), the program must ask for no heap, and link no
# allocator, no exception support and no printf (EINVIT_NO_HEAP, and an error handler of its own).
# The M7's program linked with an image packed for 16-float panels must refuse it and say why,
# through the try_ form's error value and through the raising form's handler.
cmake_minimum_required(VERSION 3.21)
foreach(var CXX SIZE NM QEMU PACK ROOT WORK)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "cortex_m.cmake: -D${var}= is required")
  endif()
endforeach()
set(example ${ROOT}/examples/cortex_m)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(GLOB samples ${ROOT}/examples/data/samples/*.png)
list(SORT samples)
execute_process(COMMAND ${PACK} ${ROOT}/examples/data/fashion_mnist_vit.safetensors ${WORK} ${samples}
                RESULT_VARIABLE status OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "einvit_cortex_m_pack failed (${status}):\n${err}")
endif()

# cpu | -mcpu | -mfpu | QEMU's board with that core: the Cortex-M7 (FPU fpv5) and the Cortex-M4 (fpv4)
set(cpus "m7|cortex-m7|fpv5-sp-d16|mps2-an500" "m4|cortex-m4|fpv4-sp-d16|mps2-an386")
# (a regular expression: "." for the ";", which would split the list)
set(refused "einvit::vit: weight image: packed for panels of 16 floats and depth blocks of up to 768. this build packs 2 and 768")
file(STRINGS ${WORK}/expected.txt expected)
list(LENGTH samples count)
list(LENGTH expected lines)
if(NOT lines EQUAL count)
  message(FATAL_ERROR "expected.txt has ${lines} lines for ${count} images")
endif()

foreach(cpu_line IN LISTS cpus)
  string(REPLACE "|" ";" cpu_parts "${cpu_line}")
  list(GET cpu_parts 0 cpu)
  list(GET cpu_parts 1 mcpu)
  list(GET cpu_parts 2 mfpu)
  list(GET cpu_parts 3 machine)
  set(work ${WORK}/${cpu})
  file(MAKE_DIRECTORY ${work})
  set(target -mcpu=${mcpu} -mfpu=${mfpu} -mfloat-abi=hard -mthumb)
  set(flags ${target} -std=c++20 -O2 -DNDEBUG -DEINVIT_NO_HEAP -DEINVIT_FATAL_ERROR_HANDLER=board_fatal_error
            -fno-exceptions -fno-rtti -ffunction-sections -fdata-sections
            -Wall -Wextra -Wpedantic -Werror -I${ROOT}/include -I${ROOT}/examples)
  foreach(source board startup)
    execute_process(COMMAND ${CXX} ${flags} -c ${example}/${source}.cpp -o ${work}/${source}.o
                    RESULT_VARIABLE status ERROR_VARIABLE err)
    if(NOT status EQUAL 0)
      message(FATAL_ERROR "examples/cortex_m/${source}.cpp does not build for a ${mcpu}:\n${err}")
    endif()
  endforeach()

  # name | data folder | exit status | what the output must match (the refused image: on the M7 only)
  set(runs "board|${WORK}|0|heap requests: 0\n")
  if(cpu STREQUAL "m7")
    list(APPEND runs "wrong_packing|${WORK}/wrong_packing|1|weight image: ${refused}.*\neinvit: format error: ${refused}")
  endif()
  foreach(run IN LISTS runs)
    string(REPLACE "|" ";" parts "${run}")
    list(GET parts 0 name)
    list(GET parts 1 data)
    list(GET parts 2 want_status)
    list(GET parts 3 want_output)
    execute_process(COMMAND ${CXX} ${flags} "-DBOARD_DATA=\"${data}\"" -c ${example}/board_data.cpp -o ${work}/${name}_data.o
                    RESULT_VARIABLE status ERROR_VARIABLE err)
    if(NOT status EQUAL 0)
      message(FATAL_ERROR "examples/cortex_m/board_data.cpp (${name}) does not build:\n${err}")
    endif()
    execute_process(COMMAND ${CXX} ${target} ${work}/board.o ${work}/startup.o ${work}/${name}_data.o -T ${example}/board.ld
                            -nostartfiles --specs=nosys.specs -Wl,--gc-sections -o ${work}/${name}.elf
                    RESULT_VARIABLE status ERROR_VARIABLE err)
    if(NOT status EQUAL 0)
      message(FATAL_ERROR "the ${mcpu} program (${name}) does not link (2 MiB of flash, 1 MiB of RAM):\n${err}")
    endif()
    execute_process(COMMAND ${QEMU} -M ${machine} -nographic -monitor none -serial none -semihosting -kernel ${work}/${name}.elf
                    TIMEOUT 300 RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
    string(REPLACE "\r" "" out "${out}")  # semihosting's text comes on standard error, its lines may end with CR LF
    if(NOT status STREQUAL want_status OR NOT out MATCHES "${want_output}")
      message(FATAL_ERROR "the ${mcpu} program (${name}) on QEMU's ${machine}: exit status ${status}, expected ${want_status}, "
                          "and output matching '${want_output}':\n${out}")
    endif()
    set(${name}_output "${out}")
  endforeach()

  # no allocator, no exception support and no printf in the program: einvit calls none of them
  execute_process(COMMAND ${NM} -C ${work}/board.elf OUTPUT_VARIABLE symbols RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${NM} could not read the program's symbols")
  endif()
  string(REGEX MATCHALL "[^\n]* (_?malloc|_malloc_r|_?calloc|_calloc_r|_?realloc|_realloc_r|_?free|_free_r|operator new[^\n]*|operator delete[^\n]*|__cxa_[a-z_]*|__gxx_personality[a-z_0-9]*|_Unwind_[A-Za-z_]*|_?v?[a-z]*printf(_r)?|puts|fputs|abort)\n"
         linked "${symbols}")
  if(linked)
    message(FATAL_ERROR "the ${mcpu} program links what a board without a heap, exceptions or printf should not:\n${linked}")
  endif()

  # each image: the host's class, and every logit within 2 thousandths as printed
  foreach(want IN LISTS expected)
    string(REGEX MATCH "^image ([0-9]+): class ([0-9]+), logits (.*)$" ok "${want}")
    set(index ${CMAKE_MATCH_1})
    set(class ${CMAKE_MATCH_2})
    set(want_logits ${CMAKE_MATCH_3})
    if(NOT ok OR NOT board_output MATCHES "image ${index}: class ([0-9]+), logits ([^\n]*)\n")
      message(FATAL_ERROR "the ${mcpu} printed no result for image ${index}:\n${board_output}")
    endif()
    set(got_class ${CMAKE_MATCH_1})
    set(got_logits ${CMAKE_MATCH_2})
    if(NOT got_class EQUAL class)
      message(FATAL_ERROR "image ${index}: class ${got_class} on the ${mcpu}, ${class} on the host")
    endif()
    string(REPLACE " " ";" want_logits "${want_logits}")
    string(REPLACE " " ";" got_logits "${got_logits}")
    foreach(w g IN ZIP_LISTS want_logits got_logits)
      if(NOT DEFINED g OR NOT DEFINED w)
        message(FATAL_ERROR "image ${index}: the ${mcpu} gave another number of logits than the host")
      endif()
      string(REPLACE "." "" wm "${w}")  # thousandths, as integers
      string(REPLACE "." "" gm "${g}")
      math(EXPR diff "${gm} - ${wm}")
      if(diff GREATER 2 OR diff LESS -2)
        message(FATAL_ERROR "image ${index}: a logit is ${g} on the ${mcpu}, ${w} on the host")
      endif()
    endforeach()
  endforeach()
  execute_process(COMMAND ${SIZE} ${work}/board.elf OUTPUT_VARIABLE size)
  message(STATUS "the ${mcpu} program (QEMU's ${machine}):\n${size}${board_output}")
endforeach()
message(STATUS "with an image packed for AVX-512:\n${wrong_packing_output}")
