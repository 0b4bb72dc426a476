// einvit/backend/cpu/thread_pool.hpp — a small built-in thread pool for the CPU kernels.
//
// einvit::set_num_threads(n) sets how many threads kernels use (default: the CPUs the process may run
// on, and no more than its CPU quota); nothing else is needed, no OpenMP. Work is split statically
// (parallel_for: task i of n always covers the same range) or handed out item by item (parallel_items,
// for items whose results do not depend on the thread), so results do not depend on timing, and each
// kernel computes every output element with the same operation order whatever the thread count, so
// results do not depend on the thread count either. Workers spin briefly after a job (kernels come in
// bursts during a forward pass), then sleep on an atomic wait. A thread claims a task before it runs
// it, and one done with its own runs those not yet claimed, so a worker that the OS does not run (its
// core busy with another program) holds no kernel up. A thread that waits for another (for the next
// job, or for a job's last task) pauses a few times, then yields its core at every turn (Backoff), so
// that with more threads than cores the waiters do not take the time of the threads with work.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "einvit/backend/cpu/cpu_limit.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"

#if EINVIT_THREADS
#include <chrono>
#include <mutex>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif
#if __has_include(<pthread.h>) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define EINVIT_HAS_PTHREAD_ATFORK 1
#else
#define EINVIT_HAS_PTHREAD_ATFORK 0
#endif
#else
#define EINVIT_HAS_PTHREAD_ATFORK 0
#endif

namespace einvit::inline EINVIT_ABI {

namespace detail {

#if EINVIT_THREADS
// Waiting for another thread: a few pauses, then the core given up at every turn (yield), so that where
// more threads are runnable than there are cores (another program busy on one, or more einvit threads
// than cores) the thread waited for, or the one with work, gets the core rather than the waiter
// spinning through its time slice. In calm moments a yield with nothing else to run returns at once.
struct Backoff {
    unsigned spins = 0;
    void operator()() noexcept {
        if (spins < 64) {
            ++spins;
            EINVIT_CPU_RELAX();
        } else {
            std::this_thread::yield();
        }
    }
};

class ThreadPool {
public:
    explicit ThreadPool(std::size_t threads) { resize(threads); }
    ~ThreadPool() { stop(); }
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }

    /// Makes the pool `threads` threads (the caller's and threads - 1 workers). The same count as now
    /// keeps the workers: a new thread starts wherever the OS puts it, on a 2-vCPU VM at times on the
    /// caller's core for tens of milliseconds (ViT-B's qkv product at one image, 3.8 ms, took 6.7-10.5
    /// ms a call for the first 5-7 calls after its worker was re-created, in some of the tries), and a
    /// program that sets the count before every call should not pay for that each time.
    /// Called from another thread while a kernel runs, it waits for the kernel's job to end (a job in
    /// progress keeps the threads it started with); called from inside a kernel's task (which holds the
    /// pool) it raises invalid_argument rather than wait for itself.
    void resize(std::size_t threads) {
        if (inside_task()) raise(errc::invalid_argument, "einvit::set_num_threads: called from inside a parallel kernel's task");
        std::lock_guard<std::mutex> lock(run_mutex_);
        if (threads == 0) threads = 1;
        if (threads == size()) return;
        stop();
        quit_.store(false);
        claims_ = std::vector<Claim>(threads);
        // Workers start from the current generation: a job posted before a new thread first runs is
        // still seen as new by it.
        const std::uint32_t start = generation_.load(std::memory_order_acquire);
        for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this, i, start] { work(i, start); });
        size_.store(threads, std::memory_order_release);
    }

    /// Calls fn(i) for i in [0, tasks) across the pool (tasks <= size()) and returns when all are done.
    /// The calling thread runs task 0 and worker i task i, each claiming it first; a thread done with its
    /// own task then claims and runs any task not yet claimed, so a worker the OS has not run yet (its
    /// core busy with another program, or asleep and slow to wake) does not hold the job up: the others
    /// run its task, and it finds nothing left. Calls from several threads at once are serialised. A
    /// task that throws (out of memory for a scratch buffer, say) does not end the program or leave the
    /// others running on a job whose caller has gone: every task runs to its end, then the first
    /// exception thrown is rethrown here, on the calling thread.
    template <class F>
    void run(std::size_t tasks, F&& fn) {
        if (tasks <= 1 || size() == 1 || inside_task()) {  // nested calls run on the calling thread
            for (std::size_t i = 0; i < tasks; ++i) fn(i);
            return;
        }
        std::unique_lock<std::mutex> lock(run_mutex_);
        // More tasks than threads (the count was read before another thread's set_num_threads made the
        // pool smaller): the job takes as many as there are threads and the caller runs the rest after
        // its own, so that none is dropped.
        const std::size_t all = tasks;
        tasks = tasks < size() ? tasks : size();
        if (tasks <= 1) {
            lock.unlock();
            for (std::size_t i = 0; i < all; ++i) fn(i);
            return;
        }
        job_ = [](void* ctx, std::size_t i) { (*static_cast<std::remove_reference_t<F>*>(ctx))(i); };
        ctx_ = &fn;
        context_ = job_context();  // the tasks see the caller's (its ScratchScopes' lent memory)
        tasks_ = tasks;
        done_.store(0, std::memory_order_relaxed);
        // Task i of job J can be claimed while claims_[i] holds 2J (armed), and is taken by changing it
        // to 2J + 1. A worker that wakes late for an earlier job finds its value changed and runs nothing.
        const std::uint64_t armed = 2 * ++job_id_;
        for (std::size_t i = 1; i < tasks; ++i) claims_[i].state.store(armed, std::memory_order_release);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        inside_task() = true;
        invoke(0);
        run_unclaimed(armed, tasks, 1);
        for (std::size_t i = tasks; i < all; ++i) invoke(i);
        inside_task() = false;
        for (Backoff wait; done_.load(std::memory_order_acquire) != tasks - 1;) wait();
#if EINVIT_HAS_EXCEPTIONS
        if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
#endif
    }

    // fork() (pthread_atfork, registered with the pool): the parent holds the pool still across the
    // fork, so that no job is half done in the child's copy, and the child, which has the forking
    // thread alone, starts with a pool of one thread (set_num_threads starts workers again). Before,
    // a fork while another thread ran a kernel left the child's pool locked for good, and its first
    // parallel kernel waited forever. A fork from inside a kernel's task is not covered.
    void before_fork() noexcept {
        held_for_fork_ = !inside_task();
        if (held_for_fork_) run_mutex_.lock();
    }
    void after_fork_in_parent() noexcept {
        if (held_for_fork_) run_mutex_.unlock();
    }
    void after_fork_in_child() noexcept {
        // the workers' threads do not exist here: their handles are let go unjoined (a leak of a few
        // bytes each), since joining or destroying them would wait or terminate
        if (!workers_.empty()) {
            static_cast<void>(new (std::nothrow) std::vector<std::thread>(std::move(workers_)));
            workers_.clear();
        }
        size_.store(1, std::memory_order_release);
        if (held_for_fork_) run_mutex_.unlock();
    }

    static bool& inside_task() noexcept {
        static EINVIT_THREAD_LOCAL bool flag = false;
        return flag;
    }

    /// The task of a job the calling thread is running: 0 when none (or task 0, the calling thread's
    /// own), i while it runs task i >= 1, whichever thread it is (the GEMM's scratch buffers are per
    /// task, see gemm::detail::scratch_buffers).
    static std::size_t& current_task() noexcept {
        static EINVIT_THREAD_LOCAL std::size_t task = 0;
        return task;
    }

    /// The calling thread's context, which the tasks of the jobs it runs see as theirs while they run,
    /// on whichever thread: ScratchScope's lent memory, which a job's tasks other than the caller's own
    /// then take their scratch from (gemm::detail::scratch). Opaque to the pool.
    static const void*& job_context() noexcept {
        static EINVIT_THREAD_LOCAL const void* context = nullptr;
        return context;
    }

private:
    struct alignas(64) Claim {  // a task's state in the current job (see run)
        std::atomic<std::uint64_t> state{0};
    };

    // Takes task i if it is armed as `armed` (2J, J >= 1) and not yet taken.
    bool claim(std::size_t i, std::uint64_t armed) noexcept {
        std::uint64_t expected = armed;
        return armed != 0 && armed % 2 == 0 && claims_[i].state.load(std::memory_order_relaxed) == armed &&
               claims_[i].state.compare_exchange_strong(expected, armed + 1, std::memory_order_acq_rel, std::memory_order_relaxed);
    }

    // Claims and runs the tasks of the job armed as `armed` (of `tasks` tasks) that no thread has
    // claimed, from task `from` on and round, counting each done.
    void run_unclaimed(std::uint64_t armed, std::size_t tasks, std::size_t from) noexcept {
        for (std::size_t s = 0; s + 1 < tasks; ++s) {
            const std::size_t i = 1 + (from - 1 + s) % (tasks - 1);
            if (!claim(i, armed)) continue;
            invoke(i);
            done_.fetch_add(1, std::memory_order_acq_rel);
        }
    }

    void work(std::size_t index, std::uint32_t seen) {
        inside_task() = true;
        for (;;) {
            // Spin a while for the next job, then sleep until one comes. A forward pass's kernels follow
            // one another within microseconds, but a worker that finishes its share first waits for the
            // slowest thread and whatever runs between kernels: it spins for up to about 0.2 ms, since
            // waking a sleeping thread costs tens of microseconds (measured: ViT-Ti's forward pass 3%
            // faster than with the earlier 20,000-load spin, after which workers fell asleep between
            // kernels). After 64 pauses the spin yields the core at every turn (Backoff), to a thread
            // with work where there are more threads than cores.
            std::uint32_t now = generation_.load(std::memory_order_acquire);
            const auto spin_start = std::chrono::steady_clock::now();
            Backoff wait;
            for (unsigned spin = 1; now == seen; ++spin) {
                wait();
                now = generation_.load(std::memory_order_acquire);
                if (spin % 16 == 0 && std::chrono::steady_clock::now() - spin_start > std::chrono::microseconds(200)) break;
            }
            if (now == seen) {
                generation_.wait(seen, std::memory_order_acquire);
                now = generation_.load(std::memory_order_acquire);
            }
            seen = now;
            if (quit_.load(std::memory_order_acquire)) return;
            // The job's tasks are armed before the generation moves, so the value read here is this
            // job's or a later one's; a claim only succeeds on a task armed and not yet taken, and the
            // job's fields are read only after one has (its caller waits for that task).
            const std::uint64_t armed = claims_[index].state.load(std::memory_order_acquire);
            if (!claim(index, armed)) continue;
            const std::size_t tasks = tasks_;  // read while the job cannot end: this task is not done
            invoke(index);
            done_.fetch_add(1, std::memory_order_acq_rel);
            run_unclaimed(armed, tasks, index + 1 < tasks ? index + 1 : 1);
        }
    }

    // Runs task i of the current job, keeping the first exception any task throws for run() to rethrow.
    // The task sees the job's caller's context (job_context) while it runs.
    void invoke(std::size_t i) noexcept {
        const void* const own = job_context();
        job_context() = context_;
        current_task() = i;
#if EINVIT_HAS_EXCEPTIONS
        try {
            job_(ctx_, i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(failure_mutex_);
            if (!failure_) failure_ = std::current_exception();
        }
#else
        job_(ctx_, i);
#endif
        current_task() = 0;
        job_context() = own;
    }

    void stop() {
        if (workers_.empty()) return;
        quit_.store(true, std::memory_order_release);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
        size_.store(1, std::memory_order_release);
    }

    std::vector<std::thread> workers_;
    std::atomic<std::size_t> size_{1};  // the caller and the workers: read without the lock by size()
    std::vector<Claim> claims_;
    std::mutex run_mutex_;
    std::atomic<std::uint32_t> generation_{0};
    std::atomic<std::size_t> done_{0};
    std::atomic<bool> quit_{false};
    std::uint64_t job_id_ = 0;
    bool held_for_fork_ = false;
    void (*job_)(void*, std::size_t) = nullptr;
    void* ctx_ = nullptr;
    const void* context_ = nullptr;  // the caller's job_context()
    std::size_t tasks_ = 0;
#if EINVIT_HAS_EXCEPTIONS
    std::mutex failure_mutex_;
    std::exception_ptr failure_;
#endif
};
#else
// Without threads (EINVIT_THREADS 0): every kernel runs on the calling thread, its tasks in order.
struct Backoff {
    void operator()() noexcept { EINVIT_CPU_RELAX(); }
};

class ThreadPool {
public:
    explicit constexpr ThreadPool(std::size_t) noexcept {}  // constexpr: pool()'s static needs no guard
    std::size_t size() const noexcept { return 1; }
    void resize(std::size_t) noexcept {}  // one thread, whatever the count asked
    template <class F>
    void run(std::size_t tasks, F&& fn) {  // as a pool of one thread runs a job: in order, as task 0
        for (std::size_t i = 0; i < tasks; ++i) fn(i);
    }
    static bool& inside_task() noexcept {
        static bool flag = false;
        return flag;
    }
    static std::size_t& current_task() noexcept {
        static std::size_t task = 0;
        return task;
    }
    static const void*& job_context() noexcept {
        static const void* context = nullptr;
        return context;
    }
};
#endif

// The threads the pool starts with: the CPUs the calling thread may run on (its affinity, as `taskset`
// or a container's cpuset sets it) where the system says (Linux), else the hardware's threads; and no
// more than a cgroup's CPU quota allows (cpu_limit.hpp: `docker --cpus`, a Kubernetes CPU limit). On a
// 2-CPU share of a larger machine, a pool of all its threads would put several on each CPU.
inline std::size_t default_threads() noexcept {
#if !EINVIT_THREADS
    return 1;
#else
    std::size_t n = 0;
#if defined(__linux__)
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0)
        n = static_cast<std::size_t>(CPU_COUNT(&allowed));
#endif
    if (n == 0) n = std::thread::hardware_concurrency();
    if (n == 0) n = 1;
#if EINVIT_HAS_EXCEPTIONS
    try {
#endif
        n = cpu_limit::tighter(n, cpu_limit::cpu_quota());
#if EINVIT_HAS_EXCEPTIONS
    } catch (...) {  // no memory to read the files: the affinity alone
    }
#endif
    return n;
#endif
}

inline ThreadPool& pool() {
#if EINVIT_THREADS
    static ThreadPool instance(default_threads());
#else
    static constinit ThreadPool instance(1);  // constant: no guard (a bare-metal target's run time has none to spare)
#endif
#if EINVIT_HAS_PTHREAD_ATFORK
    static const bool fork_handlers = [] {
        pthread_atfork([] { pool().before_fork(); }, [] { pool().after_fork_in_parent(); }, [] { pool().after_fork_in_child(); });
        return true;
    }();
    (void)fork_handlers;
#endif
    return instance;
}

}  // namespace detail

/// Sets the number of threads einvit's CPU kernels use (at least 1). From another thread while a kernel
/// runs, it waits for that kernel's job; from inside a kernel's task it raises invalid_argument.
inline void set_num_threads(std::size_t threads) { detail::pool().resize(threads); }

/// The number of threads einvit's CPU kernels use.
inline std::size_t num_threads() { return detail::pool().size(); }

/// Calls fn(begin, end) over [0, count) split into contiguous ranges, one per thread, each range a
/// multiple of `grain` (but the last). Ranges depend only on count, grain and the thread count.
template <class F>
void parallel_for(std::size_t count, std::size_t grain, F&& fn) {
    if (grain == 0) grain = 1;
    const std::size_t chunks = (count + grain - 1) / grain;
    const std::size_t threads = chunks < num_threads() ? chunks : num_threads();
    if (threads <= 1) {
        if (count) fn(std::size_t{0}, count);
        return;
    }
    detail::pool().run(threads, [&](std::size_t t) {
        const std::size_t b = chunks * t / threads * grain;
        const std::size_t e = t + 1 == threads ? count : chunks * (t + 1) / threads * grain;
        if (b < e) fn(b, e);
    });
}

namespace detail {

// parallel_items' cursors: the next item of a share (past its end: none left), each on its own cache line.
struct alignas(64) ItemCursor {
    std::atomic<std::size_t> next;
};
inline constexpr std::size_t item_cursors_on_stack = 8;

// `count` slots of a call's shared state (atomics on cache lines of their own, one per thread or share):
// `local`, on the caller's stack, where they fit, else the calling thread's own array of that type,
// grown once, so that after the first call (a model's first pass) the call allocates nothing.
template <class Slot, std::size_t N>
Slot* call_slots(Slot (&local)[N], std::size_t count) {
    if (count <= N) return local;
#if !EINVIT_THREADS  // (as a build without a heap is): one thread has one share
    raise(errc::invalid_argument, count, " shares of a call on one thread, more than the ", N, " it has room for");
#else
    // emptied, not left dangling, when the thread's storage goes (see ScratchBuffer): a kernel run from
    // a static object's destructor then allocates afresh
    struct Store {
        Slot* data = nullptr;
        std::size_t size = 0;
        ~Store() {
            delete[] data;
            data = nullptr;
            size = 0;
        }
    };
    static EINVIT_THREAD_LOCAL Store more;
    if (more.size < count) {
        Slot* grown = new Slot[count]();
        delete[] more.data;
        more.data = grown;
        more.size = count;
    }
    return more.data;
#endif
}

}  // namespace detail

/// Calls fn(i) once for every i in [0, count): for items of equal work whose results do not depend on
/// the thread that computes them. Each thread owns a contiguous share of the items, as parallel_for
/// would give it, and takes them in order; one done with its own takes the next items of the others'
/// shares. So in calm moments every thread works on its own share (the rows an earlier kernel of the
/// same split left in its core's caches), and a thread slowed by something else on its core (a shared
/// host) leaves the rest of its share to the others instead of making them wait at the end. Every
/// thread of the pool takes part (up to one per item); the shares' cursors sit on cache lines of their
/// own, on the stack for up to 8 threads and beyond that in an array of the calling thread's, allocated
/// on its first such call.
///
/// `prepare()`, when given, runs at the start of every task, before it takes an item, whether or not
/// any is left for it: for sizing a task's scratch buffers for any item it may take (see
/// gemm::detail::scratch_buffers), so that a pass that takes its items differently allocates nothing.
/// Where it returns something, that is the task's own state: each item the task takes is called as
/// fn(state, i) with it (attention's packed keys and values, reused by the task's next item of the same
/// head). A task is one thread's run of items; a thread that goes on to another task starts afresh.
template <class F, class Prepare = void (*)()>
void parallel_items(std::size_t count, F&& fn, Prepare&& prepare = [] {}) {
    const std::size_t threads = count < num_threads() ? count : num_threads();
    // one task: prepare, then each item that `take` hands it (take(call) calls call(i) for each)
    const auto task = [&](auto&& take) {
        if constexpr (std::is_void_v<decltype(prepare())>) {
            prepare();
            take([&](std::size_t i) { fn(i); });
        } else {
            auto state = prepare();
            take([&](std::size_t i) { fn(state, i); });
        }
    };
    if (threads <= 1 || detail::ThreadPool::inside_task()) {  // nested in a task: inline, in order
        if (count)
            task([&](auto&& call) {
                for (std::size_t i = 0; i < count; ++i) call(i);
            });
        return;
    }
    detail::ItemCursor local[detail::item_cursors_on_stack];
    detail::ItemCursor* cursor = detail::call_slots(local, threads);
    for (std::size_t t = 0; t < threads; ++t) cursor[t].next.store(count * t / threads, std::memory_order_relaxed);
    detail::pool().run(threads, [&](std::size_t t) {
        task([&](auto&& call) {
            for (std::size_t s = 0; s < threads; ++s) {
                const std::size_t share = t + s < threads ? t + s : t + s - threads, end = count * (share + 1) / threads;
                for (std::size_t i = cursor[share].next.fetch_add(1, std::memory_order_relaxed); i < end;
                     i = cursor[share].next.fetch_add(1, std::memory_order_relaxed))
                    call(i);
            }
        });
    });
}

}  // namespace einvit
