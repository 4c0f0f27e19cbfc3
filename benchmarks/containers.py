"""What running every step in its own container costs (issue target: the medical-cost training on
`containers` takes at most 2x the same training on `services`, once the image is built).

    python benchmarks/containers.py [--cold] [--output benchmarks/results/containers.json]

Needs `stacks/containers/up` (which also starts the services stack). Measured, in one run:

- image builds: the batch inference with ZenML's step image built anew (``prevent_build_reuse``;
  podman's layer cache serves what is unchanged), then with the build reused (ZenML's build
  reuse); with ``--cold``, also the base and parent images rebuilt from nothing (they are
  removed first: about 5 minutes);
- per-step container overhead: for each step of the containerised training, the container's
  lifetime (podman's events) minus the step's own time (ZenML's step run), the mean and range;
- the medical-cost training, every step run (``--no-cache``), on `services` and on `containers`,
  one after the other, from `python run.py` to its exit.

Each run is a `python run.py` subprocess with its own ZenML client configuration (the user's
active stack and login are left as they are). Figures are printed as one JSON document and
written to --output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.environment import set_process_defaults  # noqa: E402

set_process_defaults()

CONFIG = ROOT / "configs" / "insurance.yaml"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def client(stack: str, home: Path) -> Dict[str, str]:
    from stacks.containers.control import source_database_url
    from stacks.services import settings
    from stacks.services.control import client_environment

    credentials = settings.load_credentials()
    env = {**os.environ, **client_environment(credentials), "ZENML_CONFIG_PATH": str(home / f"zenml-{stack}"),
           "ZENML_REPOSITORY_PATH": str(home / f"repo-{stack}"),
           # Both stacks read the same source table (the containers stack has it in its secret).
           "INSURANCE_DB_URL": source_database_url(credentials)}
    Path(env["ZENML_REPOSITORY_PATH"]).mkdir(parents=True, exist_ok=True)
    zenml = str(Path(sys.executable).with_name("zenml"))
    subprocess.run([zenml, "stack", "set", stack], env=env, check=True, capture_output=True)
    return env


def timed_run(env: Dict[str, str], *arguments: str) -> dict:
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "run.py", *arguments], env=env, cwd=ROOT, capture_output=True,
                               text=True)
    seconds = time.perf_counter() - started
    output = ANSI.sub("", completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise SystemExit(f"run.py {' '.join(arguments)} failed:\n{output[-3000:]}")
    name = [line.split()[1] for line in completed.stdout.splitlines() if line.startswith("Run: ")][-1]
    return {"seconds": round(seconds, 1), "run": name, "reused_build": "Reusing existing build" in output,
            "built": "Building Docker image" in output}


def step_overheads(env: Dict[str, str], run_name: str, events: List[dict]) -> dict:
    """Container lifetime minus the step's own recorded time, per step of ``run_name``."""
    code = f"""
import json
from zenml.client import Client
run = Client().get_pipeline_run("{run_name}")
print(json.dumps({{n: [s.start_time.timestamp(), s.end_time.timestamp()] for n, s in run.steps.items()
                   if s.status.value == "completed"}}))
"""
    steps = json.loads(subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                                      text=True, check=True).stdout.strip().splitlines()[-1])
    lifetimes = {}
    for event in events:
        name = event["step"]
        if name in steps:
            lifetimes.setdefault(name, {})[event["status"]] = event["time"]
    overheads = {name: round((times["died"] - times["start"]) - (steps[name][1] - steps[name][0]), 2)
                 for name, times in lifetimes.items() if {"start", "died"} <= set(times)}
    values = sorted(overheads.values())
    return {"steps": len(values), "mean_seconds": round(sum(values) / len(values), 2) if values else None,
            "min_seconds": values[0] if values else None, "max_seconds": values[-1] if values else None}


def step_events(since: float, until: float, run_snapshot_steps: List[str]) -> List[dict]:
    """Each step container's start and exit, from ``podman events``, paired in order with the
    run's executed steps: local_podman runs them one after the other, and nothing else started
    containers meanwhile."""
    from stacks.containers.engine import podman

    listing = podman("events", "--since", str(int(since)), "--until", str(int(until) + 2), "--filter",
                     "type=container", "--format", "{{.Time}}|{{.Status}}|{{.ID}}").stdout
    starts, deaths = {}, {}
    for line in listing.splitlines():
        stamp, status, identifier = line.split("|")
        moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", stamp.split(" +")[0])).replace(
            tzinfo=timezone.utc).timestamp()
        if status == "start":
            starts[identifier] = moment
        elif status == "died":
            deaths[identifier] = moment
    ordered = sorted((starts[i], deaths[i]) for i in starts if i in deaths)
    # local_podman runs the steps one after the other, in the snapshot's order.
    paired = list(zip(run_snapshot_steps, ordered))
    return [{"step": step, "status": "start", "time": start} for step, (start, _) in paired] + \
        [{"step": step, "status": "died", "time": died} for step, (_, died) in paired]


def executed_steps(env: Dict[str, str], run_name: str) -> List[str]:
    code = f"""
import json
from zenml.client import Client
run = Client().get_pipeline_run("{run_name}")
print(json.dumps([n for n, s in sorted(run.steps.items(), key=lambda i: i[1].start_time)
                  if s.status.value == "completed"]))
"""
    return json.loads(subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                                     check=True).stdout.strip().splitlines()[-1])


def cold_images() -> dict:
    from stacks.containers import engine, settings

    for name in (settings.parent_image(), settings.base_image()):
        engine.podman("rmi", "--force", name, check=False)
    started = time.perf_counter()
    base = engine.build_base_image()
    base_seconds = time.perf_counter() - started
    started = time.perf_counter()
    engine.build_parent_image(base)
    return {"base_image_seconds": round(base_seconds, 1),
            "parent_image_seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also rebuild the base and parent images from nothing")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "containers.json"))
    args = parser.parse_args()

    from stacks.containers import engine

    if not (engine.api_answers() and engine.registry_answers()):
        raise SystemExit("the containers stack's engine is not running: stacks/containers/up")
    figures: dict = {"date": datetime.now(timezone.utc).date().isoformat(), "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "podman": engine.podman("--version").stdout.strip()}}
    if args.cold:
        figures["cold"] = cold_images()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-containers-") as home:
        containers, services = client("containers", Path(home)), client("services", Path(home))
        # The batch inference with its step image built anew (podman's layer cache serves the
        # unchanged layers), then again with ZenML reusing that build: the difference is the build.
        import yaml

        rebuilt = Path(home) / "insurance-rebuild.yaml"
        raw = yaml.safe_load(CONFIG.read_text())
        raw["settings"] = {"docker": {"prevent_build_reuse": True}}
        rebuilt.write_text(yaml.safe_dump(raw))
        figures["inference_with_image_build"] = timed_run(containers, "batch_inference", "--config", str(rebuilt),
                                                          "--no-cache")
        figures["inference_reusing_the_build"] = timed_run(containers, "batch_inference", "--config", str(CONFIG),
                                                           "--no-cache")
        figures["services_training"] = timed_run(services, "training", "--config", str(CONFIG), "--no-cache")
        since = time.time()
        figures["containers_training"] = timed_run(containers, "training", "--config", str(CONFIG), "--no-cache")
        until = time.time()
        steps = executed_steps(containers, figures["containers_training"]["run"])
        figures["per_step_overhead"] = step_overheads(containers, figures["containers_training"]["run"],
                                                      step_events(since, until, steps))
    figures["ratio_containers_to_services"] = round(
        figures["containers_training"]["seconds"] / figures["services_training"]["seconds"], 2)
    figures["target_ratio"] = 2.0
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
