"""Remote stock-market sources: an S3 prefix on a real S3-compatible server (moto's, over HTTP)
and Kaggle, which cannot be reached from here: credentials, the attempt, and the cache."""

from __future__ import annotations

import shutil
import socket

import pandas as pd
import pytest

from core.config import SourceSpec
from core.database import SourceError
from steps.ingest.sources import read_source
from tests.conftest import PROJECT_ROOT

STOCKS = PROJECT_ROOT / "data" / "stocks"
DATASET = "jacksoncrow/stock-market-dataset"


def _read(path: str) -> pd.DataFrame:
    return read_source(SourceSpec(kind="stock_market", path=path))


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({"Symbol": str, "Security Name": str}).sort_values(["Symbol", "Date"], ignore_index=True)


@pytest.fixture(scope="module")
def local_table() -> pd.DataFrame:
    return _read(str(STOCKS))


@pytest.fixture()
def s3_server(monkeypatch):
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    yield endpoint
    server.stop()


def _upload(bucket: str, prefix: str) -> None:
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    for path in STOCKS.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(STOCKS).as_posix()}")


def test_an_s3_prefix_reads_exactly_like_the_local_folder(s3_server, local_table) -> None:
    _upload("market", "raw/stocks")
    remote = _read("s3://market/raw/stocks")
    pd.testing.assert_frame_equal(_comparable(remote), _comparable(local_table))
    assert remote.attrs["quality"] == local_table.attrs["quality"]


def test_an_empty_or_unreachable_s3_prefix_is_named(s3_server, monkeypatch) -> None:
    _upload("market", "raw/stocks")
    with pytest.raises(SourceError, match=r"s3://market/nothing/here holds no file"):
        _read("s3://market/nothing/here")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(SourceError, match=r"cannot list s3://market/raw/stocks"):
        _read("s3://market/raw/stocks")


@pytest.fixture()
def no_kaggle_credentials(tmp_path, monkeypatch):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_kaggle_without_credentials_says_how_to_give_them(no_kaggle_credentials) -> None:
    with pytest.raises(SourceError, match="no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY"):
        _read(f"kaggle://{DATASET}")


def test_kaggle_with_credentials_goes_as_far_as_the_network(no_kaggle_credentials, monkeypatch) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # no internet here anyway: fail at once
    with pytest.raises(SourceError, match=f"cannot download the Kaggle dataset {DATASET}"):
        _read(f"kaggle://{DATASET}")


def test_a_downloaded_kaggle_dataset_is_reused_without_the_network(no_kaggle_credentials, local_table) -> None:
    from core.paths import STATE_DIR

    cached = STATE_DIR / "kaggle" / DATASET
    shutil.copytree(STOCKS, cached, dirs_exist_ok=True)
    (cached / ".download-complete").write_text(DATASET)
    try:
        pd.testing.assert_frame_equal(_comparable(_read(f"kaggle://{DATASET}")), _comparable(local_table))
    finally:
        shutil.rmtree(cached)


def test_a_kaggle_path_must_name_owner_and_dataset() -> None:
    with pytest.raises(SourceError, match="is not kaggle://<owner>/<dataset>"):
        _read("kaggle://just-a-name")
    with pytest.raises(ValueError, match="reads a folder, s3:// or kaggle://, not gs://"):
        SourceSpec(kind="stock_market", path="gs://bucket/stocks")
