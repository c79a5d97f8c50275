"""The table sink ('connector' = 'prometheus-native') as a SQL user runs it: a script of DDL and an
INSERT given to the SQL client of a Flink distribution (`bin/sql-client.sh -f script.sql`, embedded
mode), which plans the job and submits it to a real standalone cluster (JobManager and TaskManager
JVMs) that writes into a real Prometheus; every sample is read back and compared exactly.

The connector jar is the thin jar `mvn install` builds per Flink line. It needs
flink-connector-base, which no distribution ships as a jar of its own in lib/ but every one carries
inside lib/flink-dist-<version>.jar (checked below), so nothing is added next to it. lib/ also
holds the table planner (flink-table-planner-loader) and runtime, and opt/ the SQL client.

What the distributions from PyPI lack: opt/flink-sql-gateway-<version>.jar, which the official
tarballs have and the SQL client's embedded mode needs (without it: NoClassDefFoundError
org/apache/flink/table/gateway/service/context/DefaultContext). The test gives bin/sql-client.sh an
opt folder of its own (FLINK_OPT_DIR, which bin/config.sh honours): links to the distribution's
opt/ jars plus that jar from the local Maven repository (~/.m2), where scripts/test.sh fetches it
from Maven Central. The cached distribution is left untouched. Maven Central has no 1.20.5 of
Flink's table modules (see flink.table.version in java/flink-1.20/pom.xml): Flink 1.20.5 runs with
flink-sql-gateway 1.20.3, the newest of its line there; the test takes the distribution's own
version when there is one, else the newest patch release of the same line in ~/.m2.

Both ways of getting the jar in and of naming the cluster are used, one per line (each works on
both lines):
- Flink 1.20: `sql-client.sh -j <jar> -f script.sql` with FLINK_CONF_DIR set to the cluster's own
  configuration (the FlinkCluster helper's conf folder, with rest.address and rest.port);
- Flink 2: `ADD JAR '<jar>'` and `SET 'rest.address'` / `SET 'rest.port'` in the script, with the
  distribution's untouched conf/ (which names localhost:8081: only the SET statements reach ours).
Either way the job must show up in the cluster's REST API as FINISHED: a job run in a local mini
cluster of the client's own would not.

PROMSINK_SQL_RUNS names the runs: space-separated `<flink home>=<connector jar>` pairs
(scripts/test.sh sets it: each line's tested Flink version with that line's connector jar)."""

import glob
import os
import subprocess
import time
import zipfile

import pytest

from cluster import FlinkCluster, Prometheus, runs_from_env

RUNS, IDS = runs_from_env("PROMSINK_SQL_RUNS")

DEVICES, TICKS = 20, 10
STEP_MS = 5 * 60 * 1000  # ten timestamps five minutes apart: 45 minutes
REGIONS = ["eu-west", "us-east", "ap-south"]
METRIC = "sqlclient_fleet"


def start_ms():
    """The first timestamp: whole seconds, 55 minutes ago (the last is 10 minutes ago)."""
    return (int(time.time()) - 55 * 60) * 1000


def rows(start):
    """(device, region, temperature, battery, ms) in time order, so each series is in order."""
    out = []
    for tick in range(TICKS):
        for device in range(DEVICES):
            out.append((f"dev-{device:02d}", REGIONS[device % 3],
                        round(18.5 + 0.75 * device + 0.1 * tick, 2),  # not binary fractions
                        round(1 - 0.002 * device - 0.013 * tick, 3),
                        start + tick * STEP_MS))
    return out


def expected(rows_):
    """{metric: {labels: [(ms, value)]}}: a series per value column per row."""
    out = {f"{METRIC}_temperature": {}, f"{METRIC}_battery": {}}
    for device, region, temperature, battery, ms in rows_:
        labels = (("device", device), ("region", region))
        out[f"{METRIC}_temperature"].setdefault(labels, []).append((ms, temperature))
        out[f"{METRIC}_battery"].setdefault(labels, []).append((ms, battery))
    return out


def script(write_url, rows_, preamble):
    """The SQL script. Its VALUES hold only literals (DOUBLE ones: 18.5E0), and the timestamps are
    converted in the SELECT: a VALUES row with an expression (CAST, TO_TIMESTAMP_LTZ) makes the
    planner build a UNION ALL of one-row sources, which reach the sink in no defined order, and
    Prometheus refuses a series' samples that come after a later one (out of order)."""
    values = ",\n  ".join(f"('{d}', '{r}', {t!r}E0, {b!r}E0, {ms})" for d, r, t, b, ms in rows_)
    return "\n".join(preamble) + f"""
SET 'table.dml-sync' = 'true';

CREATE TABLE fleet_metrics (
  device STRING,
  region STRING,
  temperature DOUBLE,
  battery DOUBLE,
  ts TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'prometheus-native',
  'url' = '{write_url}',
  'metric.name' = '{METRIC}',
  'metric.value.columns' = 'temperature,battery',
  'metric.label.columns' = 'device,region',
  'metric.timestamp.column' = 'ts'
);

INSERT INTO fleet_metrics
SELECT device, region, temperature, battery, TO_TIMESTAMP_LTZ(ms, 3) FROM (VALUES
  {values}
) AS readings (device, region, temperature, battery, ms);
"""


def assert_connector_base_in_dist(flink_home):
    """The thin connector jar's one dependency, flink-connector-base, is in flink-dist."""
    [dist] = glob.glob(os.path.join(flink_home, "lib", "flink-dist*.jar"))
    with zipfile.ZipFile(dist) as jar:
        assert "org/apache/flink/connector/base/sink/AsyncSinkBase.class" in jar.namelist(), dist


def sql_gateway_jar(version):
    """flink-sql-gateway from ~/.m2: of `version`, else the newest patch release of its line."""
    line = version.rsplit(".", 1)[0]
    folder = os.path.expanduser("~/.m2/repository/org/apache/flink/flink-sql-gateway")
    found = {}
    for path in glob.glob(os.path.join(folder, f"{line}.*", f"flink-sql-gateway-{line}.*.jar")):
        found[tuple(int(n) for n in os.path.basename(os.path.dirname(path)).split("."))] = path
    exact = tuple(int(n) for n in version.split("."))
    if not found:
        pytest.fail(f"no flink-sql-gateway {line}.x in {folder}; scripts/test.sh fetches it:"
                    " mvn dependency:get -Dtransitive=false -Dartifact=org.apache.flink:"
                    "flink-sql-gateway:<flink.table.version of the line's pom>")
    return found.get(exact) or found[max(found)]


def opt_folder(flink, version):
    """The distribution's opt/ jars plus flink-sql-gateway, in the cluster's private folder."""
    opt = os.path.join(flink.folder, "opt")
    os.makedirs(opt)
    for jar in [*glob.glob(os.path.join(flink.home, "opt", "*.jar")), sql_gateway_jar(version)]:
        os.symlink(jar, os.path.join(opt, os.path.basename(jar)))
    return opt


def sql_client(flink, version, jar, write_url, rows_):
    """Runs bin/sql-client.sh -f on a script of the rows; returns its output."""
    if version.startswith("1."):  # -j, and the cluster from the helper's FLINK_CONF_DIR
        env, args, preamble = dict(flink.env), ["-j", jar], []
    else:  # ADD JAR, and the cluster from SET statements over the distribution's own conf/
        env = dict(flink.env, FLINK_CONF_DIR=os.path.join(flink.home, "conf"))
        args = []
        preamble = [f"ADD JAR '{jar}';", "SET 'rest.address' = '127.0.0.1';",
                    f"SET 'rest.port' = '{flink.rest_port}';"]
    env["FLINK_OPT_DIR"] = opt_folder(flink, version)
    # The embedded mode starts a SQL gateway REST endpoint of its own, on a free port of every
    # interface unless told otherwise; and it keeps a command history (default:
    # ~/.flink-sql-history), here in the private folder.
    args += ["-Dsql-gateway.endpoint.rest.bind-address=127.0.0.1",
             "--history", os.path.join(flink.folder, "sql-history")]
    path = os.path.join(flink.folder, "script.sql")
    with open(path, "w") as f:
        f.write(script(write_url, rows_, preamble))
    started = time.monotonic()
    result = subprocess.run([os.path.join(flink.home, "bin", "sql-client.sh"), *args, "-f", path],
                            env=env, cwd=flink.folder, capture_output=True, text=True,
                            timeout=300)
    print(f"Flink {version}: sql-client.sh {' '.join(args)} -f script.sql:"
          f" {time.monotonic() - started:.1f} s")
    output = result.stdout + result.stderr
    # A statement that fails is an [ERROR] in the output, yet the client exits with 0.
    if result.returncode != 0 or "[ERROR]" in output:
        flink.print_logs()
    assert result.returncode == 0 and "[ERROR]" not in output, f"SQL client failed:\n{output}"
    return output


@pytest.mark.skipif(not RUNS, reason="PROMSINK_SQL_RUNS is not set (scripts/test.sh sets it)")
@pytest.mark.parametrize("flink_home,jar", RUNS, ids=IDS)
def test_sql_client_script_on_a_standalone_cluster_delivers_every_sample(flink_home, jar):
    version = os.path.basename(os.path.dirname(os.path.normpath(flink_home)))
    jar = os.path.abspath(jar)
    assert os.path.isfile(jar), jar
    assert_connector_base_in_dist(flink_home)
    rows_ = rows(start_ms())
    with Prometheus() as prometheus, FlinkCluster(flink_home, taskmanagers=1, slots=2) as flink:
        output = sql_client(flink, version, jar, prometheus.write_url, rows_)
        # Synchronous DML: the client came back once the job was done.
        assert "Complete execution of the SQL update statement" in output, output
        [job] = flink.jobs()
        assert job["state"] == "FINISHED", job
        assert "fleet_metrics" in job["name"], job
        for metric, series in expected(rows_).items():
            assert prometheus.samples(metric) == series, metric
        stored = prometheus.query(f'{{__name__=~"{METRIC}.*"}}[2h]')
        assert {s["metric"]["__name__"] for s in stored} == set(expected(rows_))
        # The sink ran in the TaskManager's JVM, from the jar the client shipped with the job:
        # its native library loaded there.
        log = flink.log_text("taskexecutor")
        assert "UnsatisfiedLinkError" not in log and "NoClassDefFoundError" not in log
        assert "promsink: native library loaded" in log
