// einvit built as for a bare-metal target, with -fno-exceptions -fno-rtti (tests/CMakeLists.txt):
// the result-returning forms report errors as values, and a checked operation that fails prints its
// error and aborts. `no_exceptions` runs the first part and exits 0; `no_exceptions abort` then calls
// at() past the end, which must print the error and abort (the test checks both).
#include <einvit/einvit.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#error "build this file with -fno-exceptions"
#endif
static_assert(!EINVIT_HAS_EXCEPTIONS);

namespace {
int failures = 0;
void expect(bool ok, const char* what) {
    if (!ok) {
        std::printf("FAILED: %s\n", what);
        ++failures;
    }
}
}  // namespace

int main(int argc, char** argv) {
    using einvit::Shape;
    using einvit::Tensor;
    if (argc > 1 && std::strcmp(argv[1], "abort") == 0) {
        Tensor<float, Shape<2, 3>> t;
        const std::size_t row = std::strlen(argv[1]) - 3;  // 2, known only at run time
        std::printf("reading t.at(%zu, 0)\n", row);
        std::fflush(stdout);
        return static_cast<int>(t.at(row, 0));  // prints the error and aborts
    }
    // a truncated safetensors image: an error value naming the fault, no abort
    const unsigned char truncated[] = {0x40, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    auto file = einvit::io::SafeTensors::try_from_memory(truncated, sizeof truncated, "truncated.safetensors");
    expect(!file.has_value(), "a truncated safetensors image is an error");
    if (!file) {
        const std::string message = file.failure().what();
        std::printf("try_from_memory: %s\n", message.c_str());
        expect(message.find("truncated.safetensors") != std::string::npos, "the error names the file");
        expect(file.failure().kind() == einvit::errc::format, "the error is a format error");
    }
    // an arena too small: an error value, and the arena untouched
    alignas(64) static unsigned char buffer[256];
    einvit::Arena arena(buffer, sizeof buffer);
    auto room = arena.try_allocate(1024);
    expect(!room.has_value(), "1024 bytes do not fit a 256-byte arena");
    if (!room) std::printf("try_allocate: %s\n", room.failure().what());
    expect(arena.used() == 0, "a failed allocation uses nothing");
    // the kernels run as they do with exceptions
    Tensor<float, Shape<4, 8>> x;
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 8; ++j) x(i, j) = static_cast<float>(i * 8 + j) / 8.0f;
    Tensor<float, Shape<4, 8>> y = einvit::softmax(x);
    float sum = 0.0f;
    for (std::size_t j = 0; j < 8; ++j) sum += y(3, j);
    expect(sum > 0.9999f && sum < 1.0001f, "a softmax row sums to 1");
    std::printf("%s\n", failures ? "no_exceptions: FAILED" : "no_exceptions: ok");
    return failures ? 1 : 0;
}
