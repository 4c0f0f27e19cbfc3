"""The churn use case's second source: billing and usage data behind a paginated JSON API.

    CHURN_API_TOKEN=... python -m serving.billing_api --csv data/churn/Telco-Customer-Churn.csv --port 8610

    GET /billing?page=1&page_size=500   {"items": [...], "page", "page_size", "total", "next"}
    GET /health                         {"status": "ok", "records": 7043}

A company keeps its customer master data (demographics, contract) in one system and billing in
another; this service plays the billing system, serving the Telco data set's billing and usage
columns as received, including its defect (``TotalCharges`` is text, blank for 11 new
customers). Every request needs ``Authorization: Bearer <token>``; the token is read from the
environment variable named by ``--token-env`` when the service starts, never from a file in the
repository.
"""

from __future__ import annotations

import argparse
import os
import secrets
from typing import Any, Dict, List, Optional

BILLING_COLUMNS = ["customerID", "tenure", "PhoneService", "MultipleLines", "InternetService", "OnlineSecurity",
                   "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies",
                   "PaperlessBilling", "PaymentMethod", "MonthlyCharges", "TotalCharges"]
MAX_PAGE_SIZE = 5000


def billing_records(csv_path: str) -> List[Dict[str, Any]]:
    """The billing columns as the billing system holds them: whole months of tenure, charges as
    numbers, and TotalCharges as the text it is in the export."""
    import pandas as pd

    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = [c for c in BILLING_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{csv_path} lacks the billing column(s) {missing}")
    frame = frame[BILLING_COLUMNS].copy()
    frame["tenure"] = frame["tenure"].astype(int)
    frame["MonthlyCharges"] = frame["MonthlyCharges"].astype(float)
    return frame.to_dict(orient="records")


def create_app(records: List[Dict[str, Any]], token: str):
    from fastapi import Depends, FastAPI, HTTPException, Query
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    app = FastAPI(title="Billing and usage API", version="1")
    bearer = HTTPBearer(auto_error=False)

    def authorized(credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> None:
        if credentials is None or not secrets.compare_digest(credentials.credentials, token):
            raise HTTPException(status_code=401, detail="a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.get("/health")
    def health() -> Dict[str, Any]:
        return {"status": "ok", "records": len(records)}

    @app.get("/billing", dependencies=[Depends(authorized)])
    def billing(page: int = Query(1, ge=1), page_size: int = Query(500, ge=1, le=MAX_PAGE_SIZE)) -> Dict[str, Any]:
        start = (page - 1) * page_size
        items = records[start:start + page_size]
        more = start + page_size < len(records)
        return {"items": items, "page": page, "page_size": page_size, "total": len(records),
                "next": page + 1 if more else None}

    return app


def main(argv: Optional[List[str]] = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="the Telco customer churn CSV")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8610)
    parser.add_argument("--token-env", default="CHURN_API_TOKEN", help="environment variable holding the token")
    args = parser.parse_args(argv)
    token = os.environ.get(args.token_env)
    if not token:
        parser.error(f"set {args.token_env} to the bearer token clients must send")
    uvicorn.run(create_app(billing_records(args.csv), token), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
