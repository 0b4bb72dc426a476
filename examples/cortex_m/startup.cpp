// The Cortex-M example's start-up code, in place of a vendor's: the vector table, the reset handler
// (the FPU turned on, .data copied from flash, .bss zeroed, the stack painted to measure its use,
// static constructors run, then the program) and the few services the program needs from the outside
// world, through Arm semihosting (QEMU's `-semihosting`, or a debug probe): a line of text out, and
// the exit status (also of exit() and abort(), and of an error einvit raises: board_fatal_error).
// There is no heap: _sbrk refuses every request and counts it, so the program can tell that nothing
// asked for one.
#include <cstddef>
#include <cstdint>

#include "board.hpp"

extern "C" {
extern std::uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern std::uint32_t __stack_limit[], __stack_top[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
[[noreturn]] void reset_handler();
[[noreturn]] void fault_handler();
void* _sbrk(std::ptrdiff_t increment);
[[noreturn]] void _exit(int status);
// what static objects' destructors are registered against (never run: the program does not return)
void* __dso_handle = nullptr;
}
// what einvit calls for an error raised without exceptions (-DEINVIT_FATAL_ERROR_HANDLER=board_fatal_error)
[[noreturn]] void board_fatal_error(const char* kind, const char* what) noexcept;

namespace {
constexpr std::uint32_t stack_paint = 0xA5A5A5A5u;
std::size_t heap_requests_ = 0;

enum : std::uint32_t { sys_write0 = 0x04, sys_exit = 0x18 };
enum : std::uint32_t { stopped_application_exit = 0x20026, stopped_runtime_error = 0x20023 };

std::uint32_t semihost(std::uint32_t op, const void* arg) {
    register std::uint32_t r0 asm("r0") = op;
    register const void* r1 asm("r1") = arg;
    asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

[[noreturn]] void exit_with(int status) {
    // 32-bit semihosting's exit carries a reason, not a code: a normal exit is 0, anything else 1
    semihost(sys_exit, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(
                           status == 0 ? stopped_application_exit : stopped_runtime_error)));
    for (;;) asm volatile("wfi");
}
}  // namespace

namespace board {
void print(const char* text) { semihost(sys_write0, text); }
std::size_t heap_requests() { return heap_requests_; }
std::size_t stack_used() {
    const std::uint32_t* p = __stack_limit;
    while (p < __stack_top && *p == stack_paint) ++p;
    return static_cast<std::size_t>(__stack_top - p) * sizeof(std::uint32_t);
}
std::size_t stack_size() { return static_cast<std::size_t>(__stack_top - __stack_limit) * sizeof(std::uint32_t); }
std::size_t static_ram() { return static_cast<std::size_t>(__bss_end - __data_start) * sizeof(std::uint32_t); }
}  // namespace board

// the C library's heap grows through _sbrk; on this board there is none
void* _sbrk(std::ptrdiff_t) {
    ++heap_requests_;
    return reinterpret_cast<void*>(-1);
}

// where the C library's exit() and abort() end: the host is told, rather than the processor spinning
void _exit(int status) { exit_with(status); }

void board_fatal_error(const char* kind, const char* what) noexcept {
    board::print("einvit: ");
    board::print(kind);
    board::print(": ");
    board::print(what);
    board::print("\n");
    exit_with(1);
}

struct VectorTable {
    void* initial_stack;
    void (*handlers[15])();
};

// Cortex-M starts by loading the stack pointer and the reset handler from address 0
extern "C" __attribute__((section(".vectors"), used)) const VectorTable einvit_vectors = {
    __stack_top,
    {reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler, nullptr, nullptr,
     nullptr, nullptr, fault_handler, fault_handler, nullptr, fault_handler, fault_handler}};

void fault_handler() {
    board::print("fault: the processor took an exception (hard fault, bus, memory or usage fault)\n");
    exit_with(1);
}

void reset_handler() {
    // CP10 and CP11 (the FPU) full access, before any floating-point instruction
    volatile std::uint32_t& cpacr = *reinterpret_cast<volatile std::uint32_t*>(0xE000ED88u);
    cpacr = cpacr | (0xFu << 20);
    asm volatile("dsb\n\tisb" ::: "memory");
    for (std::uint32_t *from = __data_load, *to = __data_start; to < __data_end;) *to++ = *from++;
    for (std::uint32_t* p = __bss_start; p < __bss_end; ++p) *p = 0;
    // paint the stack below what this function uses, to find its deepest use afterwards
    std::uint32_t* sp;
    asm volatile("mov %0, sp" : "=r"(sp));
    for (std::uint32_t* p = __stack_limit; p < sp - 64; ++p) *p = stack_paint;
    for (auto* init = __init_array_start; init != __init_array_end; ++init) (*init)();
    exit_with(board::program());
}
