#!/usr/bin/env bash
# Runs every benchmark of promsink against Apache's connector (flink-connector-prometheus 1.0.0,
# the jar of ../shared/baselines) and writes docs/benchmarks.md and docs/benchmarks.png.
# Benchmarks, not tests: no figure here is asserted anywhere.
#   BENCH_REPEATS=3 BENCH_SAMPLES=10000000 scripts/bench.sh
# BENCH_PROFILE=0 skips the profile of section 5 (JFR, and perf where it works). W2's comparison
# runs BENCH_SAMPLES_W2 samples (default 3 x BENCH_SAMPLES).
# Took 44 minutes with BENCH_REPEATS=2 on 2 shared cores (2026-11-29); each repeat of sections 2
# and 3 takes 10-25 minutes depending on the load, most of it Apache's connector on W1.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${BENCH_REPEATS:-3}
samples=${BENCH_SAMPLES:-10000000}
profile=${BENCH_PROFILE:-1}
out=target/bench
mkdir -p "$out"
rm -f "$out"/*.csv "$out"/*.jfr "$out"/perf.data* "$out"/*.txt
started=$(date +%s)

scripts/install-deps.sh >/dev/null
python3 -c "import matplotlib" 2>/dev/null || pip install -q matplotlib

# Apache's connector: into the local Maven repository once (its pom there declares no
# dependencies; the bench profile of java/flink-1.20/pom.xml lists them).
baselines="$(dirname "$PWD")/shared/baselines"
apache_jar="$baselines/flink-connector-prometheus-1.0.0.jar"
m2="${MAVEN_REPO:-$HOME/.m2/repository}"
if [ ! -f "$m2/org/apache/flink/flink-connector-prometheus/1.0.0/flink-connector-prometheus-1.0.0.jar" ]; then
  [ -f "$apache_jar" ] || { echo "missing $apache_jar (see shared/baselines/README.md)" >&2; exit 1; }
  echo "== installing Apache's connector 1.0.0 into the local Maven repository"
  mvn -B -q -ntp install:install-file -Dfile="$apache_jar" -DgroupId=org.apache.flink \
    -DartifactId=flink-connector-prometheus -Dversion=1.0.0 -Dpackaging=jar
fi

echo "== building (profile bench: JMH, Apache's connector and its runtime dependencies, and the"
echo "   native library with the cargo feature bench-support, for the JMH dry run)"
# On the Flink 1.20 line, the one Apache's connector 1.0.0 serves.
module=java/flink-1.20
# Measured here, on x86_64: no aarch64 cross-build.
mvn -B -q -ntp -Dstyle.color=never -Pbench -DskipTests -Dspotless.check.skip=true \
  -Dnative.aarch64.skip -pl "$module" -am test-compile
mvn -B -q -ntp -Dstyle.color=never -Pbench -pl "$module" dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile="$PWD/target/bench.classpath"
opens=$(sed -n 's:.*<flink.jvm.opens>\(.*\)</flink.jvm.opens>.*:\1:p' pom.xml)
classpath="$module/target/classes:$module/target/test-classes:$(cat target/bench.classpath)"
run_java() {
  # shellcheck disable=SC2086
  java $opens -Xmx4g -XX:-UseDynamicNumberOfCompilerThreads \
    -Dlog4j2.configurationFile=java/src/test/resources/log4j2-test.properties \
    -cp "$classpath" "$@" 2>&1
}

echo "== 1. native CPU per sample (Rust: promsink's preparation vs prost + snappy floor)"
# With the feature the bench profile built the library with, so cargo does not rebuild it.
cargo run -q --release -p promsink --features bench-support --example encode_floor 2 | tee -a "$out/native.csv"

echo "== 1. CPU and allocation per sample, records to compressed body (JMH, -prof gc, batch 500)"
java -cp "$classpath" org.openjdk.jmh.Main \
  'CpuPerSampleBenchmark\.(promsink|promsinkJavaPart|readRecordsOnly|apacheConnector)$' \
  -p batchSamples=500 -f "$repeats" -wi 3 -i 5 -w 1 -r 1 \
  -prof gc -rf csv -rff "$out/jmh.csv" | grep -E '^(Benchmark|CpuPerSample)' | grep -v 'gc\.'

for r in $(seq 1 "$repeats"); do
  # One JVM per workload (its warm-up on that workload only); W2 runs 3x the samples, its runs
  # otherwise last a few seconds, in which the JIT compilers are still busy.
  for workload in W1 W2; do
    n=$samples
    [ "$workload" = W2 ] && n=${BENCH_SAMPLES_W2:-$((3 * samples))}
    echo "== 2. whole job and sink only, promsink and Apache's connector, $workload ($n samples), run $r of $repeats"
    run_java "-Dbench.warmup=${BENCH_WARMUP:-1000000}" "-Dbench.workloads=$workload" \
      dev.promsink.flink.bench.ApacheComparisonBench compare "$n" "$r" | grep '^compare' \
      | sed "s/^/$r,/" | tee -a "$out/compare.csv"
  done
  echo "== 3. distant receiver (50 ms answers), run $r of $repeats"
  run_java -Dbench.configs=1x1,4x8,12x36,32x96,64x192,32x96a dev.promsink.flink.bench.DistantBackendBench 30000 600000 \
    | grep '^distant' | sed "s/^/$r,/" | tee -a "$out/distant.csv"
  run_java dev.promsink.flink.bench.ApacheComparisonBench distant 30000 | grep '^distant' \
    | sed "s/^/$r,/" | tee -a "$out/distant.csv"
done

echo "== 4. real Prometheus ingest (100,000 series): Debian's 2.42, and Prometheus 3 (built once, cached)"
PROMSINK_PROMETHEUS3=$(scripts/prometheus3.sh)
export PROMSINK_PROMETHEUS3
run_java dev.promsink.flink.bench.PrometheusIngestBench "${BENCH_INGEST_SAMPLES:-5000000}" 100000 | grep '^prometheus' \
  | tee -a "$out/prometheus.csv"

if [ "$profile" = 1 ]; then
  echo "== 5. where the time goes: promsink on W1, parallelism 1 ($samples samples; JFR, perf)"
  prof_args=(-Dbench.workloads=W1 -Dbench.parallelism=1 -Dbench.kinds=promsink
    -Dbench.startupRuns=0 "-Dbench.jfr=$out/profile-{}.jfr" dev.promsink.flink.bench.ApacheComparisonBench
    compare "$samples" 1)
  # perf samples every thread of the JVM (the native lanes too) during the measured run only (the
  # program enables it through a control fifo); the JVM writes a map of its JIT-compiled methods
  # at exit, so Java and native frames show in one table. perf needs perf_event_open, which some
  # sandboxes (gVisor) refuse: then JFR alone.
  if command -v perf >/dev/null 2>&1 && perf record -q -o "$out/perf.probe" -- true >/dev/null 2>&1; then
    rm -f "$out/perf.ctl" "$out/perf.ack"
    mkfifo "$out/perf.ctl" "$out/perf.ack"
    # shellcheck disable=SC2086
    perf record -q -F 499 -D -1 --control "fifo:$out/perf.ctl,$out/perf.ack" -o "$out/perf.data" -- \
      java $opens -Xmx4g -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit \
      -Dlog4j2.configurationFile=java/src/test/resources/log4j2-test.properties -cp "$classpath" \
      "-Dbench.perfctl=$out/perf.ctl" "-Dbench.perfack=$out/perf.ack" "${prof_args[@]}" 2>&1 \
      | grep '^compare' | tee "$out/profile-run.txt"
    perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null > "$out/perf-dso.txt" || true
    perf report -i "$out/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null \
      > "$out/perf-sym.txt" || true
    perf report -i "$out/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null \
      > "$out/perf-comm.txt" || true
    rm -f "/tmp/perf-$(cat "$out/perf.ctl.pid").map" "$out/perf.ctl" "$out/perf.ack" "$out/perf.ctl.pid"
  else
    echo "perf is not available here (perf_event_open refused): JFR only" | tee "$out/perf-missing.txt"
    run_java "${prof_args[@]}" | grep '^compare' | tee "$out/profile-run.txt"
  fi
  rm -f "$out/perf.probe"
  python3 scripts/bench_profile.py "$out" > "$out/profile.csv"
fi

minutes=$(( ($(date +%s) - started + 59) / 60 ))
echo "== report"
python3 scripts/bench_report.py "$out" docs/benchmarks.md docs/benchmarks.png \
  "scripts/bench.sh (BENCH_REPEATS=$repeats BENCH_SAMPLES=$samples), about $minutes minutes"
echo "wrote docs/benchmarks.md and docs/benchmarks.png (bench.sh took about $minutes minutes)"
