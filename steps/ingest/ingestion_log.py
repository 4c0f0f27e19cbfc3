"""One line per extract attempt in ``<state>/logs/ingestion.log``: when, which run, which
source, the outcome, rows and seconds, and the error of a failed attempt (a retried attempt
shows as failed, then the retry's own line follows). The step metadata records the same for
the attempt that succeeded."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional


def ingestion_log_path(state_dir: Path) -> Path:
    return Path(state_dir) / "logs" / "ingestion.log"


def ingestion_line(run: str, source: str, outcome: str, seconds: float, rows: Optional[int] = None,
                   error: Optional[str] = None, at: Optional[datetime] = None) -> str:
    parts = [(at or datetime.now(timezone.utc)).isoformat(timespec="seconds"), run, source, outcome,
             f"duration={seconds:.2f}s"]
    if rows is not None:
        parts.append(f"rows={rows}")
    if error:
        parts.append("error=" + one_line(error)[:600])
    return " | ".join(parts)


def one_line(text: str) -> str:
    """A multi-line message as one log line: its non-blank lines joined by " / "."""
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())


def append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
