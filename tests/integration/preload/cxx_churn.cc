// Threaded C++ churn for cxx.sh: std::thread workers build std::map and
// std::unordered_map of std::string, erase and rebuild them, and hand
// strings to each other through a queue, so blocks are freed by threads
// other than the ones that made them. Everything printed depends only on
// the seeds, never on scheduling: per-thread digests in thread order, and
// order-independent sums over what crossed threads. The output must be the
// same byte for byte with and without libsmalloc preloaded.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 4;
constexpr int kKeys = 20000;

struct Lcg {
    uint64_t x;
    uint32_t next()
    {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<uint32_t>(x >> 33);
    }
};

std::string make_word(Lcg &r)
{
    static const char *const syl[] = {"ka", "lo", "mi", "nu", "pe", "ra", "so", "ti"};
    std::string w;
    int n = 1 + r.next() % 12; // 2..24 bytes: small blocks, SSO and not
    for (int i = 0; i < n; i++)
        w += syl[r.next() % 8];
    return w;
}

uint64_t fnv(const std::string &s, uint64_t h = 1469598103934665603ull)
{
    for (unsigned char c : s)
        h = (h ^ c) * 1099511628211ull;
    return h;
}

// Strings passed between threads: whoever pops one frees it.
class Mailbox {
  public:
    void put(std::unique_ptr<std::string> s)
    {
        std::lock_guard<std::mutex> g(m_);
        q_.push_back(std::move(s));
        cv_.notify_one();
    }
    std::unique_ptr<std::string> take()
    {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [this] { return !q_.empty(); });
        auto s = std::move(q_.front());
        q_.pop_front();
        return s;
    }

  private:
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<std::string>> q_;
};

struct Result {
    uint64_t map_digest = 0;
    size_t map_size = 0;
    size_t unordered_size = 0;
    uint64_t received_sum = 0; // order-independent: a sum of hashes
    size_t received = 0;
};

void worker(int id, std::vector<Mailbox> &boxes, Result &out)
{
    Lcg r{static_cast<uint64_t>(id) * 7919 + 1};
    std::map<std::string, std::vector<int>> ordered;
    std::unordered_map<std::string, std::string> unordered;
    for (int round = 0; round < kRounds; round++) {
        for (int i = 0; i < kKeys; i++) {
            std::string w = make_word(r);
            ordered[w].push_back(i);
            unordered[w + std::to_string(i % 97)] = w;
        }
        // drop about a third, so pools empty and refill
        for (auto it = ordered.begin(); it != ordered.end();)
            it = (fnv(it->first) % 3 == 0) ? ordered.erase(it) : std::next(it);
        for (auto it = unordered.begin(); it != unordered.end();)
            it = (fnv(it->first) % 3 == 0) ? unordered.erase(it) : std::next(it);
        // send strings to the next thread; free those the previous one sent
        int next = (id + 1) % kThreads;
        for (int i = 0; i < kKeys / 10; i++)
            boxes[next].put(std::make_unique<std::string>(make_word(r) + "#" + std::to_string(id)));
        for (int i = 0; i < kKeys / 10; i++) {
            auto s = boxes[id].take();
            out.received_sum += fnv(*s);
            out.received++;
        }
    }
    uint64_t h = 1469598103934665603ull;
    for (const auto &kv : ordered) {
        h = fnv(kv.first, h);
        h = (h ^ kv.second.size()) * 1099511628211ull;
    }
    out.map_digest = h;
    out.map_size = ordered.size();
    out.unordered_size = unordered.size();
}

} // namespace

int main()
{
    std::vector<Mailbox> boxes(kThreads);
    std::vector<Result> results(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; i++)
        threads.emplace_back(worker, i, std::ref(boxes), std::ref(results[i]));
    for (auto &t : threads)
        t.join();
    uint64_t total = 0;
    for (int i = 0; i < kThreads; i++) {
        const Result &res = results[i];
        std::printf("thread %d: map %zu keys digest %016llx, unordered %zu keys, received %zu\n", i,
                    res.map_size, static_cast<unsigned long long>(res.map_digest),
                    res.unordered_size, res.received);
        total += res.received_sum;
    }
    std::printf("received sum %016llx\n", static_cast<unsigned long long>(total));
    return 0;
}
