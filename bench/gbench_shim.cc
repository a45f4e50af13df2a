// gbench_shim: the workloads of workloads.h registered with Google Benchmark,
// for people who want its statistics and output formats:
//
//   gbench_shim --benchmark_format=json --benchmark_repetitions=5
//   LD_PRELOAD=.../libmimalloc.so.2 gbench_shim --benchmark_filter=single
//
// One benchmark iteration is one call of the workload at --scale times its
// default size (default 0.05, so an iteration takes some milliseconds).
// Reported per benchmark: items_per_second (items = malloc-family calls),
// time_per_op (seconds per call, shown as e.g. "21n"), peak_rss_kb.
// Time is wall-clock (UseRealTime) because some workloads run threads.
// Own flags, removed before Google Benchmark parses the rest:
//   --scale=X  --seed=S  --trace=FILE (for replay)

#include "support.h"
#include "workloads.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#ifndef SMALLOC_BENCH_TRACE_DEFAULT
#define SMALLOC_BENCH_TRACE_DEFAULT ""
#endif

namespace {

struct ShimOptions {
    double scale = 0.05;
    uint64_t seed = 42;
    std::string trace;
};

// Take our --name=value flags out of argv; returns false on a bad value.
bool TakeOwnFlags(int *argc, char **argv, ShimOptions *opt)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (std::strncmp(a, "--scale=", 8) == 0) {
            char *end;
            opt->scale = std::strtod(a + 8, &end);
            if (*end != '\0' || !(opt->scale > 0))
                return false;
        } else if (std::strncmp(a, "--seed=", 7) == 0) {
            opt->seed = std::strtoull(a + 7, nullptr, 0);
        } else if (std::strncmp(a, "--trace=", 8) == 0) {
            opt->trace = a + 8;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = nullptr;
    return true;
}

void RunWorkload(benchmark::State &state, const wl_desc *w, wl_args args)
{
    uint64_t ops = 0;
    wl_reset_peak_rss();
    for (auto _ : state) {
        uint64_t done = w->fn(&args);
        if (done == 0) {
            state.SkipWithError("workload failed (see stderr)");
            break;
        }
        ops += done;
    }
    state.SetItemsProcessed(static_cast<int64_t>(ops));
    state.counters["time_per_op"] = benchmark::Counter(
        static_cast<double>(ops), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["peak_rss_kb"] = static_cast<double>(wl_status_kb("VmHWM"));
}

} // namespace

int main(int argc, char **argv)
{
    ShimOptions opt;
    const char *env_trace = std::getenv("SMBENCH_TRACE");
    opt.trace = env_trace && *env_trace ? env_trace : SMALLOC_BENCH_TRACE_DEFAULT;
    if (!TakeOwnFlags(&argc, argv, &opt)) {
        std::fprintf(stderr, "gbench_shim: bad --scale/--seed/--trace value\n");
        return 2;
    }
    // The trace path must outlive the benchmarks: opt lives until main returns.
    for (size_t i = 0; i < wl_count; i++) {
        const wl_desc *w = &wl_table[i];
        wl_args args{};
        args.n = static_cast<uint64_t>(static_cast<double>(w->n) * opt.scale + 0.5);
        if (args.n == 0 && w->n != 0)
            args.n = 1;
        args.arg = w->arg;
        args.seed = opt.seed;
        args.trace = opt.trace.c_str();
        benchmark::RegisterBenchmark(w->name, RunWorkload, w, args)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::AddCustomContext("scale", std::to_string(opt.scale));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
