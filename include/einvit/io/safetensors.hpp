// einvit/io/safetensors.hpp — reading .safetensors checkpoints, validated before anything is used.
//
//   auto file = einvit::io::SafeTensors::open("vit_base.safetensors");   // memory-mapped
//   const auto* info = file.find("blocks.0.attn.qkv.weight");             // dtype, shape, offsets
//   file.read_as_float(*info, dst);                                      // f32, f16 or bf16 -> float
//
// The format: 8 bytes of little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional "__metadata__" of strings), then
// the data. Every check is made on open, before any tensor is read: the header's length and bounds,
// UTF-8 and JSON (strict: duplicate keys and deep nesting refused), each entry's dtype, rank (at most
// 8) and dimensions, shape x dtype size computed without overflow and equal to end - begin, offsets
// sorted and contiguous from 0 with no gap or overlap, and the data section's size exact. Each class
// of fault has its own `Fault` value; the raised error names the file, the tensor and the fault.
// Nothing is allocated from a size the file claims before that size is checked against the file.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"
#include "einvit/core/file.hpp"
#include "einvit/core/mapped_file.hpp"
#include "einvit/io/json.hpp"

#if EINVIT_HAS_MMAP
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace einvit::inline EINVIT_ABI::io {

/// Element types a safetensors file can hold.
enum class DType { f64, f32, f16, bf16, i64, i32, i16, i8, u64, u32, u16, u8, boolean, f8_e4m3, f8_e5m2 };

/// Bytes per element.
constexpr std::size_t dtype_size(DType t) noexcept {
    switch (t) {
        case DType::f64: case DType::i64: case DType::u64: return 8;
        case DType::f32: case DType::i32: case DType::u32: return 4;
        case DType::f16: case DType::bf16: case DType::i16: case DType::u16: return 2;
        default: return 1;
    }
}

/// The name safetensors uses for a dtype.
constexpr const char* dtype_name(DType t) noexcept {
    constexpr const char* names[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8",
                                     "U64", "U32", "U16", "U8",  "BOOL", "F8_E4M3", "F8_E5M2"};
    return names[static_cast<int>(t)];
}

/// Why a file is not a valid safetensors file: one value per class of fault.
enum class Fault {
    none,
    not_safetensors,          ///< a pickle or zip (.pth / .bin from torch.save), not safetensors
    too_small,                ///< fewer than 8 bytes
    header_too_large,         ///< header over 100,000,000 bytes or 1,000,000 JSON values
    header_past_end,          ///< header length runs past the end of the file
    header_not_json,          ///< not JSON
    header_not_utf8,          ///< a string in the header is not valid UTF-8
    header_too_deep,          ///< JSON nested more than 64 levels
    duplicate_key,            ///< a key appears twice in one object (tools disagree on which one counts)
    header_not_object,        ///< the header or an entry is not a JSON object, or has other keys
    metadata_invalid,         ///< "__metadata__" is not an object of strings
    unknown_dtype,            ///< a dtype safetensors does not define
    invalid_shape,            ///< not an array of non-negative integers, or rank over 8
    invalid_offsets,          ///< data_offsets not two integers with begin <= end
    size_overflow,            ///< shape x dtype size does not fit 64 bits
    size_mismatch,            ///< shape x dtype size differs from end - begin
    offsets_not_contiguous,   ///< tensors not sorted and contiguous from 0 (a gap or an overlap)
    data_size_mismatch,       ///< the data section is longer or shorter than the tensors
};

/// A description of a fault for messages.
constexpr const char* describe(Fault f) noexcept {
    switch (f) {
        case Fault::none: return "valid";
        case Fault::not_safetensors: return "not a safetensors file (it looks like a PyTorch pickle or zip checkpoint)";
        case Fault::too_small: return "too small to be a safetensors file (under 8 bytes)";
        case Fault::header_too_large: return "header too large";
        case Fault::header_past_end: return "header length runs past the end of the file";
        case Fault::header_not_json: return "header is not valid JSON";
        case Fault::header_not_utf8: return "header is not valid UTF-8";
        case Fault::header_too_deep: return "header JSON is nested too deeply";
        case Fault::duplicate_key: return "header has a duplicate key";
        case Fault::header_not_object: return "header is not a JSON object of tensor entries";
        case Fault::metadata_invalid: return "__metadata__ is not an object of strings";
        case Fault::unknown_dtype: return "unknown dtype";
        case Fault::invalid_shape: return "invalid shape";
        case Fault::invalid_offsets: return "invalid data_offsets";
        case Fault::size_overflow: return "shape too large (its byte size overflows)";
        case Fault::size_mismatch: return "byte size of shape and dtype differs from data_offsets";
        case Fault::offsets_not_contiguous: return "tensor data not contiguous (a gap or an overlap between tensors)";
        case Fault::data_size_mismatch: return "data section size differs from the tensors' total";
    }
    return "invalid";
}

/// One tensor's entry in the header.
struct TensorInfo {
    static constexpr std::size_t max_rank = 8;
    std::string name;
    DType dtype = DType::f32;
    std::size_t rank = 0;
    std::uint64_t shape[max_rank] = {};
    std::uint64_t begin = 0, end = 0;  ///< byte offsets within the data section

    std::uint64_t elements() const noexcept {
        std::uint64_t n = 1;
        for (std::size_t r = 0; r < rank; ++r) n *= shape[r];
        return n;
    }
    /// The shape as text, e.g. "[768, 3, 16, 16]".
    std::string shape_string() const {
        std::string s = "[";
        for (std::size_t r = 0; r < rank; ++r) s += (r ? ", " : "") + std::to_string(shape[r]);
        return s + "]";
    }
};

/// The outcome of validating a file's bytes.
struct Validation {
    Fault fault = Fault::none;
    std::string detail;  ///< which tensor or where, for the message
    std::vector<TensorInfo> tensors;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::uint64_t data_offset = 0;  ///< where the data section starts in the file
    std::vector<std::size_t> by_name;  ///< tensors' indices in name order, for find()

    /// The tensor named `name`, or null (a binary search: a header may list very many).
    const TensorInfo* find(std::string_view name) const noexcept {
        const auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                                         [this](std::size_t i, std::string_view n) { return std::string_view(tensors[i].name) < n; });
        return it != by_name.end() && tensors[*it].name == name ? &tensors[*it] : nullptr;
    }
};

namespace detail {

inline bool parse_dtype(std::string_view s, DType& out) noexcept {
    for (int i = 0; i <= static_cast<int>(DType::f8_e5m2); ++i)
        if (s == dtype_name(static_cast<DType>(i))) {
            out = static_cast<DType>(i);
            return true;
        }
    return false;
}

inline Fault fail(Validation& v, Fault f, std::string detail) {
    v.fault = f;
    v.detail = std::move(detail);
    v.tensors.clear();
    return f;
}

// Where the file name of `path` starts: after its last separator ('/', and on Windows also '\\'),
// or 0 where it has none. What comes before is its folder, with the separator.
inline std::size_t file_name_start(std::string_view path) noexcept {
#if defined(_WIN32)
    const std::size_t slash = path.find_last_of("/\\");
#else
    const std::size_t slash = path.find_last_of('/');
#endif
    return slash == std::string_view::npos ? 0 : slash + 1;
}

}  // namespace detail

/// Validates a whole safetensors file held in memory (pure: no I/O, no exceptions); the result lists
/// the tensors sorted by offset, or the first fault found.
inline Validation validate(const std::uint8_t* bytes, std::size_t size) {
    Validation v;
    std::uint64_t n = 0;
    for (int i = size >= 8 ? 7 : -1; i >= 0; --i) n = (n << 8) | bytes[i];
    // A pickle (protocol 2..5) or torch.save's zip, told by their first bytes; those are also a
    // safetensors file's header length (a header of 128 bytes starts 0x80 0x00), so only a file whose
    // header does not start at byte 8 within the file counts as one.
    const bool header_fits = size >= 9 && n <= size - 8 && bytes[8] == '{';
    if (!header_fits && ((size >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5) ||
                         (size >= 4 && std::memcmp(bytes, "PK\x03\x04", 4) == 0))) {
        detail::fail(v, Fault::not_safetensors, "");
        return v;
    }
    if (size < 8) {
        detail::fail(v, Fault::too_small, std::to_string(size) + " bytes");
        return v;
    }
    if (n > 100000000u) {
        detail::fail(v, Fault::header_too_large, "header length " + std::to_string(n) + ", at most 100000000 bytes");
        return v;
    }
    if (n > size - 8) {
        detail::fail(v, Fault::header_past_end, "header length " + std::to_string(n) + ", file " + std::to_string(size) + " bytes");
        return v;
    }
    json::Value root;
    json::Parser parser(std::string_view(reinterpret_cast<const char*>(bytes + 8), static_cast<std::size_t>(n)));
    if (!parser.parse(root)) {
        const json::Problem p = parser.error().problem;
        const Fault f = p == json::Problem::not_utf8    ? Fault::header_not_utf8
                        : p == json::Problem::too_deep  ? Fault::header_too_deep
                        : p == json::Problem::duplicate_key ? Fault::duplicate_key
                        : p == json::Problem::too_many_values ? Fault::header_too_large
                                                            : Fault::header_not_json;
        detail::fail(v, f, parser.error().message + " at header byte " + std::to_string(parser.error().offset));
        return v;
    }
    if (root.kind != json::Kind::object) {
        detail::fail(v, Fault::header_not_object, "the header is not an object");
        return v;
    }
    v.data_offset = 8 + n;
    const std::uint64_t data_size = size - v.data_offset;
    v.tensors.reserve(root.keys.size());
    for (std::size_t member = 0; member < root.keys.size(); ++member) {
        const std::string& name = root.keys[member];
        const json::Value& entry = root.values[member];
        if (name == "__metadata__") {
            if (entry.kind != json::Kind::object) {
                detail::fail(v, Fault::metadata_invalid, "");
                return v;
            }
            for (std::size_t m = 0; m < entry.keys.size(); ++m) {
                if (entry.values[m].kind != json::Kind::string) {
                    detail::fail(v, Fault::metadata_invalid, "key '" + entry.keys[m] + "'");
                    return v;
                }
                v.metadata.emplace_back(entry.keys[m], entry.values[m].text);
            }
            continue;
        }
        const std::string where = "tensor '" + name + "'";
        if (entry.kind != json::Kind::object) {
            detail::fail(v, Fault::header_not_object, where + " is not an object");
            return v;
        }
        for (const std::string& k : entry.keys)
            if (k != "dtype" && k != "shape" && k != "data_offsets") {
                detail::fail(v, Fault::header_not_object, where + " has an unexpected key '" + k + "'");
                return v;
            }
        const json::Value* dt = entry.find("dtype");
        const json::Value* sh = entry.find("shape");
        const json::Value* off = entry.find("data_offsets");
        if (!dt || !sh || !off) {
            detail::fail(v, Fault::header_not_object, where + " lacks dtype, shape or data_offsets");
            return v;
        }
        TensorInfo t;
        t.name = name;
        if (dt->kind != json::Kind::string || !detail::parse_dtype(dt->text, t.dtype)) {
            detail::fail(v, Fault::unknown_dtype, where + ": dtype " + (dt->kind == json::Kind::string ? "'" + dt->text + "'" : "not a string"));
            return v;
        }
        if (sh->kind != json::Kind::array || sh->items.size() > TensorInfo::max_rank) {
            detail::fail(v, Fault::invalid_shape, where + (sh->kind == json::Kind::array ? ": rank " + std::to_string(sh->items.size()) + " is over 8" : ": shape is not an array"));
            return v;
        }
        t.rank = sh->items.size();
        std::uint64_t bytes_needed = dtype_size(t.dtype);
        bool overflow = false;
        for (std::size_t r = 0; r < t.rank; ++r) {
            if (!sh->items[r].as_size(t.shape[r])) {
                detail::fail(v, Fault::invalid_shape, where + ": dimension " + std::to_string(r) + " is not an integer from 0 to 2^64 - 1");
                return v;
            }
            if (t.shape[r] != 0 && bytes_needed > UINT64_MAX / t.shape[r]) overflow = true;
            else bytes_needed *= t.shape[r];
        }
        // a zero dimension makes the size zero whatever the others claim
        if (overflow && std::find(t.shape, t.shape + t.rank, std::uint64_t{0}) == t.shape + t.rank) {
            detail::fail(v, Fault::size_overflow, where + ": shape " + t.shape_string());
            return v;
        }
        if (overflow) bytes_needed = 0;
        if (off->kind != json::Kind::array || off->items.size() != 2 || !off->items[0].as_size(t.begin) ||
            !off->items[1].as_size(t.end) || t.begin > t.end) {
            detail::fail(v, Fault::invalid_offsets, where);
            return v;
        }
        if (t.end - t.begin != bytes_needed) {
            detail::fail(v, Fault::size_mismatch, where + ": shape " + t.shape_string() + " of " + dtype_name(t.dtype) + " is " +
                                                      std::to_string(bytes_needed) + " bytes, data_offsets give " +
                                                      std::to_string(t.end - t.begin));
            return v;
        }
        v.tensors.push_back(std::move(t));
    }
    std::sort(v.tensors.begin(), v.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t at = 0;
    for (const auto& t : v.tensors) {
        if (t.begin != at) {
            detail::fail(v, Fault::offsets_not_contiguous, "tensor '" + t.name + "' starts at " + std::to_string(t.begin) +
                                                             ", expected " + std::to_string(at));
            return v;
        }
        at = t.end;
    }
    if (at != data_size) {
        detail::fail(v, Fault::data_size_mismatch, "tensors end at " + std::to_string(at) + ", data section is " + std::to_string(data_size) + " bytes");
        return v;
    }
    v.by_name.resize(v.tensors.size());
    for (std::size_t i = 0; i < v.by_name.size(); ++i) v.by_name[i] = i;
    std::sort(v.by_name.begin(), v.by_name.end(), [&](std::size_t a, std::size_t b) { return v.tensors[a].name < v.tensors[b].name; });
    return v;
}

/// float from IEEE half and from bfloat16 bits.
inline float half_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                --exp;
            }
            bits = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
inline float bf16_to_float(std::uint16_t b) noexcept {
    const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

/// An open safetensors file: memory-mapped (or read into memory where there is no mmap), validated.
class SafeTensors {
public:
    /// Opens and validates `path`; raises errc::io or errc::format naming the file and the fault.
    static SafeTensors open(const std::string& path) {
        auto r = try_open(path);
        if (!r) raise(r.failure().kind(), r.failure().what());
        return std::move(r.value());
    }

    /// The same, returning the error instead of raising it.
    static result<SafeTensors> try_open(const std::string& path) {
        SafeTensors f;
        f.path_ = path;
        if (auto e = f.file_.open(path); !e.empty()) return error(errc::io, path + ": " + e);
        f.bytes_ = f.file_.data();
        f.size_ = f.file_.size();
        f.validation_ = validate(f.bytes_, f.size_);
        if (f.validation_.fault != Fault::none) return f.format_error();
        return f;
    }

    /// Validates a file image in memory that the caller keeps alive (no copy).
    static result<SafeTensors> try_from_memory(const void* data, std::size_t size, std::string label = "<memory>") {
        SafeTensors f;
        f.path_ = std::move(label);
        f.bytes_ = static_cast<const std::uint8_t*>(data);
        f.size_ = size;
        f.validation_ = validate(f.bytes_, f.size_);
        if (f.validation_.fault != Fault::none) return f.format_error();
        return f;
    }

    SafeTensors(SafeTensors&& o) noexcept { *this = std::move(o); }
    SafeTensors& operator=(SafeTensors&& o) noexcept {
        if (this != &o) {
            path_ = std::move(o.path_);
            validation_ = std::move(o.validation_);
            bytes_ = std::exchange(o.bytes_, nullptr);
            size_ = std::exchange(o.size_, 0);
            file_ = std::move(o.file_);  // a mapping stays where it is: bytes_ still points into it
        }
        return *this;
    }
    SafeTensors(const SafeTensors&) = delete;
    SafeTensors& operator=(const SafeTensors&) = delete;
    ~SafeTensors() = default;

    const std::string& path() const noexcept { return path_; }
    /// Every tensor, sorted by offset.
    const std::vector<TensorInfo>& tensors() const noexcept { return validation_.tensors; }
    const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return validation_.metadata; }
    /// The tensor named `name`, or null.
    const TensorInfo* find(std::string_view name) const noexcept { return validation_.find(name); }
    /// The raw bytes of a tensor (end - begin of them; any alignment).
    const std::uint8_t* bytes(const TensorInfo& t) const noexcept { return bytes_ + validation_.data_offset + t.begin; }

    /// A zero-copy view of an F32 tensor's elements in the file (memory-mapped or the caller's
    /// memory), when its bytes are aligned for float; an empty span otherwise (another dtype, or a
    /// header length that leaves the data misaligned): read_as_float then copies. Valid while this
    /// object lives and release() has not been called for the tensor.
    std::span<const float> view_f32(const TensorInfo& t) const noexcept {
        const std::uint8_t* p = bytes(t);
        if (t.dtype != DType::f32 || reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0) return {};
        return {reinterpret_cast<const float*>(p), static_cast<std::size_t>(t.elements())};
    }

    /// Why read_as_float would refuse tensor t (a dtype that is not floating point), naming the file
    /// and the tensor; empty when it would not.
    std::string float_fault(const TensorInfo& t) const {
        if (t.dtype == DType::f32 || t.dtype == DType::f64 || t.dtype == DType::f16 || t.dtype == DType::bf16) return {};
        return path_ + ": tensor '" + t.name + "' has dtype " + dtype_name(t.dtype) +
               ", expected a floating-point dtype (F32, F16, BF16 or F64)";
    }

    /// A tensor's elements converted to float into dst (elements() values). F32, F16, BF16 and F64 are
    /// accepted; other dtypes raise errc::format naming the tensor (float_fault).
    void read_as_float(const TensorInfo& t, float* dst) const {
        if (const std::string fault = float_fault(t); !fault.empty()) raise(errc::format, fault);
        const std::uint8_t* src = bytes(t);
        const std::uint64_t n = t.elements();
        switch (t.dtype) {
            case DType::f32:
                if (n) std::memcpy(dst, src, n * 4);  // dst may be null for a tensor of no elements
                break;
            case DType::f64:
                for (std::uint64_t i = 0; i < n; ++i) {
                    double d;
                    std::memcpy(&d, src + i * 8, 8);
                    // rounded to nearest, as PyTorch's .float() does: beyond float's range (from the
                    // midpoint between FLT_MAX and the next power of two) +-inf; a plain cast of such a
                    // value is undefined behaviour
                    constexpr double overflow = 3.4028235677973366e+38;  // FLT_MAX + half its ulp
                    dst[i] = d >= overflow    ? std::numeric_limits<float>::infinity()
                             : d <= -overflow ? -std::numeric_limits<float>::infinity()
                                              : static_cast<float>(d);
                }
                break;
            case DType::f16:
            case DType::bf16:
                for (std::uint64_t i = 0; i < n; ++i) {
                    std::uint16_t h;
                    std::memcpy(&h, src + i * 2, 2);
                    dst[i] = t.dtype == DType::f16 ? half_to_float(h) : bf16_to_float(h);
                }
                break;
            default:
                break;  // refused above
        }
    }

    /// Tells the system a tensor's bytes are no longer needed, so a mapped file's pages leave the
    /// process's resident memory (they are read again from the file if touched). Loading a model
    /// this way never holds the whole checkpoint and the converted weights at once.
    void release(const TensorInfo& t) const noexcept {
#if EINVIT_HAS_MMAP
        if (!file_.mapped() || t.end == t.begin) return;
        const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
        const auto first = reinterpret_cast<std::uintptr_t>(bytes(t));
        const std::uintptr_t begin = first / page * page, end = (first + (t.end - t.begin) + page - 1) / page * page;
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
#else
        (void)t;
#endif
    }

private:
    SafeTensors() = default;

    error format_error() const {
        std::string msg = path_ + ": " + describe(validation_.fault);
        if (!validation_.detail.empty()) msg += ": " + validation_.detail;
        if (validation_.fault == Fault::not_safetensors)
            msg += "; convert it with: python3 -c \"import torch, safetensors.torch as st; "
                   "st.save_file(torch.load('model.pth', map_location='cpu'), 'model.safetensors')\"";
        return error(errc::format, msg);
    }

    std::string path_;
    Validation validation_;
    const std::uint8_t* bytes_ = nullptr;  // the file's (file_'s) or, from try_from_memory, the caller's
    std::size_t size_ = 0;
    einvit::detail::MappedFile file_;
};

}  // namespace einvit::io
