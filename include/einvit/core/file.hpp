// einvit/core/file.hpp — reading a whole file: a safetensors checkpoint or a sharded one's index (io/),
// and the small system files the thread pool's default size comes from (backend/cpu/cpu_limit.hpp);
// mapping one (MappedFile: a checkpoint, a model's weight image).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "einvit/core/config.hpp"
#include "einvit/core/memory.hpp"

#if EINVIT_HAS_MMAP
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#if __has_include(<sys/stat.h>)
#include <sys/stat.h>
#define EINVIT_HAS_STAT 1
#else
#define EINVIT_HAS_STAT 0
#endif

namespace einvit::inline EINVIT_ABI::detail {

// Reads the regular file at `path` into `out`, stopping once it holds more than `limit` bytes (the
// caller sees out.size() > limit); "" on success, else the i/o error.
inline std::string read_whole_file(const std::string& path, std::size_t limit, std::vector<std::uint8_t>& out) {
    constexpr std::size_t block = 65536;
    std::size_t expected = 0;  // the size the file has now, when known: the room reserved up front
#if EINVIT_HAS_STAT
    // a FIFO would hold the open up until something writes to it, a directory reads as an error
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (!S_ISREG(st.st_mode)) return "not a regular file";
        expected = static_cast<std::size_t>(st.st_size) < limit ? static_cast<std::size_t>(st.st_size) : limit;
    }
#endif
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    if (!fp) return std::string("cannot open: ") + std::strerror(errno);
    // straight into `out`, a block at a time (no buffer on the stack: threads with small stacks call
    // this), into room for the whole file (a checkpoint read so is not held twice while it grows)
    out.clear();
    out.reserve(expected + block);
    std::size_t got = 0;
    do {
        const std::size_t at = out.size();
        out.resize(at + block);
        got = std::fread(out.data() + at, 1, block, fp);
        out.resize(at + got);
    } while (got == block && out.size() <= limit);
    const bool bad = std::ferror(fp) != 0;
    std::fclose(fp);
    return bad ? "cannot read" : "";
}

// A regular file's bytes, read-only, at a page boundary: memory-mapped where the system can
// (EINVIT_HAS_MMAP), else read whole into a 64-byte aligned heap block. Move-only; empty after a failed
// open and for an empty file.
class MappedFile {
public:
    MappedFile() = default;
    MappedFile(MappedFile&& o) noexcept { *this = std::move(o); }
    MappedFile& operator=(MappedFile&& o) noexcept {
        if (this != &o) {
            close();
            bytes_ = std::exchange(o.bytes_, nullptr);
            size_ = std::exchange(o.size_, 0);
            mapped_ = std::exchange(o.mapped_, false);
        }
        return *this;
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile() { close(); }

    /// Maps (or reads) the regular file at `path`: "" on success, else what went wrong ("cannot open:
    /// No such file or directory", "not a regular file", ...).
    std::string open(const std::string& path) {
        close();
#if EINVIT_HAS_MMAP
        // O_NONBLOCK: a FIFO's open would otherwise wait for a writer before fstat could refuse it
        const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) return std::string("cannot open: ") + std::strerror(errno);
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            return "not a regular file";
        }
        const auto size = static_cast<std::size_t>(st.st_size);
        if (size == 0) {
            ::close(fd);
            return {};
        }
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) return std::string("cannot map: ") + std::strerror(errno);
        bytes_ = static_cast<const std::uint8_t*>(p);
        size_ = size;
        mapped_ = true;
        return {};
#else
        std::vector<std::uint8_t> read;
        if (auto e = read_whole_file(path, SIZE_MAX, read); !e.empty()) return e;
        if (read.empty()) return {};
        auto* block = static_cast<std::uint8_t*>(heap_allocate(read.size(), false));
        if (!block) return "no memory to read it into";
        std::memcpy(block, read.data(), read.size());
        bytes_ = block;
        size_ = read.size();
        return {};
#endif
    }
    const std::uint8_t* data() const noexcept { return bytes_; }
    std::size_t size() const noexcept { return size_; }
    /// Whether the bytes are a mapping of the file (whose pages can be released: see SafeTensors).
    bool mapped() const noexcept { return mapped_; }

private:
    void close() noexcept {
#if EINVIT_HAS_MMAP
        if (mapped_ && bytes_) ::munmap(const_cast<std::uint8_t*>(bytes_), size_);
#else
        heap_free(const_cast<std::uint8_t*>(bytes_), size_);
#endif
        bytes_ = nullptr;
        size_ = 0;
        mapped_ = false;
    }
    const std::uint8_t* bytes_ = nullptr;
    std::size_t size_ = 0;
    bool mapped_ = false;
};

}  // namespace einvit::detail
