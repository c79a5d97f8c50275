"""The example job (java/example), packaged as a user packages it and submitted with `bin/flink run`
to a real standalone Flink cluster of every Flink version the artifacts claim, writing into a real
Prometheus: every sample is read back and compared exactly.

PROMSINK_CLUSTER_RUNS names the runs: space-separated `<flink home>=<example job jar>` pairs
(scripts/test.sh builds the jars and installs the distributions)."""

import os
import time

import pytest

from cluster import FlinkCluster, Prometheus

RUNS = [run.split("=", 1) for run in os.environ.get("PROMSINK_CLUSTER_RUNS", "").split()]
REGIONS = ["eu-west", "us-east", "ap-south"]


def expected_samples(devices, ticks, start_ms):
    """What the example job writes (its Javadoc gives the formulas)."""
    temperature, battery = {}, {}
    for device in range(devices):
        labels = (("device", f"dev-{device:04d}"), ("region", REGIONS[device % 3]))
        temperature[labels] = [(start_ms + t * 1000, 20 + device % 10 + (t % 60) / 100.0)
                               for t in range(ticks)]
        battery[labels] = [(start_ms + t * 1000, 1 - (t % 1000) / 1000.0) for t in range(ticks)]
    return temperature, battery


def flink_version(home):
    return os.path.basename(os.path.dirname(os.path.normpath(home)))


@pytest.mark.skipif(not RUNS, reason="PROMSINK_CLUSTER_RUNS is not set (scripts/test.sh sets it)")
@pytest.mark.parametrize("flink_home,jar", RUNS, ids=[flink_version(h) for h, _ in RUNS])
def test_example_job_on_a_standalone_cluster_delivers_every_sample(flink_home, jar):
    devices, ticks = 100, 30
    start_ms = (int(time.time()) - 600) * 1000
    with Prometheus() as prometheus, FlinkCluster(flink_home, taskmanagers=1, slots=2) as flink:
        output = flink.run(jar, "--url", prometheus.write_url, "--devices", str(devices),
                           "--ticks", str(ticks), "--rate", "0", "--start-ms", str(start_ms),
                           "--parallelism", "2")
        assert "Job has been submitted" in output
        [job] = flink.jobs()
        assert job["state"] == "FINISHED"
        temperature, battery = expected_samples(devices, ticks, start_ms)
        assert prometheus.samples("fleet_temperature_celsius") == temperature
        assert prometheus.samples("fleet_battery_ratio") == battery
        # The sink ran in the TaskManager's JVM, from the job jar: its native library loaded there.
        log = flink.log_text("taskexecutor")
        assert "UnsatisfiedLinkError" not in log and "NoClassDefFoundError" not in log
