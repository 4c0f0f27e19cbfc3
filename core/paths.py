"""Where the project lives on disk.

Configs hold paths relative to the project root, so that the same YAML works from any working
directory and in every clone. Everything the local stack writes (the artifact store, MLflow's
SQLite database, the demo source database) goes under ``STATE_DIR``, which git ignores.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("MLOPS_STATE_DIR", PROJECT_ROOT / "state")).resolve()


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """Absolute path for a config value: relative paths are taken from the project root."""
    candidate = Path(os.path.expanduser(os.fspath(path)))
    return candidate if candidate.is_absolute() else (PROJECT_ROOT / candidate).resolve()
