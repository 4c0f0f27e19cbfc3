"""Running a pipeline on a schedule: a ZenML ``Schedule`` where the orchestrator supports one,
APScheduler in the foreground where it does not (the local orchestrator).

    python run.py training --config configs/insurance.yaml --schedule "0 * * * *"
    python run.py training --config configs/insurance.yaml --schedule "every 30s" --max-runs 3

A schedule is a five-field cron expression or ``every <N>s|m|h``. On a schedulable orchestrator
(the Kubernetes template) the schedule is registered with ZenML and the command returns: the
orchestrator starts the runs. On the local orchestrator this process is the scheduler: each run
is a normal ZenML run tagged ``scheduled``; a run that fails is logged and the next one still
comes; runs never overlap (a run still going when the next is due makes that one wait, and
missed runs collapse into one). ``--max-runs`` stops after that many runs (tests, backfills).
Every run's outcome is appended to ``<state>/logs/schedule_<use case>_<pipeline>.log``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List, Optional

SCHEDULED_TAG = "scheduled"
_INTERVAL = re.compile(r"^every\s+(\d+)\s*([smh])$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


class ScheduleError(ValueError):
    """The schedule text is neither a cron expression nor an interval."""


@dataclass(frozen=True)
class ScheduleSpec:
    cron: Optional[str] = None
    interval_seconds: Optional[int] = None

    def describe(self) -> str:
        return f"cron '{self.cron}'" if self.cron else f"every {self.interval_seconds} s"


def parse_schedule(text: str) -> ScheduleSpec:
    """A cron expression (checked by APScheduler's own parser) or ``every <N>s|m|h``."""
    text = text.strip()
    interval = _INTERVAL.match(text)
    if interval:
        seconds = int(interval.group(1)) * _UNITS[interval.group(2)]
        if seconds < 1:
            raise ScheduleError(f"schedule '{text}': the interval must be at least 1 second")
        return ScheduleSpec(interval_seconds=seconds)
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text, timezone=timezone.utc)
    except ValueError as error:
        raise ScheduleError(f"schedule '{text}' is neither a five-field cron expression ({error}) "
                            "nor 'every <N>s|m|h'") from error
    return ScheduleSpec(cron=text)


def zenml_schedule(spec: ScheduleSpec, name: str):
    from datetime import timedelta

    from zenml.config.schedule import Schedule

    if spec.cron:
        return Schedule(name=name, cron_expression=spec.cron)
    return Schedule(name=name, interval_second=timedelta(seconds=spec.interval_seconds),
                    start_time=datetime.now(timezone.utc))


def active_orchestrator_schedules() -> bool:
    from zenml.client import Client

    return bool(Client().active_stack.orchestrator.config.is_schedulable)


class ScheduleLog:
    """One line per scheduled run: when, which run, outcome, duration, and the error if any."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, outcome: str, run_name: str, seconds: float, error: str = "") -> None:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        fields = [stamp, outcome, run_name or "-", f"{seconds:.1f}s"] + ([error.splitlines()[0]] if error else [])
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("\t".join(fields) + "\n")


def run_in_foreground(spec: ScheduleSpec, run_once: Callable[[], str], log: ScheduleLog,
                      max_runs: Optional[int] = None, echo: Callable[[str], None] = print) -> List[str]:
    """Run ``run_once`` (returns the run's name) on the schedule in this process, until
    interrupted or after ``max_runs`` runs; returns each run's outcome."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    outcomes: List[str] = []
    lock = threading.Lock()
    scheduler = BlockingScheduler(timezone=timezone.utc)

    def job() -> None:
        started = time.monotonic()
        try:
            name = run_once()
            outcome, error = "completed", ""
        except Exception as exc:  # a failed run is reported and logged; the schedule goes on
            name, outcome, error = getattr(exc, "run_name", ""), "failed", str(exc)
        log.write(outcome, name, time.monotonic() - started, error)
        echo(f"scheduled run {name or '(not started)'}: {outcome}" + (f": {error}" if error else ""))
        with lock:
            outcomes.append(outcome)
            if max_runs is not None and len(outcomes) >= max_runs:
                scheduler.shutdown(wait=False)

    if spec.cron:
        scheduler.add_job(job, CronTrigger.from_crontab(spec.cron, timezone=timezone.utc), max_instances=1,
                          coalesce=True, misfire_grace_time=None)
    else:  # the first run at once, then every interval
        scheduler.add_job(job, IntervalTrigger(seconds=spec.interval_seconds), max_instances=1, coalesce=True,
                          misfire_grace_time=None, next_run_time=datetime.now(timezone.utc))
    echo(f"scheduler: {spec.describe()}, in this process (the active orchestrator cannot schedule); "
         f"runs are logged to {log.path}" + (f"; stopping after {max_runs} runs" if max_runs else "; Ctrl-C stops"))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        echo("scheduler stopped")
    return outcomes
