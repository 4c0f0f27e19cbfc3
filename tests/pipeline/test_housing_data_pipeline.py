"""The housing data pipeline (DataOps): profile, imputation and normalization, the EDA report
with its charts, the activity log and run metadata, a bounded schedule, and a bad file that
stops at validation with the failure in the activity log."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from core.config import RunConfig
from core.launch import PipelineFailed, run_data
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.pipeline

HOUSING_CONFIG = PROJECT_ROOT / "configs" / "housing.yaml"
HOUSING_CSV = PROJECT_ROOT / "data" / "housing" / "housing.csv"


def _client():
    from zenml.client import Client

    return Client()


def _output(run, step: str, name: str):
    return _client().get_pipeline_run(run.id).steps[step].outputs[name][0]


@pytest.fixture(scope="module")
def source() -> pd.DataFrame:
    return pd.read_csv(HOUSING_CSV)


def test_the_profile_counts_the_missing_bedrooms_and_resolves_them(housing_data_run, source) -> None:
    profile = _output(housing_data_run, "profile_data", "data_profile").load()
    assert profile.rows == len(source) == 20_640
    assert profile.missing_values == {"total_bedrooms": int(source["total_bedrooms"].isna().sum())} == {
        "total_bedrooms": 207}
    [issue] = profile.issues
    assert (issue.column, issue.count) == ("total_bedrooms", 207) and "imputed with the median" in issue.resolution
    income = next(column for column in profile.columns if column.name == "median_income")
    assert income.mean == pytest.approx(source["median_income"].mean())
    assert income.q75 == pytest.approx(source["median_income"].quantile(0.75))
    proximity = next(column for column in profile.columns if column.name == "ocean_proximity")
    assert (proximity.top, proximity.top_count) == ("<1H OCEAN", int((source["ocean_proximity"] == "<1H OCEAN").sum()))


def test_the_normalized_table_is_imputed_standardized_and_one_hot_encoded(housing_data_run, source) -> None:
    normalized = _output(housing_data_run, "normalize_data", "normalized_dataset").load()
    assert len(normalized) == len(source) and not normalized.isna().any().any()
    for column in ("longitude", "total_bedrooms", "median_income"):
        assert normalized[column].mean() == pytest.approx(0, abs=1e-9)
        assert normalized[column].std(ddof=0) == pytest.approx(1, abs=1e-9)
    one_hot = [c for c in normalized if c.startswith("ocean_proximity_")]
    assert len(one_hot) == 5 and (normalized[one_hot].sum(axis=1) == 1).all()
    assert (normalized["income_category_>60k"] == 1).sum() == (source["median_income"] > 6).sum()
    np.testing.assert_array_equal(normalized["median_house_value"], source["median_house_value"])


def test_the_eda_report_measures_associations_bins_and_importance(housing_data_run, source) -> None:
    report = _output(housing_data_run, "explore_data", "eda_report").load()
    income = report.association("median_income", "median_house_value")
    assert income.measure == "pearson_r"
    assert income.value == pytest.approx(source["median_income"].corr(source["median_house_value"]))
    proximity = report.association("ocean_proximity", "median_house_value")
    assert proximity.measure == "correlation_ratio" and 0.4 < proximity.value < 0.7
    assert report.association("ocean_proximity", "income_category").measure == "cramers_v"
    [bins] = report.bins
    assert sum(bins.counts.values()) == len(source)
    assert bins.counts["<15k"] == (source["median_income"] <= 1.5).sum()
    assert report.importances[0].feature == "median_income"
    assert any("by location" in title for title in report.charts) and len(report.charts) >= 7
    assert "median_house_value by ocean_proximity" in report.charts


def test_the_reports_have_dashboard_visualizations(housing_data_run) -> None:
    from zenml.enums import VisualizationType

    eda = _output(housing_data_run, "explore_data", "eda_report")
    assert [v.type for v in eda.visualizations] == [VisualizationType.HTML]
    profile = _output(housing_data_run, "profile_data", "data_profile")
    assert {v.type for v in profile.visualizations} == {VisualizationType.HTML, VisualizationType.CSV}


def test_each_run_logs_its_activity_to_a_file_and_as_run_metadata(housing_data_run, session_dir) -> None:
    run = _client().get_pipeline_run(housing_data_run.id)
    activity = run.run_metadata["data_activity"]
    assert activity["rows"] == 20_640 and activity["outcome"] == "completed"
    assert activity["issues"] == {"total_bedrooms: missing values": 207}
    assert 0 < activity["duration_seconds"] < 600
    lines = (session_dir / "state" / "logs" / "activity_housing_data.log").read_text().splitlines()
    [line] = [line for line in lines if run.name in line]
    assert "| completed |" in line and "rows=20640" in line and "total_bedrooms: missing values=207" in line


def test_a_bad_file_stops_the_data_pipeline_at_validation_and_the_failure_is_logged(
        housing_data_run, tmp_path, session_dir) -> None:
    path = tmp_path / "housing.csv"
    frame = pd.read_csv(HOUSING_CSV).head(2000)
    frame.loc[7, "population"] = -40.0
    frame.to_csv(path, index=False)
    raw = yaml.safe_load(HOUSING_CONFIG.read_text())
    raw["parameters"]["source"] = {"kind": "csv", "path": str(path)}
    with pytest.raises(PipelineFailed) as error:
        run_data(RunConfig.model_validate(raw))
    assert "population" in str(error.value) and "-40" in str(error.value)
    run = _client().get_pipeline_run(error.value.run_name)
    assert "profile_data" not in run.steps or run.steps["profile_data"].status.value != "completed"
    lines = (session_dir / "state" / "logs" / "activity_housing_data.log").read_text().splitlines()
    [line] = [line for line in lines if error.value.run_name in line]
    assert "failed in step 'validation_gate'" in line and "population" in line
    recorded = _client().get_pipeline_run(run.id).run_metadata["data_activity"]
    assert recorded["outcome"] == "failed in step 'validation_gate'" and "population" in recorded["error"]


def test_the_data_pipeline_runs_on_a_bounded_schedule(housing_data_run, session_dir) -> None:
    """What `python run.py data --config configs/housing.yaml --schedule "*/2 * * * *"` does on the
    local orchestrator, with a 2-second interval so that the test does not wait minutes."""
    before = {run.id for run in _client().list_pipeline_runs(pipeline_name="data", size=50).items}
    result = subprocess.run([sys.executable, "run.py", "data", "--config", str(HOUSING_CONFIG),
                             "--schedule", "every 2s", "--max-runs", "2"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = [run for run in _client().list_pipeline_runs(pipeline_name="data", size=50).items if run.id not in before]
    assert len(runs) == 2 and {run.status.value for run in runs} == {"completed"}
    assert all({"housing", "data", "scheduled"} <= {tag.name for tag in run.tags} for run in runs)
    activity = (session_dir / "state" / "logs" / "activity_housing_data.log").read_text()
    assert all(run.name in activity for run in runs)
