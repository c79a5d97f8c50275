#!/usr/bin/env bash
# Runs every benchmark of promsink and writes docs/benchmarks.md and docs/benchmarks.png.
# Bounded in time (about 10 minutes on 2 cores with the defaults). Benchmarks, not tests: no
# figure here is asserted anywhere.
#   BENCH_REPEATS=2 BENCH_SAMPLES=10000000 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${BENCH_REPEATS:-2}
samples=${BENCH_SAMPLES:-10000000}
out=target/bench
mkdir -p "$out"
rm -f "$out"/*.csv

scripts/install-deps.sh >/dev/null
python3 -c "import matplotlib" 2>/dev/null || pip install -q matplotlib

echo "== building (profile bench: JMH, protobuf-java and snappy-java for the pure-Java baseline)"
# On the Flink 1.20 line, the one Apache's connector 1.0.0 serves.
module=java/flink-1.20
mvn -B -q -ntp -Dstyle.color=never -Pbench -DskipTests -Dspotless.check.skip=true -pl "$module" -am \
  test-compile
mvn -B -q -ntp -Dstyle.color=never -Pbench -pl "$module" dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile="$PWD/target/bench.classpath"
opens=$(sed -n 's:.*<flink.jvm.opens>\(.*\)</flink.jvm.opens>.*:\1:p' pom.xml)
run_java() {
  # shellcheck disable=SC2086
  java $opens -Xmx4g -Dlog4j2.configurationFile=java/src/test/resources/log4j2-test.properties \
    -cp "$module/target/classes:$module/target/test-classes:$(cat target/bench.classpath)" "$@" 2>&1
}

echo "== 1. native CPU per sample (Rust: promsink's preparation vs prost + snappy floor)"
cargo run -q --release -p promsink --example encode_floor 2 | tee -a "$out/native.csv"

echo "== 1. CPU and allocation per sample, records to compressed body (JMH, -prof gc)"
# shellcheck disable=SC2086
java -cp "$module/target/classes:$module/target/test-classes:$(cat target/bench.classpath)" org.openjdk.jmh.Main \
  'CpuPerSampleBenchmark\.(promsink|promsinkJavaPart|readRecordsOnly|pureJavaBaseline)$' -f "$repeats" -wi 3 -i 5 -w 1 -r 1 \
  -prof gc -rf csv -rff "$out/jmh.csv" | grep -E '^(Benchmark|CpuPerSample)' | grep -v 'gc\.'

for r in $(seq 1 "$repeats"); do
  echo "== 3. distant backend (50 ms answers), run $r of $repeats"
  run_java dev.promsink.flink.bench.DistantBackendBench 30000 200000 | grep '^distant' \
    | sed "s/^/$r,/" | tee -a "$out/distant.csv"
  echo "== 2. end-to-end throughput ($samples samples), run $r of $repeats"
  run_java dev.promsink.flink.bench.ThroughputBench "$samples" 1000000 | grep '^throughput' \
    | sed "s/^/$r,/" | tee -a "$out/throughput.csv"
done

echo "== 4. real Prometheus ingest (100,000 series)"
run_java dev.promsink.flink.bench.PrometheusIngestBench 5000000 100000 | grep '^prometheus' \
  | tee -a "$out/prometheus.csv"

echo "== report"
python3 scripts/bench_report.py "$out" docs/benchmarks.md docs/benchmarks.png \
  "scripts/bench.sh (BENCH_REPEATS=$repeats BENCH_SAMPLES=$samples)"
echo "wrote docs/benchmarks.md and docs/benchmarks.png"
