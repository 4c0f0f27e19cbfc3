"""The exploratory analysis of a table, as one report: associations between all columns (the
configured bins included), bin counts, the one-hot encoding, permutation importance, and the
univariate and bivariate charts. Statistics use every row; charts a seeded sample."""

from __future__ import annotations

from typing import Dict, List

import pandas as pd

from core.config import ExplorationSpec, SchemaSpec
from steps.explore import charts
from steps.explore.associations import association_matrix, associations
from steps.explore.importance import permutation_importances
from steps.explore.preparation import add_bins
from steps.explore.report import BinCount, ExplorationReport


def explore_table(frame: pd.DataFrame, schema: SchemaSpec, spec: ExplorationSpec, task: str, use_case: str,
                  encoded_columns: Dict[str, List[str]]) -> ExplorationReport:
    target = schema.target
    table = add_bins(frame, spec.bins)
    numeric = schema.numeric_features()
    categorical = [*schema.categorical_features(), *spec.bins]
    target_numeric = schema.columns[target].type in ("int", "float")
    measured_numeric = numeric + ([target] if target_numeric else [])
    measured_categorical = categorical + ([] if target_numeric else [target])
    found = associations(table, measured_numeric, measured_categorical)
    bin_counts = [BinCount(name=name, column=bin_spec.column,
                           counts={label: int(count) for label, count in
                                   table[name].value_counts().reindex(bin_spec.bin_labels, fill_value=0).items()})
                  for name, bin_spec in spec.bins.items()]
    importances, importance_model, scoring = permutation_importances(
        frame, numeric, schema.categorical_features(), target, task, spec.importance_rows, spec.importance_repeats,
        spec.random_state)

    sample = table.sample(min(len(table), spec.chart_rows), random_state=spec.random_state)
    matrix_columns = measured_numeric + measured_categorical
    figures = {
        "Associations (Pearson r; eta for category-number; Cramér's V for two categories)":
            charts.heatmap(association_matrix(found, matrix_columns), "association"),
        "Histograms": charts.histograms(table, measured_numeric),
        "Permutation importance": charts.horizontal_bars(
            [item.feature for item in importances], [item.mean for item in importances],
            f"drop in held-out {scoring} when shuffled", [item.std for item in importances]),
    }
    if target_numeric:
        figures[f"Scatter against {target} ({len(sample)} sampled rows)"] = charts.scatter_against(
            sample, numeric, target)
        for category in categorical:
            figures[f"{target} by {category}"] = charts.box_by_category(table, category, target)
    elif schema.positive_class is not None:
        positive = (table[target].astype(str) == schema.positive_class).astype(float)
        figures[f"{target} rate by category (dashed: overall)"] = charts.rate_by_category(
            table, categorical, positive, f"share {target} = {schema.positive_class}")
        figures[f"Box plots by {target}"] = charts.box_by_class(table, numeric, table[target])
    for item in bin_counts:
        figures[f"Bins: {item.name} (from {item.column})"] = charts.horizontal_bars(
            list(item.counts), [float(v) for v in item.counts.values()], f"rows per {item.name}")
    if spec.geo is not None and target_numeric:
        longitude, latitude = spec.geo
        figures[f"{target} by location ({len(sample)} sampled rows)"] = charts.geographic_scatter(
            sample, longitude, latitude, target)
    notes = [f"{len(table)} rows; charts use a seeded sample of {len(sample)}."]
    return ExplorationReport(use_case=use_case, target=target, rows=len(table), associations=found, bins=bin_counts,
                             encoded_columns=encoded_columns, importance_model=importance_model,
                             importance_metric=scoring, importances=importances, charts=figures, notes=notes)
