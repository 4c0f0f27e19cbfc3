"""Engineered features from config rules, the feature-metadata table, and the relational
feature table on a real SQLite database: its DDL is the committed one, and every run appends
a version without touching the earlier ones."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pandas as pd
import pytest
from pydantic import ValidationError

from core.config import EngineeredFeatureSpec, FeatureTableSpec, SchemaSpec, load_config
from steps.prepare.engineering import engineer, feature_metadata
from steps.store.feature_table import table_ddl, write_feature_table
from tests.conftest import PROJECT_ROOT

FRAME = pd.DataFrame({"id": ["a", "b", "c"], "total": [10.0, None, 30.0], "months": [2, 0, 3],
                      "phone": ["Yes", "No", "Yes"], "net": ["DSL", "No", "Fiber optic"],
                      "pay": ["Electronic check", "Mailed check", "Credit card (automatic)"], "label": [1, 0, 1]})
RULES = {
    "spend": EngineeredFeatureSpec(kind="fill", column="total", value=0, description="spend"),
    "per_month": EngineeredFeatureSpec(kind="ratio", numerator="spend", denominator="months", description="per month"),
    "band": EngineeredFeatureSpec(kind="bucket", column="months", edges=[1, 2], labels=["new", "young", "old"],
                                  description="band"),
    "services": EngineeredFeatureSpec(kind="count_in", columns=["phone", "net"], values=["Yes", "DSL", "Fiber optic"],
                                      description="services"),
    "auto": EngineeredFeatureSpec(kind="flag", column="pay", values=["Credit card (automatic)"], description="auto"),
}
SCHEMA = SchemaSpec(columns={"id": {"type": "string", "identifier": True}, "total": {"type": "float", "nullable": True},
                             "months": {"type": "int"}, "phone": {"type": "string"}, "net": {"type": "string"},
                             "pay": {"type": "string"}, "label": {"type": "int"}}, target="label")


def test_each_rule_computes_its_feature_in_order() -> None:
    features = engineer(FRAME, RULES)
    assert features["spend"].tolist() == [10.0, 0.0, 30.0]
    assert features["per_month"].tolist() == [5.0, 0.0, 10.0]  # a later rule reads an earlier feature; months 0 -> 1
    assert features["band"].tolist() == ["young", "new", "old"]
    assert features["services"].tolist() == [2, 0, 2]
    assert features["auto"].tolist() == [0, 0, 1]
    assert list(FRAME.columns) == ["id", "total", "months", "phone", "net", "pay", "label"]  # the input is untouched


def test_the_metadata_table_describes_every_model_input() -> None:
    metadata = feature_metadata(RULES, SCHEMA)
    assert metadata["feature"].tolist() == ["total", "months", "phone", "net", "pay", *RULES]  # no id, no label
    per_month = metadata.set_index("feature").loc["per_month"]
    assert (per_month["kind"], per_month["derived_from"], per_month["rule"]) == ("ratio", "spend, months",
                                                                                 "spend / max(months, 1)")


@pytest.mark.parametrize("rule, message", [
    ({"kind": "ratio", "numerator": "a", "description": "d"}, "a ratio feature needs ['denominator']"),
    ({"kind": "bucket", "column": "a", "edges": [2, 1], "description": "d"}, "finite and increasing"),
    ({"kind": "flag", "column": "a", "values": ["x"]}, "description"),
])
def test_a_bad_rule_fails_when_the_config_loads(rule, message) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        EngineeredFeatureSpec.model_validate(rule)


@pytest.mark.parametrize("column, message", [
    ("TotalCharge", r"engineered feature 'total_spend' reads \['TotalCharge'\], which are neither columns"),
    ("Contract", r"engineered feature 'total_spend' \(fill\) needs numeric inputs, not \['Contract'\]"),
])
def test_a_rule_reading_an_unknown_or_text_column_names_it(column, message) -> None:
    from core.config import RunConfig

    raw = load_config(PROJECT_ROOT / "configs" / "churn.yaml").model_dump(by_alias=True)
    raw["parameters"]["engineered_features"]["total_spend"]["column"] = column
    with pytest.raises(ValidationError, match=message):
        RunConfig.model_validate(raw)


def test_the_committed_ddl_is_the_one_the_config_generates() -> None:
    params = load_config(PROJECT_ROOT / "configs" / "churn.yaml").parameters
    committed = (PROJECT_ROOT / "sql" / "churn_features.sql").read_text()
    assert committed == table_ddl(params.feature_table, params.feature_schema, source="configs/churn.yaml")


def test_each_run_appends_a_version_and_never_replaces_one(tmp_path) -> None:
    from sqlalchemy import create_engine

    spec = FeatureTableSpec(table="demo_features", key="id", url=f"sqlite:///{tmp_path / 'features.db'}")
    schema = SCHEMA.model_copy(update={"columns": {**SCHEMA.columns, **{
        name: {"type": rule.type, "description": rule.description} for name, rule in RULES.items()}}})
    schema = SchemaSpec.model_validate(schema.model_dump())
    features, metadata = engineer(FRAME, RULES), feature_metadata(RULES, SCHEMA)
    moment = datetime(2026, 11, 23, tzinfo=timezone.utc)
    assert write_feature_table(features, metadata, spec, schema, "v1", moment) == {"rows_written": 3, "rows_in_table": 3}
    assert write_feature_table(features, metadata, spec, schema, "v2", moment)["rows_in_table"] == 6
    engine = create_engine(spec.database_url())
    stored = pd.read_sql("SELECT * FROM demo_features WHERE feature_version = 'v1' ORDER BY id", engine)
    assert stored["per_month"].tolist() == [5.0, 0.0, 10.0] and stored["band"].tolist() == ["young", "new", "old"]
    assert len(pd.read_sql("SELECT * FROM demo_features_metadata WHERE feature_version = 'v2'", engine)) == len(metadata)
    from core.database import SourceError

    with pytest.raises(SourceError, match="writing feature table demo_features .* failed: IntegrityError"):
        write_feature_table(features, metadata, spec, schema, "v1", moment)  # a version is never rewritten
    assert pd.read_sql("SELECT COUNT(*) AS n FROM demo_features", engine)["n"][0] == 6  # and nothing was lost
    engine.dispose()
