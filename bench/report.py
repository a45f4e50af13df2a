#!/usr/bin/python3
"""Turn the raw results of bench/run.sh into tables and a chart.

    report.py RAW_DIR [--out bench/results] [--repo .] [--no-png]

RAW_DIR holds what run.sh wrote: meta.json, driver.jsonl (one line per
driver run), programs.jsonl (one line per python3 run, or per run of the
user's command for `run.sh --program`) and gbench-<alloc>.json.
Prints the tables on the terminal and writes OUT/latest.json (summary and
every raw sample), OUT/latest.md and OUT/latest.png.

Each cell is the median of the repetitions; the markdown adds min-max.
Ratios: "x glibc" is value / glibc's value (below 1 is better), "x best"
is value / the best allocator's value for that row (1.00 is the best).
Only the standard library and matplotlib (Debian's python3-matplotlib).
"""
import argparse
import datetime
import glob
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys

BASELINE = "glibc"


def read_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                print(f"report.py: {path}:{n}: not JSON, skipped", file=sys.stderr)
    return rows


def summary(values):
    """median/min/max/n of a list of numbers, or None when empty."""
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values)}


def fmt(v):
    """3 significant digits, no exponent for the ranges we print."""
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def unique(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


# ---- collecting ---------------------------------------------------------------

def collect_grid(rows, row_key, metrics):
    """{row: {alloc: {metric: summary, "errors": k}}} from raw lines."""
    grid = {}
    for r in rows:
        cell = grid.setdefault(r[row_key], {}).setdefault(
            r["allocator"], {"samples": {m: [] for m in metrics}, "errors": 0})
        if "error" in r or r.get("exit", 0) != 0:
            cell["errors"] += 1
            continue
        for m in metrics:
            if r.get(m) is not None and r[m] >= 0:
                cell["samples"][m].append(r[m])
    for row in grid.values():
        for cell in row.values():
            for m in metrics:
                cell[m] = summary(cell["samples"][m])
    return grid


def add_ratios(grid, metric, allocs, bases=(BASELINE,)):
    """Per row: x each of the bases (glibc; python's own pymalloc for the python3 scripts)
    and x best of the medians; returns {row: best alloc}."""
    best = {}
    for name, row in grid.items():
        med = {a: row[a][metric]["median"] for a in allocs
               if a in row and row[a].get(metric)}
        if not med:
            continue
        b = min(med, key=med.get)
        best[name] = b
        for a, v in med.items():
            ratio = {base: v / med[base] if med.get(base) else None for base in bases}
            ratio["best"] = v / med[b] if med[b] else None
            row[a].setdefault("ratio", {})[metric] = ratio
    return best


def read_gbench(raw_dir):
    out = {}
    for path in sorted(glob.glob(os.path.join(raw_dir, "gbench-*.json"))):
        alloc = os.path.basename(path)[len("gbench-"):-len(".json")]
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        rows = {}
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            name = b.get("run_name", b["name"]).split("/")[0]
            if "error_occurred" in b and b["error_occurred"]:
                rows[name] = {"error": b.get("error_message", "error")}
                continue
            rows.setdefault(name, {
                "ns_per_op": b.get("time_per_op", 0) * 1e9,
                "items_per_second": b.get("items_per_second"),
                "iterations": b.get("iterations"),
                "peak_rss_kb": b.get("peak_rss_kb"),
            })
        out[alloc] = rows
    return out


def machine(repo):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def git(*args):
        try:
            return subprocess.run(["git", "-C", repo, *args], capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    if commit != "unknown" and git("status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "commit": commit,
    }


# ---- terminal tables -------------------------------------------------------------

def text_table(title, header, rows, first_width=18, width=14):
    # A long allocator name (smalloc_secure) must not run into its neighbour.
    width = max([width] + [len(h) + 1 for h in header[1:]])
    lines = [title, f"{header[0]:<{first_width}}" + "".join(f"{h:>{width}}" for h in header[1:])]
    for r in rows:
        lines.append(f"{r[0]:<{first_width}}" + "".join(f"{c:>{width}}" for c in r[1:]))
    return "\n".join(lines)


def value_rows(grid, names, allocs, metric, scale, best, with_ratio=True, base=BASELINE):
    rows = []
    for name in names:
        row = [name]
        for a in allocs:
            cell = grid.get(name, {}).get(a)
            if cell is None:
                row.append("")
            elif cell.get(metric) is None:
                row.append("FAIL" if cell["errors"] else "-")
            else:
                s = fmt(cell[metric]["median"] * scale) + ("*" if best.get(name) == a else " ")
                r = cell.get("ratio", {}).get(metric, {}).get(base)
                if with_ratio and r is not None:
                    s += f" x{r:.2f}"
                row.append(s)
        rows.append(row)
    return rows


def geomean_row(grid, names, allocs, metric, base=BASELINE):
    row = [f"geomean x {base}"]
    for a in allocs:
        g = geomean([grid[n][a]["ratio"][metric][base] for n in names
                     if a in grid.get(n, {}) and "ratio" in grid[n][a]
                     and metric in grid[n][a]["ratio"]])
        row.append(f"x{g:.2f}" if g else "-")
    return row


def best_rows(grid, names, allocs, metric, best):
    rows = []
    for name in names:
        row = [name]
        for a in allocs:
            r = grid.get(name, {}).get(a, {}).get("ratio", {}).get(metric, {}).get("best")
            row.append(f"{r:.2f}" if r is not None else "-")
        row.append(best.get(name, "-"))
        rows.append(row)
    return rows


# ---- markdown -----------------------------------------------------------------------

def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 2) + ["---"]) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def md_rows(grid, names, allocs, metric, scale, best, note, base=BASELINE):
    rows = []
    for name in names:
        row = [f"`{name}`"]
        for a in allocs:
            cell = grid.get(name, {}).get(a)
            if cell is None:
                row.append("")
            elif cell.get(metric) is None:
                row.append("FAIL" if cell["errors"] else "-")
            else:
                s = cell[metric]
                v = fmt(s["median"] * scale)
                if best.get(name) == a:
                    v = f"**{v}**"
                r = cell.get("ratio", {}).get(metric, {}).get(base)
                rng = f"{fmt(s['min'] * scale)}–{fmt(s['max'] * scale)}"
                row.append(v + (f" ×{r:.2f}" if r is not None else "") + f"<br><sub>{rng}</sub>")
        row.append(f"{best[name]} {note}" if name in best else "-")
        rows.append(row)
    return rows


# ---- chart --------------------------------------------------------------------------

COLORS = {"glibc": "#7f7f7f", "smalloc": "#d62728", "smalloc_secure": "#e377c2", "jemalloc": "#1f77b4",
          "mimalloc": "#2ca02c", "tcmalloc": "#ff7f0e", "pymalloc": "#9467bd",
          "pymalloc+smalloc": "#c5b0d5"}


def bars(ax, grid, names, allocs, metric, scale, title, ylabel, log):
    n = len(allocs)
    width = 0.8 / max(n, 1)
    for i, a in enumerate(allocs):
        xs, ys, lo, hi = [], [], [], []
        for j, name in enumerate(names):
            s = grid.get(name, {}).get(a, {}).get(metric)
            if not s:
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(s["median"] * scale)
            lo.append((s["median"] - s["min"]) * scale)
            hi.append((s["max"] - s["median"]) * scale)
        ax.bar(xs, ys, width, yerr=[lo, hi], label=a, color=COLORS.get(a),
               capsize=1.5, error_kw={"elinewidth": 0.6})
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    if log:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(axis="y", alpha=0.3, which="both")


def chart(path, wl, wl_names, progs, prog_names, allocs, prog_allocs, subtitle, prog_title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report.py: matplotlib missing (apt-get install python3-matplotlib): no PNG",
              file=sys.stderr)
        return False
    nrows = (1 if wl_names else 0) + (1 if prog_names else 0)
    fig, axes = plt.subplots(nrows, 2, figsize=(16, 5 * nrows), squeeze=False)
    if wl_names:
        bars(axes[0][0], wl, wl_names, allocs, "ns_per_op", 1,
             "Time per operation (median, min–max), lower is better", "ns / op (log)", True)
        bars(axes[0][1], wl, wl_names, allocs, "peak_rss_kb", 1 / 1024,
             "Peak RSS of the driver process", "MiB (log)", True)
        axes[0][0].legend(fontsize=8, ncol=len(allocs))
    if prog_names:
        row = axes[nrows - 1]
        bars(row[0], progs, prog_names, prog_allocs, "wall_s", 1,
             f"{prog_title}: wall time", "seconds", False)
        bars(row[1], progs, prog_names, prog_allocs, "peak_rss_kb", 1 / 1024,
             f"{prog_title}: peak RSS", "MiB", False)
        row[0].legend(fontsize=8, ncol=len(prog_allocs))
    fig.suptitle(f"libsmalloc benchmarks — {subtitle}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---- main ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw_dir")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results"))
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--no-png", action="store_true")
    args = ap.parse_args()

    meta = {}
    meta_path = os.path.join(args.raw_dir, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    driver_raw = read_jsonl(os.path.join(args.raw_dir, "driver.jsonl"))
    prog_raw = read_jsonl(os.path.join(args.raw_dir, "programs.jsonl"))
    for r in prog_raw:  # CPU time of the program: user + system
        if r.get("user_s") is not None and r.get("sys_s") is not None:
            r["cpu_s"] = r["user_s"] + r["sys_s"]
    if not driver_raw and not prog_raw:
        sys.exit(f"report.py: no results in {args.raw_dir}")

    allocs = list(meta.get("allocators", {})) or unique(r["allocator"] for r in driver_raw)
    allocs = unique(allocs + [r["allocator"] for r in driver_raw])
    prog_allocs = unique(allocs + [r["allocator"] for r in prog_raw])
    wl_names = unique(r["workload"] for r in driver_raw)
    prog_names = unique(r["program"] for r in prog_raw)

    for r in driver_raw:  # CPU time of all threads per call: steadier than wall on a busy machine
        if r.get("cpu_ns") is not None and r.get("ops"):
            r["cpu_ns_per_op"] = r["cpu_ns"] / r["ops"]
    wl = collect_grid(driver_raw, "workload",
                      ["ns_per_op", "cpu_ns_per_op", "peak_rss_kb", "rss_end_kb"])
    best_time = add_ratios(wl, "ns_per_op", allocs)
    best_peak = add_ratios(wl, "peak_rss_kb", allocs)
    best_end = add_ratios(wl, "rss_end_kb", allocs)
    best_cpu_op = add_ratios(wl, "cpu_ns_per_op", allocs)
    progs = collect_grid(prog_raw, "program", ["wall_s", "cpu_s", "peak_rss_kb"])
    # The python3 scripts are judged against python's own allocator.
    prog_base = "pymalloc" if "pymalloc" in prog_allocs else BASELINE
    prog_bases = unique([BASELINE, prog_base])
    best_wall = add_ratios(progs, "wall_s", prog_allocs, prog_bases)
    best_cpu = add_ratios(progs, "cpu_s", prog_allocs, prog_bases)
    best_prss = add_ratios(progs, "peak_rss_kb", prog_allocs, prog_bases)
    gb = read_gbench(args.raw_dir)
    mach = machine(args.repo)
    # The run's own commit and start time, when run.sh recorded them.
    mach["commit"] = meta.get("commit", mach["commit"])
    mach["date"] = meta.get("started", mach["date"])

    reps = meta.get("reps", "?")
    mode = meta.get("mode", "?")
    # run.sh --program: the rows are the user's command, not python3 scripts.
    user_prog = mode == "program"
    prog_title = "program" if user_prog else "python3 scripts"
    subtitle = (f"{mach['date']}, {mach['nproc']} cpus {mach['cpu']}, commit {mach['commit']}, "
                f"{mode} run")

    # -- terminal
    out = [f"libsmalloc benchmarks: {subtitle}",
           f"median of {reps} runs; * = best in the row; xN.NN = ratio to glibc (below 1 is better)", ""]
    head = ["workload"] + allocs
    if wl_names:
        out.append(text_table("Time per operation, ns", head,
                              value_rows(wl, wl_names, allocs, "ns_per_op", 1, best_time)
                              + [geomean_row(wl, wl_names, allocs, "ns_per_op")]))
        out.append("")
        out.append(text_table("Time relative to the fastest allocator of the row", head + ["fastest"],
                              best_rows(wl, wl_names, allocs, "ns_per_op", best_time), width=10))
        out.append("")
        out.append(text_table("CPU time per operation (all threads), ns", head,
                              value_rows(wl, wl_names, allocs, "cpu_ns_per_op", 1, best_cpu_op)
                              + [geomean_row(wl, wl_names, allocs, "cpu_ns_per_op")]))
        out.append("")
        out.append(text_table("Peak RSS, MiB", head,
                              value_rows(wl, wl_names, allocs, "peak_rss_kb", 1 / 1024, best_peak)
                              + [geomean_row(wl, wl_names, allocs, "peak_rss_kb")]))
        out.append("")
        out.append(text_table("RSS at the end (all freed), MiB", head,
                              value_rows(wl, wl_names, allocs, "rss_end_kb", 1 / 1024, best_end)))
        out.append("")
    if prog_names and user_prog:
        ph = ["program"] + prog_allocs
        out.append(f"program: {meta.get('program', '?')}")
        out.append(text_table(f"Wall time, s, median of {reps}", ph,
                              value_rows(progs, prog_names, prog_allocs, "wall_s", 1, best_wall)))
        out.append("")
        out.append(text_table("CPU time (user + system), s", ph,
                              value_rows(progs, prog_names, prog_allocs, "cpu_s", 1, best_cpu)))
        out.append("")
        out.append(text_table("Peak RSS, MiB", ph,
                              value_rows(progs, prog_names, prog_allocs, "peak_rss_kb", 1 / 1024,
                                         best_prss)))
        out.append("")
    elif prog_names:
        ph = ["python3 script"] + prog_allocs
        for title, metric, scale, best in (
                (f"python3 (PYTHONMALLOC=malloc; pymalloc = python's own), wall s, "
                 f"median of {meta.get('python_reps', '?')}", "wall_s", 1, best_wall),
                ("python3 CPU time (user + system), s", "cpu_s", 1, best_cpu),
                ("python3 peak RSS, MiB", "peak_rss_kb", 1 / 1024, best_prss)):
            out.append(text_table(title, ph,
                                  value_rows(progs, prog_names, prog_allocs, metric, scale, best,
                                             base=prog_base)
                                  + [geomean_row(progs, prog_names, prog_allocs, metric, prog_base)]))
            out.append("")
    if gb:
        gb_allocs = [a for a in allocs if a in gb] + [a for a in gb if a not in allocs]
        names = unique(n for a in gb_allocs for n in gb[a])
        rows = []
        for n in names:
            row = [n]
            for a in gb_allocs:
                c = gb[a].get(n)
                row.append("-" if c is None else "FAIL" if "error" in c else fmt(c["ns_per_op"]))
            rows.append(row)
        out.append(text_table("Google Benchmark shim (one short run), ns per op",
                              ["benchmark"] + gb_allocs, rows))
        out.append("")
    text = "\n".join(out)
    print(text)

    # -- latest.json
    os.makedirs(args.out, exist_ok=True)

    def strip(grid):
        return {n: {a: {k: v for k, v in c.items() if k != "samples"} for a, c in row.items()}
                for n, row in grid.items()}
    doc = {
        "machine": mach, "meta": meta, "allocators": allocs,
        "workloads": strip(wl), "programs": strip(progs), "gbench": gb,
        "best": {"time": best_time, "cpu_time": best_cpu_op, "peak_rss": best_peak,
                 "rss_end": best_end,
                 "program_wall": best_wall, "program_cpu": best_cpu,
                 "program_peak_rss": best_prss},
        "raw": {"driver": driver_raw, "programs": prog_raw},
    }
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    # -- latest.md
    md = ["# libsmalloc benchmark results", "",
          f"- date: {mach['date']}",
          f"- machine: {mach['nproc']} cpus, {mach['cpu']}, Linux {mach['kernel']}",
          f"- commit: `{mach['commit']}`",
          (f"- run: `bench/run.sh --program {shlex.quote(meta.get('program', '?'))}`, "
           f"median of {reps} runs per cell" if user_prog else
           f"- run: `bench/run.sh{' --quick' if mode == 'quick' else ''}` ({mode}), "
           f"median of {reps} runs per cell, driver scale {meta.get('scale', '?')}"),
          "- allocators: " + ", ".join(
              f"{a} ({v.get('version') or 'build'}{', ' + v['library'] if v.get('library') not in (None, 'none') else ''})"
              for a, v in meta.get("allocators", {}).items()),
          "", "Each cell: median, ratio to glibc (×), and min–max below. "
          "**Bold** = best of the row (fastest or smallest), also named in the last column.",
          "See [bench/README.md](../README.md) for what each workload does.", ""]
    if wl_names:
        md += ["## Time per operation (ns)", "",
               md_table(["workload"] + allocs + ["fastest"],
                        md_rows(wl, wl_names, allocs, "ns_per_op", 1, best_time, "fastest")
                        + [[f"*{c}*" for c in geomean_row(wl, wl_names, allocs, "ns_per_op")] + [""]]),
               "", "## CPU time per operation, all threads (ns)", "",
               "User + system time of the driver process over the calls: waiting for a core "
               "does not count, so it moves less than wall time when the machine is shared "
               "(spinning and thread start-up do count).", "",
               md_table(["workload"] + allocs + ["least"],
                        md_rows(wl, wl_names, allocs, "cpu_ns_per_op", 1, best_cpu_op, "least")
                        + [[f"*{c}*" for c in geomean_row(wl, wl_names, allocs, "cpu_ns_per_op")] + [""]]),
               "", "## Peak RSS (MiB)", "",
               md_table(["workload"] + allocs + ["smallest"],
                        md_rows(wl, wl_names, allocs, "peak_rss_kb", 1 / 1024, best_peak, "smallest")),
               "", "## RSS at the end, everything freed (MiB)", "",
               md_table(["workload"] + allocs + ["smallest"],
                        md_rows(wl, wl_names, allocs, "rss_end_kb", 1 / 1024, best_end, "smallest")),
               ""]
    def prog_section(title, intro, first, key, scale, best, word):
        """One table of the programs (or python3 scripts) by one measure, with the geomean
        of the ratios to python's pymalloc for the scripts."""
        rows = md_rows(progs, prog_names, prog_allocs, key, scale, best, word, prog_base)
        if prog_base != BASELINE:
            rows += [[f"*{c}*" for c in geomean_row(progs, prog_names, prog_allocs, key, prog_base)]
                     + [""]]
        return [f"## {title}", ""] + ([intro, ""] if intro else []) + [
            md_table([first] + prog_allocs + [word], rows), ""]

    if prog_names and user_prog:
        intro = (f"`{meta.get('program', '?')}` (run by `bash -c`) under each allocator "
                 "(`LD_PRELOAD`; glibc: none). Its stdout is discarded.")
        md += (prog_section("Program (wall s)", intro, "program", "wall_s", 1, best_wall, "fastest")
               + prog_section("Program (CPU s, user + system)", None, "program", "cpu_s", 1, best_cpu,
                              "least")
               + prog_section("Program (peak RSS, MiB)", None, "program", "peak_rss_kb", 1 / 1024,
                              best_prss, "smallest"))
    elif prog_names:
        intro = (f"Debian's python3 {meta.get('python_version', '')} with `PYTHONMALLOC=malloc` under "
                 "each allocator; `pymalloc` is python's own allocator, no preload; "
                 "`pymalloc+smalloc` is python's own allocator with libsmalloc preloaded (no "
                 "`PYTHONMALLOC`): pymalloc keeps the small objects, libsmalloc serves the rest. "
                 "Ratios (×) are to pymalloc.")
        md += (prog_section("python3 scripts (wall s)", intro, "script", "wall_s", 1, best_wall, "fastest")
               + prog_section("python3 scripts (CPU s, user + system)",
                              "User + system time of the python3 process: waiting for a core does "
                              "not count, so it is steadier than wall time on a shared machine.",
                              "script", "cpu_s", 1, best_cpu, "least")
               + prog_section("python3 scripts (peak RSS, MiB)", None, "script", "peak_rss_kb", 1 / 1024,
                              best_prss, "smallest"))
    if gb:
        md += ["## Google Benchmark shim (ns per op, one short run)", "",
               md_table(["benchmark"] + gb_allocs + [""], [r + [""] for r in rows]), ""]
    md += ["![charts](latest.png)", ""]
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write("\n".join(md))

    png = None
    if not args.no_png:
        png = os.path.join(args.out, "latest.png")
        if not chart(png, wl, wl_names, progs, prog_names, allocs, prog_allocs, subtitle,
                     prog_title):
            png = None
    print("wrote " + ", ".join(os.path.join(args.out, f) for f in
                               ["latest.json", "latest.md"] + (["latest.png"] if png else [])))


if __name__ == "__main__":
    main()
