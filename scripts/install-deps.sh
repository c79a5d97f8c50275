#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test promsink: the real receivers used by the
# tests and the demo (Debian packages prometheus and victoria-metrics), Maven, a JDK, Python 3
# with pytest and botocore, iproute2, and the aarch64 cross toolchain. Rust (cargo, rustfmt,
# clippy) comes with the machine image. Idempotent: installs only what is missing.
set -euo pipefail

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v curl >/dev/null 2>&1 || need+=(curl)
# native/tests/dns.rs: `unshare` makes a network and mount namespace, `ip` brings its loopback up.
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)

# The linux-aarch64 cross-build (scripts/native-aarch64.sh): Debian's rustc-web (a current Rust,
# bookworm-security) with its standard library for the host and, as a multiarch package, for
# arm64; the aarch64 linker and libc; qemu-user and Debian's arm64 libc to run the aarch64 tests. Not rustup's
# `rustup target add`, which downloads from Rust's own server.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# The demo (--demo) builds for this machine only.
add_arm64=""
if [ "${1:-}" != "--demo" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || add_arm64=yes
  for package in rustc-web libstd-rust-web-dev:amd64 libstd-rust-web-dev:arm64 \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libc6:arm64; do
    installed "$package" || need+=("$package")
  done
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  if [ -n "$add_arm64" ]; then $sudo dpkg --add-architecture arm64; fi
  $sudo apt-get update -q
  # --no-install-recommends keeps the Prometheus exporters and their services off the machine.
  $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# The demo (--demo) needs less than the tests: no formatter, linter or pytest.
tools=(cargo mvn java prometheus python3)
if [ "${1:-}" != "--demo" ]; then
  tools+=(rustfmt cargo-clippy victoria-metrics)
fi
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing after install: $tool" >&2; exit 1; }
done
if [ "${1:-}" != "--demo" ]; then
  # pytest runs the standalone-cluster tests (tests/cluster).
  python3 -m pytest --version >/dev/null 2>&1 \
    || python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore pytest
  # botocore verifies the AWS SigV4 signatures of the Amazon Managed Prometheus signer's tests
  # (java/request-signer-amp/src/test/python/sigv4_receiver.py): an implementation independent
  # of the AWS SDK for Java that signs.
  python3 -c "import botocore" >/dev/null 2>&1 \
    || python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore botocore
fi
# The Debian package may start its own Prometheus service on :9090; tests use their own ports
# on 127.0.0.1 and never that one.
