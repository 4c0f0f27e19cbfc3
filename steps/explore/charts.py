"""The exploration's charts, drawn with matplotlib (Agg) and returned as base64 PNGs so that one
self-contained HTML page carries them into the dashboard's sandboxed visualization frame."""

from __future__ import annotations

import base64
import io
import math
from typing import List

import numpy as np
import pandas as pd

DPI = 72


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _encode(figure) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _grid(count: int, columns: int = 4, cell=(3.2, 2.4)):
    rows = max(1, math.ceil(count / columns))
    figure, axes = _pyplot().subplots(rows, columns, figsize=(cell[0] * columns, cell[1] * rows), squeeze=False)
    for extra in axes.flat[count:]:
        extra.set_visible(False)
    return figure, axes.flat


def heatmap(matrix: pd.DataFrame, title: str) -> str:
    figure, axes = _pyplot().subplots(figsize=(1.0 + 0.75 * len(matrix), 0.6 + 0.6 * len(matrix)))
    image = axes.imshow(matrix.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    axes.set_xticks(range(len(matrix)), matrix.columns, rotation=45, ha="right")
    axes.set_yticks(range(len(matrix)), matrix.index)
    for (row, column), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, shrink=0.8)
    return _encode(figure)


def histograms(frame: pd.DataFrame, columns: List[str], bins: int = 40) -> str:
    figure, axes = _grid(len(columns))
    for axis, column in zip(axes, columns):
        axis.hist(frame[column].dropna().astype(float), bins=bins, color="#3b6ea5")
        axis.set_title(column, fontsize=9)
    return _encode(figure)


def scatter_against(frame: pd.DataFrame, columns: List[str], target: str) -> str:
    figure, axes = _grid(len(columns))
    for axis, column in zip(axes, columns):
        axis.scatter(frame[column], frame[target], s=3, alpha=0.3, color="#3b6ea5")
        axis.set_xlabel(column, fontsize=8)
        axis.set_ylabel(target, fontsize=8)
    return _encode(figure)


def box_by_category(frame: pd.DataFrame, category: str, target: str) -> str:
    groups = [(str(name), values.dropna().astype(float)) for name, values in frame.groupby(category)[target]]
    figure, axes = _pyplot().subplots(figsize=(1.2 + 1.1 * len(groups), 3))
    axes.boxplot([values for _, values in groups], showfliers=False)
    axes.set_xticks(range(1, len(groups) + 1), [name for name, _ in groups], rotation=20, fontsize=8)
    axes.set_title(f"{target} by {category}", fontsize=9)
    return _encode(figure)


def geographic_scatter(frame: pd.DataFrame, longitude: str, latitude: str, value: str) -> str:
    figure, axes = _pyplot().subplots(figsize=(6, 5))
    points = axes.scatter(frame[longitude], frame[latitude], c=frame[value], s=4, alpha=0.5, cmap="viridis")
    axes.set_xlabel(longitude)
    axes.set_ylabel(latitude)
    axes.set_title(f"{value} by location")
    figure.colorbar(points, ax=axes, label=value)
    return _encode(figure)


def horizontal_bars(labels: List[str], values: List[float], title: str, errors: List[float] | None = None) -> str:
    figure, axes = _pyplot().subplots(figsize=(6, 0.8 + 0.3 * len(labels)))
    axes.barh(labels[::-1], values[::-1], xerr=None if errors is None else errors[::-1], color="#3b6ea5")
    axes.set_title(title, fontsize=9)
    axes.grid(axis="x", alpha=0.3)
    return _encode(figure)


def rate_by_category(frame: pd.DataFrame, categories: List[str], positive: pd.Series, label: str) -> str:
    """Per category column, the share of rows in the positive class for each of its values."""
    figure, axes = _grid(len(categories), columns=3, cell=(4.2, 2.6))
    overall = float(positive.mean())
    for axis, column in zip(axes, categories):
        rates = positive.groupby(frame[column].astype(str)).mean().sort_values()
        axis.barh(rates.index, rates.to_numpy(), color="#3b6ea5")
        axis.axvline(overall, color="#c0392b", linestyle="--", linewidth=1)
        axis.set_title(column, fontsize=9)
        axis.tick_params(labelsize=7)
        axis.set_xlabel(label, fontsize=7)
    return _encode(figure)


def box_by_class(frame: pd.DataFrame, columns: List[str], classes: pd.Series) -> str:
    """Per numeric column, its distribution within each class of the target."""
    figure, axes = _grid(len(columns))
    names = sorted(classes.dropna().astype(str).unique())
    for axis, column in zip(axes, columns):
        values = [frame.loc[classes.astype(str) == name, column].dropna().astype(float) for name in names]
        axis.boxplot(values, showfliers=False)
        axis.set_xticks(range(1, len(names) + 1), names, fontsize=8)
        axis.set_title(column, fontsize=9)
    return _encode(figure)
