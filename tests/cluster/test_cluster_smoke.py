"""The example job (java/example), packaged as a user packages it and submitted with `bin/flink run`
to a real standalone Flink cluster of every Flink version the artifacts claim, writing into a real
Prometheus: every sample is read back and compared exactly.

PROMSINK_CLUSTER_RUNS names the runs: space-separated `<flink home>=<example job jar>` pairs
(scripts/test.sh builds the jars and installs the distributions)."""

import pytest

import fleet
from cluster import FlinkCluster, Prometheus, runs_from_env

RUNS, IDS = runs_from_env("PROMSINK_CLUSTER_RUNS")


@pytest.mark.skipif(not RUNS, reason="PROMSINK_CLUSTER_RUNS is not set (scripts/test.sh sets it)")
@pytest.mark.parametrize("flink_home,jar", RUNS, ids=IDS)
def test_example_job_on_a_standalone_cluster_delivers_every_sample(flink_home, jar):
    devices, ticks = 100, 30
    start = fleet.start_ms(ticks)
    with Prometheus() as prometheus, FlinkCluster(flink_home, taskmanagers=1, slots=2) as flink:
        output = flink.run(jar, *fleet.job_args(prometheus.write_url, devices, ticks, 0, start))
        assert "Job has been submitted" in output
        [job] = flink.jobs()
        assert job["state"] == "FINISHED"
        for metric, series in fleet.expected(devices, ticks, start).items():
            assert prometheus.samples(metric) == series
        # The sink ran in the TaskManager's JVM, from the job jar: its native library loaded there.
        log = flink.log_text("taskexecutor")
        assert "UnsatisfiedLinkError" not in log and "NoClassDefFoundError" not in log
