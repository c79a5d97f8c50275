#!/usr/bin/env bash
# Runs every test of promsink: Rust formatting and lints, cargo tests (parser, validation,
# encoder, classification, retry, HTTP client, fuzzing), the same cargo tests cross-built for
# aarch64 and run under qemu-user (scripts/native-aarch64.sh), a valgrind leak check, the Java
# formatter check, the whole JUnit suite once per Flink line (Flink 1.20 and Flink 2, including
# MiniCluster jobs against a real Prometheus and VictoriaMetrics that the tests start on
# 127.0.0.1, Prometheus 2.42 and 3), then the example job packaged as a user packages it and
# run on real standalone Flink clusters (distributions from PyPI, cached under
# ~/.cache/promsink) of each line, a SQL script run by each line's SQL client on such a
# cluster with the connector jar, and the example job run locally as README.md says.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# Debian's Maven 3.8 prints colour resets even in batch mode: its output goes through `plain`.
plain() { sed -u 's/\x1b\[[0-9;]*m//g'; }

# A property of a pom (its first definition): one place for the Flink versions of each line.
pom_value() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$2" | head -1; }
# The version of an artifact a pom builds (the <version> right after its <artifactId>).
artifact_version() { sed -n "/<artifactId>$1</{n;s:.*<version>\(.*\)</version>.*:\1:p;}" "$2"; }

# What is slow to fetch or build the first time runs in the background while the cargo steps
# run: Prometheus 3 (built from the Go module proxy, ~10 minutes once) and the Flink
# distributions of the cluster tests (from PyPI); both are cached under ~/.cache/promsink.
mkdir -p target/prepare
flink_versions=""
for line in 1.20 2; do
  flink_versions+="$(pom_value flink.version "java/flink-$line/pom.xml") "
  flink_versions+="$(pom_value flink.oldest.version "java/flink-$line/pom.xml") "
done
# Each in a process group of its own (setsid), at the lowest priority (nice) so that it takes
# only spare CPU from the tests, and stopped with everything it started if this script ends first.
nice -n 19 setsid scripts/prometheus3.sh > target/prepare/prometheus3.out \
  2> target/prepare/prometheus3.log &
prometheus3_build=$!
nice -n 19 setsid bash -c 'for v in $0 "$@"; do scripts/flink-dist.sh "$v" > /dev/null; done' \
  $flink_versions > target/prepare/flink-dist.log 2>&1 &
flink_dists=$!
trap 'kill -- -$prometheus3_build -$flink_dists 2> /dev/null || true' EXIT
ready() { # waits for a background step; shows its log if it failed
  wait "$1" || { cat "target/prepare/$2.log" >&2; echo "$2 failed" >&2; exit 1; }
}

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test (includes a 20,000-input fuzz run of the batch parser)"
cargo test --workspace
echo "== cargo test for linux-aarch64: cross-built, each test binary under qemu-aarch64"
scripts/native-aarch64.sh test
echo "== leak check of the native client lifecycle under valgrind"
scripts/leak-check.sh
echo "== waiting for the Prometheus 3 build (first run only)"
ready "$prometheus3_build" prometheus3
PROMSINK_PROMETHEUS3=$(cat target/prepare/prometheus3.out)
export PROMSINK_PROMETHEUS3
echo "== mvn install: the native library (release, x86_64 and aarch64), then per Flink line (java/flink-1.20 on Flink"
echo "   $(pom_value flink.version java/flink-1.20/pom.xml), java/flink-2 on Flink $(pom_value flink.version java/flink-2/pom.xml)): JUnit, the artifact; spotless"
mvn -B -ntp install 2>&1 | plain
echo "== an arm64 JVM under qemu-aarch64 loads each line's jar's linux-aarch64 library and runs a client"
jars=()
for line in 1.20 2; do
  artifact=flink-connector-prometheus-native
  jars+=("java/flink-$line/target/$artifact-$(artifact_version $artifact "java/flink-$line/pom.xml").jar")
done
scripts/native-aarch64.sh jvm "${jars[@]}"

echo "== standalone Flink clusters: the example job (java/example) as a fat jar, bin/flink run;"
echo "   a SQL script with the connector jar, bin/sql-client.sh -f"
ready "$flink_dists" flink-dist
mkdir -p target/cluster
runs="" recovery_runs="" sql_runs=""
for line in 1.20 2; do
  mvn -B -ntp -q -f java/example/pom.xml -Pflink-$line clean package 2>&1 | plain
  jar="target/cluster/promsink-example-$line.jar"
  cp java/example/target/promsink-example.jar "$jar"
  tested=$(scripts/flink-dist.sh "$(pom_value flink.version "java/flink-$line/pom.xml")")
  oldest=$(scripts/flink-dist.sh "$(pom_value flink.oldest.version "java/flink-$line/pom.xml")")
  # The smoke run on each line's tested and oldest claimed version; the TaskManager kills on
  # each line's tested version.
  runs+="$tested=$jar $oldest=$jar "
  recovery_runs+="$tested=$jar "
  # The SQL client on each line's tested version, with the connector jar `mvn install` built.
  artifact=flink-connector-prometheus-native
  version=$(artifact_version $artifact "java/flink-$line/pom.xml")
  connector="java/flink-$line/target/$artifact-$version.jar"
  [ -f "$connector" ] || { echo "no $connector" >&2; exit 1; }
  sql_runs+="$tested=$connector "
  # Its embedded mode needs opt/flink-sql-gateway, which the PyPI distributions lack: into ~/.m2
  # from Maven Central (the line's table modules' version: Central has no 1.20.5 of them).
  gateway=$(pom_value flink.table.version "java/flink-$line/pom.xml")
  gateway=${gateway:-$(pom_value flink.version "java/flink-$line/pom.xml")}
  mvn -B -ntp -q dependency:get -Dtransitive=false \
    -Dartifact="org.apache.flink:flink-sql-gateway:$gateway"
done
# The cluster runs, and the example job run on this machine exactly as README.md says (each line).
PROMSINK_CLUSTER_RUNS="$runs" PROMSINK_RECOVERY_RUNS="$recovery_runs" \
  PROMSINK_SQL_RUNS="$sql_runs" PROMSINK_EXAMPLE_LOCAL_LINES="1.20 2" \
  python3 -m pytest -v -s -p no:cacheprovider tests/cluster
