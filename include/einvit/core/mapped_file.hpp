// einvit/core/mapped_file.hpp — a whole file's bytes, read-only: memory-mapped where the system can,
// else read into an aligned heap block (a safetensors checkpoint, a model's weight image).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "einvit/core/config.hpp"
#include "einvit/core/memory.hpp"

#if EINVIT_HAS_MMAP
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#elif __has_include(<sys/stat.h>)
#include <sys/stat.h>
#define EINVIT_MAPPED_FILE_STAT 1
#endif

namespace einvit::inline EINVIT_ABI::detail {

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
        // read straight into one aligned block of the file's size (a FIFO or a directory refused first)
#if defined(EINVIT_MAPPED_FILE_STAT)
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return std::string("cannot open: ") + std::strerror(errno);
        if (!S_ISREG(st.st_mode)) return "not a regular file";
#endif
        std::FILE* fp = std::fopen(path.c_str(), "rb");
        if (!fp) return std::string("cannot open: ") + std::strerror(errno);
        long end = -1;
        if (std::fseek(fp, 0, SEEK_END) == 0) end = std::ftell(fp);
        if (end < 0 || std::fseek(fp, 0, SEEK_SET) != 0) {
            std::fclose(fp);
            return "cannot read";
        }
        const auto size = static_cast<std::size_t>(end);
        auto* block = static_cast<std::uint8_t*>(heap_allocate(size, false));
        if (size && !block) {
            std::fclose(fp);
            return "no memory to read it into";
        }
        // all of it, no more (an empty file: no block, nothing to read into)
        const bool read = (size == 0 || std::fread(block, 1, size, fp) == size) && std::fgetc(fp) == EOF;
        std::fclose(fp);
        if (!read) {
            heap_free(block, size);
            return "cannot read (it changed while being read?)";
        }
        bytes_ = block;
        size_ = size;
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
