"""Real processes for the cluster tests: a Prometheus and a standalone Flink cluster (a JobManager
and TaskManagers, separate JVMs, from an official distribution), all on 127.0.0.1 with free ports,
stopped and removed when done. No test logic here."""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


def runs_from_env(name):
    """[(flink home, job jar)] from an environment variable of space-separated `home=jar` pairs,
    and their pytest ids (the Flink versions)."""
    runs = [tuple(run.split("=", 1)) for run in os.environ.get(name, "").split()]
    return runs, [os.path.basename(os.path.dirname(os.path.normpath(home))) for home, _ in runs]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.load(answer)


def wait_until(what, check, seconds, interval=0.2):
    """Polls check() until it returns a true value (returned) or the time is up (AssertionError)."""
    deadline = time.monotonic() + seconds
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except OSError as e:  # not listening yet
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {seconds} s waiting for {what} (last error: {last_error})")


def kill_processes_of(folder):
    """SIGKILLs every process whose command line mentions `folder` (a test's private folder)."""
    needle = folder.encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle in f.read():
                        os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def start_or_clean_up(server, start):
    """Runs `start()`; if it fails, stops what it started before raising (a `with` statement
    calls __exit__ only after __enter__ returned)."""
    try:
        start()
    except BaseException as e:
        server.__exit__(type(e), e, None)
        raise
    return server


def stop_process(process, seconds=10):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ReceiverServer:
    """A receiver process on 127.0.0.1 with a free port and its own folder, stopped and removed
    on exit. Subclasses give its command line and readiness path."""

    name = "receiver"
    ready_path = "/"

    def __init__(self):
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix=f"promsink-{self.name}-")
        self.process = None
        self.log = None

    @property
    def write_url(self):
        return f"http://127.0.0.1:{self.port}/api/v1/write"

    def command(self):
        raise NotImplementedError

    def __enter__(self):
        return start_or_clean_up(self, self._start)

    def _start(self):
        self.log = open(os.path.join(self.folder, f"{self.name}.log"), "w")
        self.process = subprocess.Popen(self.command(), stdout=self.log,
                                        stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{self.port}{self.ready_path}"
        wait_until(f"{self.name} to be ready",
                   lambda: urllib.request.urlopen(url, timeout=2).status == 200, 30)

    def __exit__(self, *exc):
        if self.process is not None:
            stop_process(self.process)
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class Prometheus(ReceiverServer):
    """A Prometheus with the Remote-Write receiver on."""

    name = "prometheus"
    ready_path = "/-/ready"

    def __init__(self, binary="prometheus", extra_config="", remote_write_2=False):
        assert binary, "no Prometheus binary (PROMSINK_PROMETHEUS3: scripts/prometheus3.sh)"
        super().__init__()
        self.binary = binary
        self.extra_config = extra_config
        self.remote_write_2 = remote_write_2

    def command(self):
        config = os.path.join(self.folder, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n" + self.extra_config)
        return ([self.binary, f"--config.file={config}",
                 f"--storage.tsdb.path={self.folder}/data",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--web.enable-remote-write-receiver", "--log.level=warn"]
                + ([f"--web.remote-write-receiver.accepted-protobuf-messages={m}"
                    for m in ("prometheus.WriteRequest", "io.prometheus.write.v2.Request")]
                   if self.remote_write_2 else []))

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = str(at)
        answer = http_json(f"http://127.0.0.1:{self.port}/api/v1/query?"
                           + urllib.parse.urlencode(params), timeout=60)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def samples(self, metric, window="2h"):
        """Every stored sample of a metric: {(labels without __name__, sorted): [(ms, value)]}."""
        out = {}
        for series in self.query(f"{metric}[{window}]"):
            labels = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
            out[labels] = [(round(float(t) * 1000), float(v)) for t, v in series["values"]]
        return out


class VictoriaMetrics(ReceiverServer):
    """A VictoriaMetrics."""

    name = "victoria-metrics"
    ready_path = "/health"

    def command(self):
        return ["victoria-metrics", f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.folder}/data", "-loggerLevel=WARN"]

    def raw_samples(self, metric):
        """Every stored sample, duplicates included: {labels: [(ms, value)]} ("/api/v1/export")."""
        urllib.request.urlopen(f"http://127.0.0.1:{self.port}/internal/force_flush", timeout=30)
        url = (f"http://127.0.0.1:{self.port}/api/v1/export?"
               + urllib.parse.urlencode({"match[]": metric}))
        out = {}
        with urllib.request.urlopen(url, timeout=60) as answer:
            for line in answer.read().decode().splitlines():
                if not line.strip():
                    continue
                series = json.loads(line)
                labels = tuple(sorted((k, v) for k, v in series["metric"].items()
                                      if k != "__name__"))
                points = list(zip(series["timestamps"], (float(v) for v in series["values"])))
                out.setdefault(labels, []).extend(points)
        return {labels: sorted(points) for labels, points in out.items()}

    def samples(self, metric):
        """Every distinct stored sample (VictoriaMetrics keeps an identical replay twice)."""
        return {labels: sorted(set(points))
                for labels, points in self.raw_samples(metric).items()}


class FlinkCluster:
    """A standalone Flink cluster from a distribution's bin/ scripts: one JobManager and
    `taskmanagers` TaskManagers (each a JVM of its own), configured in a private conf folder."""

    def __init__(self, flink_home, taskmanagers=1, slots=2, extra_config=None):
        self.home = flink_home
        self.taskmanagers = taskmanagers
        self.slots = slots
        self.extra_config = extra_config or {}
        self.folder = tempfile.mkdtemp(prefix="promsink-flink-")
        self.rest_port = free_port()
        self.env = dict(os.environ,
                        FLINK_CONF_DIR=os.path.join(self.folder, "conf"),
                        FLINK_LOG_DIR=os.path.join(self.folder, "log"),
                        FLINK_PID_DIR=os.path.join(self.folder, "pid"))

    @property
    def rest(self):
        return f"http://127.0.0.1:{self.rest_port}"

    def _java_opts(self):
        with open(os.path.join(self.home, "conf", "config.yaml")) as f:
            for line in f:
                if line.strip().startswith("all: --add"):
                    return line.split("all:", 1)[1].strip()
        raise AssertionError("no env.java.opts.all in the distribution's config.yaml")

    def _write_conf(self):
        conf = self.env["FLINK_CONF_DIR"]
        shutil.copytree(os.path.join(self.home, "conf"), conf)
        os.makedirs(self.env["FLINK_LOG_DIR"])
        settings = {
            "env.java.opts.all": self._java_opts(),
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": str(free_port()),
            "jobmanager.memory.process.size": "1024m",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1",
            "taskmanager.numberOfTaskSlots": str(self.slots),
            "taskmanager.memory.process.size": "1024m",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": str(self.rest_port),
            "parallelism.default": "1",
            # A killed TaskManager is noticed within seconds, not the default 50.
            "heartbeat.interval": "1000",
            "heartbeat.timeout": "5000",
            # The REST API answers with fresh checkpoint statistics (default: cached for 3 s).
            "web.refresh-interval": "100",
            "rest.cache.checkpoint-statistics.timeout": "50ms",
        }
        settings.update(self.extra_config)
        # Flat keys are valid YAML for config.yaml on Flink 1.20 and 2.x alike.
        with open(os.path.join(conf, "config.yaml"), "w") as f:
            for key, value in settings.items():
                f.write(f"{key}: {json.dumps(value)}\n")

    def _script(self, *args, check=True):
        return subprocess.run([os.path.join(self.home, "bin", args[0]), *args[1:]], env=self.env,
                              check=check, capture_output=True, text=True, timeout=120)

    def __enter__(self):
        # The daemons outlive this process unless stopped: also at exit, however pytest ends.
        self._sweep = lambda: kill_processes_of(self.folder)
        atexit.register(self._sweep)
        return start_or_clean_up(self, self._start)

    def _start(self):
        self._write_conf()
        self._script("jobmanager.sh", "start")
        for _ in range(self.taskmanagers):
            self.start_taskmanager()
        self.wait_for_slots(self.taskmanagers * self.slots)

    def start_taskmanager(self):
        """Starts one more TaskManager, named tm-<n> (its resource id)."""
        self.started = getattr(self, "started", 0) + 1
        self._script("taskmanager.sh", "start", f"-Dtaskmanager.resource-id=tm-{self.started}")

    def taskmanager_pid(self, resource_id):
        """The process id of the TaskManager with this resource id (from /proc)."""
        needle = f"-Dtaskmanager.resource-id={resource_id}".encode()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        args = f.read().split(b"\0")
                except OSError:
                    continue
                if needle in args and self.folder.encode() in b" ".join(args):
                    return int(entry)
        raise AssertionError(f"no process for TaskManager {resource_id}")

    def kill_taskmanager(self, resource_id):
        os.kill(self.taskmanager_pid(resource_id), signal.SIGKILL)

    def wait_for_slots(self, slots, seconds=90):
        wait_until(f"{slots} task slots",
                   lambda: http_json(self.rest + "/overview")["slots-total"] >= slots, seconds)

    def __exit__(self, *exc):
        self._sweep()
        atexit.unregister(self._sweep)
        if exc[0] is not None:
            self.print_logs()
        shutil.rmtree(self.folder, ignore_errors=True)

    def print_logs(self, lines=60):
        log_dir = self.env["FLINK_LOG_DIR"]
        for name in sorted(os.listdir(log_dir)) if os.path.isdir(log_dir) else []:
            if name.endswith(".log") or name.endswith(".out"):
                with open(os.path.join(log_dir, name), errors="replace") as f:
                    tail = f.readlines()[-lines:]
                print(f"---- {name} (last {len(tail)} lines)\n" + "".join(tail))

    def run(self, jar, *args, flink_options=(), seconds=300):
        """Submits a job jar with `bin/flink run` (attached unless `flink_options` say
        --detached: then it returns once the job is submitted)."""
        result = subprocess.run(
            [os.path.join(self.home, "bin", "flink"), "run", "-m", f"127.0.0.1:{self.rest_port}",
             *flink_options, jar, *args],
            env=self.env, capture_output=True, text=True, timeout=seconds)
        if result.returncode != 0:
            self.print_logs()
        assert result.returncode == 0, f"flink run failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def submit(self, jar, *args):
        """Submits a job jar with `bin/flink run --detached`; returns its job id."""
        output = self.run(jar, *args, flink_options=("--detached",), seconds=120)
        for line in output.splitlines():
            if "JobID" in line:
                return line.split()[-1]
        raise AssertionError(f"no job id in:\n{output}")

    def job(self, job_id, path=""):
        return http_json(f"{self.rest}/jobs/{job_id}{path}")

    def wait_for_job(self, job_id, states, seconds):
        return wait_until(f"job {job_id} to reach {states}",
                          lambda: self.job(job_id)["state"] in states and self.job(job_id),
                          seconds, interval=0.5)

    def jobs(self):
        return http_json(self.rest + "/jobs/overview")["jobs"]

    def log_text(self, kind):
        """The text of every log of the given kind ('taskexecutor', 'standalonesession')."""
        log_dir = self.env["FLINK_LOG_DIR"]
        text = ""
        for name in sorted(os.listdir(log_dir)):
            if kind in name and name.endswith(".log"):
                with open(os.path.join(log_dir, name), errors="replace") as f:
                    text += f.read()
        return text
