// What the Cortex-M example's start-up code gives its program (startup.cpp).
#pragma once

#include <cstddef>

namespace board {
/// The program, run by the reset handler once the C++ run time is set up; its result is the exit status.
int program();
/// Writes a line of text to the host (semihosting).
void print(const char* text);
/// How often something asked the C library for heap memory (there is none; every request failed).
std::size_t heap_requests();
/// The deepest the stack has been, in bytes, and its size.
std::size_t stack_used();
std::size_t stack_size();
/// .data and .bss, in bytes.
std::size_t static_ram();
}  // namespace board
