// einvit-classify: classifies images with a Vision Transformer: by default the one einvit ships (a
// ViT of the seeds' MNIST kind trained on Fashion-MNIST, examples/data/), or an ImageNet-size ViT
// from a timm, torchvision or HF transformers checkpoint given with --model; or runs a whole IDX
// test set.
//
//   einvit-classify [--model FILE] [--arch NAME] [--labels FILE] [--top-k N] [--threads N] [--json]
//                   [--resize N] [--filter bilinear|bicubic] [--mean R,G,B] [--std R,G,B] IMAGE|DIR...
//   einvit-classify [--save-predictions FILE] --eval-idx IMAGES.idx[.gz] LABELS.idx[.gz]
//   einvit-classify [--model FILE] --save-weight-image OUT      (then --weight-image OUT instead of --model)
//
// --model takes one safetensors file, a sharded checkpoint's index (model.safetensors.index.json, the
// shards beside it), or the folder transformers' save_pretrained wrote (its model.safetensors, else its index).
//
// --weight-image FILE runs the model of a weight image (VisionTransformer::weight_image, written by
// --save-weight-image), memory-mapped and read in place: no parsing, converting or packing at start-up.
//
// Images: PNG, JPEG or BMP (decoded as Pillow decodes them, after their signature and size are checked). The
// Fashion-MNIST model takes them grey, resized to 28 x 28 (area average) and normalised as it was
// trained; an ImageNet-size model takes them as its family's pipeline does (models.hpp), which the
// --resize, --filter, --mean and --std options override. Every bad input is one line naming the file
// and the problem, and a non-zero exit status.
#include <einvit/einvit.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

#include <stb_image.h>

#include "fashion_mnist.hpp"
#include "models.hpp"

namespace vit = einvit::vit;

namespace {

using einvit_examples::fashion_mnist;
using Model = vit::VisionTransformer<fashion_mnist>;
using einvit_examples::mean;
using einvit_examples::pixels;
using einvit_examples::side;
using einvit_examples::stdev;

using einvit_examples::Failure;
using einvit_examples::fail;

using einvit_examples::Arch;
using einvit_examples::architectures;
using einvit_examples::choose;
using einvit_examples::Classifier;
using einvit_examples::decode_image;
using einvit_examples::Filter;
using einvit_examples::preprocess;
using einvit_examples::Preprocessing;
using einvit_examples::Signature;

// ---- IDX files (optionally gzip-compressed, as Debian ships them) ----

std::vector<unsigned char> gunzip(const std::vector<unsigned char>& gz, const std::string& path) {
    // RFC 1952 header: magic, method 8, flags; then the deflate stream
    if (gz.size() < 18 || gz[0] != 0x1f || gz[1] != 0x8b || gz[2] != 8) fail(path + ": not a gzip file");
    const unsigned flags = gz[3];
    std::size_t at = 10;
    auto need = [&](std::size_t n) {
        if (at + n > gz.size()) fail(path + ": truncated gzip header");
    };
    if (flags & 4) {
        need(2);
        at += 2 + (gz[at] | (gz[at + 1] << 8));
    }
    for (unsigned bit : {8u, 16u})
        if (flags & bit) {
            while (at < gz.size() && gz[at] != 0) ++at;
            ++at;
        }
    if (flags & 2) at += 2;
    need(8);
    const std::size_t size = gz[gz.size() - 4] | (gz[gz.size() - 3] << 8) | (gz[gz.size() - 2] << 16) |
                             (static_cast<std::size_t>(gz[gz.size() - 1]) << 24);
    // the trailer stays in the input: stb's inflater reads a little past the end of the deflate stream
    if (gz.size() - at > 0x7fffffff || size > 0x40000000) fail(path + ": too large");
    // deflate expands at most 1032 times: a larger size in the trailer is a lie, and nothing is
    // allocated for it; the inflater writes into exactly `size` bytes and stops with an error past them
    if (size > (gz.size() - at) * 1032 + 1024) fail(path + ": corrupt gzip data (its trailer claims " + std::to_string(size) + " bytes)");
    std::vector<unsigned char> data(size);
    const int out_len = stbi_zlib_decode_noheader_buffer(reinterpret_cast<char*>(data.data()), static_cast<int>(size),
                                                         reinterpret_cast<const char*>(gz.data() + at), static_cast<int>(gz.size() - at));
    if (out_len < 0 || static_cast<std::size_t>(out_len) != size) fail(path + ": corrupt gzip data");
    return data;
}

struct Idx {
    std::vector<std::uint32_t> dims;
    std::vector<unsigned char> data;  // the whole file; values start at `offset`
    std::size_t offset = 0;
};

Idx read_idx(const std::string& path, unsigned expected_magic, std::size_t rank) {
    Idx idx;
    idx.data = einvit_examples::read_file(path);
    if (idx.data.size() >= 2 && idx.data[0] == 0x1f && idx.data[1] == 0x8b) idx.data = gunzip(idx.data, path);
    auto be32 = [&](std::size_t at) {
        return (std::uint32_t(idx.data[at]) << 24) | (std::uint32_t(idx.data[at + 1]) << 16) | (std::uint32_t(idx.data[at + 2]) << 8) |
               idx.data[at + 3];
    };
    if (idx.data.size() < 4 + 4 * rank || be32(0) != expected_magic)
        fail(path + ": not an IDX file of " + (rank == 3 ? "images (magic 2051)" : "labels (magic 2049)"));
    std::size_t count = 1;
    bool overflow = false;
    for (std::size_t r = 0; r < rank; ++r) {
        idx.dims.push_back(be32(4 + 4 * r));
        overflow = overflow || (idx.dims.back() != 0 && count > SIZE_MAX / idx.dims.back());
        count *= idx.dims.back();
    }
    idx.offset = 4 + 4 * rank;
    if (overflow) fail(path + ": its header's sizes multiply past any file's size");
    if (idx.data.size() != idx.offset + count)
        fail(path + ": holds " + std::to_string(idx.data.size() - idx.offset) + " bytes of values, its header says " + std::to_string(count));
    return idx;
}

// ---- output ----

std::vector<std::string> read_labels(const std::string& path, std::size_t classes) {
    std::vector<std::string> labels;
    if (path.empty()) {  // no labels file: the class numbers
        for (std::size_t c = 0; c < classes; ++c) labels.push_back("class " + std::to_string(c));
        return labels;
    }
    einvit_examples::require_regular_file(path, std::uintmax_t{64} << 20);
    std::ifstream f(path);
    if (!f) fail(path + ": cannot open labels");
    for (std::string line; std::getline(f, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();  // a file written on Windows
        if (!line.empty()) labels.push_back(line);
    }
    if (labels.size() != classes)
        fail(path + ": " + std::to_string(labels.size()) + " labels, the model has " + std::to_string(classes) + " classes");
    return labels;
}

// The length of the valid UTF-8 sequence at s[i], or 0 where none starts there (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_length(const std::string& s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
    const unsigned c = byte(i);
    const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return byte(k) >= lo && byte(k) <= hi; };
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF)
        return cont(i + 1, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF) && cont(i + 2) ? 3 : 0;
    if (c >= 0xF0 && c <= 0xF4)
        return cont(i + 1, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    return 0;
}

// A JSON string's contents: quotes, backslashes and control characters escaped, and each byte that is
// not part of valid UTF-8 (a file name in another encoding) as U+FFFD, so that the output stays JSON.
std::string json_escape(const std::string& s) {
    std::string o;
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        const std::size_t n = utf8_length(s, i);
        if (n == 0) {
            o += "\\ufffd";
            ++i;
            continue;
        }
        if (n == 1 && (c == '"' || c == '\\')) o += '\\';
        if (n == 1 && static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            o += buf;
        } else {
            o.append(s, i, n);
        }
        i += n;
    }
    return o;
}

void softmax(float* z, std::size_t n) { einvit::kernels::softmax_rows(einvit::reference{}, z, n, z, n, 1, n); }

struct Options {
    std::string model, labels, arch;
    std::string weight_image, save_weight_image;  // --weight-image: the model from one; --save-weight-image: write one
    bool labels_given = false;
    // --resize, --filter, --mean, --std: changes to the architecture's preprocessing
    std::optional<std::size_t> resize;
    std::optional<Filter> filter;
    std::optional<std::array<float, 3>> mean, std;
    Preprocessing pre;  // the architecture's, with those changes: what classify() applies
    bool changes_preprocessing() const { return resize || filter || mean || std; }
    std::size_t top_k = 3;
    bool json = false;
    std::vector<std::string> inputs;
    std::string eval_images, eval_labels;
    std::string predictions;  // --eval-idx: also write each predicted class as one byte here
    std::string save_inputs;  // also write each image's preprocessed input here (float32, C x H x W, one after another)
};

int classify(const Classifier& model, const Arch& arch, const Options& opt, const std::vector<std::string>& labels) {
    std::vector<std::string> files;
    for (const auto& in : opt.inputs) {
        std::error_code ec;
        if (std::filesystem::is_directory(in, ec)) {
            std::vector<std::string> found;
            for (const auto& e : std::filesystem::directory_iterator(in, ec)) {
                std::string ext = e.path().extension().string();
                std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp")) found.push_back(e.path().string());
            }
            if (ec) fail(in + ": cannot list the directory");
            if (found.empty()) fail(in + ": no PNG, JPEG or BMP images in the directory");
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else {
            files.push_back(in);
        }
    }
    const Signature& sig = arch.signature;
    const bool fashion = einvit_examples::is_fashion(arch);
    std::vector<float> input(sig.channels * sig.height * sig.width), logits(sig.classes);
    std::ofstream saved;
    if (!opt.save_inputs.empty()) {
        saved.open(opt.save_inputs, std::ios::binary);
        if (!saved) fail(opt.save_inputs + ": cannot write");
    }
    // --json: the whole array is printed at the end, so that a file that fails half way leaves no
    // half-written JSON on stdout (only the error on stderr)
    std::string json = "[\n";
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (fashion)
            einvit_examples::load_grey_28(files[i], input.data());
        else
            preprocess(decode_image(files[i], static_cast<int>(sig.channels)), opt.pre, sig.height, sig.width, input.data());
        if (saved.is_open()) {
            saved.write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(input.size() * sizeof(float)));
            if (!saved) fail(opt.save_inputs + ": cannot write");
        }
        model.logits(input.data(), logits.data());
        softmax(logits.data(), sig.classes);
        std::vector<std::size_t> order(sig.classes);
        for (std::size_t c = 0; c < order.size(); ++c) order[c] = c;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
        const std::size_t k = std::min(opt.top_k, order.size());
        if (opt.json) {
            json += "  {\"file\": \"" + json_escape(files[i]) + "\", \"top\": [";
            for (std::size_t j = 0; j < k; ++j) {
                char probability[32];
                std::snprintf(probability, sizeof probability, "%.8g", static_cast<double>(logits[order[j]]));
                json += std::string(j ? ", " : "") + "{\"label\": \"" + json_escape(labels[order[j]]) + "\", \"class\": " +
                        std::to_string(order[j]) + ", \"probability\": " + probability + "}";
            }
            json += std::string("]}") + (i + 1 < files.size() ? "," : "") + "\n";
        } else {
            std::printf("%s:", files[i].c_str());
            for (std::size_t j = 0; j < k; ++j) std::printf("%s %s %.1f%%", j ? "," : "", labels[order[j]].c_str(), 100.0 * logits[order[j]]);
            std::printf("\n");
        }
    }
    if (opt.json) std::fputs((json + "]\n").c_str(), stdout);
    return 0;
}

int evaluate(const Model& model, const Options& opt, const std::vector<std::string>& labels) {
    // the shipped model's batched path: 28 x 28 grey images, 50 at a time
    const Idx images = read_idx(opt.eval_images, 2051, 3);
    const Idx truth = read_idx(opt.eval_labels, 2049, 1);
    if (images.dims[1] != side || images.dims[2] != side)
        fail(opt.eval_images + ": images are " + std::to_string(images.dims[1]) + " x " + std::to_string(images.dims[2]) + ", the model takes 28 x 28");
    const std::size_t n = images.dims[0];
    if (n == 0) fail(opt.eval_images + ": holds no images");
    if (truth.dims[0] != n) fail(opt.eval_labels + ": " + std::to_string(truth.dims[0]) + " labels for " + std::to_string(n) + " images");
    constexpr std::size_t B = 50;
    std::vector<float> input(B * pixels);
    Model::Output<B> logits;        // B x 10
    Model::Workspace<B> workspace;  // sizes checked at compile time by forward_into
    std::vector<std::size_t> confusion(fashion_mnist.num_classes * fashion_mnist.num_classes, 0);
    std::size_t correct = 0;
    std::vector<unsigned char> predictions;
    predictions.reserve(n);
    const bool tty = isatty(2) != 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i0 = 0; i0 < n; i0 += B) {
        const std::size_t count = std::min(B, n - i0);
        for (std::size_t i = 0; i < count * pixels; ++i) {
            const std::size_t img = i0 + i / pixels;
            input[i] = (static_cast<float>(images.data[images.offset + img * pixels + i % pixels]) / 255.0f - mean) / stdev;
        }
        model.forward_into_first<B>(count, Model::Input<B>(input.data()), logits, workspace);  // a short last batch costs its images
        for (std::size_t b = 0; b < count; ++b) {
            const float* z = logits.data() + b * fashion_mnist.num_classes;
            const std::size_t predicted = static_cast<std::size_t>(std::max_element(z, z + fashion_mnist.num_classes) - z);
            const std::size_t actual = truth.data[truth.offset + i0 + b];
            if (actual >= fashion_mnist.num_classes) fail(opt.eval_labels + ": label " + std::to_string(actual) + " out of range");
            correct += predicted == actual;
            predictions.push_back(static_cast<unsigned char>(predicted));
            ++confusion[actual * fashion_mnist.num_classes + predicted];
        }
        const std::size_t done = i0 + count;
        if (tty) {
            const int width = 40, filled = static_cast<int>(width * done / n);
            std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu", filled, "========================================", width - filled, "", done, n);
        } else if (done % 2000 == 0 || done == n) {
            std::fprintf(stderr, "%zu/%zu images\n", done, n);
        }
    }
    if (tty) std::fprintf(stderr, "\n");
    if (!opt.predictions.empty()) {
        std::ofstream out(opt.predictions, std::ios::binary);
        out.write(reinterpret_cast<const char*>(predictions.data()), static_cast<std::streamsize>(predictions.size()));
        out.close();  // the bytes reach the file (or fail to: a full disk) here, not at the write
        if (!out) fail(opt.predictions + ": cannot write");
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("accuracy: %.2f%% (%zu of %zu)\n", 100.0 * static_cast<double>(correct) / static_cast<double>(n), correct, n);
    std::printf("%.0f images/s (%zu threads)\n", static_cast<double>(n) / seconds, einvit::num_threads());
    std::printf("confusion matrix (rows: true class, columns: predicted):\n%14s", "");
    for (std::size_t c = 0; c < fashion_mnist.num_classes; ++c) std::printf(" %5zu", c);
    std::printf("\n");
    for (std::size_t r = 0; r < fashion_mnist.num_classes; ++r) {
        std::printf("%2zu %-11.11s", r, labels[r].c_str());
        for (std::size_t c = 0; c < fashion_mnist.num_classes; ++c) std::printf(" %5zu", confusion[r * fashion_mnist.num_classes + c]);
        std::printf("\n");
    }
    return 0;
}

void usage() {
    std::fprintf(stderr,
                 "usage: einvit-classify [--model FILE] [--arch NAME] [--labels FILE] [--top-k N] [--threads N] [--json]\n"
                 "                       [--resize N] [--filter bilinear|bicubic] [--mean R,G,B] [--std R,G,B] IMAGE|DIR...\n"
                 "       einvit-classify [--model FILE] [--labels FILE] [--threads N] [--save-predictions FILE] --eval-idx IMAGES LABELS\n"
                 "       einvit-classify [--model FILE] --save-weight-image OUT   (then: --weight-image OUT in place of --model)\n"
                 "       einvit-classify --list-archs\n"
                 "--save-inputs FILE writes each image's preprocessed input (float32, channels x height x width) to FILE.\n"
                 "Without --model: the Fashion-MNIST ViT in %s. With --model: a timm, torchvision or HF transformers\n"
                 "ViT checkpoint (safetensors: one file, a sharded checkpoint's model.safetensors.index.json, or the folder\n"
                 "save_pretrained wrote), its architecture recognised from its tensors or named by --arch.\n",
                 EINVIT_DATA_DIR);
}

std::vector<float> three_floats(const std::string& option, const std::string& v) {
    std::vector<float> out;
    const char* at = v.c_str();
    for (;;) {
        char* end = nullptr;
        const float x = std::strtof(at, &end);
        if (end == at || !std::isfinite(x)) break;
        out.push_back(x);
        at = end;
        if (*at != ',') break;
        ++at;
    }
    if (out.size() != 3 || *at) fail(option + ": expected three numbers R,G,B, got '" + v + "'");
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    bool model_given = false;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) fail(a + " needs a value");
                return argv[++i];
            };
            auto number = [&]() -> std::size_t {
                const std::string v = value();
                char* end = nullptr;
                const unsigned long x = std::strtoul(v.c_str(), &end, 10);
                if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) || *end || x == 0 || x > 4096)
                    fail(a + ": expected a number from 1 to 4096, got '" + v + "'");
                return x;
            };
            if (a == "--model") opt.model = value(), model_given = true;
            else if (a == "--weight-image") opt.weight_image = value();
            else if (a == "--save-weight-image") opt.save_weight_image = value();
            else if (a == "--arch") {
                opt.arch = value();  // empty would read as "detect it": refuse it rather than guess
                if (opt.arch.empty()) fail("--arch: expected an architecture name; known: " + einvit_examples::known_names());
            }
            else if (a == "--labels") opt.labels = value(), opt.labels_given = true;
            else if (a == "--top-k") opt.top_k = number();
            else if (a == "--threads") einvit::set_num_threads(number());
            else if (a == "--json") opt.json = true;
            else if (a == "--resize") opt.resize = number();
            else if (a == "--filter") {
                const std::string f = value();
                if (f != "bilinear" && f != "bicubic") fail("--filter: expected bilinear or bicubic, got '" + f + "'");
                opt.filter = f == "bilinear" ? Filter::bilinear : Filter::bicubic;
            } else if (a == "--mean" || a == "--std") {
                const auto v = three_floats(a, value());
                // inputs are pixels in [0, 1]: a deviation below 1e-6 or a mean beyond 1e6 would make
                // them huge or infinite, and the logits NaN
                if (a == "--std" && (std::min({v[0], v[1], v[2]}) < 1e-6f || std::max({v[0], v[1], v[2]}) > 1e6f))
                    fail("--std: expected numbers from 1e-6 to 1e6");
                if (a == "--mean" && std::max({std::fabs(v[0]), std::fabs(v[1]), std::fabs(v[2])}) > 1e6f)
                    fail("--mean: expected numbers from -1e6 to 1e6");
                (a == "--mean" ? opt.mean : opt.std) = std::array<float, 3>{v[0], v[1], v[2]};
            } else if (a == "--save-predictions") opt.predictions = value();
            else if (a == "--save-inputs") opt.save_inputs = value();
            else if (a == "--eval-idx") {
                opt.eval_images = value();
                opt.eval_labels = value();
            } else if (a == "--list-archs") {
                int width = 0;  // the names' column as wide as the longest
                for (const Arch& r : architectures()) width = std::max(width, static_cast<int>(std::strlen(r.name)));
                for (const Arch& r : architectures())
                    std::printf("%-*s %-12s %s%s%s\n", width, r.name, vit::to_string(r.family), r.signature.text().c_str(),
                                *r.preprocessing.description ? "; " : "", r.preprocessing.description);
                return 0;
            } else if (a == "-h" || a == "--help") {
                usage();
                return 0;
            } else if (a.size() > 1 && a[0] == '-') {
                fail("unknown option " + a);
            } else {
                opt.inputs.push_back(a);
            }
        }
        if (opt.inputs.empty() && opt.eval_images.empty() && opt.save_weight_image.empty()) {
            usage();
            return 2;
        }
        if (model_given && !opt.weight_image.empty()) fail("--model and --weight-image: give one of them");
        // options of one mode given to the other would be silently ignored
        if (!opt.eval_images.empty() && (!opt.inputs.empty() || opt.json || opt.top_k != 3 || !opt.save_inputs.empty()))
            fail("--eval-idx evaluates an IDX test set: it takes no images, --json, --top-k or --save-inputs");
        if (opt.eval_images.empty() && !opt.predictions.empty()) fail("--save-predictions goes with --eval-idx");
        if (!model_given) {
            opt.model = std::string(EINVIT_DATA_DIR) + "/fashion_mnist_vit.safetensors";
            if (!opt.labels_given) opt.labels = std::string(EINVIT_DATA_DIR) + "/fashion_mnist_labels.txt";
        }
        // the model: from its weight image, or from its checkpoint
        std::optional<einvit_examples::Checkpoint> checkpoint;
        std::optional<vit::WeightImageFile> image;
        std::unique_ptr<Classifier> model;
        const Arch* chosen = nullptr;
        if (!opt.weight_image.empty()) {
            model_given = true;
            image.emplace(vit::WeightImageFile::open(opt.weight_image));
            std::tie(chosen, model) = einvit_examples::choose_image(*image, opt.arch);
            opt.model = opt.weight_image;
        } else {
            checkpoint.emplace(einvit_examples::Checkpoint::open(opt.model));
            chosen = &choose(*checkpoint, opt.arch);
        }
        const Arch& arch = *chosen;
        if (!opt.save_weight_image.empty()) {
            if (!model) model = arch.open(*checkpoint, arch.family);
            const std::vector<std::byte> bytes = model->weight_image();
            vit::WeightImageFile::write(opt.save_weight_image, bytes);
            // on standard output when it is all the run does; else beside the other notes, so that the
            // results (--json's) stay alone on standard output
            const bool only = opt.inputs.empty() && opt.eval_images.empty();
            std::fprintf(only ? stdout : stderr, "wrote %s: the weight image of %s (%zu bytes)\n", opt.save_weight_image.c_str(),
                         arch.name, bytes.size());
            if (only) return std::fflush(stdout) == 0 && !std::ferror(stdout) ? 0 : 1;
        }
        const bool fashion = einvit_examples::is_fashion(arch);
        if (!opt.labels_given && model_given)
            opt.labels = fashion ? std::string(EINVIT_DATA_DIR) + "/fashion_mnist_labels.txt"
                         : arch.signature.classes == 1000 ? std::string(EINVIT_DATA_DIR) + "/imagenet_labels.txt"
                                                           : std::string();
        const auto labels = read_labels(opt.labels, arch.signature.classes);
        if (!opt.eval_images.empty()) {
            if (!fashion) fail("--eval-idx runs the 28 x 28 Fashion-MNIST model; " + opt.model + " is a " + arch.name);
            const Model fashion_model = image ? Model::from_weight_image(*image) : checkpoint->load<fashion_mnist>(vit::Family::vit_pytorch);
            const int status = evaluate(fashion_model, opt, labels);
            if (std::fflush(stdout) != 0 || std::ferror(stdout)) fail(std::string("cannot write the results: ") + std::strerror(errno));
            return status;
        }
        if (fashion && opt.changes_preprocessing())
            fail("--resize, --filter, --mean and --std are for ImageNet-size models; the Fashion-MNIST model's preprocessing is fixed");
        Preprocessing& pre = opt.pre = arch.preprocessing;
        if (opt.resize) pre.resize_short = *opt.resize, pre.resize_square = 0;
        if (opt.filter) pre.filter = *opt.filter;
        if (opt.mean) std::copy(opt.mean->begin(), opt.mean->end(), pre.mean);
        if (opt.std) std::copy(opt.std->begin(), opt.std->end(), pre.std);
        if (opt.changes_preprocessing()) pre.description = "the architecture's, changed by --resize, --filter, --mean or --std";
        if (!model) model = arch.open(*checkpoint, arch.family);
        if (model_given)
            std::fprintf(stderr, "model: %s (%s), preprocessing: %s\n", arch.name, vit::to_string(arch.family), pre.description);
        const int status = classify(*model, arch, opt, labels);
        if (std::fflush(stdout) != 0 || std::ferror(stdout)) fail(std::string("cannot write the results: ") + std::strerror(errno));
        return status;
    } catch (const Failure& f) {
        std::fprintf(stderr, "einvit-classify: %s\n", f.message.c_str());
    } catch (const einvit::error& e) {
        std::fprintf(stderr, "einvit-classify: %s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "einvit-classify: %s\n", e.what());
    }
    return 1;
}
