"""The data pipeline's activity log: one line per run (rows, issues found, duration, outcome),
appended to ``<state>/logs/activity_<use case>_data.log``. The same record is the run's
metadata, so the dashboard's run list is the monitoring view and the file is for tail and grep.
On a remote orchestrator the file is written where the step runs; the run metadata is the
record that survives there."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Optional

from steps.ingest.ingestion_log import one_line


@dataclass(frozen=True)
class Activity:
    run: str
    outcome: str
    duration_seconds: float
    rows: Optional[int] = None
    issues: Optional[Dict[str, int]] = None
    validation: Optional[str] = None
    error: Optional[str] = None

    def as_metadata(self) -> Dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def activity_log_path(state_dir: Path, use_case: str) -> Path:
    return Path(state_dir) / "logs" / f"activity_{use_case}_data.log"


def format_activity(activity: Activity, at: Optional[datetime] = None) -> str:
    at = at or datetime.now(timezone.utc)
    parts = [at.isoformat(timespec="seconds"), activity.run, activity.outcome,
             f"duration={activity.duration_seconds:.1f}s"]
    if activity.rows is not None:
        parts.append(f"rows={activity.rows}")
    if activity.validation is not None:
        parts.append(f"validation={activity.validation}")
    if activity.issues is not None:
        issues = "; ".join(f"{name}={count}" for name, count in activity.issues.items())
        parts.append(f"issues={len(activity.issues)}" + (f" ({issues})" if issues else ""))
    if activity.error:  # one line per run: the error's lines joined
        parts.append("error=" + one_line(activity.error)[:600])
    return " | ".join(parts)


def append_activity(path: Path, activity: Activity) -> str:
    """Append the run's line (creating the folder and file); returns the line."""
    line = format_activity(activity)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    return line
