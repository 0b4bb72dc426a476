// einvit built as for a bare-metal target, with -fno-exceptions -fno-rtti (tests/CMakeLists.txt):
// the result-returning forms report errors as values, and a checked operation that fails prints its
// error and aborts. `no_exceptions MODEL` runs the first part (MODEL: the Fashion-MNIST model the
// repository ships) and exits 0; `no_exceptions abort` calls at() past the end, which must print the
// error and abort (the tests check both).
#include <einvit/einvit.hpp>
#include <einvit/vit/load.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "../../examples/classify/fashion_mnist_config.hpp"
#include "expect.hpp"

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#error "build this file with -fno-exceptions"
#endif
static_assert(!EINVIT_HAS_EXCEPTIONS);
#if defined(EINVIT_EXPECT_NO_THREADS)  // tests/no_threads.cmake: a standard library without threads
static_assert(!EINVIT_THREADS, "a standard library without gthreads must give EINVIT_THREADS 0");
#endif

// Defined in examples/count_heap.cpp, which replaces the global operator new with a counting one.
std::size_t heap_allocations() noexcept;

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
    // a sharded checkpoint whose index is missing: an error value, not an abort
    auto sharded = einvit::io::ShardedCheckpoint::try_open("/nonexistent/model.safetensors.index.json");
    expect(!sharded.has_value(), "a missing index is an error");
    if (!sharded) std::printf("ShardedCheckpoint::try_open: %s\n", sharded.failure().what());
    // a model: loaded as its family, and refused as another with the missing tensor named
    if (argc > 1) {
        auto model_file = einvit::io::SafeTensors::try_open(argv[1]);
        expect(model_file.has_value(), "the shipped model opens");
        if (model_file) {
            using Model = einvit::vit::VisionTransformer<einvit_examples::fashion_mnist>;
            auto wrong = einvit::vit::try_load<einvit_examples::fashion_mnist>(model_file.value(), einvit::vit::Family::vit_pytorch_simple);
            expect(!wrong.has_value(), "the model as another family is an error");
            if (!wrong) {
                const std::string message = wrong.failure().what();
                std::printf("try_load as vit-pytorch-simple: %s\n", message.c_str());
                expect(message.find("vit-pytorch-simple models have no class token") != std::string::npos, "the error says why");
            }
            // a patch norm asked of a family that has none: the first fault, as a value
            constexpr einvit::vit::Config with_norm = [] {
                einvit::vit::Config c = einvit_examples::fashion_mnist;
                c.patch_norm = true;
                return c;
            }();
            auto no_norm = einvit::vit::try_load<with_norm>(model_file.value(), einvit::vit::Family::timm);
            expect(!no_norm.has_value() && std::string(no_norm.failure().what()).find("timm models have no patch norm") != std::string::npos,
                   "a patch norm for a timm model is an error that says so");
            // weights that do not fit the config: an error from try_create, not an abort in the constructor
            auto unfit = Model::try_create(einvit::vit::Weights{});
            expect(!unfit.has_value() && std::string(unfit.failure().what()).find("the weights have 0 blocks") != std::string::npos,
                   "weights that do not fit are an error from try_create");
            if (!unfit) std::printf("try_create with no weights: %s\n", unfit.failure().what());
            auto model = einvit::vit::try_load<einvit_examples::fashion_mnist>(model_file.value(), einvit::vit::Family::vit_pytorch);
            expect(model.has_value(), "the model loads as vit-pytorch");
            if (model) {
                static float image[28 * 28], logits[10], workspace[Model::workspace_floats<1>];
                for (std::size_t i = 0; i < 28 * 28; ++i) image[i] = static_cast<float>(i % 28) / 28.0f;
                // on one thread the first pass allocates nothing: the workspace holds the kernels' scratch
                einvit::set_num_threads(1);
                const std::size_t before = heap_allocations();
                model.value().forward_into<1>(Model::Input<1>(image), logits, workspace);
                const std::size_t allocations = heap_allocations() - before;
                std::printf("the first forward pass on one thread: %zu heap allocations\n", allocations);
                expect(allocations == 0, "the first forward pass on one thread allocates nothing");
                bool finite = true;
                for (float l : logits) finite = finite && std::isfinite(l);
                expect(finite, "the logits are finite");
            }
        }
    }
    // the kernels run as they do with exceptions
    Tensor<float, Shape<4, 8>> x;
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 8; ++j) x(i, j) = static_cast<float>(i * 8 + j) / 8.0f;
    Tensor<float, Shape<4, 8>> y = einvit::softmax(x);
    float sum = 0.0f;
    for (std::size_t j = 0; j < 8; ++j) sum += y(3, j);
    expect(sum > 0.9999f && sum < 1.0001f, "a softmax row sums to 1");
    std::printf("%s\n", failures() ? "no_exceptions: FAILED" : "no_exceptions: ok");
    return failures() ? 1 : 0;
}
