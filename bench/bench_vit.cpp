// A whole ViT forward pass: ViT-Ti/16 and ViT-S/16 (timm's configs, random weights: the time does not
// depend on their values) at one image and at batch 8, and the first 1 and 4 images of a batch built
// for 8 (forward_into_first), which should cost what that many images do, not the batch's 8. Images/s
// per row; --threads=N as the other benchmarks (default: every hardware thread).
//
// start/*: the time from a file to a model's first logits (one image), for ViT-S/16: from a timm
// safetensors checkpoint (open, convert, pack, then the pass) and from the model's weight image (map,
// check, the pass reading the weights in place). Both files are written to the temporary directory
// first, so both come from the page cache.
//
//     build/bench/einvit_bench_vit --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <einvit/einvit.hpp>

#include <einvit/vit/load.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "../tests/vit/random_weights.hpp"
#include "bench_common.hpp"

namespace {

int g_threads = 0;

// `count` images of a batch built for B: forward_into<B> when count == B, forward_into_first otherwise
template <einvit::vit::Config C, std::size_t B>
void BM_vit(benchmark::State& state) {
    using Model = einvit::vit::VisionTransformer<C>;
    static const Model model = [] {
        auto m = Model::try_create(einvit_test::random_weights<C>());
        if (!m) {
            std::fprintf(stderr, "%s\n", m.failure().what());
            std::exit(1);
        }
        return std::move(m).value();
    }();
    const std::size_t count = static_cast<std::size_t>(state.range(0));
    std::vector<float> image(B * C.channels * C.image_height * C.image_width);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> pixel(-1.0f, 1.0f);
    for (float& p : image) p = pixel(rng);
    typename Model::template Output<B> out;
    typename Model::template Workspace<B> workspace;
    const typename Model::template Input<B> input(image.data());
    for (auto _ : state) {
        if (count == B)
            model.template forward_into<B>(input, out, workspace);
        else
            model.template forward_into_first<B>(count, input, out, workspace);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["images/s"] = benchmark::Counter(static_cast<double>(count), benchmark::Counter::kIsIterationInvariantRate);
}

constexpr auto tiny = einvit::vit::presets::vit_tiny_patch16_224;
constexpr auto small = einvit::vit::presets::vit_small_patch16_224;

// A timm checkpoint of config C with random values (float32), written to `path` in the safetensors format.
template <einvit::vit::Config C>
void write_timm_checkpoint(const std::string& path) {
    using Model = einvit::vit::VisionTransformer<C>;
    constexpr std::size_t D = Model::D, I = Model::I, MLP = Model::MLP;
    struct Table {
        std::string name;
        std::vector<std::size_t> shape;
    };
    std::vector<Table> tables = {{"patch_embed.proj.weight", {D, C.channels, C.patch, C.patch}}, {"patch_embed.proj.bias", {D}},
                                 {"cls_token", {1, 1, D}}, {"pos_embed", {1, Model::T, D}}};
    for (std::size_t l = 0; l < C.depth; ++l) {
        const std::string b = "blocks." + std::to_string(l) + ".";
        for (const char* n : {"norm1", "norm2"}) {
            tables.push_back({b + n + ".weight", {D}});
            tables.push_back({b + n + ".bias", {D}});
        }
        for (const auto& [n, out, in] : {std::tuple{"attn.qkv", 3 * I, D}, {"attn.proj", D, I}, {"mlp.fc1", MLP, D}, {"mlp.fc2", D, MLP}}) {
            tables.push_back({b + n + ".weight", {out, in}});
            tables.push_back({b + n + ".bias", {out}});
        }
    }
    tables.insert(tables.end(), {{"norm.weight", {D}}, {"norm.bias", {D}}, {"head.weight", {C.num_classes, D}}, {"head.bias", {C.num_classes}}});
    std::string header = "{";
    std::size_t offset = 0;
    for (const Table& t : tables) {
        std::size_t count = 1;
        std::string shape;
        for (std::size_t e : t.shape) {
            count *= e;
            shape += (shape.empty() ? "" : ",") + std::to_string(e);
        }
        header += (header.size() > 1 ? "," : "") + ("\"" + t.name + "\":{\"dtype\":\"F32\",\"shape\":[" + shape +
                                                       "],\"data_offsets\":[" + std::to_string(offset) + "," +
                                                       std::to_string(offset + 4 * count) + "]}");
        offset += 4 * count;
    }
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::vector<float> values(offset / 4);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    for (float& v : values) v = normal(rng);
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    const std::uint64_t n = header.size();
    const bool ok = fp && std::fwrite(&n, 8, 1, fp) == 1 && std::fwrite(header.data(), 1, n, fp) == n &&
                    std::fwrite(values.data(), 4, values.size(), fp) == values.size();
    if (!fp || std::fclose(fp) != 0 || !ok) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        std::exit(1);
    }
}

// The two files of BM_start, written once.
template <einvit::vit::Config C>
const std::string& start_file(bool image) {
    static const std::string dir = (std::filesystem::temp_directory_path() / "einvit_bench_start").string();
    static const std::string checkpoint = dir + "/model.safetensors", weights = dir + "/model.einvit";
    static const bool written = [] {
        std::filesystem::create_directories(dir);
        write_timm_checkpoint<C>(checkpoint);
        const auto model = einvit::vit::load<C>(einvit::io::SafeTensors::open(checkpoint), einvit::vit::Family::timm);
        einvit::vit::WeightImageFile::write(weights, model.weight_image());
        return true;
    }();
    (void)written;
    return image ? weights : checkpoint;
}

// From a file to the first image's logits: arg 0 from the safetensors checkpoint, 1 from the weight image.
template <einvit::vit::Config C>
void BM_start(benchmark::State& state) {
    using Model = einvit::vit::VisionTransformer<C>;
    const bool image = state.range(0) != 0;
    const std::string& path = start_file<C>(image);
    std::vector<float> pixels(Model::template Input<1>::size(), 0.25f);
    typename Model::template Output<1> out;
    typename Model::template Workspace<1> workspace;
    for (auto _ : state) {
        if (image) {
            const auto file = einvit::vit::WeightImageFile::open(path);
            const Model model = Model::from_weight_image(file);
            model.template forward_into<1>(typename Model::template Input<1>(pixels.data()), out, workspace);
        } else {
            const Model model = einvit::vit::load<C>(einvit::io::SafeTensors::open(path), einvit::vit::Family::timm);
            model.template forward_into<1>(typename Model::template Input<1>(pixels.data()), out, workspace);
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
}

// One image's pass, steadily, of a model over its mapped weight image (the file's pages, not the loaded
// model's huge pages): against vit_small/batch_1.
template <einvit::vit::Config C>
void BM_image_pass(benchmark::State& state) {
    using Model = einvit::vit::VisionTransformer<C>;
    static const auto file = einvit::vit::WeightImageFile::open(start_file<C>(true));
    static const Model model = Model::from_weight_image(file);
    std::vector<float> pixels(Model::template Input<1>::size(), 0.25f);
    typename Model::template Output<1> out;
    typename Model::template Workspace<1> workspace;
    for (auto _ : state) {
        model.template forward_into<1>(typename Model::template Input<1>(pixels.data()), out, workspace);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
}

}  // namespace

BENCHMARK(BM_vit<tiny, 1>)->Name("vit_tiny/batch_1")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<tiny, 8>)->Name("vit_tiny/batch_8")->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<tiny, 8>)->Name("vit_tiny/first_1_of_8")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<tiny, 8>)->Name("vit_tiny/first_4_of_8")->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<small, 1>)->Name("vit_small/batch_1")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_vit<small, 8>)->Name("vit_small/first_1_of_8")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_image_pass<small>)->Name("vit_small/batch_1_over_weight_image")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_start<small>)->Name("start/vit_small_from_safetensors")->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_start<small>)->Name("start/vit_small_from_weight_image")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
    std::vector<char*> args = einvit_bench::take_threads(argc, argv, g_threads);
    if (g_threads > 0) einvit::set_num_threads(static_cast<std::size_t>(g_threads));
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
