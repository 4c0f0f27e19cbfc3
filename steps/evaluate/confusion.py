"""A classifier's confusion matrix on the held-out split, as counts and as a chart."""

from __future__ import annotations

import base64
import io
from typing import Dict

import numpy as np


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> Dict[str, int]:
    """True/false negatives and positives of the positive class 1."""
    from sklearn.metrics import confusion_matrix

    tn, fp, fn, tp = confusion_matrix(np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int),
                                      labels=[0, 1]).ravel()
    return {"true_negatives": int(tn), "false_positives": int(fp), "false_negatives": int(fn),
            "true_positives": int(tp)}


def confusion_chart(counts: Dict[str, int], positive_label: str = "1", negative_label: str = "0") -> str:
    """A 2 x 2 heatmap (base64 PNG), rows the true class, columns the predicted one, each cell
    with its count and its share of the true class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array([[counts["true_negatives"], counts["false_positives"]],
                       [counts["false_negatives"], counts["true_positives"]]])
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(4.2, 3.6), dpi=90)
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    labels = [negative_label, positive_label]
    axes.set_xticks([0, 1], labels)
    axes.set_yticks([0, 1], labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (row, column), value in np.ndenumerate(matrix):
        axes.text(column, row, f"{value}\n{shares[row, column]:.0%}", ha="center", va="center",
                  color="white" if shares[row, column] > 0.5 else "black")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()
