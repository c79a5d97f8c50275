#!/usr/bin/env bash
# Builds Prometheus 3 from the Go module proxy (Debian ships 2.42 only) once per version and prints
# the path of the binary, cached under ${PROMSINK_CACHE:-$HOME/.cache/promsink}. The first build
# takes about 10 minutes on 2 cores; scripts/test.sh starts it in the background early.
#   PROMETHEUS3=$(scripts/prometheus3.sh)
set -euo pipefail
# The Go module version v0.3xx.y is Prometheus 3.xx.y.
version=${PROMETHEUS3_VERSION:-v0.316.0}
cache=${PROMSINK_CACHE:-$HOME/.cache/promsink}
binary="$cache/prometheus-$version/prometheus"

mkdir -p "$cache"
# One build at a time per version (scripts may run this concurrently).
exec 9> "$cache/prometheus-$version.lock"
flock 9
if [ ! -x "$binary" ]; then
  command -v go >/dev/null || { echo "go is needed to build Prometheus 3" >&2; exit 1; }
  echo "== building Prometheus $version from the Go module proxy (once, ~10 minutes)" >&2
  gopath=$(mktemp -d "$cache/go-build.XXXXXX")
  trap 'chmod -R u+w "$gopath" 2>/dev/null; rm -rf "$gopath"' EXIT
  GOPATH="$gopath" GOFLAGS=-modcacherw \
    go install "github.com/prometheus/prometheus/cmd/prometheus@$version" >&2
  mkdir -p "$(dirname "$binary")"
  mv "$gopath/bin/prometheus" "$binary.partial"
  mv "$binary.partial" "$binary"
fi
echo "$binary"
