"""Opening SQL databases named in configs, with errors that hide passwords."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from core.config import SourceSpec
from core.paths import resolve_path


class SourceError(RuntimeError):
    """A source or sink could not be read or written, or returned nothing usable."""


def sqlite_file(spec: SourceSpec) -> Optional[Path]:
    """The database file behind a SQLite URL, or None for any other database."""
    from sqlalchemy.engine import make_url

    url = make_url(spec.database_url())
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return resolve_path(url.database)


def open_engine(spec: SourceSpec, create: bool = False):
    """A SQLAlchemy engine for the spec's database.

    SQLite creates a missing file on connect, which would hide a wrong path behind an empty
    database: unless ``create`` is set, a missing SQLite file is an error.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError

    path = sqlite_file(spec)
    if path is not None:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise SourceError(
                f"SQLite database {path} does not exist; seed it with `python run.py seed --config <config>`"
            )
    try:
        return create_engine(spec.database_url(), pool_pre_ping=True)
    except (ArgumentError, ValueError) as exc:
        raise SourceError(f"invalid database URL for {spec.describe()}: {exc}") from exc
    except ModuleNotFoundError as exc:
        raise SourceError(f"no database driver for {spec.describe()}: {exc}") from exc
