"""Decision-threshold tuning, the thresholded model, and the folder source's input errors."""

import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from core.config import SourceSpec
from core.database import SourceError
from steps.ingest.sources import read_source
from steps.train.threshold import ThresholdClassifier, tune_threshold
from tests.conftest import PROJECT_ROOT


def test_tuning_finds_the_separating_threshold() -> None:
    y = np.array([0] * 90 + [1] * 10)
    scores = np.concatenate([np.linspace(0.0, 0.2, 90), np.linspace(0.25, 0.3, 10)])
    threshold = tune_threshold(y, scores)
    assert 0.2 < threshold <= 0.25
    assert tune_threshold(np.zeros(5), np.linspace(0, 1, 5)) == 0.5  # nothing to tune on


def test_threshold_classifier_predicts_at_its_threshold() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=400)})
    y = (x["a"] + rng.normal(scale=0.5, size=400) > 1).astype(int)
    base = LogisticRegression().fit(x, y)
    low, high = ThresholdClassifier(base, 0.1), ThresholdClassifier(base, 0.9)
    assert low.predict(x).sum() > base.predict(x).sum() > high.predict(x).sum()
    np.testing.assert_array_equal(low.predict(x), (base.predict_proba(x)[:, 1] >= 0.1).astype(int))
    assert list(low.feature_names_in_) == ["a"]
    with pytest.raises(TypeError):
        low.fit(x, y)


@pytest.fixture
def skab_copy(tmp_path):
    for name in ("valve1/0.csv", "valve1/1.csv"):
        (tmp_path / "valve1").mkdir(exist_ok=True)
        shutil.copy(PROJECT_ROOT / "data" / "skab" / name, tmp_path / name)
    return tmp_path


def _spec(path) -> SourceSpec:
    return SourceSpec(kind="csv_folder", path=str(path), pattern="*/*.csv", separator=";", group_column="experiment")


def test_missing_sensor_column_names_the_file(skab_copy) -> None:
    frame = pd.read_csv(skab_copy / "valve1/1.csv", sep=";").drop(columns=["Pressure"])
    frame.to_csv(skab_copy / "valve1/1.csv", sep=";", index=False)
    with pytest.raises(SourceError, match=r"valve1/1.csv does not have the columns.*missing \['Pressure'\]"):
        read_source(_spec(skab_copy))


def test_a_recording_without_labels_is_an_error_unless_meant_to_be(skab_copy) -> None:
    """Defaults fill the anomaly-free recording only: a valve file that lost its labels must
    not be read as all-normal."""
    shutil.copy(PROJECT_ROOT / "data" / "skab" / "anomaly-free" / "anomaly-free.csv", skab_copy / "valve1" / "2.csv")
    spec = SourceSpec(kind="csv_folder", path=str(skab_copy), pattern="*/*.csv", separator=";",
                      group_column="experiment", missing_column_defaults={"anomaly": 0.0, "changepoint": 0.0},
                      missing_column_defaults_for="anomaly-free/*.csv")
    with pytest.raises(SourceError, match=r"valve1/2.csv does not have the columns.*missing \['anomaly', 'changepoint'\]"):
        read_source(spec)
    (skab_copy / "anomaly-free").mkdir()
    shutil.move(skab_copy / "valve1" / "2.csv", skab_copy / "anomaly-free" / "anomaly-free.csv")
    table = read_source(spec)
    assert (table.loc[table["experiment"] == "anomaly-free/anomaly-free.csv", "anomaly"] == 0).all()


def test_wrong_separator_is_named(skab_copy) -> None:
    frame = pd.read_csv(skab_copy / "valve1/1.csv", sep=";")
    frame.to_csv(skab_copy / "valve1/1.csv", sep=",", index=False)
    with pytest.raises(SourceError, match=r"valve1/1.csv has a single column.*separated by ','.*';'"):
        read_source(_spec(skab_copy))


def test_empty_folder_is_an_error(tmp_path) -> None:
    with pytest.raises(SourceError, match="no file matching"):
        read_source(_spec(tmp_path))


def test_text_in_a_numeric_column_stays_text_so_validation_can_name_it(skab_copy) -> None:
    frame = pd.read_csv(skab_copy / "valve1/1.csv", sep=";", dtype=str)
    frame.loc[3, "Current"] = "overload"
    frame.to_csv(skab_copy / "valve1/1.csv", sep=";", index=False)
    table = read_source(_spec(skab_copy))
    current = table["Current"]
    assert current.dtype == object and current.map(lambda v: isinstance(v, str)).all()
    assert (current == "overload").sum() == 1
    table.to_parquet(skab_copy / "raw.parquet")  # storable as an artifact


def test_failure_message_falls_back_to_the_traceback() -> None:
    from types import SimpleNamespace

    from core.launch import _failure_message

    assert _failure_message(SimpleNamespace(message="boom", traceback="")) == "boom"
    info = SimpleNamespace(message="", traceback="Traceback...\n  File x\nArrowInvalid: could not convert\n")
    assert _failure_message(info) == "ArrowInvalid: could not convert"
    assert _failure_message(None) == "no error recorded"
