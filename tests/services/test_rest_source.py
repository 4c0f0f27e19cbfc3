"""The REST source against real HTTP servers on loopback: the churn billing API (uvicorn), and a
plain http.server that answers with the faults a real API shows (503 bursts, 500s, a body that
is not JSON, a changed schema, a slow answer)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from core.config import RestSpec, SourceSpec
from core.database import SourceError
from steps.ingest.rest import FetchReport, fetch_table
from steps.ingest.sources import read_source
from tests.conftest import PROJECT_ROOT, free_port, serve_in_thread

CHURN_CSV = PROJECT_ROOT / "data" / "churn" / "Telco-Customer-Churn.csv"
TOKEN = "test-token-7f3a"


@pytest.fixture(scope="module")
def billing_api() -> Iterator[str]:
    from serving.billing_api import billing_records, create_app

    yield from serve_in_thread(create_app(billing_records(str(CHURN_CSV)), TOKEN))


def _spec(base_url: str, **changes) -> RestSpec:
    values = {"base_url": base_url, "endpoint": "/billing", "page_size": 1000, "token_env": "TEST_BILLING_TOKEN",
              "retries": 2, "backoff_seconds": 0.0, "timeout_seconds": 5.0}
    return RestSpec(**{**values, **changes})


def test_every_page_of_the_billing_api_becomes_the_table(billing_api, monkeypatch) -> None:
    monkeypatch.setenv("TEST_BILLING_TOKEN", TOKEN)
    report = FetchReport()
    table = fetch_table(_spec(billing_api), report)
    expected = pd.read_csv(CHURN_CSV, dtype=str, keep_default_na=False)
    assert (report.pages, report.rows, report.attempts) == (8, 7043, 8)
    assert table["customerID"].tolist() == expected["customerID"].tolist()
    assert table["MonthlyCharges"].dtype == float and table["tenure"].dtype == int
    assert (table["TotalCharges"].str.strip() == "").sum() == 11  # the data's real defect, as received
    assert "Contract" not in table.columns  # master data lives in the other source


def test_the_source_kind_reads_it_and_records_the_fetch(billing_api, monkeypatch) -> None:
    monkeypatch.setenv("TEST_BILLING_TOKEN", TOKEN)
    spec = SourceSpec(kind="rest", rest=_spec(billing_api, page_size=2500).model_dump())
    frame = read_source(spec)
    assert len(frame) == 7043 and frame.attrs["fetch"]["pages"] == 3
    assert spec.describe() == f"rest:{billing_api}/billing"


def test_a_missing_or_wrong_token_is_a_401_that_says_so(billing_api, monkeypatch) -> None:
    monkeypatch.setenv("TEST_BILLING_TOKEN", "wrong")
    with pytest.raises(SourceError, match=r"page 1 of .*/billing: HTTP 401 Unauthorized \(the API token is missing"):
        fetch_table(_spec(billing_api))
    monkeypatch.delenv("TEST_BILLING_TOKEN")
    with pytest.raises(SourceError, match="HTTP 401"):
        fetch_table(_spec(billing_api))


def test_a_config_cannot_mix_rest_and_other_source_fields() -> None:
    with pytest.raises(ValueError, match="a rest source takes only 'rest:'"):
        SourceSpec(kind="rest", table="x", rest={"base_url": "http://h", "endpoint": "/b"})
    with pytest.raises(ValueError, match="only a rest source has them"):
        SourceSpec(kind="csv", path="x.csv", rest={"base_url": "http://h", "endpoint": "/b"})


# ---------------------------------------------------------------- faults, from a real HTTP server
Answer = Callable[[int, int], tuple]  # (request number, page) -> (status, body text, delay seconds)


@pytest.fixture
def faulty_api() -> Iterator[Callable[[Answer], str]]:
    servers = []

    def serve(answer: Answer) -> str:
        count = {"n": 0}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                count["n"] += 1
                page = int(parse_qs(urlparse(self.path).query)["page"][0])
                status, body, delay = answer(count["n"], page)
                time.sleep(delay)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _page(page: int, rows: int = 2, last: int = 2, field: str = "tenure") -> str:
    items = [{"customerID": f"{page}-{i}", field: i} for i in range(rows)]
    return json.dumps({"items": items, "next": page + 1 if page < last else None})


def test_a_burst_of_503s_is_retried_and_the_fetch_completes(faulty_api) -> None:
    url = faulty_api(lambda n, page: (503, "busy", 0) if n <= 2 else (200, _page(page), 0))
    report = FetchReport()
    table = fetch_table(_spec(url), report)
    assert len(table) == 4 and report.attempts == 4  # 2 refused + 2 pages


def test_a_500_then_recovery_is_retried_and_the_fetch_completes(faulty_api) -> None:
    url = faulty_api(lambda n, page: (500, "internal error", 0) if n == 2 else (200, _page(page), 0))
    report = FetchReport()
    table = fetch_table(_spec(url), report)
    assert table["customerID"].tolist() == ["1-0", "1-1", "2-0", "2-1"] and report.attempts == 3


def test_an_empty_sequence_of_pages_is_an_empty_source_error(faulty_api) -> None:
    url = faulty_api(lambda n, page: (200, json.dumps({"items": [], "next": page + 1 if page < 3 else None}), 0))
    spec = SourceSpec(kind="rest", rest=_spec(url).model_dump())
    with pytest.raises(SourceError, match=r"returned an empty table \(0 rows\)"):
        read_source(spec)


def test_a_server_that_keeps_failing_stops_after_the_retries(faulty_api) -> None:
    url = faulty_api(lambda n, page: (500, "oops", 0))
    with pytest.raises(SourceError, match=r"page 1 of .*: HTTP 500 after 3 attempts"):
        fetch_table(_spec(url))


def test_a_body_that_is_not_json_names_its_page(faulty_api) -> None:
    url = faulty_api(lambda n, page: (200, _page(page), 0) if page == 1 else (200, '{"items": [', 0))
    with pytest.raises(SourceError, match=r"page 2 of .*: the body is not JSON"):
        fetch_table(_spec(url))


def test_a_schema_change_in_a_later_page_is_refused(faulty_api) -> None:
    url = faulty_api(lambda n, page: (200, _page(page, field="tenure" if page == 1 else "tenure_months"), 0))
    with pytest.raises(SourceError, match=r"page 2 of .*: the records' fields changed \(missing \['tenure'\], "
                                          r"unexpected \['tenure_months'\]\)"):
        fetch_table(_spec(url))


def test_a_page_without_its_records_list_is_refused(faulty_api) -> None:
    url = faulty_api(lambda n, page: (200, json.dumps({"data": []}), 0))
    with pytest.raises(SourceError, match="expected a JSON object whose 'items' is a list of records"):
        fetch_table(_spec(url))


def test_a_slow_answer_times_out_and_an_unreachable_api_is_named(faulty_api) -> None:
    url = faulty_api(lambda n, page: (200, _page(page), 1.5))
    with pytest.raises(SourceError, match=r"page 1 of .*: timed out after 2 attempts"):
        fetch_table(_spec(url, timeout_seconds=0.3, retries=1))
    with pytest.raises(SourceError, match=r"page 1 of http://127.0.0.1:\d+/billing: unreachable after 2 attempts"):
        fetch_table(_spec(f"http://127.0.0.1:{free_port()}", retries=1))


CUSTOMERS_CSV = PROJECT_ROOT / "data" / "churn" / "customers.csv"


def _joined(billing_api: str, customers) -> SourceSpec:
    return SourceSpec(kind="joined", key="customerID", parts={
        "customers": {"kind": "csv", "path": str(customers)},
        "billing": {"kind": "rest", "rest": _spec(billing_api).model_dump()}})


def test_the_csv_master_data_and_the_billing_api_join_into_the_whole_table(billing_api, monkeypatch) -> None:
    monkeypatch.setenv("TEST_BILLING_TOKEN", TOKEN)
    frame = read_source(_joined(billing_api, CUSTOMERS_CSV))
    original = pd.read_csv(CHURN_CSV, dtype=str, keep_default_na=False)
    assert frame.shape == original.shape == (7043, 21)
    assert set(frame.columns) == set(original.columns)
    as_text = frame[original.columns].astype(str)
    for column in ("MonthlyCharges",):  # numbers from JSON print without the CSV's trailing zeros
        as_text[column] = frame[column].map(lambda value: f"{value:g}")
        original[column] = original[column].astype(float).map(lambda value: f"{value:g}")
    pd.testing.assert_frame_equal(as_text, original, check_dtype=False)
    parts = frame.attrs["parts"]
    assert parts["customers"]["rows"] == parts["billing"]["rows"] == 7043 and parts["billing"]["fetch"]["pages"] == 8


DISAGREEMENTS = {
    "duplicated_customer": lambda f: (pd.concat([f, f.iloc[[10]]]), "source 'customers' holds 1 customerID value(s) "
                                      f"more than once (duplicated records): {f.customerID[10]}"),
    "ids_disagree": lambda f: (f.assign(customerID=f["customerID"].where(f.index != 3, "0000-WRONG")),
                               "the sources disagree on the customerID values they hold: 1 customerID value(s) "
                               f"missing from 'customers': {f.customerID[3]}; 1 customerID value(s) missing from "
                               "'billing': 0000-WRONG"),
    "no_key_column": lambda f: (f.drop(columns="customerID"), "source 'customers' has no key column 'customerID'"),
    "blank_key": lambda f: (f.assign(customerID=f["customerID"].where(f.index != 5, " ")),
                            "source 'customers' has 1 row(s) with a blank 'customerID'"),
    "column_from_both": lambda f: (f.assign(tenure=1), "column 'tenure' comes from both 'customers' and 'billing'"),
}


@pytest.mark.parametrize("case", sorted(DISAGREEMENTS))
def test_sources_that_disagree_stop_the_extract_naming_the_records(billing_api, monkeypatch, tmp_path, case) -> None:
    monkeypatch.setenv("TEST_BILLING_TOKEN", TOKEN)
    path = tmp_path / "customers.csv"
    edited, message = DISAGREEMENTS[case](pd.read_csv(CUSTOMERS_CSV, dtype=str, keep_default_na=False))
    edited.to_csv(path, index=False)
    with pytest.raises(SourceError) as error:
        read_source(_joined(billing_api, path))
    assert message in str(error.value)
