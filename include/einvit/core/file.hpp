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

#if __has_include(<sys/stat.h>)
#include <sys/stat.h>
#define EINVIT_HAS_STAT 1
#else
#define EINVIT_HAS_STAT 0
#endif

namespace einvit::detail {

// Reads the regular file at `path` into `out`, stopping once it holds more than `limit` bytes (the
// caller sees out.size() > limit); "" on success, else the i/o error.
inline std::string read_whole_file(const std::string& path, std::size_t limit, std::vector<std::uint8_t>& out) {
#if EINVIT_HAS_STAT
    // a FIFO would hold the open up until something writes to it, a directory reads as an error
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return "not a regular file";
#endif
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    if (!fp) return std::string("cannot open: ") + std::strerror(errno);
    out.clear();
    std::uint8_t chunk[65536];
    std::size_t got;
    while (out.size() <= limit && (got = std::fread(chunk, 1, sizeof chunk, fp)) > 0) out.insert(out.end(), chunk, chunk + got);
    const bool bad = std::ferror(fp) != 0;
    std::fclose(fp);
    return bad ? "cannot read" : "";
}

}  // namespace einvit::detail
