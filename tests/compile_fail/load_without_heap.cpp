// In a build without a heap (EINVIT_NO_HEAP), loading a checkpoint, which allocates its tables, is a
// compile error that says what to do instead; the same program reading a weight image compiles.
// expect: this build has no heap \(EINVIT_NO_HEAP\)
// expect: read it with try_from_weight_image
#define EINVIT_NO_HEAP
#include <einvit/einvit.hpp>
#ifdef EINVIT_COMPILE_FAIL
#include <einvit/vit/load.hpp>
#endif

using Model = einvit::vit::VisionTransformer<einvit::vit::presets::vit_tiny_patch16_224>;

int main() {
    static_assert(!EINVIT_HEAP && !EINVIT_THREADS, "no heap, and so no threads");
    alignas(64) static unsigned char image[64];
    auto model = Model::try_from_weight_image(image, sizeof image);  // refused: not a weight image
    return model.has_value() ? 1 : 0;
}
