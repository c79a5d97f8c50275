#!/usr/bin/env bash
# Runs every test of promsink: Rust formatting and lints, cargo tests (parser, validation,
# encoder, classification, retry, HTTP client, fuzzing), a valgrind leak check, the Java
# formatter check, the whole JUnit suite once per Flink line (Flink 1.20 and Flink 2, including
# MiniCluster jobs against a real Prometheus and VictoriaMetrics that the tests start on
# 127.0.0.1), then the example job packaged as a user packages it and run on real standalone
# Flink clusters (distributions from PyPI, cached under ~/.cache/promsink) of each line.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# A property of a pom (its first definition): one place for the Flink versions of each line.
pom_value() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$2" | head -1; }

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test (includes a 20,000-input fuzz run of the batch parser)"
cargo test --workspace
echo "== leak check of the native client lifecycle under valgrind"
scripts/leak-check.sh
echo "== mvn install: the native library (release), then per Flink line (java/flink-1.20 on Flink"
echo "   $(pom_value flink.version java/flink-1.20/pom.xml), java/flink-2 on Flink $(pom_value flink.version java/flink-2/pom.xml)): JUnit, the artifact; spotless"
mvn -B -ntp install

echo "== standalone Flink clusters: the example job (java/example) as a fat jar, bin/flink run"
mkdir -p target/cluster
runs=""
for line in 1.20 2; do
  mvn -B -ntp -q -f java/example/pom.xml -Pflink-$line clean package
  cp java/example/target/promsink-example.jar "target/cluster/promsink-example-$line.jar"
  # Each line's tested version, and for Flink 2 also the oldest version its artifact claims.
  for version in $(pom_value flink.version "java/flink-$line/pom.xml") \
      $(pom_value flink.oldest.version "java/flink-$line/pom.xml"); do
    runs+="$(scripts/flink-dist.sh "$version")=target/cluster/promsink-example-$line.jar "
  done
done
PROMSINK_CLUSTER_RUNS="$runs" python3 -m pytest -v -p no:cacheprovider tests/cluster
