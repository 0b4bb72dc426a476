// The thread pool's default size: the CPU quota of the process's cgroups (cpu_limit.hpp), read from
// the texts of /proc/self/mountinfo, /proc/self/cgroup and the quota files, and, where this machine
// lets the test make a cgroup, end to end in a child process placed in one with a quota.
#include <doctest/doctest.h>
#include <einvit/einvit.hpp>

#include <cstdio>
#include <string>

#if defined(__linux__)
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace cl = einvit::detail::cpu_limit;

TEST_CASE("cpu limit: quotas in whole CPUs, rounded up; none where there is no quota or the text is not one") {
    CHECK(cl::cpus_of_quota(200000, 100000) == 2);
    CHECK(cl::cpus_of_quota(150000, 100000) == 2);
    CHECK(cl::cpus_of_quota(50000, 100000) == 1);
    CHECK(cl::cpus_of_quota(-1, 100000) == 0);  // v1's "no quota"
    CHECK(cl::cpus_of_quota(100000, 0) == 0);
    CHECK(cl::cpus_of_cpu_max("400000 100000\n") == 4);
    CHECK(cl::cpus_of_cpu_max("max 100000\n") == 0);
    CHECK(cl::cpus_of_cpu_max("") == 0);
    CHECK(cl::cpus_of_cpu_max("250000") == 0);  // no period
    CHECK(cl::cpus_of_cpu_max("99999999999999999999999 100000") == 0);  // does not fit
    CHECK(cl::cpus_of_cpu_max("garbage") == 0);
    CHECK(cl::tighter(0, 3) == 3);  // 0 is no quota
    CHECK(cl::tighter(4, 0) == 4);
    CHECK(cl::tighter(4, 3) == 3);
    CHECK(cl::tighter(2, 3) == 2);
}

TEST_CASE("cpu limit: the cgroup mounts of mountinfo, the process's cgroups, and the directory they make") {
    const std::string mountinfo =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
        "33 31 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
        "41 31 0:38 /docker/abc /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    cl::Mount v1, v2;
    REQUIRE(cl::cgroup_mount(mountinfo, false, v1));
    CHECK(v1.root == "/");
    CHECK(v1.point == "/sys/fs/cgroup/cpu,cpuacct");  // not cpuset's, whose options only start with "cpu"
    REQUIRE(cl::cgroup_mount(mountinfo, true, v2));
    CHECK(v2.root == "/docker/abc");
    CHECK(v2.point == "/sys/fs/cgroup/unified");
    // paths with a space or a backslash come octal-escaped; the cgroup mount after 64 KiB of others
    std::string many;
    for (int i = 0; many.size() < 200000; ++i) many += std::to_string(100 + i) + " 23 0:99 / /mnt/volume" + std::to_string(i) + " rw - ext4 /dev/sda rw\n";
    cl::Mount spaced;
    REQUIRE(cl::cgroup_mount(many + "42 31 0:38 /my\\040pod /sys/fs/cgroup/my\\134unified rw - cgroup2 cgroup2 rw\n", true, spaced));
    CHECK(spaced.root == "/my pod");
    CHECK(spaced.point == "/sys/fs/cgroup/my\\unified");
    CHECK(cl::unescape_octal("a\\04b\\0401\\") == "a\\04b 1\\");  // incomplete escapes stay as they are
    cl::Mount none;
    CHECK_FALSE(cl::cgroup_mount("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\nnot a mount line\n", false, none));
    CHECK_FALSE(cl::cgroup_mount("", true, none));

    const std::string cgroups = "12:cpuset:/\n4:cpu,cpuacct:/kubepods/pod1/c2\n0::/docker/abc/inner\n";
    std::string path;
    REQUIRE(cl::cgroup_path(cgroups, false, path));
    CHECK(path == "/kubepods/pod1/c2");
    REQUIRE(cl::cgroup_path(cgroups, true, path));
    CHECK(path == "/docker/abc/inner");
    CHECK_FALSE(cl::cgroup_path("3:cpuset:/\n", false, path));
    CHECK_FALSE(cl::cgroup_path("0::\n", true, path));

    CHECK(cl::cgroup_directory(v1, "/kubepods/pod1/c2") == "/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/c2");
    CHECK(cl::cgroup_directory(v1, "/") == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(cl::cgroup_directory(v2, "/docker/abc/inner") == "/sys/fs/cgroup/unified/inner");  // relative to the mount's root
    CHECK(cl::cgroup_directory(v2, "/docker/abc") == "/sys/fs/cgroup/unified");
    CHECK(cl::cgroup_directory(v2, "/docker/abcd") == "");  // not under the root
    CHECK(cl::cgroup_directory(v2, "/other") == "");
    cl::Mount found;
    CHECK(cl::cgroup_of_process(mountinfo, cgroups, true, found) == "/sys/fs/cgroup/unified/inner");
    CHECK(found.point == "/sys/fs/cgroup/unified");
    CHECK(cl::cgroup_of_process(mountinfo, "3:cpuset:/\n", false, found) == "");  // no cpu controller's cgroup
}

#if defined(__linux__)
namespace {
bool write_file(const std::string& path, const std::string& text) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    const bool ok = std::fputs(text.c_str(), f) >= 0;
    return std::fclose(f) == 0 && ok;
}
}  // namespace

TEST_CASE("cpu limit: the quotas of the directories from the process's cgroup up to the mount, the tightest") {
    // a hierarchy in a temporary directory standing for a v1 mount and a v2 one
    char base[] = "/tmp/einvit_cgroup_XXXXXX";
    REQUIRE(mkdtemp(base) != nullptr);
    const std::string top = base, mid = top + "/a", leaf = mid + "/b";
    REQUIRE(mkdir(mid.c_str(), 0700) == 0);
    REQUIRE(mkdir(leaf.c_str(), 0700) == 0);
    REQUIRE(write_file(top + "/cpu.cfs_quota_us", "-1\n"));
    REQUIRE(write_file(top + "/cpu.cfs_period_us", "100000\n"));
    REQUIRE(write_file(mid + "/cpu.cfs_quota_us", "300000\n"));
    REQUIRE(write_file(mid + "/cpu.cfs_period_us", "100000\n"));
    REQUIRE(write_file(leaf + "/cpu.cfs_quota_us", "-1\n"));
    REQUIRE(write_file(leaf + "/cpu.cfs_period_us", "100000\n"));
    CHECK(cl::quota_from(leaf, top, false) == 3);  // the parent's
    CHECK(cl::quota_from(top, top, false) == 0);
    REQUIRE(write_file(leaf + "/cpu.max", "150000 100000\n"));
    REQUIRE(write_file(mid + "/cpu.max", "max 100000\n"));
    CHECK(cl::quota_from(leaf, top, true) == 2);
    CHECK(cl::quota_from(mid, top, true) == 0);
    // a long file is read whole up to its limit, and past the limit not at all (not a cut-off prefix)
    REQUIRE(write_file(top + "/long", std::string(100000, 'x')));
    CHECK(cl::read_text(top + "/long", std::size_t{16} << 20).size() == 100000);
    CHECK(cl::read_text(top + "/long").empty());
    std::remove((top + "/long").c_str());
    for (const std::string& dir : {leaf, mid, top}) {
        for (const char* file : {"/cpu.cfs_quota_us", "/cpu.cfs_period_us", "/cpu.max"}) std::remove((dir + file).c_str());
        rmdir(dir.c_str());
    }
}

TEST_CASE("cpu limit: a process in a cgroup with a quota of one CPU starts a pool of one thread") {
    // Where the machine has a writable v1 cpu hierarchy or a v2 one with the cpu controller (a root user
    // on most Linux machines), a child process moves itself into a new cgroup with a quota of 1 CPU and
    // reports cpu_quota() and the pool's default size; elsewhere the test says so and checks nothing more.
    cl::Mount mount;
    const std::string mountinfo = cl::read_text("/proc/self/mountinfo"), cgroups = cl::read_text("/proc/self/cgroup");
    std::string dir;
    bool v2 = false;
    for (const bool version2 : {false, true}) {
        const std::string here = cl::cgroup_of_process(mountinfo, cgroups, version2, mount);
        if (here.empty()) continue;
        if (version2 && cl::read_text(here + "/cgroup.subtree_control").find("cpu") == std::string::npos) continue;
        dir = here;
        v2 = version2;
        break;
    }
    const std::string group = dir + "/einvit_test_" + std::to_string(getpid());
    if (dir.empty() || mkdir(group.c_str(), 0755) != 0) {
        MESSAGE("no cgroup could be made here (" << (dir.empty() ? std::string("no cpu hierarchy") : group) << "): only the parsing is tested");
        return;
    }
    const bool limited = v2 ? write_file(group + "/cpu.max", "100000 100000")
                            : write_file(group + "/cpu.cfs_period_us", "100000") && write_file(group + "/cpu.cfs_quota_us", "100000");
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t child = limited ? fork() : -1;
    if (child == 0) {
        close(fds[0]);
        unsigned long result[2] = {0, 0};
        if (write_file(group + "/cgroup.procs", "0")) {
            result[0] = static_cast<unsigned long>(cl::cpu_quota());
            result[1] = static_cast<unsigned long>(einvit::detail::default_threads());
        }
        const ssize_t wrote = write(fds[1], result, sizeof result);
        _exit(wrote == static_cast<ssize_t>(sizeof result) ? 0 : 1);
    }
    close(fds[1]);
    unsigned long result[2] = {0, 0};
    const ssize_t got = child > 0 ? read(fds[0], result, sizeof result) : 0;
    close(fds[0]);
    int status = 0;
    if (child > 0) waitpid(child, &status, 0);
    rmdir(group.c_str());
    REQUIRE(limited);
    REQUIRE(child > 0);
    CHECK(got == static_cast<ssize_t>(sizeof result));
    CHECK(result[0] == 1);
    CHECK(result[1] == 1);
    // this process, outside it, is not limited by it
    CHECK(einvit::detail::default_threads() >= 1);
    cpu_set_t allowed;
    REQUIRE(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    const std::size_t quota = cl::cpu_quota();
    const std::size_t cpus = static_cast<std::size_t>(CPU_COUNT(&allowed));
    CHECK(einvit::detail::default_threads() == (quota != 0 && quota < cpus ? quota : cpus));
}
#endif

TEST_CASE("reading a whole file needs little stack: a thread of 32 KiB reads the cgroup files and a 300 KB file") {
    // the pool's first use reads the cgroup files on whatever thread makes it, and ShardedCheckpoint
    // reads its index the same way; a 64 KiB buffer on the stack overflowed a small thread's stack
    const std::string path = "einvit_small_stack_" + std::to_string(getpid());
    std::string text(300000, 'x');
    for (std::size_t i = 0; i < text.size(); i += 997) text[i] = static_cast<char>('a' + i % 26);
    REQUIRE(write_file(path, text));
    struct Job {
        std::string path, read, error;
        std::size_t cgroup_quota = 0;
    } job{path, {}, {}, 0};
    pthread_attr_t attr;
    REQUIRE(pthread_attr_init(&attr) == 0);
    REQUIRE(pthread_attr_setstacksize(&attr, 32768) == 0);
    pthread_t thread;
    const auto body = [](void* p) -> void* {
        auto& j = *static_cast<Job*>(p);
        std::vector<std::uint8_t> bytes;
        j.error = einvit::detail::read_whole_file(j.path, std::size_t{1} << 20, bytes);
        j.read.assign(bytes.begin(), bytes.end());
        j.cgroup_quota = cl::cpu_quota() + 1;
        return nullptr;
    };
    REQUIRE(pthread_create(&thread, &attr, body, &job) == 0);
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attr);
    std::remove(path.c_str());
    CHECK(job.error.empty());
    CHECK(job.read == text);
    CHECK(job.cgroup_quota >= 1);
    // past the limit: more than the limit read, then no more (the caller sees size() > limit)
    std::vector<std::uint8_t> bytes;
    REQUIRE(write_file(path, text));
    CHECK(einvit::detail::read_whole_file(path, 1000, bytes).empty());
    CHECK(bytes.size() > 1000);
    CHECK(bytes.size() < text.size());
    std::remove(path.c_str());
}
