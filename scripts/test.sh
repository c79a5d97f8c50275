#!/usr/bin/env bash
# Runs every test of promsink: Rust formatting and lints, cargo tests (parser, validation,
# encoder, classification, retry, HTTP client, fuzzing), a valgrind leak check, the Java
# formatter check, and Maven verify
# (JUnit, including Flink MiniCluster jobs against a real Prometheus and VictoriaMetrics that the
# tests start on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test (includes a 20,000-input fuzz run of the batch parser)"
cargo test --workspace
echo "== leak check of the native client lifecycle under valgrind"
scripts/leak-check.sh
echo "== mvn verify (builds the native library in release mode, JUnit, spotless check)"
mvn -B -ntp verify
