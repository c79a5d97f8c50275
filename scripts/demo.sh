#!/usr/bin/env bash
# The demo: builds promsink, starts a Prometheus on 127.0.0.1, runs the example job (java/example,
# FleetJob: a simulated fleet of devices, keyBy, sink parallelism 2) on this machine as README.md
# says, for about half a minute, then shows what arrived in Prometheus; the sink's counters are in
# the job's log. Stops everything it started. Installs the connector of its Flink line into the
# local Maven repository (~/.m2), where the example project takes it from.
#   DEMO_FLINK=2 DEMO_SECONDS=30 DEMO_DEVICES=200 DEMO_PORT=19090 scripts/demo.sh
# DEMO_FLINK picks the Flink line: 2 (the default: Flink 2.x) or 1.20.
set -euo pipefail
cd "$(dirname "$0")/.."
line=${DEMO_FLINK:-2}
case "$line" in
  1.20 | 2) ;;
  *) echo "DEMO_FLINK must be 2 or 1.20, not '$line'" >&2; exit 2 ;;
esac
module=java/flink-$line
flink_version=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' "$module/pom.xml" | head -1)
seconds=${DEMO_SECONDS:-30}
devices=${DEMO_DEVICES:-200}
port=${DEMO_PORT:-19090}

scripts/install-deps.sh --demo >/dev/null
# Plain output in logs: no colours from cargo or Maven. Debian's Maven 3.8 prints colour resets
# even in batch mode (-B, style.color=never), so its output goes through `plain`.
export CARGO_TERM_COLOR=never
plain() { sed -u 's/\x1b\[[0-9;]*m//g'; }
if [ ! -f target/release/libpromsink.so ]; then
  echo "== first build: cargo compiles the native library (release) first, about 5 minutes on 2 cores"
fi
echo "== building the connector for Flink $flink_version into ~/.m2 (cargo release + mvn install, no tests)"
# The demo runs here, on x86_64: no aarch64 cross-build (so this jar holds linux-x86_64 only).
mvn -B -q -ntp -Dstyle.color=never -Dmaven.test.skip=true -Dspotless.check.skip=true \
  -Dnative.aarch64.skip -pl "$module" -am install 2>&1 | plain

work=$(mktemp -d)
cleanup() {
  if [ -n "${prom_pid:-}" ]; then kill "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

printf 'global:\n  scrape_interval: 1h\n' > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
  --log.level=warn > "$work/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null || { cat "$work/prometheus.log"; exit 1; }
echo "== Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') ready on 127.0.0.1:$port"

echo "== running the example job on Flink $flink_version (MiniCluster, sink parallelism 2, $seconds s)"
mvn -B -q -ntp -Dstyle.color=never -f java/example/pom.xml -Plocal "-Pflink-$line" compile exec:exec \
  -Djob.args="--url http://127.0.0.1:$port/api/v1/write --devices $devices --ticks $seconds" 2>&1 | plain

echo "== What arrived in Prometheus"
python3 - "$port" <<'PY'
import json, sys, urllib.parse, urllib.request
port = sys.argv[1]
def q(expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?query=" + urllib.parse.quote(expr)
    return json.load(urllib.request.urlopen(url))["data"]["result"]
def scalar(expr):
    r = q(expr)
    return int(float(r[0]["value"][1])) if r else 0
metrics = ("fleet_temperature_celsius", "fleet_battery_ratio")
series = {m: scalar(f"count({m})") for m in metrics}
samples = {m: scalar(f"sum(count_over_time({m}[1h]))") for m in metrics}
print("series: ", sum(series.values()))
print("samples:", sum(samples.values()))
for m in metrics:
    print(f"  {m}: {series[m]} series, {samples[m]} samples")
print("per region (temperature series):")
for r in sorted(q('count by (region) (fleet_temperature_celsius)'), key=lambda r: r["metric"]["region"]):
    print(f"  {r['metric']['region']:>9}: {r['value'][1]}")
print("a few values (last 3 samples of dev-0001):")
for r in q('{__name__=~"fleet_.*", device="dev-0001"}[1h]'):
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(r["metric"].items()) if k != "__name__")
    tail = ", ".join(f"{v} @{float(t):.0f}" for t, v in r["values"][-3:])
    print(f"  {r['metric']['__name__']}{{{labels}}}: {tail}")
PY
echo "== done; Prometheus stopped"
