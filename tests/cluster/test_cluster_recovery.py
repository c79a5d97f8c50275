"""Nothing lost when a TaskManager dies: the example job (100 devices x 2 metrics = 200 series x 1,000
samples, paced, checkpoints every second, sink parallelism 2) on a standalone cluster of one
JobManager and three one-slot TaskManagers (one spare). Mid-run, the TaskManager of a sink
subtask is killed with SIGKILL about 80% of a checkpoint interval after the last completed
checkpoint, where a restore replays the most. The job recovers and finishes, and every generated
sample is read back and compared: 0 missing, for each receiver that keeps a replay from costing
fresh samples (Remote-Write 2.0 into Prometheus 3; 1.0 into Prometheus 3 with an out-of-order
window, and into VictoriaMetrics), and in a control run without the kill. Into Prometheus 3 with
its default settings over 1.0, the loss is measured and must be covered by the drop counters.

PROMSINK_RECOVERY_RUNS names the Flink distributions and jobs: `<flink home>=<job jar>` pairs.
PROMSINK_PROMETHEUS3 is the Prometheus 3 binary."""

import os
import re
import time

import pytest

import fleet
from cluster import FlinkCluster, Prometheus, VictoriaMetrics, http_json, runs_from_env

RUNS, IDS = runs_from_env("PROMSINK_RECOVERY_RUNS")
PROMETHEUS3 = os.environ.get("PROMSINK_PROMETHEUS3", "")
# DEVICES devices x 2 metrics x TICKS ticks = 200,000 samples, at RATE records per second.
# 100 devices: 200 series, so that a request (500 samples) spans several ticks of the series of
# its lane, and a request after a restore can hold a replay older than what the receiver has
# together with fresh samples (with 2,000 series a request spans less than a tick, and Prometheus
# accepts the identical replay of a series' latest sample, so nothing is lost at any setting).
DEVICES = int(os.environ.get("PROMSINK_RECOVERY_DEVICES", "100"))
TICKS = 200_000 // (2 * DEVICES)
RATE = int(os.environ.get("PROMSINK_RECOVERY_RATE", "10000"))
CHECKPOINT_MS = 1000
OUT_OF_ORDER_WINDOW = "storage:\n  tsdb:\n    out_of_order_time_window: 30m\n"

RECEIVERS = {
    # name: (receiver factory, Remote-Write version)
    "prometheus3-rw2": (lambda: Prometheus(PROMETHEUS3, remote_write_2=True), "V2"),
    "prometheus3-rw1-ooo": (lambda: Prometheus(PROMETHEUS3, extra_config=OUT_OF_ORDER_WINDOW),
                            "V1"),
    "victoriametrics-rw1": (VictoriaMetrics, "V1"),
    # Prometheus's default: a 1.0 request holding a replay is refused whole, with the fresh
    # samples in it. Measured, not prevented: every missing sample must have been counted.
    "prometheus3-rw1-default": (lambda: Prometheus(PROMETHEUS3), "V1"),
}
LOSSLESS = ("prometheus3-rw2", "prometheus3-rw1-ooo", "victoriametrics-rw1")
# On every Flink line: a kill for each lossless receiver, and a control run without the kill;
# the measurement against the default receiver on the last line given (to bound CI's time).
CASES = [(run, id, receiver, kill)
         for run, id in zip(RUNS, IDS)
         for receiver, kill in [(r, True) for r in LOSSLESS] + [("prometheus3-rw2", False)]]
CASES += [(RUNS[-1], IDS[-1], "prometheus3-rw1-default", True)] if RUNS else []


def sink_taskmanagers(flink, job_id):
    """The resource ids of the TaskManagers running a subtask of the sink."""
    for vertex in flink.job(job_id)["vertices"]:
        if "prometheus" in vertex["name"].lower():
            tms = http_json(f"{flink.rest}/jobs/{job_id}/vertices/{vertex['id']}/taskmanagers")
            return sorted({tm["taskmanager-id"] for tm in tms["taskmanagers"]})
    raise AssertionError("no sink vertex")


def kill_late_in_a_checkpoint_interval(flink, job_id):
    """Kills the TaskManager of a sink subtask 80% of an interval after the last completed
    checkpoint, once three have completed. Returns (killed id, checkpoint id before the kill)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert flink.job(job_id)["state"] == "RUNNING", "the job ended before the kill"
        checkpoints = flink.job(job_id, "/checkpoints")
        completed = (checkpoints.get("latest") or {}).get("completed")
        if completed and checkpoints["counts"]["completed"] >= 3:
            since = time.time() * 1000 - completed["latest_ack_timestamp"]
            if 0.8 * CHECKPOINT_MS <= since < 0.9 * CHECKPOINT_MS:
                victim = sink_taskmanagers(flink, job_id)[0]
                flink.kill_taskmanager(victim)
                return victim, completed["id"]
        time.sleep(0.01)
    raise AssertionError("no moment to kill a TaskManager within 60 s")


def closing_counters(flink):
    """The sink counters of every writer that closed, summed (each logs them at close)."""
    totals = {}
    for line in re.findall(r"Closed; counters of this writer: (.*)", flink.log_text("taskexecutor")):
        for pair in line.split(", "):
            name, value = pair.split("=")
            totals[name] = totals.get(name, 0) + int(value)
    return totals


@pytest.mark.skipif(not RUNS, reason="PROMSINK_RECOVERY_RUNS is not set (scripts/test.sh sets it)")
@pytest.mark.parametrize("run,receiver,kill", [(run, r, k) for run, _, r, k in CASES],
                         ids=[f"{i}-{r}-{'kill' if k else 'control'}" for _, i, r, k in CASES])
def test_no_sample_is_lost_when_a_sink_taskmanager_dies(run, receiver, kill):
    flink_home, jar = run
    make_receiver, version = RECEIVERS[receiver]
    start = fleet.start_ms(TICKS)
    with make_receiver() as store, FlinkCluster(flink_home, taskmanagers=3, slots=1) as flink:
        job_id = flink.submit(jar, *fleet.job_args(store.write_url, DEVICES, TICKS, RATE, start,
                                                    version=version))
        flink.wait_for_job(job_id, ("RUNNING",), 60)
        killed = kill_late_in_a_checkpoint_interval(flink, job_id) if kill else None
        job = flink.wait_for_job(job_id, ("FINISHED", "FAILED", "CANCELED"), 240)
        assert job["state"] == "FINISHED", flink.job(job_id, "/exceptions")

        expected = fleet.expected(DEVICES, TICKS, start)
        stored = {metric: store.samples(metric) for metric in fleet.METRICS}
        missing = sum(fleet.missing(expected[m], stored[m]) for m in fleet.METRICS)
        unexpected = sum(len(set(stored[m].get(labels, [])) - set(points))
                         for m in fleet.METRICS for labels, points in expected[m].items())
        restarts = len(flink.job(job_id, "/exceptions").get("exceptionHistory", {})
                       .get("entries", []))
        checkpoints = flink.job(job_id, "/checkpoints")["counts"]["completed"]
        counters = closing_counters(flink)
        print(f"\n{receiver} {'kill of ' + killed[0] + ' after checkpoint ' + str(killed[1]) if kill else 'control'}: "
              f"{2 * DEVICES * TICKS} samples generated, {missing} missing, {restarts} restarts, "
              f"{checkpoints} checkpoints; sink counters of the writers that closed: {counters}")
        assert unexpected == 0
        if receiver in LOSSLESS:
            assert missing == 0
        else:
            # Every fresh sample lost went in a request the sink counted as dropped (with the
            # replays it held, which the receiver already had).
            assert missing <= counters["numSamplesDropped"]
        if not kill:
            assert restarts == 0
            assert counters["numSamplesOut"] == 2 * DEVICES * TICKS
            assert counters["numSamplesDropped"] == 0
        else:
            assert restarts >= 1
