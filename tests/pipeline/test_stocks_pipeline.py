"""Stock volume on the shipped slice: exact schema, validation, rolling features stored as
year-partitioned Parquet, two candidates (one on a recorded sample), registry round trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from core.config import RunConfig
from core.launch import PipelineFailed, run_training
from steps.evaluate.metrics import regression_metrics
from tests.conftest import PROJECT_ROOT
from tests.pipeline.conftest import stocks_config

pytestmark = pytest.mark.pipeline

def _client():
    from zenml.client import Client

    return Client()


def _config(mutate=None) -> RunConfig:
    return stocks_config(mutate)


def _step(run, name):
    return _client().get_pipeline_run(run.id).steps[name]


def test_feature_table_is_year_partitioned_parquet_with_counted_drops(stocks_run) -> None:
    step = _step(stocks_run, "engineer_rolling_features")
    assert step.run_metadata["rows_missing_required_values"] == 1  # CAT, 2016-01-18
    assert step.run_metadata["rows_without_full_window"] == 6 * 29
    assert step.run_metadata["rows_out"] == 7549 - 1 - 6 * 29
    artifact = step.outputs["feature_table"][0]
    partitions = sorted(p.name for p in (Path(artifact.uri) / "dataset").iterdir())
    assert partitions == [f"year={y}" for y in range(2015, 2020)]
    table = artifact.load()
    assert len(table) == 7374 and table.attrs["partition_by"] == "year"
    aapl = table[table["Symbol"] == "AAPL"].sort_values("Date")
    raw = pd.read_csv(PROJECT_ROOT / "data" / "stocks" / "stocks" / "AAPL.csv")
    np.testing.assert_allclose(aapl["vol_moving_avg"], raw["Volume"].rolling(30).mean().dropna())
    quality = _step(stocks_run, "extract_source").run_metadata["quality"]
    assert quality["rows_without_prices"] == 1 and quality["symbols"] == 6


def test_models_meet_the_gate_and_record_how_they_were_fit(stocks_run) -> None:
    model = _step(stocks_run, "select_best_model").outputs["model"][0].load()
    test = _step(stocks_run, "split_dataset").outputs["test_data"][0].load()
    metrics = regression_metrics(test["Volume"], model.predict(test[list(model.feature_names_in_)]))
    assert metrics["r2"] >= 0.5 and "mse" in metrics
    assert list(model.feature_names_in_) == ["vol_moving_avg", "adj_close_rolling_med"]
    forest = _step(stocks_run, "train_random_forest").outputs["candidate_evaluation"][0].load()
    boosting = _step(stocks_run, "train_lightgbm").outputs["candidate_evaluation"][0].load()
    assert forest["fit_rows"] == 2000 < forest["train_rows"]
    assert boosting["fit_rows"] == boosting["train_rows"] == round(7374 * 0.8)
    assert _step(stocks_run, "verify_registry_roundtrip").outputs["registry_check"][0].load()["verified"]


def _bad_copy(tmp_path: Path, edit) -> RunConfig:
    root = tmp_path / "stocks"
    shutil.copytree(PROJECT_ROOT / "data" / "stocks", root)
    edit(root)
    return _config(lambda raw: raw["parameters"]["source"].update(path=str(root)))


def test_high_below_low_stops_at_the_gate(local_stack, tmp_path) -> None:
    def invert(root: Path) -> None:
        path = root / "stocks" / "CSCO.csv"
        frame = pd.read_csv(path)
        frame.loc[10, ["High", "Low"]] = frame.loc[10, ["Low", "High"]].to_numpy() - [1.0, 0.0]
        frame.to_csv(path, index=False)

    with pytest.raises(PipelineFailed) as error:
        run_training(_bad_copy(tmp_path, invert))
    assert "expect_column_pair_values_a_to_be_greater_than_b" in str(error.value)


def test_symbol_missing_from_metadata_stops_at_the_gate(local_stack, tmp_path) -> None:
    def orphan(root: Path) -> None:
        shutil.copy(root / "etfs" / "DIA.csv", root / "etfs" / "ZZZZ.csv")

    with pytest.raises(PipelineFailed) as error:
        run_training(_bad_copy(tmp_path, orphan))
    assert "expect_column_values_to_not_be_null on column 'Security Name'" in str(error.value)


def test_feature_view_is_published_to_the_stacks_feast_store(stocks_run) -> None:
    from feast import FeatureStore

    published = _step(stocks_run, "publish_feature_view").outputs["feature_view"][0].load()
    table = _step(stocks_run, "engineer_rolling_features").outputs["feature_table"][0]
    assert published["feature_views"] == ["stock_rolling_features"] and published["feature_table"].startswith(table.uri)
    store = FeatureStore(repo_path=_client().active_stack.feature_store.config.feast_repo)
    assert "stock_rolling_features" in [v.name for v in store.list_feature_views()]
    features = ["stock_rolling_features:vol_moving_avg", "stock_rolling_features:adj_close_rolling_med"]
    rows = table.load().sort_values("Date")
    online = store.get_online_features(features=features, entity_rows=[{"Symbol": "AAPL"}, {"Symbol": "NONE"}]).to_dict()
    latest = rows[rows["Symbol"] == "AAPL"].iloc[-1]
    assert online["vol_moving_avg"] == [pytest.approx(latest["vol_moving_avg"]), None]
    assert online["adj_close_rolling_med"][0] == pytest.approx(latest["adj_close_rolling_med"])
    # Point in time: the values of the day asked for, not the latest ones.
    day = rows[(rows["Symbol"] == "CAT") & (rows["Date"] == "2017-06-01")].iloc[0]
    asked = pd.DataFrame({"Symbol": ["CAT"], "event_timestamp": pd.to_datetime(["2017-06-01"], utc=True)})
    historical = store.get_historical_features(entity_df=asked, features=features).to_df()
    assert historical["vol_moving_avg"].iloc[0] == pytest.approx(day["vol_moving_avg"])


def test_a_stack_without_a_feature_store_is_refused_before_running(stocks_run, monkeypatch) -> None:
    from zenml.enums import StackComponentType

    from core.launch import LaunchError

    client = _client()
    local = client.active_stack_model
    kept = {kind: [members[0].id] for kind, members in local.components.items()
            if kind != StackComponentType.FEATURE_STORE}
    try:
        stack = client.get_stack("local_without_feast", allow_name_prefix_match=False)
    except KeyError:
        stack = client.create_stack(name="local_without_feast", components={k: v[0] for k, v in kept.items()})
    monkeypatch.setenv("ZENML_ACTIVE_STACK_ID", str(stack.id))
    runs_before = client.list_pipeline_runs(size=1).total
    with pytest.raises(LaunchError, match="'local_without_feast' has no feature store"):
        run_training(_config())
    assert client.list_pipeline_runs(size=1).total == runs_before


def test_a_failed_publication_blocks_promotion(stocks_run) -> None:
    """A model that would be promoted (a new name: no production yet) is not, when another step of
    its run fails: here the Feast publication, with the feature repository made unreadable."""
    from zenml.enums import ExecutionStatus, ModelStages

    repo = Path(_client().active_stack.feature_store.config.feast_repo) / "feature_store.yaml"
    original = repo.read_text()
    repo.write_text("project: [this is not yaml\n")
    try:
        with pytest.raises(PipelineFailed) as error:
            run_training(_config(lambda raw: raw["model"].update(name="stock_volume_publication_check")))
    finally:
        repo.write_text(original)
    assert "publish_feature_view" in str(error.value)
    run = _client().get_pipeline_run(error.value.run_name)
    assert run.steps["verify_registry_roundtrip"].status == ExecutionStatus.COMPLETED  # it got that far
    assert "promote_model" not in run.steps or run.steps["promote_model"].status != ExecutionStatus.COMPLETED
    with pytest.raises(KeyError):
        _client().get_model_version("stock_volume_publication_check", ModelStages.PRODUCTION)
