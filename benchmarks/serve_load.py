"""Latency and throughput of the prediction API (issue targets: p50 <= 2 ms, p99 <= 10 ms,
>= 1,000 requests/s with zero errors for 30 s on loopback).

    python benchmarks/serve_load.py --config configs/stocks.yaml [--duration 30] [--connections 16] [--workers 2]

Needs a production model for the config (run training first) and Debian's `wrk`. The API runs
as its own process (`python run.py serve`), exactly as users start it. Latency is measured from
this process with one keep-alive connection, one request at a time; throughput with wrk from a
third process. Figures are printed as one JSON line and written to --output.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_health(port: int, server: subprocess.Popen, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the API exited: see the server log next to --output")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            response = connection.getresponse()
            if response.status == 200:
                return json.loads(response.read())
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit("the API did not answer /health in time")


def latency(port: int, path: str, requests: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    samples, errors = [], 0
    for index in range(requests + 200):
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        if index >= 200:  # the first 200 warm up
            samples.append(elapsed)
            errors += response.status != 200
    samples.sort()
    return {"requests": requests, "errors": errors,
            "p50_ms": samples[len(samples) // 2] * 1e3, "p99_ms": samples[int(len(samples) * 0.99)] * 1e3}


def throughput(port: int, path: str, duration: int, connections: int) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = int(match.group(1)) if (match := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return {"duration_s": duration, "connections": connections, "requests": total, "requests_per_s": rate,
            "non_2xx": non_2xx, "socket_errors": socket_errors, "wrk": output}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/stocks.yaml")
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="uvicorn worker processes (run.py serve --workers); default: one per core")
    parser.add_argument("--requests", type=int, default=3000, help="sequential requests for the latency figures")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "serve_load.json"))
    args = parser.parse_args(argv)

    port = _free_port()
    path = "/predict?vol_moving_avg=2500000&adj_close_rolling_med=120"
    log_path = Path(args.output).with_suffix(".server.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--config", args.config,
                               "--port", str(port), "--log-level", "warning",
                               "--workers", str(args.workers)], cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT, env={**os.environ, "ZENML_LOGGING_VERBOSITY": "WARN"})
    try:
        health = _wait_for_health(port, server)
        figures = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "model": health,
                   "workers": args.workers,
                   "latency": latency(port, path, args.requests),
                   "throughput": throughput(port, path, args.duration, args.connections)}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    load = figures["throughput"]
    figures["targets"] = {
        "p50_at_most_2_ms": figures["latency"]["p50_ms"] <= 2.0,
        "p99_at_most_10_ms": figures["latency"]["p99_ms"] <= 10.0,
        "at_least_1000_per_s_without_errors": load["requests_per_s"] >= 1000 and not (load["non_2xx"] or load["socket_errors"]),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(figures, indent=2))
    print(load.pop("wrk"))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
