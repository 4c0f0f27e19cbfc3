"""Model monitoring over runs: each training run's metric against the model's earlier versions.

Promotion already keeps a worse model out of production; monitoring answers a different
question, the one a team asks of a scheduled retraining: is the model this data produces getting
worse? The baseline is the latest earlier version that recorded the metric. A change in the
wrong direction by more than ``tolerance`` (relative) is flagged, in the step's metadata and the
model version's, and on the history chart; the run still completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    value: float
    baseline: Optional[float]
    baseline_version: Optional[int]
    worse_by: Optional[float]  # relative change in the bad direction (negative: it improved)
    regressed: bool


def check_metric(history: Sequence[Tuple[int, float]], metric: str, value: float, lower_is_better: bool,
                 tolerance: float) -> MetricCheck:
    """``history``: (version number, value) of earlier versions, in any order."""
    if not history:
        return MetricCheck(metric, value, None, None, None, False)
    baseline_version, baseline = max(history)
    change = (value - baseline) if lower_is_better else (baseline - value)
    if baseline:
        worse_by = change / abs(baseline)
    else:  # a zero baseline: any worsening counts as unbounded
        worse_by = float("inf") if change > 0 else 0.0
    return MetricCheck(metric, value, baseline, baseline_version, worse_by, worse_by > tolerance)


def describe_check(check: MetricCheck, version: int, tolerance: float) -> str:
    """One line for the history page: the value, its baseline and the verdict."""
    if check.baseline is None:
        return f"version {version}: {check.metric} {check.value:.4g}, the model's first version with it"
    direction = "worse" if check.worse_by > 0 else "not worse"
    verdict = "REGRESSION beyond" if check.regressed else "within"
    return (f"version {version}: {check.metric} {check.value:.4g} against {check.baseline:.4g} (version "
            f"{check.baseline_version}), {direction} by {abs(check.worse_by):.1%}: {verdict} the tolerance of "
            f"{tolerance:.0%}")


def history_chart(points: List[Tuple[int, float]], metric: str, check: MetricCheck) -> str:
    """A PNG line chart (base64, for an HTML page) of the metric over model versions."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3), dpi=100)
    versions = [v for v, _ in points]
    axes.plot(versions, [m for _, m in points], marker="o", color="#3b6ea5")
    axes.scatter([versions[-1]], [points[-1][1]], color="#c0392b" if check.regressed else "#2e8b57", zorder=3, s=60)
    axes.set_xlabel("model version")
    axes.set_ylabel(metric)
    axes.set_xticks(versions)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()
