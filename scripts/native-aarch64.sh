#!/usr/bin/env bash
# Cross-builds the native library for linux-aarch64 (aarch64-unknown-linux-gnu) on an x86_64
# Debian machine, with Debian's packages only (scripts/install-deps.sh installs them):
#   rustc-web (Rust 1.96, bookworm-security) with its standard library for the host
#   (libstd-rust-web-dev: build scripts and proc macros run on the host) and for arm64
#   (libstd-rust-web-dev:arm64, multiarch), gcc-aarch64-linux-gnu and libc6-dev-arm64-cross as
#   the linker, and qemu-user with libc6:arm64 to run aarch64 test binaries.
# rustup's own toolchain (`rustup target add`) is not used: it downloads from Rust's dist server.
# The x86_64 build keeps the rustup toolchain; only this build uses /usr/bin/rustc (rustc-web), in
# a target folder of its own (target/cross) so that neither build invalidates the other's cache.
#
# Usage:
#   scripts/native-aarch64.sh build   the release cdylib, target/cross/aarch64-unknown-linux-gnu/
#                                      release/libpromsink.so, which each line's jar bundles as
#                                      native/linux-aarch64/libpromsink.so (the poms call this)
#   scripts/native-aarch64.sh test    the native test suite (cargo test --workspace) for aarch64,
#                                      each test binary run under qemu-aarch64; further arguments
#                                      go to cargo test (e.g. --release)
#   scripts/native-aarch64.sh jvm JAR... an arm64 JVM under qemu-aarch64 loads the library from
#                                      each connector jar and runs a client (after mvn package)
# Both are incremental: a second run with no change takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
RUSTC_WEB=/usr/bin/rustc

missing=()
[ -d "/usr/lib/rustlib/$TARGET/lib" ] || missing+=("libstd-rust-web-dev:arm64")
[ -x "$RUSTC_WEB" ] || missing+=(rustc-web)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
[ "${1:-}" = build ] || command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
[ "${1:-}" = build ] || [ -e /lib/ld-linux-aarch64.so.1 ] || missing+=("libc6:arm64")
if [ ${#missing[@]} -gt 0 ]; then
  echo "native-aarch64: missing ${missing[*]}; run scripts/install-deps.sh" >&2
  exit 1
fi

export RUSTC="$RUSTC_WEB"
# The doc tests too: rustdoc must be the compiler's own (rustup's cannot read its crates).
export RUSTDOC=/usr/bin/rustdoc
# target/cross points into ~/.cache, one folder per compiler version, so that a fresh clone (CI)
# reuses the compiled dependencies (about 10 minutes of CPU when cold).
if [ ! -e target/cross ]; then
  cache="$HOME/.cache/promsink/cargo-aarch64-$("$RUSTC_WEB" --version | awk '{print $2}')"
  mkdir -p "$cache" target
  ln -s "$cache" target/cross
fi
export CARGO_TARGET_DIR=target/cross
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# The binaries run on Debian's arm64 libc (libc6:arm64, multiarch: /lib/ld-linux-aarch64.so.1
# and /lib/aarch64-linux-gnu), not on the cross sysroot's (-L /usr/aarch64-linux-gnu): with that
# prefix the emulator takes the sysroot's ld.so but the multiarch libc.so.6 (its path, found
# through the host's ld.so.cache, is absent from the sysroot), two builds of glibc that do not
# fit together, and pthread_create spins for ever in its stack cache.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /"
# native/tests/dns.rs runs its own binary again inside a namespace; without binfmt_misc the host
# cannot exec an aarch64 binary directly, so it goes through the same emulator.
export PROMSINK_TEST_RUNNER="$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER"

case "${1:-}" in
  build)
    cargo build --release -p promsink --lib --target "$TARGET"
    ;;
  test)
    # Two tests are left to the x86_64 run, as they assume native speed, which a debug build
    # under emulation (about 10 times slower here) does not have; their code has nothing
    # architecture-specific:
    # - adaptive_lanes.rs, lanes_follow_the_traffic_and_every_series_stays_in_order: the client
    #   must outpace a receiver that takes 20 ms per request, so that more lanes carry more
    #   samples per second. Emulated, the client is the bottleneck: more lanes bring no more
    #   throughput and the governor rightly lowers them again, which the test takes for a fault.
    # - backoff.rs, writers_refused_together_retry_spread_out_and_never_early: a retry must come
    #   within 100 ms of scheduling slack after its delay; emulated, 8 clients' retries came up
    #   to 254 ms late.
    # Both pass under qemu as a release build (`scripts/native-aarch64.sh test --release`, whose
    # test binaries take about 3.5 times the CPU time to build: thin LTO each).
    cargo test --workspace --target "$TARGET" "${@:2}" -- \
      --skip lanes_follow_the_traffic_and_every_series_stays_in_order \
      --skip writers_refused_together_retry_spread_out_and_never_early
    ;;
  jvm)
    # An arm64 JVM (Debian's openjdk-17-jre-headless:arm64, unpacked once into ~/.cache, not
    # installed: its scripts would run arm64 programs) under qemu-aarch64 loads the library from
    # each jar given and uses it (tests/aarch64/LoadFromJar.java).
    [ $# -ge 2 ] || { echo "usage: $0 jvm <connector jar>..." >&2; exit 2; }
    package=openjdk-17-jre-headless:arm64
    version=$(apt-cache policy "$package" | sed -n 's/^ *Candidate: //p')
    jre="$HOME/.cache/promsink/openjdk-17-jre-headless-arm64-$version"
    if [ ! -x "$jre/usr/lib/jvm/java-17-openjdk-arm64/bin/java" ]; then
      download=$(mktemp -d)
      (cd "$download" && apt-get download -q "$package=$version" >/dev/null 2>&1)
      rm -rf "$jre.part" && dpkg-deb -x "$download"/*.deb "$jre.part" && mv "$jre.part" "$jre"
      rm -rf "$download"
    fi
    slf4j=$(ls "$HOME"/.m2/repository/org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.jar)
    probe=target/cross/jvm-probe
    for jar in "${@:2}"; do
      rm -rf "$probe" && mkdir -p "$probe"
      javac -d "$probe" -cp "$jar" tests/aarch64/LoadFromJar.java
      qemu-aarch64 -L / "$jre/usr/lib/jvm/java-17-openjdk-arm64/bin/java" -Xshare:off \
        -cp "$probe:$jar:$slf4j" LoadFromJar
    done
    ;;
  *)
    echo "usage: $0 build|test [cargo test arguments]|jvm <jar>..." >&2
    exit 2
    ;;
esac
