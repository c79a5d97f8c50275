"""What the example job (java/example, FleetJob) writes: its Javadoc gives the same formulas."""

import time

REGIONS = ["eu-west", "us-east", "ap-south"]
METRICS = ("fleet_temperature_celsius", "fleet_battery_ratio")


def job_args(url, devices, ticks, rate, start_ms, parallelism=2, version="V1"):
    return ["--url", url, "--devices", str(devices), "--ticks", str(ticks), "--rate", str(rate),
            "--start-ms", str(start_ms), "--parallelism", str(parallelism),
            "--remote-write-version", version]


def start_ms(ticks):
    """A first timestamp that keeps every sample in the past and within the last hour."""
    return (int(time.time()) - ticks - 120) * 1000


def expected(devices, ticks, start):
    """{metric: {labels: [(ms, value)]}} for every sample the job generates."""
    temperature, battery = {}, {}
    for device in range(devices):
        labels = (("device", f"dev-{device:04d}"), ("region", REGIONS[device % 3]))
        temperature[labels] = [(start + t * 1000, 20 + device % 10 + (t % 60) / 4.0)
                               for t in range(ticks)]
        battery[labels] = [(start + t * 1000, 1 - (t % 1000) / 1024.0) for t in range(ticks)]
    return {METRICS[0]: temperature, METRICS[1]: battery}


def missing(expected_series, stored_series):
    """Samples generated but not stored."""
    return sum(len(set(points) - set(stored_series.get(labels, [])))
               for labels, points in expected_series.items())
