// einvit/core/file.hpp — reading a whole file: a safetensors checkpoint or a sharded one's index (io/),
// and the small system files the thread pool's default size comes from (backend/cpu/cpu_limit.hpp).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "einvit/core/config.hpp"

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

}  // namespace einvit::detail
