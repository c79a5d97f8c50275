#!/usr/bin/env python3
"""Turns the CSV lines of scripts/bench.sh into docs/benchmarks.md and a PNG chart."""
import csv
import datetime
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [r for r in csv.reader(f) if r]


def spread(values):
    lo, hi = min(values), max(values)
    mid = statistics.median(values)
    return mid, (hi - lo) / mid * 100 if mid else 0.0


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}, {java}"


def main(out, md_path, png_path, command):
    native = rows(os.path.join(out, "native.csv"))
    distant = rows(os.path.join(out, "distant.csv"))
    throughput = rows(os.path.join(out, "throughput.csv"))
    prometheus = rows(os.path.join(out, "prometheus.csv"))
    lines = [
        "# Benchmarks",
        "",
        f"Made by `{command}` on {datetime.date.today().isoformat()}.",
        f"Machine: {machine()}.",
        "Figures are medians over the repeated runs; the spread is (max - min) / median.",
        "",
        "These are benchmarks, not tests: nothing asserts a time. Apache's connector",
        "(`org.apache.flink:flink-connector-prometheus:1.0.0-1.20`) is not on the Maven Central this",
        "machine reaches (404), so its figures cannot be measured here; the `1 lane, 1 in flight`",
        "rows send exactly as it does (one request of up to 500 samples in flight per subtask).",
        "",
    ]

    lines += ["## 1. Native CPU per sample (no network)", "",
              "| workload | batch | what | ns/sample | encoded B/sample | snappy B/sample |",
              "|---|---|---|---|---|---|"]
    for r in native:
        lines.append(f"| {r[1]} | {r[2]} | {r[3]} | {float(r[4]):.0f} | {r[5]} | {r[6]} |")
    lines.append("")

    jmh = rows(os.path.join(out, "jmh.csv"))
    floor = {(r[1], int(r[2])): float(r[4]) for r in native if r[3].startswith("floor")}
    score = {}
    if jmh:
        header, data = jmh[0], jmh[1:]
        col = {name: i for i, name in enumerate(header)}
        for r in data:
            bench = r[col["Benchmark"]].split("CpuPerSampleBenchmark.", 1)[-1]
            key = (r[col["Param: workload"]], int(r[col["Param: batchSamples"]]))
            score[(bench, key)] = (float(r[col["Score"]]), float(r[col["Score Error (99.9%)"]] or 0))
        lines += ["### Records to compressed body, in the JVM (JMH; promsink includes the JNI call and the native work)", "",
                  "| workload | batch | promsink ns/sample | pure-Java baseline ns/sample | ratio | promsink B/sample allocated | baseline B/sample allocated |",
                  "|---|---|---|---|---|---|---|"]
        for key in sorted({k for (_, k) in score}):
            n = key[1]
            ours = score.get(("promsink", key))
            theirs = score.get(("pureJavaBaseline", key))
            ours_alloc = score.get(("promsink:gc.alloc.rate.norm", key))
            theirs_alloc = score.get(("pureJavaBaseline:gc.alloc.rate.norm", key))
            if not ours or not theirs:
                continue
            ratio = theirs[0] / ours[0]
            oa = f"{ours_alloc[0] / n:.3f}" if ours_alloc else "?"
            ta = f"{theirs_alloc[0] / n:.0f}" if theirs_alloc else "?"
            lines.append(f"| {key[0]} | {n} | {ours[0] / n:.0f} ± {ours[1] / n:.0f} | {theirs[0] / n:.0f} ± {theirs[1] / n:.0f} | {ratio:.1f}x | {oa} | {ta} |")
        lines += ["", "The baseline is built the way Apache's connector sends (protobuf-java `TimeSeries` per record with",
                  "`__name__` first, a `WriteRequest` per batch, `toByteArray`, snappy-java), not its artifact.", ""]
        lines += ["### Where the time goes, and the best ratio any implementation could reach", "",
                  "ns/sample. `read only`: JMH, reading every character and sample of the records and nothing",
                  "else, the least any sink in the JVM does. `floor`: Rust, encode + snappy of the same data",
                  "already in memory (section 1), the least any sink does to produce the body. Their sum bounds",
                  "every implementation, so `baseline / bound` is the highest ratio reachable against this",
                  "baseline on this machine.", "",
                  "| workload | batch | read only | promsink Java part | promsink native part | floor | bound (read + floor) | baseline | best reachable ratio | promsink ratio | promsink / floor | bound / floor |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for key in sorted({k for (_, k) in score}):
            n = key[1]
            got = [score.get((b, key)) for b in ("readRecordsOnly", "promsinkJavaPart", "promsink", "pureJavaBaseline")]
            if None in got or key not in floor:
                continue
            read, java, ours, theirs = (g[0] / n for g in got)
            bound = read + floor[key]
            lines.append(f"| {key[0]} | {n} | {read:.0f} | {java:.0f} | {ours - java:.0f} | {floor[key]:.0f} | {bound:.0f} | {theirs:.0f} | {theirs / bound:.1f}x | {theirs / ours:.1f}x | {ours / floor[key]:.1f}x | {bound / floor[key]:.1f}x |")
        lines += ["", "`promsink / floor`: the whole pipeline (JVM records to compressed body) against the Rust floor;",
                  "`bound / floor`: the same for the least any JVM sink does, reading the records included.", ""]

    groups = defaultdict(list)
    for r in distant:
        _, _, scenario, mode, lanes, inflight, samples, secs, rate, reqs, per_req, viol, refused, steady = r
        groups[(scenario, int(lanes), int(inflight), mode)].append((float(rate), float(per_req), int(viol), int(refused), float(steady)))
    base = {}
    lines += ["## 3. Distant backend (receiver answers after 50 ms, one subtask, batch 500)", "",
              "| scenario | lanes | batches in flight | samples/s (whole run) | spread | x one-in-flight | samples/s (second half) | x one-in-flight | samples/request | order violations |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(groups, key=lambda k: (k[0], k[3] == "adaptive", k[1], k[2])):
        scenario, lanes, inflight, mode = key
        rates = [g[0] for g in groups[key]]
        mid, sp = spread(rates)
        steady = statistics.median(g[4] for g in groups[key])
        if lanes == 1 and inflight == 1:
            base[scenario] = (mid, steady)
        ratio = mid / base[scenario][0] if scenario in base else float("nan")
        steady_ratio = steady / base[scenario][1] if scenario in base else float("nan")
        per_req = statistics.median(g[1] for g in groups[key])
        viol = sum(g[2] for g in groups[key])
        lanes_s = f"up to {lanes}, adaptive (default)" if mode == "adaptive" else str(lanes)
        lines.append(f"| {scenario} | {lanes_s} | {inflight} | {mid:,.0f} | {sp:.0f}% | {ratio:.1f}x | {steady:,.0f} | {steady_ratio:.1f}x | {per_req:.0f} | {viol} |")
    lines += ["", "`throttled`: 2 of every 22 answers are 429 (retried in place). Fixed rows keep every lane in",
              "use; the default row adapts the lanes in use (and the batches in flight with them): it starts",
              "with one lane and doubles while a raise pays, so its whole-run figure includes a ramp of a",
              "couple of seconds (its run is 3x longer); the second half of each run shows the steady state.", ""]

    tgroups = defaultdict(list)
    for r in throughput:
        _, _, sink, par, lanes, samples, secs, rate, cpu, rcpu, peak, mode, requests = r
        tgroups[(int(par), sink, int(lanes), mode)].append((float(rate), float(cpu), float(rcpu), int(peak), int(requests), int(samples)))
    lines += ["## 2. End-to-end job throughput (MiniCluster, W1: 1,000,000 series, count-only receiver)", "",
              "| parallelism | sink | lanes | samples/s | spread | % of ceiling | JVM CPU s per million | receiver CPU s per million | samples/request | peak native memory | bound |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    ceiling = {}
    ceiling_cpu = {}
    for key in sorted(tgroups, key=lambda k: (k[0], k[1] != "discard", k[2], k[3])):
        par, sink, lanes, mode = key
        mid, sp = spread([g[0] for g in tgroups[key]])
        if sink == "discard":
            ceiling[par] = mid
            ceiling_cpu[par] = statistics.median(g[1] for g in tgroups[key])
        pct = mid / ceiling[par] * 100 if par in ceiling else float("nan")
        cpu = statistics.median(g[1] for g in tgroups[key])
        rcpu = statistics.median(g[2] for g in tgroups[key])
        name = "discarding (ceiling)" if sink == "discard" else "promsink"
        lanes_s = "-" if sink == "discard" else (f"up to {lanes}, adaptive" if mode == "adaptive" and lanes > 1 else f"{lanes}, fixed" if lanes > 1 else "1")
        peak = max(g[3] for g in tgroups[key])
        per_req = "-" if sink == "discard" else f"{statistics.median(g[5] / g[4] for g in tgroups[key]):.0f}"
        in_flight = 1 if lanes == 1 else 3 * lanes
        bound = par * (lanes * 2**19 + (in_flight + 3 * lanes) * 500 * 180)
        mem = "-" if sink == "discard" else f"{peak / 2**20:.1f} MiB"
        bound_s = "-" if sink == "discard" else f"{bound / 2**20:.1f} MiB"
        lines.append(f"| {par} | {name} | {lanes_s} | {mid:,.0f} | {sp:.0f}% | {pct:.0f}% | {cpu:.2f} | {rcpu:.2f} | {per_req} | {mem} | {bound_s} |")
    read = score.get(("readRecordsOnly", ("W1", 500)))
    if ("W1", 500) in floor and read:
        least = (floor[("W1", 500)] + read[0] / 500) / 1000  # CPU s per million samples
        lines += ["", "**The most any sink could reach here.** On these 2 cores the ceiling job already keeps the",
                  "CPU busy (its JVM CPU per million samples times its rate is close to 2 cores), so a sink's",
                  "throughput is about `ceiling x c / (c + s)`, with `c` the ceiling's CPU per million samples and",
                  f"`s` the sink's. The least a sink can cost is reading the records in the JVM plus encoding and",
                  f"compressing them ({read[0] / 500:.0f} + {floor[('W1', 500)]:.0f} ns/sample, section 1, W1 at batch 500 =",
                  f"{least:.2f} s per million), nothing for HTTP, JNI or validation:", ""]
        for par in sorted(ceiling_cpu):
            c = ceiling_cpu[par]
            lines.append(f"- parallelism {par}: `c` = {c:.2f} s, so at most {c / (c + least) * 100:.0f}% of the ceiling for any implementation.")
        lines.append("")
    lines += ["", "Peak native memory: what the library's counting allocator held at most during the run (all",
              "writers of the JVM; includes each lane's HTTP and TLS state). Bound: the formula of",
              "docs/design.md, `writers x (lanes x 512 KiB + (batches in flight + 3 x lanes) x batch size x 180 bytes)`.", ""]

    lines += ["## 4. Real Prometheus (Debian 2.42 on this machine, 100,000 series, parallelism 2)", "",
              "| lanes (at most; adaptive) | samples | samples/s | JVM CPU s | Prometheus CPU s | sink share of CPU | stored |",
              "|---|---|---|---|---|---|---|"]
    for r in prometheus:
        _, par, lanes, samples, secs, rate, jcpu, pcpu, stored = r
        share = float(jcpu) / (float(jcpu) + float(pcpu)) * 100
        lines.append(f"| {lanes} | {int(samples):,} | {float(rate):,.0f} | {float(jcpu):.1f} | {float(pcpu):.1f} | {share:.0f}% (whole job JVM) | {int(stored):,} |")
    lines.append("")
    lines += ["![benchmarks](benchmarks.png)", ""]

    # Sections in their numbered order.
    starts = {n: next(i for i, l in enumerate(lines) if l.startswith(f"## {n}.")) for n in (1, 2, 3, 4)}
    if starts[3] < starts[2] < starts[4]:
        lines = lines[:starts[3]] + lines[starts[2]:starts[4]] + lines[starts[3]:starts[2]] + lines[starts[4]:]
    with open(md_path, "w") as f:
        f.write("\n".join(lines))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for scenario, marker in (("steady", "o"), ("throttled", "s")):
        keys = sorted((k for k in groups if k[0] == scenario), key=lambda k: (k[3] == "adaptive", k[2], k[1]))
        labels = [f"{k[1]}x{k[2]}" + (" adaptive" if k[3] == "adaptive" else "") for k in keys]
        values = [statistics.median(g[4] for g in groups[k]) for k in keys]
        axes[0].plot(labels, values, marker=marker, label=scenario)
    axes[0].set_title("Distant backend (50 ms): samples/s per subtask, steady state")
    axes[0].set_xlabel("lanes x batches in flight")
    axes[0].legend()
    axes[0].grid(alpha=0.3)
    keys = sorted(tgroups, key=lambda k: (k[0], k[1] != "discard", k[2], k[3]))
    labels = [f"p{k[0]} {'ceiling' if k[1] == 'discard' else 'L' + str(k[2]) + ('a' if k[3] == 'adaptive' and k[2] > 1 else '')}" for k in keys]
    values = [statistics.median(g[0] for g in tgroups[k]) for k in keys]
    axes[1].bar(labels, values, color=["#999" if k[1] == "discard" else "#2a7" for k in keys])
    axes[1].set_title("End-to-end samples/s (count-only receiver)")
    axes[1].tick_params(axis="x", rotation=30)
    axes[0].tick_params(axis="x", rotation=30)
    axes[1].grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:5])
