#!/usr/bin/env bash
# Installs an official Flink distribution of the given version from PyPI (the `apache-flink` wheel
# holds bin/ and conf/, `apache-flink-libraries` holds lib/, opt/ and plugins/) into a cache folder
# and prints its FLINK_HOME. Each version is installed once:
#   ${PROMSINK_CACHE:-$HOME/.cache/promsink}/flink/<version>/pyflink
#   FLINK_HOME=$(scripts/flink-dist.sh 2.3.0)
set -euo pipefail
version=${1:?usage: scripts/flink-dist.sh <flink version, e.g. 2.3.0 or 1.20.5>}
cache=${PROMSINK_CACHE:-$HOME/.cache/promsink}/flink
home="$cache/$version/pyflink"

mkdir -p "$cache"
# One install at a time per version (scripts may run this concurrently).
exec 9> "$cache/$version.lock"
flock 9
if [ ! -x "$home/bin/flink" ] || [ ! -f "$cache/$version/.complete" ]; then
  echo "== installing the Flink $version distribution from PyPI into $cache/$version" >&2
  command -v python3 >/dev/null || { echo "python3 is needed to install Flink from PyPI" >&2; exit 1; }
  rm -rf "$cache/$version" "$cache/$version.partial"
  # --no-deps: only the distribution's files, not PyFlink's Python dependencies.
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps \
    --target "$cache/$version.partial" "apache-flink==$version" "apache-flink-libraries==$version" >&2
  mv "$cache/$version.partial" "$cache/$version"
  touch "$cache/$version/.complete"
fi
ls "$home"/lib/flink-dist*.jar >/dev/null
echo "$home"
