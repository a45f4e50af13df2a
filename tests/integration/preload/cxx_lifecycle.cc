// C++ start-up and tear-down under LD_PRELOAD (cxx.sh): static objects that
// allocate before main and free after it, thread_local objects with
// std::string and std::vector members made on first use in each thread and
// destroyed at its exit (before libsmalloc flushes that thread's cache),
// a thread_local of the main thread destroyed by exit(), and exceptions,
// whose objects __cxa_allocate_exception takes from malloc, thrown across
// threads through std::exception_ptr. Prints "cxx_lifecycle: <stage> ok" per
// stage, the last from a static destructor after main; any failure prints
// "cxx_lifecycle: FAILED ..." and _exit(1)s.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

[[noreturn]] void fail(const char *what, long a = 0, long b = 0)
{
    std::printf("cxx_lifecycle: FAILED %s (%ld, %ld)\n", what, a, b);
    std::fflush(stdout);
    _exit(1);
}

std::atomic<long> tls_made{0}, tls_destroyed{0};

struct PerThread {
    std::string name;
    std::vector<std::string> log;
    explicit PerThread(int id) : name("thread-" + std::to_string(id) + std::string(40, '.'))
    {
        tls_made++;
    }
    ~PerThread()
    {
        // runs at thread exit: strings freed here, one more made and freed
        std::string last = name + " done after " + std::to_string(log.size()) + " entries";
        if (last.find("thread-") != 0)
            fail("thread_local destructor saw a damaged name");
        tls_destroyed++;
    }
};

PerThread &this_thread_state(int id)
{
    thread_local PerThread state(id);
    return state;
}

struct Registry {
    std::map<std::string, std::vector<std::string>> entries;
    Registry()
    {
        for (int i = 0; i < 500; i++)
            entries["static-" + std::to_string(i)].assign(static_cast<size_t>(i % 7 + 1),
                                                           std::string(i % 60, 'x'));
    }
    ~Registry()
    {
        // after main and after the main thread's thread_local: still usable
        size_t n = 0;
        for (const auto &kv : entries)
            for (const auto &s : kv.second)
                n += s.size();
        entries.clear();
        std::string extra(300, 'y');
        if (n != expected_chars())
            fail("static map damaged at exit", static_cast<long>(n),
                 static_cast<long>(expected_chars()));
        if (tls_destroyed.load() != tls_made.load())
            fail("thread_local objects made/destroyed", tls_made.load(), tls_destroyed.load());
        std::printf("cxx_lifecycle: static destructor ok\n");
        std::fflush(stdout);
    }
    static size_t expected_chars()
    {
        size_t n = 0;
        for (int i = 0; i < 500; i++)
            n += static_cast<size_t>(i % 7 + 1) * static_cast<size_t>(i % 60);
        return n;
    }
};

Registry registry; // built before main

void thread_body(int id, std::exception_ptr *error)
{
    PerThread &st = this_thread_state(id);
    for (int i = 0; i < 2000; i++)
        st.log.push_back(st.name + ":" + std::to_string(i));
    try {
        throw std::runtime_error("thrown in thread " + std::to_string(id) + std::string(200, '!'));
    } catch (...) {
        *error = std::current_exception();
    }
}

} // namespace

int main()
{
    if (registry.entries.size() != 500)
        fail("static map built before main", static_cast<long>(registry.entries.size()));
    std::printf("cxx_lifecycle: static constructor ok\n");

    constexpr int kThreads = 8;
    std::vector<std::exception_ptr> errors(kThreads);
    std::vector<std::thread> threads;
    for (int round = 0; round < 5; round++) {
        threads.clear();
        for (int i = 0; i < kThreads; i++)
            threads.emplace_back(thread_body, round * kThreads + i, &errors[i]);
        for (auto &t : threads)
            t.join();
        for (int i = 0; i < kThreads; i++) {
            try {
                std::rethrow_exception(errors[i]);
            } catch (const std::runtime_error &e) {
                std::string want = "thrown in thread " + std::to_string(round * kThreads + i);
                if (std::string(e.what()).compare(0, want.size(), want) != 0)
                    fail("exception message", round, i);
            }
            errors[i] = nullptr; // the exception object is freed here, on another thread
        }
    }
    if (tls_made.load() != 5 * kThreads || tls_destroyed.load() != 5 * kThreads)
        fail("thread_local objects of exited threads", tls_made.load(), tls_destroyed.load());
    std::printf("cxx_lifecycle: threads ok\n");

    // The main thread's thread_local: destroyed by exit(), before statics.
    this_thread_state(-1).log.assign(100, std::string(100, 'm'));
    std::printf("cxx_lifecycle: main ok\n");
    std::fflush(stdout);
    std::exit(0);
}
