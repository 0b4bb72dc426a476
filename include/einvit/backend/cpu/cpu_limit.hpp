// einvit/backend/cpu/cpu_limit.hpp — how many CPUs' worth of time the process may use, for the thread
// pool's default size.
//
// A process may run on fewer CPUs than the machine has: its affinity (`taskset`, a container's cpuset)
// names the CPUs it may run on, and a cgroup's CPU quota (`docker --cpus=2`, a Kubernetes CPU limit) the
// CPU time it may use per period, whatever CPUs it runs on. A pool with a thread for each of a 64-CPU
// host's CPUs, in a container limited to 2 CPUs' time, would run 64 threads on 2 CPUs' worth. On Linux
// cpu_quota() reads the quota of the process's cgroup and of every cgroup above it (cgroup v2's
// cpu.max, v1's cpu.cfs_quota_us over cpu.cfs_period_us), through the mounts of /proc/self/mountinfo
// and the paths of /proc/self/cgroup, and gives the tightest, rounded up to whole CPUs; 0 where there
// is none or nothing could be read (then the affinity alone counts). Elsewhere it is 0. The parsing
// functions take the files' text, so that the tests can give them any.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "einvit/core/config.hpp"
#include "einvit/core/file.hpp"

namespace einvit::inline EINVIT_ABI::detail::cpu_limit {

// CPUs a quota of `quota` microseconds per `period` allows, rounded up (1.5 CPUs: 2); 0 for none.
inline std::size_t cpus_of_quota(long long quota, long long period) noexcept {
    if (quota <= 0 || period <= 0) return 0;
    return static_cast<std::size_t>((quota + period - 1) / period);
}

// A decimal number at the start of `text` (after spaces), and the rest of the text after it; false if
// there is none or it does not fit.
inline bool read_number(std::string_view& text, long long& value) noexcept {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n')) text.remove_prefix(1);
    bool negative = false;
    if (!text.empty() && text.front() == '-') {
        negative = true;
        text.remove_prefix(1);
    }
    if (text.empty() || text.front() < '0' || text.front() > '9') return false;
    long long v = 0;
    while (!text.empty() && text.front() >= '0' && text.front() <= '9') {
        if (v > (9'000'000'000'000'000'000LL - 9) / 10) return false;
        v = v * 10 + (text.front() - '0');
        text.remove_prefix(1);
    }
    value = negative ? -v : v;
    return true;
}

// cgroup v2's cpu.max ("150000 100000", or "max 100000" for no limit): the CPUs it allows, 0 for none.
inline std::size_t cpus_of_cpu_max(std::string_view text) noexcept {
    long long quota = 0, period = 0;
    if (!read_number(text, quota) || !read_number(text, period)) return 0;
    return cpus_of_quota(quota, period);
}

// Field `index` (from 0) of a line of fields separated by single spaces; empty past the last.
inline std::string_view field(std::string_view line, std::size_t index) noexcept {
    for (std::size_t i = 0; i < index; ++i) {
        const std::size_t space = line.find(' ');
        if (space == std::string_view::npos) return {};
        line.remove_prefix(space + 1);
    }
    return line.substr(0, line.find(' '));
}

// Whether the comma-separated list holds `item`.
inline bool lists(std::string_view list, std::string_view item) noexcept {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        if (list.substr(0, comma) == item) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

// Calls fn(line) for each line of `text`.
template <class F>
void each_line(std::string_view text, F&& fn) {
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        fn(text.substr(0, end));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
}

// A cgroup hierarchy's mount: the hierarchy's directory mounted (`root`) and where (`point`).
struct Mount {
    std::string root, point;
};

// A path field of mountinfo, its octal escapes decoded (the kernel writes a space as \040, a tab as
// \011, a newline as \012, a backslash as \134).
inline std::string unescape_octal(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        const auto octal = [&](std::size_t at) { return at < field.size() && field[at] >= '0' && field[at] <= '7'; };
        if (field[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
            out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(field[i]);
        }
    }
    return out;
}

// From /proc/self/mountinfo's text, the mount of the cgroup v2 hierarchy (v2) or of the v1 hierarchy
// with the cpu controller; false if there is none. A line is "ID PARENT MAJ:MIN ROOT POINT OPTIONS
// [OPTIONAL...] - TYPE SOURCE SUPER_OPTIONS".
inline bool cgroup_mount(std::string_view mountinfo, bool v2, Mount& out) {
    bool found = false;
    each_line(mountinfo, [&](std::string_view line) {
        if (found) return;
        const std::size_t dash = line.find(" - ");
        if (dash == std::string_view::npos) return;
        const std::string_view tail = line.substr(dash + 3), type = field(tail, 0);
        const bool match = v2 ? type == "cgroup2" : type == "cgroup" && lists(field(tail, 2), "cpu");
        if (!match) return;
        const std::string_view root = field(line, 3), point = field(line, 4);
        if (root.empty() || point.empty()) return;
        out.root = unescape_octal(root);
        out.point = unescape_octal(point);
        found = true;
    });
    return found;
}

// From /proc/self/cgroup's text, the process's cgroup in the v2 hierarchy ("0::/PATH") or in the v1
// hierarchy with the cpu controller ("N:cpu,cpuacct:/PATH"); false if there is none.
inline bool cgroup_path(std::string_view text, bool v2, std::string& out) {
    bool found = false;
    each_line(text, [&](std::string_view line) {
        if (found) return;
        const std::size_t first = line.find(':');
        if (first == std::string_view::npos) return;
        const std::size_t second = line.find(':', first + 1);
        if (second == std::string_view::npos) return;
        const std::string_view id = line.substr(0, first), controllers = line.substr(first + 1, second - first - 1);
        const bool match = v2 ? id == "0" && controllers.empty() : lists(controllers, "cpu");
        if (!match || second + 1 >= line.size() || line[second + 1] != '/') return;
        out.assign(line.substr(second + 1));
        found = true;
    });
    return found;
}

// The directory of cgroup `path` under `mount` (its path taken relative to the mount's root, as in a
// container whose cgroup is the root of what it sees); empty if the path is not under that root.
inline std::string cgroup_directory(const Mount& mount, std::string_view path) {
    std::string_view root = mount.root;
    if (root == "/") root = {};
    if (path.substr(0, root.size()) != root || (path.size() > root.size() && !root.empty() && path[root.size()] != '/')) return {};
    std::string dir = mount.point;
    const std::string_view rest = path.substr(root.size());
    if (rest != "/") dir.append(rest);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return dir;
}

// A small file's text, or empty where it cannot be read or is longer than `limit` bytes (a quota
// file's few bytes; mountinfo, which on a host with thousands of mounts passes 64 KiB, up to 16 MiB:
// cut short, the cgroup mount could be missed and its quota taken for none).
inline std::string read_text(const std::string& path, std::size_t limit = 65536) {
    std::vector<std::uint8_t> bytes;
    if (!einvit::detail::read_whole_file(path, limit, bytes).empty() || bytes.size() > limit) return {};
    return std::string(bytes.begin(), bytes.end());
}

// The tighter of two quotas in CPUs, 0 standing for none.
inline std::size_t tighter(std::size_t a, std::size_t b) noexcept { return a == 0 || (b != 0 && b < a) ? b : a; }

// The tightest quota from `dir` up to the mount's point, in CPUs (0: none).
inline std::size_t quota_from(std::string dir, const std::string& top, bool v2) {
    std::size_t cpus = 0;
    for (;;) {
        std::size_t here = 0;
        if (v2) {
            here = cpus_of_cpu_max(read_text(dir + "/cpu.max"));
        } else {
            long long quota = 0, period = 0;
            const std::string q = read_text(dir + "/cpu.cfs_quota_us"), p = read_text(dir + "/cpu.cfs_period_us");
            std::string_view qv = q, pv = p;
            if (read_number(qv, quota) && read_number(pv, period)) here = cpus_of_quota(quota, period);
        }
        cpus = tighter(cpus, here);
        if (dir.size() <= top.size()) break;
        const std::size_t slash = dir.rfind('/');
        if (slash == std::string::npos || slash < top.size()) break;
        dir.resize(slash);
    }
    return cpus;
}

// The directory of the process's cgroup in the v2 hierarchy (v2) or in v1's with the cpu controller,
// from the texts of /proc/self/mountinfo and /proc/self/cgroup, with that hierarchy's mount; empty if
// there is none.
inline std::string cgroup_of_process(std::string_view mountinfo, std::string_view cgroups, bool v2, Mount& mount) {
    std::string path;
    if (!cgroup_mount(mountinfo, v2, mount) || !cgroup_path(cgroups, v2, path)) return {};
    return cgroup_directory(mount, path);
}

// The CPUs the process's cgroup quotas allow (the tightest of v2's and v1's), 0 where there is none.
inline std::size_t cpu_quota() {
#if defined(__linux__)
    const std::string mountinfo = read_text("/proc/self/mountinfo", std::size_t{16} << 20), cgroups = read_text("/proc/self/cgroup", 1 << 20);
    std::size_t cpus = 0;
    for (const bool v2 : {true, false}) {
        Mount mount;
        const std::string dir = cgroup_of_process(mountinfo, cgroups, v2, mount);
        if (!dir.empty()) cpus = tighter(cpus, quota_from(dir, mount.point, v2));
    }
    return cpus;
#else
    return 0;
#endif
}

}  // namespace einvit::detail::cpu_limit
