// einvit/io/sharded.hpp — checkpoints split into several safetensors files by an index.
//
//   auto ckpt = einvit::io::ShardedCheckpoint::open("model.safetensors.index.json");
//   auto model = einvit::vit::load<Config>(ckpt, einvit::vit::Family::hf);
//
// The index is the JSON that HF transformers writes beside the shards:
// {"metadata": {...}, "weight_map": {"tensor name": "model-00001-of-00002.safetensors", ...}}.
// Before any shard is opened, every shard name is checked to be a plain file name in the index's
// folder (not absolute, no folder separators, not "." or "..", no NUL), so an index cannot make
// einvit open a file elsewhere. Each shard is then opened and validated as a safetensors file, and
// the index is cross-checked against them: every tensor it names is in the shard it says, and no
// tensor is in two shards or in a shard the index does not name it for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"
#include "einvit/io/json.hpp"
#include "einvit/io/safetensors.hpp"

namespace einvit::inline EINVIT_ABI::io {

/// Why an index is not acceptable: one value per class of fault.
enum class IndexFault {
    none,
    not_json,            ///< not UTF-8 JSON (also: nested too deeply, a duplicate key)
    not_object,          ///< not an object with a "weight_map" object of strings
    shard_name_invalid,  ///< a shard name that is absolute, has a folder separator, is "." or "..", or is empty
    tensor_mismatch,     ///< the index and the shards disagree about where a tensor is
};

constexpr const char* describe(IndexFault f) noexcept {
    switch (f) {
        case IndexFault::none: return "valid";
        case IndexFault::not_json: return "index is not valid JSON";
        case IndexFault::not_object: return "index is not an object with a \"weight_map\" of tensor names to shard files";
        case IndexFault::shard_name_invalid: return "shard name is not a plain file name beside the index";
        case IndexFault::tensor_mismatch: return "index and shards disagree";
    }
    return "?";
}

/// A parsed index: the shard files, in first-mention order, and each tensor's shard.
struct ShardIndex {
    IndexFault fault = IndexFault::none;
    std::string detail;
    std::vector<std::string> shards;
    std::vector<std::pair<std::string, std::size_t>> tensors;  // name, index into shards
};

/// Whether `name` is a plain file name: no '/' or '\\', no NUL, not empty, ".", "..", and no drive
/// letter prefix ("C:").
constexpr bool plain_file_name(std::string_view name) noexcept {
    if (name.empty() || name == "." || name == "..") return false;
    for (char c : name)
        if (c == '/' || c == '\\' || c == '\0') return false;
    return !(name.size() >= 2 && name[1] == ':');
}

/// Parses and checks an index's text (no file is touched).
inline ShardIndex parse_shard_index(std::string_view text) {
    ShardIndex ix;
    auto fail = [&](IndexFault f, std::string d) {
        ix.fault = f;
        ix.detail = std::move(d);
        ix.shards.clear();
        ix.tensors.clear();
        return ix;
    };
    json::Value root;
    json::Parser parser(text);
    if (!parser.parse(root))
        return fail(IndexFault::not_json, parser.error().message + " at byte " + std::to_string(parser.error().offset));
    const json::Value* map = root.kind == json::Kind::object ? root.find("weight_map") : nullptr;
    if (!map || map->kind != json::Kind::object) return fail(IndexFault::not_object, "no \"weight_map\" object");
    std::unordered_map<std::string_view, std::size_t> shard_of;  // shard name -> its index in ix.shards
    for (std::size_t i = 0; i < map->keys.size(); ++i) {
        const json::Value& v = map->values[i];
        if (v.kind != json::Kind::string) return fail(IndexFault::not_object, "tensor '" + map->keys[i] + "': its shard is not a string");
        if (!plain_file_name(v.text)) return fail(IndexFault::shard_name_invalid, "tensor '" + map->keys[i] + "': shard '" + v.text + "'");
        const auto [at, added] = shard_of.try_emplace(v.text, ix.shards.size());
        if (added) ix.shards.push_back(v.text);
        ix.tensors.emplace_back(map->keys[i], at->second);
    }
    return ix;
}

/// A checkpoint in several safetensors files, each validated, the index cross-checked.
class ShardedCheckpoint {
public:
    /// Opens the index at `index_path` and the shards beside it; raises errc::format (or errc::io)
    /// naming the index, the shard or the tensor, and the fault.
    static ShardedCheckpoint open(const std::string& index_path) {
        auto r = try_open(index_path);
        if (!r) raise(r.failure().kind(), r.failure().what());
        return std::move(r.value());
    }

    /// The same, returning the error instead of raising it (for builds without exceptions).
    static result<ShardedCheckpoint> try_open(const std::string& index_path) {
        std::vector<std::uint8_t> text;
        constexpr std::size_t limit = 100000000;
        if (auto e = einvit::detail::read_whole_file(index_path, limit, text); !e.empty()) return error(errc::io, index_path + ": " + e);
        if (text.size() > limit) return error(errc::format, index_path + ": index larger than 100000000 bytes");
        ShardIndex ix = parse_shard_index(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
        if (ix.fault != IndexFault::none) return error(errc::format, index_path + ": " + describe(ix.fault) + " (" + ix.detail + ")");
        const std::string folder = index_path.substr(0, detail::file_name_start(index_path));
        ShardedCheckpoint c;
        c.index_path_ = index_path;
        for (const std::string& s : ix.shards) {
            auto shard = SafeTensors::try_open(folder + s);
            if (!shard) return shard.failure();
            c.files_.push_back(std::move(shard.value()));
        }
        // every tensor of the index in its shard, every tensor of a shard in the index for that shard
        std::vector<std::size_t> named(ix.shards.size(), 0);
        for (const auto& [name, shard] : ix.tensors) {
            if (!c.files_[shard].find(name))
                return error(errc::format, index_path + ": " + describe(IndexFault::tensor_mismatch) + ": tensor '" + name + "' is not in " +
                                               ix.shards[shard]);
            ++named[shard];
        }
        for (std::size_t s = 0; s < ix.shards.size(); ++s)
            if (c.files_[s].tensors().size() != named[s])
                return error(errc::format, index_path + ": " + describe(IndexFault::tensor_mismatch) + ": " + ix.shards[s] + " holds " +
                                               std::to_string(c.files_[s].tensors().size()) + " tensors, the index names " +
                                               std::to_string(named[s]) + " in it");
        return c;
    }

    const std::string& path() const noexcept { return index_path_; }
    /// The shards, validated, in the index's order.
    const std::vector<SafeTensors>& files() const noexcept { return files_; }
    /// The tensor `name` and the shard that holds it, or {null, null}.
    std::pair<const TensorInfo*, const SafeTensors*> find(std::string_view name) const noexcept {
        for (const SafeTensors& f : files_)
            if (const TensorInfo* t = f.find(name)) return {t, &f};
        return {nullptr, nullptr};
    }

private:
    ShardedCheckpoint() = default;
    std::string index_path_;
    std::vector<SafeTensors> files_;
};

}  // namespace einvit::io
