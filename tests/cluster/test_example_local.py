"""The example job (java/example) run on this machine exactly as README.md says (its profile
`local`: Flink in a forked JVM), on each Flink line, into a real Prometheus on 127.0.0.1: every
sample is read back and compared exactly, and the sink's counters show in its log (the logging
binding works).

The command is read from README.md (the block after the comment naming this file), so the README
cannot drift from what is tested; only the receiver's port (the test's own Prometheus) and the
line's profile (-Pflink-1.20, as the README says) are changed. It needs the connector in ~/.m2
(scripts/test.sh runs `mvn install` first) and names the lines to run in
PROMSINK_EXAMPLE_LOCAL_LINES (space-separated: `2`, `1.20`)."""

import os
import re
import shlex
import subprocess
import time

import pytest

import fleet
from cluster import Prometheus

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINES = os.environ.get("PROMSINK_EXAMPLE_LOCAL_LINES", "").split()
README_PORT = "127.0.0.1:9090"


def readme_command():
    """The command of the bash block that follows the comment naming this file, as argv."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    marker = text.index("tests/cluster/test_example_local.py runs the command of the next block")
    block = re.search(r"```bash\n(.*?)```", text[marker:], re.S).group(1)
    return shlex.split(block.replace("\\\n", " "), comments=True)


def job_option(argv, name):
    [job_args] = [a for a in argv if a.startswith("-Djob.args=")]
    options = job_args[len("-Djob.args="):].split()
    return options[options.index(name) + 1]


def test_the_readme_command_is_the_local_profile_of_the_example():
    argv = readme_command()
    assert argv[:6] == ["mvn", "-f", "java/example/pom.xml", "-Plocal", "compile", "exec:exec"]
    assert job_option(argv, "--url") == f"http://{README_PORT}/api/v1/write"


@pytest.mark.skipif(not LINES, reason="PROMSINK_EXAMPLE_LOCAL_LINES is not set (scripts/test.sh)")
@pytest.mark.parametrize("line", LINES)
def test_example_job_run_as_the_readme_says_delivers_every_sample(line):
    argv = readme_command()
    devices, ticks = int(job_option(argv, "--devices")), int(job_option(argv, "--ticks"))
    with Prometheus() as prometheus:
        argv = [a.replace(README_PORT, f"127.0.0.1:{prometheus.port}") for a in argv]
        if line == "1.20":
            argv.append("-Pflink-1.20")
        before = int(time.time())
        run = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=900)
        after = int(time.time())
        assert run.returncode == 0, run.stdout[-5000:]
        assert "BUILD SUCCESS" in run.stdout
        # Each sink subtask logs its counters when it closes: every sample went out.
        sent = re.findall(r"counters of this writer: numSamplesOut=(\d+)", run.stdout)
        assert len(sent) == 2 and sum(map(int, sent)) == devices * 2 * ticks, run.stdout[-5000:]
        # The job starts its timestamps `ticks` seconds before it starts (FleetJob's default):
        # the earliest stored sample says when, within the run's bounds.
        stored = {m: prometheus.samples(m) for m in fleet.METRICS}
        start = min(t for series in stored.values() for points in series.values()
                    for t, _ in points)
        assert (before - ticks) * 1000 <= start <= (after - ticks) * 1000
        for metric, series in fleet.expected(devices, ticks, start).items():
            assert stored[metric] == series
