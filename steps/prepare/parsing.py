"""Numbers that a source delivers as text (churn's ``TotalCharges``), parsed before validation
so that the suite checks numbers. Blank text is a missing value, and counted; any other text
that is not a number stops the run, naming the column and examples, instead of becoming a
silent missing value."""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import pandas as pd


def parse_text_numbers(frame: pd.DataFrame, columns: Sequence[str]) -> Tuple[pd.DataFrame, Dict[str, int]]:
    """(the table with ``columns`` as floats, blank values per column). A column that is
    missing is left to validation, which names it."""
    parsed, blanks = frame.copy(), {}
    for column in columns:
        if column not in frame.columns:
            continue
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            continue  # already numbers: nothing to parse
        text = values.astype("string").str.strip()
        blank = text.isna() | (text == "")
        numbers = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = numbers.isna() & ~blank
        if bad.any():
            examples = sorted(set(values[bad].astype(str)))[:5]
            raise ValueError(f"column '{column}' holds {int(bad.sum())} value(s) that are neither numbers nor "
                             f"blank: {examples}")
        parsed[column] = numbers.astype(float)
        blanks[column] = int(blank.sum())
    return parsed, blanks
