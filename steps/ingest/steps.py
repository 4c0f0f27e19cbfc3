"""ZenML step: extract the raw table from the configured source."""

from __future__ import annotations

import time
from typing import List, Optional

import pandas as pd
from typing_extensions import Annotated
from zenml import ArtifactConfig, log_metadata, step

from core.config import SourceSpec
from steps.ingest.sources import read_source


@step(enable_cache=False)
def extract_source(
    source: SourceSpec, columns: Optional[List[str]] = None
) -> Annotated[pd.DataFrame, ArtifactConfig(name="{data_role}_raw_data")]:
    """Extract the source as it is, never cached: the source may change between runs.

    The output name carries the pipeline's data role (``training_raw_data``, ``batch_raw_data``)
    so the dashboard and the model version tell the two apart.
    """
    started = time.perf_counter()
    frame = read_source(source, columns)
    log_metadata(
        metadata={
            "source": source.describe(),
            "rows": len(frame),
            "columns": list(map(str, frame.columns)),
            "duration_s": round(time.perf_counter() - started, 3),
            # What the reader counted and resolved on the way (for example prices written as 0).
            **({"quality": frame.attrs["quality"]} if "quality" in frame.attrs else {}),
            # A REST source's pages, attempts (retries included) and fetch time.
            **({"fetch": frame.attrs["fetch"]} if "fetch" in frame.attrs else {}),
            # A joined source's parts: each one's source, rows and columns (and fetch report).
            **({"parts": frame.attrs["parts"]} if "parts" in frame.attrs else {}),
        }
    )
    return frame
