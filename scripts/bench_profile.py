#!/usr/bin/env python3
"""Summarises the profile of scripts/bench.sh section 5 into CSV lines for bench_report.py.

Reads OUT/profile-W1-p1-promsink.jfr (JFR, profile settings, the measured run only) and, where
perf worked, OUT/perf-{dso,sym,comm}.txt (perf report of the whole JVM process). Prints:
  profile,jfr_samples,<n>
  profile,jfr_top,<share of Java samples %>,<thread kind>,<frame>   (self time, top 10)
  profile,jfr_ours,<share %>,<frame>       (inclusive time of promsink's own Java methods, top 5)
  profile,jfr_thread,<share %>,<thread kind>
  profile,perf_comm,<share %>,<thread name>
  profile,perf_dso,<share %>,<dso>
  profile,perf_sym,<share %>,<dso>,<symbol>  (top 10)
  profile,perf_part,<share %>,<part>        (every sample, by part of the program)
  profile,perf_missing,<reason>
"""
import collections
import csv
import json
import os
import re
import subprocess
import sys


def thread_kind(name):
    name = name or "?"
    if name.startswith("Sink: Writer"):
        return "sink task (mailbox)"
    if name.startswith("Source:"):
        return "source -> map task"
    if name.startswith("promsink-sender"):
        return "promsink lane"
    if "GC" in name or name.startswith("G1"):
        return "GC"
    return "other"


def frame_name(frame):
    m = frame["method"]
    return m["type"]["name"].replace("/", ".") + "." + m["name"]


def jfr(path, out):
    text = subprocess.run(["jfr", "print", "--json", "--stack-depth", "64", "--events",
                           "jdk.ExecutionSample", path], capture_output=True, text=True, check=True).stdout
    events = json.loads(text)["recording"]["events"]
    self_time, ours, threads = collections.Counter(), collections.Counter(), collections.Counter()
    for e in events:
        frames = (e["values"].get("stackTrace") or {}).get("frames") or []
        thread = e["values"].get("sampledThread") or {}
        kind = thread_kind(thread.get("javaName") or thread.get("osName"))
        threads[kind] += 1
        if not frames:
            continue
        self_time[(kind, frame_name(frames[0]))] += 1
        for name in {frame_name(f) for f in frames}:
            if name.startswith("dev.promsink.") and ".bench." not in name:
                ours[name] += 1
    n = len(events)
    out.writerow(["profile", "jfr_samples", n])
    for (kind, name), count in self_time.most_common(10):
        out.writerow(["profile", "jfr_top", f"{count * 100 / n:.1f}", kind, name])
    for name, count in ours.most_common(5):
        out.writerow(["profile", "jfr_ours", f"{count * 100 / n:.1f}", name])
    for kind, count in threads.most_common():
        out.writerow(["profile", "jfr_thread", f"{count * 100 / n:.1f}", kind])


LINE = re.compile(r"^\s*([0-9.]+)%\s+(.*?)\s*$")


def short(symbol):
    """A JIT symbol without return type and parameters: pkg.Class.method."""
    m = re.match(r"^(?:[\w.$\[\]<>]+\s+)?([\w.$<>/]+)\(", symbol)
    return m.group(1) if m else symbol


def part(dso, symbol):
    if dso == "libpromsink.so":
        return "promsink native (libpromsink.so)"
    if dso.startswith("[JIT]"):
        name = short(symbol)
        if name.startswith("dev.promsink.flink.bench."):
            return "benchmark source (records)"
        if name.startswith("dev.promsink.flink.PrometheusTimeSeriesSerializer"):
            return "promsink Java: record serializer (keyBy)"
        if name.startswith("dev.promsink."):
            return "promsink Java: sink"
        if name.startswith("org.apache.flink."):
            return "Flink runtime (Java)"
        if name.startswith(("java.", "jdk.", "sun.")):
            return "JDK (Java)"
        return "interpreter, stubs, other JIT code"
    if dso == "libjvm.so":
        if symbol.startswith(("G1", "HeapRegion", "PSP", "OopMap", "Copy::")) or "G1" in symbol:
            return "JVM: GC"
        return "JVM: JIT compilers, runtime"
    if dso.startswith("[kernel"):
        return "kernel"
    return "libc and other libraries"


def perf(path, what, out, limit):
    if not os.path.exists(path):
        return
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = LINE.match(line)
            if not m:
                continue
            pct, rest = m.group(1), m.group(2)
            if what == "perf_sym":
                parts = re.split(r"\s+\[[.k]\]\s+", rest, maxsplit=1)
                if len(parts) != 2:
                    continue
                rows.append([pct, parts[0].strip(), parts[1].strip()])
            else:
                rows.append([pct, rest])
    for r in rows[:limit]:
        if what == "perf_sym":
            r = [r[0], r[1], short(r[2])[:120]]
        out.writerow(["profile", what] + r)
    if what == "perf_sym":
        parts = collections.Counter()
        for pct, dso, symbol in rows:
            parts[part(dso, symbol)] += float(pct)
        for name, pct in parts.most_common():
            out.writerow(["profile", "perf_part", f"{pct:.1f}", name])


def main(out_dir):
    out = csv.writer(sys.stdout)
    path = os.path.join(out_dir, "profile-W1-p1-promsink.jfr")
    if os.path.exists(path):
        jfr(path, out)
    missing = os.path.join(out_dir, "perf-missing.txt")
    if os.path.exists(missing):
        with open(missing) as f:
            out.writerow(["profile", "perf_missing", f.read().strip()])
    perf(os.path.join(out_dir, "perf-comm.txt"), "perf_comm", out, 12)
    perf(os.path.join(out_dir, "perf-dso.txt"), "perf_dso", out, 10)
    perf(os.path.join(out_dir, "perf-sym.txt"), "perf_sym", out, 12)


if __name__ == "__main__":
    main(sys.argv[1])
