"""Feature views from configs, and reading them back from a real Feast repository (file offline
store, SQLite online store, in a temporary folder): point-in-time joins, online reads, and the
errors for values the store does not have."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.config import load_config
from core.paths import PROJECT_ROOT
from steps.store.feature_store import (
    FeatureStoreError,
    feature_source,
    historical_rows,
    online_rows,
    publish,
    tabular_view,
    write_online,
)

T0 = pd.Timestamp("2025-01-01", tz="UTC")
T1 = pd.Timestamp("2025-06-01", tz="UTC")


@pytest.fixture(scope="module")
def view():
    return tabular_view(load_config(PROJECT_ROOT / "configs" / "insurance.yaml").parameters)


def test_the_medical_cost_view_carries_each_features_metadata(view) -> None:
    assert (view.name, view.entity, view.timestamp) == ("client_profile", "client_id", "loaded_at")
    assert view.feature_names == ["age", "sex", "bmi", "children", "smoker", "region"]  # never the target
    bmi = next(field for field in view.fields if field.name == "bmi")
    assert bmi.type == "float" and bmi.description == "Body mass index (kg/m^2)"
    assert bmi.tags == {"owner": "pricing-analytics", "source": "sql table insurance", "version": "v1"}
    assert all(field.description for field in view.fields)


def _profiles() -> pd.DataFrame:
    """Client a's profile changes at T1 (she starts smoking); client b has one profile."""
    return pd.DataFrame({
        "client_id": ["a", "b", "a"],
        "age": [40, 30, 40], "sex": ["female", "male", "female"], "bmi": [22.5, 31.0, 23.0],
        "children": [1, 0, 1], "smoker": ["no", "no", "yes"], "region": ["northeast", "southwest", "northeast"],
        "charges": [5000.0, 4000.0, 21000.0],
        "loaded_at": [T0, T0, T1],
    })


@pytest.fixture(scope="module")
def store(tmp_path_factory, view):
    from feast import FeatureStore

    repo = tmp_path_factory.mktemp("feast")
    (repo / "feature_store.yaml").write_text(
        "project: unit\nprovider: local\n"
        f"registry:\n  registry_type: file\n  path: {repo}/registry.db\n  cache_ttl_seconds: 0\n"
        f"online_store:\n  type: sqlite\n  path: {repo}/online.db\n"
        "offline_store:\n  type: file\nentity_key_serialization_version: 3\n")
    table = _profiles()
    parquet = repo / "profiles.parquet"
    table.to_parquet(parquet)
    source = feature_source(str(repo), view, table, str(parquet), "v0")
    published = publish(str(repo), view, source, T1.to_pydatetime())
    assert published["feature_views"] == ["client_profile"]
    registered = FeatureStore(repo_path=str(repo)).get_feature_view("client_profile")
    assert {f.name: f.tags["owner"] for f in registered.features}["smoker"] == "pricing-analytics"
    return FeatureStore(repo_path=str(repo))


def test_feast_apply_in_the_repository_keeps_what_was_published(store, view) -> None:
    """A plain `feast apply` deletes registry objects that no repository module defines; the
    module publish() writes makes it re-apply the published view instead."""
    import subprocess
    import sys

    repo = Path(store.repo_path)
    feast = str(Path(sys.executable).with_name("feast"))
    applied = subprocess.run([feast, "apply"], cwd=repo, capture_output=True, text=True, timeout=300)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Deleted" not in applied.stdout
    from feast import FeatureStore

    again = FeatureStore(repo_path=str(repo)).get_feature_view("client_profile")
    assert [f.name for f in again.features] == view.feature_names
    assert all(f.description for f in again.features)
    assert {f.name: f.tags for f in again.features}["bmi"] == \
        {"owner": "pricing-analytics", "source": "sql table insurance", "version": "v1"}
    assert again.batch_source.path.endswith("profiles.parquet")


def test_training_rows_are_the_values_as_of_each_rows_own_time(store, view) -> None:
    labels = pd.DataFrame({"client_id": ["a", "b"], "loaded_at": [T0 + timedelta(days=30), T0],
                           "charges": [5000.0, 4000.0]})
    asked = labels.assign(**{name: _profiles()[name].iloc[:2].to_numpy() for name in view.feature_names})
    rows = historical_rows(store, view, asked, "charges")
    assert rows["client_id"].tolist() == ["a", "b"]  # the caller's row order, whatever Feast returns
    assert rows.loc[0, "smoker"] == "no" and rows.loc[0, "bmi"] == 22.5  # not the later profile
    assert rows["age"].dtype == asked["age"].dtype
    later = asked.assign(loaded_at=[T1 + timedelta(days=1), T0])
    assert historical_rows(store, view, later, "charges").loc[0, "smoker"] == "yes"


def test_a_row_before_any_feature_value_is_an_error_not_a_nan(store, view) -> None:
    asked = _profiles().iloc[:2].assign(loaded_at=[T0 - timedelta(days=1), T0])
    with pytest.raises(FeatureStoreError, match=r"no values of feature view 'client_profile' for 1 of 2 rows "
                                                r"\(for example client_id=a\)"):
        historical_rows(store, view, asked, "charges")


def test_online_reads_serve_the_latest_profile_and_a_written_batch(store, view) -> None:
    assert online_rows(store, view, _profiles().iloc[[2]])["smoker"].tolist() == ["yes"]
    batch = pd.DataFrame({"client_id": ["new"], "age": [55], "sex": ["male"], "bmi": [35.5], "children": [2],
                          "smoker": ["yes"], "region": ["southeast"], "loaded_at": [T1]})
    with pytest.raises(FeatureStoreError, match="for 1 of 1 rows"):
        online_rows(store, view, batch)
    assert write_online(store, view, batch) == 1
    served = online_rows(store, view, batch)
    assert served.iloc[0].to_dict() == batch.iloc[0].to_dict()


def test_writing_to_a_view_that_was_never_published_says_to_train_first(store, view) -> None:
    missing = view.model_copy(update={"name": "not_published"})
    with pytest.raises(FeatureStoreError, match="'not_published' is not in the stack's feature store registry"):
        write_online(store, missing, _profiles())


def test_duplicate_keys_cannot_be_aligned(store, view) -> None:
    with pytest.raises(FeatureStoreError, match="client_id values are not unique"):
        online_rows(store, view, _profiles())
