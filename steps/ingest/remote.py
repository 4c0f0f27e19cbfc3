"""Local copies of remote file-based sources: a Kaggle dataset or an S3 prefix.

The readers (polars scans) then work on a local folder whatever the source, and a failure to
reach the source is reported before any file is read, naming what is missing:

- ``kaggle://<owner>/<dataset>`` is downloaded with the ``kaggle`` package into
  ``<state>/kaggle/<owner>/<dataset>`` once, and reused by later runs (a Kaggle dataset
  version does not change under its name; delete the folder to download again). The package
  reads credentials from ``KAGGLE_USERNAME`` and ``KAGGLE_KEY`` (or ``KAGGLE_API_TOKEN``) or
  from ``~/.kaggle/kaggle.json``.
- ``s3://<bucket>/<prefix>`` is copied into a temporary folder for the run, with the active
  stack's S3 artifact store filesystem when there is one (its credentials), else with s3fs and
  the standard AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_ENDPOINT_URL`` for an S3-compatible server).
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Iterator, Sequence

from core.database import SourceError
from core.paths import STATE_DIR

KAGGLE_SCHEME = "kaggle://"
S3_SCHEME = "s3://"
_COMPLETE = ".download-complete"


def kaggle_dataset(path: str) -> str:
    """``owner/dataset`` from ``kaggle://owner/dataset``."""
    dataset = path[len(KAGGLE_SCHEME):].strip("/")
    if dataset.count("/") != 1 or not all(dataset.split("/")):
        raise SourceError(f"{path!r} is not kaggle://<owner>/<dataset>")
    return dataset


def kaggle_api():
    """An authenticated Kaggle API client, or a SourceError that says how to give credentials."""
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError as exc:  # pragma: no cover - the package is in requirements.txt
        raise SourceError("the kaggle package is not installed (pip install -r requirements.txt)") from exc
    api = KaggleApi()
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # the package prints its own help and exits
            api.authenticate()
    except SystemExit as exc:
        raise SourceError(
            "no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN), "
            "or put kaggle.json in ~/.kaggle (https://www.kaggle.com/settings, 'Create New Token')"
        ) from exc
    return api


def fetch_kaggle(path: str) -> Path:
    """The local folder holding the dataset, downloaded on first use."""
    dataset = kaggle_dataset(path)
    target = STATE_DIR / "kaggle" / dataset
    if (target / _COMPLETE).is_file():
        return target
    api = kaggle_api()
    target.mkdir(parents=True, exist_ok=True)
    try:
        api.dataset_download_files(dataset, path=str(target), unzip=True, quiet=True)
    except Exception as exc:  # requests, urllib3 and the API's own errors: all mean "not downloaded"
        raise SourceError(f"cannot download the Kaggle dataset {dataset}: {type(exc).__name__}: {exc}") from exc
    (target / _COMPLETE).write_text(dataset)
    return target


def _s3_filesystem():
    import s3fs
    from zenml.client import Client

    store = Client().active_stack.artifact_store
    if str(store.path).startswith(S3_SCHEME) and hasattr(store, "filesystem"):
        return store.filesystem  # the stack's own credentials and endpoint

    return s3fs.S3FileSystem(skip_instance_cache=True)  # the environment may have changed since


@contextlib.contextmanager
def s3_copy(path: str, patterns: Sequence[str]) -> Iterator[Path]:
    """A temporary local folder with the files under ``path`` that match ``patterns``."""
    import tempfile

    prefix = path[len(S3_SCHEME):].rstrip("/")
    filesystem = _s3_filesystem()
    try:
        found = sorted({name for pattern in patterns for name in filesystem.glob(f"{prefix}/{pattern}")})
    except Exception as exc:
        raise SourceError(f"cannot list {path}: {type(exc).__name__}: {exc}") from exc
    if not found:
        raise SourceError(f"{path} holds no file matching {list(patterns)}")
    with tempfile.TemporaryDirectory(prefix="s3-source-") as folder:
        local = Path(folder)
        try:
            for name in found:
                destination = local / os.path.relpath(name, prefix)
                destination.parent.mkdir(parents=True, exist_ok=True)
            filesystem.get(found, [str(local / os.path.relpath(name, prefix)) for name in found])
        except Exception as exc:
            raise SourceError(f"cannot download {path}: {type(exc).__name__}: {exc}") from exc
        yield local
