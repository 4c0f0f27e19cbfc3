"""Reading a paginated JSON API into a table (``source: {kind: rest, rest: {...}}``).

Pages are fetched in order until a page says there is no ``next`` one. Each request carries the
bearer token and a timeout; what is worth retrying (a refused or dropped connection, a timeout,
429 and 5xx answers) is retried with exponential backoff by tenacity, and everything else fails
at once: another 4xx (a wrong token, a wrong endpoint), a body that is not JSON, a page without
its list of records, and a page whose records carry other fields than the first page's (the
API changed its schema under us). Every error names the page and the URL, never the token.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pandas as pd

from core.config import RestSpec
from core.database import SourceError

RETRIED_STATUS = {429, 500, 502, 503, 504}


class _Transient(Exception):
    """An answer worth asking again for."""


@dataclass
class FetchReport:
    pages: int = 0
    rows: int = 0
    attempts: int = 0
    seconds: float = 0.0


def bearer_token(spec: RestSpec) -> Optional[str]:
    """From the environment first, then from the ZenML secret (key ``token``)."""
    token = os.environ.get(spec.token_env) if spec.token_env else None
    if token or not spec.token_secret:
        return token
    from zenml.client import Client

    try:
        secret = Client().get_secret(spec.token_secret, allow_partial_name_match=False)
    except KeyError as error:
        raise SourceError(f"the ZenML secret '{spec.token_secret}' holding the API token does not exist") from error
    if "token" not in secret.secret_values:
        raise SourceError(f"the ZenML secret '{spec.token_secret}' has no key 'token'")
    return secret.secret_values["token"]  # plain strings (ZenML unwraps them)


def _get_page(session, url: str, params: Dict[str, int], spec: RestSpec, report: FetchReport) -> Any:
    import requests
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    retrying = Retrying(stop=stop_after_attempt(spec.retries + 1), reraise=True,
                        wait=wait_exponential(multiplier=spec.backoff_seconds, max=30),
                        retry=retry_if_exception_type((_Transient, requests.ConnectionError, requests.Timeout)))
    where = f"page {params['page']} of {url}"
    try:
        for attempt in retrying:
            with attempt:
                report.attempts += 1
                response = session.get(url, params=params, timeout=spec.timeout_seconds)
                if response.status_code in RETRIED_STATUS:
                    raise _Transient(f"HTTP {response.status_code}")
    except _Transient as error:
        raise SourceError(f"{where}: {error} after {spec.retries + 1} attempts") from error
    except (requests.ConnectionError, requests.Timeout) as error:
        kind = "timed out" if isinstance(error, requests.Timeout) else "unreachable"
        raise SourceError(f"{where}: {kind} after {spec.retries + 1} attempts ({type(error).__name__})") from error
    if response.status_code >= 400:
        raise SourceError(f"{where}: HTTP {response.status_code} {response.reason}"
                          + (" (the API token is missing or wrong)" if response.status_code in (401, 403) else ""))
    try:
        return response.json()
    except ValueError as error:
        raise SourceError(f"{where}: the body is not JSON ({error}); it starts with {response.text[:80]!r}") from error


def _records(payload: Any, spec: RestSpec, where: str) -> List[Dict[str, Any]]:
    records = payload.get(spec.records_key) if isinstance(payload, dict) else None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise SourceError(f"{where}: expected a JSON object whose '{spec.records_key}' is a list of records")
    return records


def fetch_table(spec: RestSpec, report: Optional[FetchReport] = None, pages: Optional[List[Any]] = None
                ) -> pd.DataFrame:
    """Every page's records as one table, in the API's order; ``pages`` collects the bodies."""
    import requests

    report = report if report is not None else FetchReport()
    started = time.monotonic()
    url = spec.resolved_base_url() + spec.endpoint
    token = bearer_token(spec)
    rows: List[Dict[str, Any]] = []
    fields: Optional[List[str]] = None
    with requests.Session() as session:
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        page = 1
        while True:
            payload = _get_page(session, url, {"page": page, "page_size": spec.page_size}, spec, report)
            where = f"page {page} of {url}"
            records = _records(payload, spec, where)
            if pages is not None:
                pages.append(payload)
            for record in records:
                keys = list(record)
                if fields is None:
                    fields = keys
                elif set(keys) != set(fields):
                    missing, extra = sorted(set(fields) - set(keys)), sorted(set(keys) - set(fields))
                    raise SourceError(f"{where}: the records' fields changed (missing {missing}, unexpected {extra})")
            rows.extend(records)
            report.pages = page
            if not payload.get("next") or not records:
                break
            page += 1
    report.rows, report.seconds = len(rows), time.monotonic() - started
    return pd.DataFrame.from_records(rows, columns=fields)
