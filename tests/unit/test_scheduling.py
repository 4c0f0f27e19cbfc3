"""Schedules: parsing, and the in-process scheduler (real APScheduler) running a job on an interval."""

from __future__ import annotations

import threading
import time

import pytest

from core.scheduling import ScheduleError, ScheduleLog, parse_schedule, run_in_foreground


def test_cron_expressions_and_intervals_parse() -> None:
    assert parse_schedule("0 * * * *").cron == "0 * * * *"
    assert parse_schedule("*/2 * * * *").cron == "*/2 * * * *"
    assert parse_schedule("every 30s").interval_seconds == 30
    assert parse_schedule(" every 2m ").interval_seconds == 120
    assert parse_schedule("every 1h").interval_seconds == 3600


@pytest.mark.parametrize("text", ["* * *", "61 * * * *", "every 5 days", "hourly", "every 0s", ""])
def test_a_bad_schedule_names_itself(text: str) -> None:
    with pytest.raises(ScheduleError, match="schedule '"):
        parse_schedule(text)


class PipelineFailedLike(RuntimeError):
    run_name = "run_2"


def test_runs_follow_the_interval_never_overlap_and_a_failure_does_not_stop_the_schedule(tmp_path) -> None:
    running, most_at_once, started = 0, 0, []
    lock = threading.Lock()

    def run_once() -> str:
        nonlocal running, most_at_once
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
            started.append(time.monotonic())
            number = len(started)
        time.sleep(1.2)  # longer than the interval: the next run must wait, not overlap
        with lock:
            running -= 1
        if number == 2:
            raise PipelineFailedLike("step 'validation_gate': 3 expectations failed\nmore detail")
        return f"run_{number}"

    log = ScheduleLog(tmp_path / "logs" / "schedule.log")
    outcomes = run_in_foreground(parse_schedule("every 1s"), run_once, log, max_runs=3, echo=lambda _: None)
    assert outcomes == ["completed", "failed", "completed"]
    assert most_at_once == 1
    assert all(later - earlier >= 1.0 for earlier, later in zip(started, started[1:]))
    lines = [line.split("\t") for line in log.path.read_text().splitlines()]
    assert [fields[1:3] for fields in lines] == [["completed", "run_1"], ["failed", "run_2"], ["completed", "run_3"]]
    assert lines[1][4] == "step 'validation_gate': 3 expectations failed"
