"""Scoring a batch with a fitted model, as a plain function."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from steps.evaluate.scoring import model_inputs
from steps.prepare.cleaning import CLIENT_ID


def predict_frame(model, batch: pd.DataFrame, model_name: str, model_version: str, pipeline_run: str) -> pd.DataFrame:
    """One row per record: its client id, the prediction, and which model made it when."""
    predictions = model.predict(model_inputs(model, batch))
    return pd.DataFrame(
        {
            CLIENT_ID: batch[CLIENT_ID].to_numpy(),
            "prediction": predictions.astype(float),
            "model_name": model_name,
            "model_version": str(model_version),
            "predicted_at": datetime.now(timezone.utc),
            "pipeline_run": pipeline_run,
        }
    )
