// The shipped Fashion-MNIST ViT on a bare-metal Cortex-M7 or M4: no operating system, no heap, no
// exceptions, no threads. Its weight image and a few test images are linked into flash (made on the
// host by einvit_cortex_m_pack, a build that packs as this one: einvit's scalar kernels); the model
// reads the image where it lies, and every forward pass runs in a static workspace whose size is a
// compile-time constant. Each image's class and logits go to the host through semihosting, then what
// the program used: flash for the weights, RAM, the deepest stack, and the heap requests (none).
// Built with EINVIT_NO_HEAP, einvit calls no allocator, so none is linked (the test checks the
// program's symbols), and with EINVIT_FATAL_ERROR_HANDLER an error raised without exceptions ends the
// program through startup.cpp's handler rather than printf and abort. (docs/design.md, "Embedded
// targets".)
//
//   arm-none-eabi-g++ -mcpu=cortex-m7 -mfpu=fpv5-sp-d16 -mfloat-abi=hard -std=c++20 -O2 -DNDEBUG
//     -DEINVIT_NO_HEAP -DEINVIT_FATAL_ERROR_HANDLER=board_fatal_error -fno-exceptions -fno-rtti
//     -I include -I examples -DBOARD_DATA='"DIR"' board.cpp board_data.cpp startup.cpp -T board.ld
//     -nostartfiles --specs=nosys.specs -o board.elf
//   qemu-system-arm -M mps2-an500 -nographic -semihosting -kernel board.elf
// (for a Cortex-M4: -mcpu=cortex-m4 -mfpu=fpv4-sp-d16, and QEMU's mps2-an386)
// (tests/cortex_m.cmake does all of it: `ctest -R cortex_m`.)
#include <einvit/einvit.hpp>

#include <cstddef>

#include "board.hpp"
#include "classify/fashion_mnist_config.hpp"
#include "report.hpp"

// The weight image and the images (floats, 4-byte aligned), in flash as they are (board_data.cpp).
extern "C" const unsigned char board_weights[], board_weights_end[];
extern "C" const float board_images[], board_images_end[];

namespace {
using Model = einvit::vit::VisionTransformer<einvit_examples::fashion_mnist>;
constexpr std::size_t image_floats = 28 * 28;

alignas(64) float workspace[Model::workspace_floats<1>];

void say(const einvit::message& text) { board::print(text.c_str()); }
}  // namespace

int board::program() {
    static_assert(!EINVIT_HAS_EXCEPTIONS && !EINVIT_THREADS && !EINVIT_HEAP, "the board has no exceptions, threads or heap");
    const auto bytes = static_cast<std::size_t>(board_weights_end - board_weights);
    auto model = Model::try_from_weight_image(board_weights, bytes);
    if (!model) {
        board::print("weight image: ");
        board::print(model.failure().what());
        board::print("\n");
        // the raising form of the same call ends the program through the fatal-error handler
        (void)Model::from_weight_image(board_weights, bytes);
        board::print("from_weight_image returned\n");  // never
        return 2;
    }
    const auto images = static_cast<std::size_t>(board_images_end - board_images) / image_floats;
    for (std::size_t i = 0; i < images; ++i) {
        float logits[Model::out_dim];
        // read where it lies in flash, through a view
        model.value().forward_into<1>(Model::Input<1>(board_images + i * image_floats), logits, workspace);
        say(board::result_line(i, logits, Model::out_dim));
    }
    say(einvit::message("weight image in flash: ", bytes, " bytes\n"));
    say(einvit::message("workspace: ", sizeof workspace, " bytes\n"));
    say(einvit::message("static RAM (.data and .bss, the workspace included): ", board::static_ram(), " bytes\n"));
    say(einvit::message("stack: ", board::stack_used(), " of ", board::stack_size(), " bytes used\n"));
    say(einvit::message("heap requests: ", board::heap_requests(), "\n"));
    return images > 0 && board::heap_requests() == 0 ? 0 : 1;
}
