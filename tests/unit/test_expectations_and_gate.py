"""The schema-derived GX suite on real data, with each kind of defect, and the gate's verdict."""

import pandas as pd
import pytest

from core.config import ExpectationSpec, load_config
from steps.validate.expectations import build_expectations, run_expectations
from steps.validate.gate import ValidationGateError, enforce_gate, gate_failures
from tests.conftest import INSURANCE_CONFIG


@pytest.fixture(scope="module")
def schema():
    return load_config(INSURANCE_CONFIG).parameters.schema_


def _validate(frame: pd.DataFrame, schema, extra=(), include_target=True):
    return run_expectations(frame, build_expectations(schema, extra, include_target), "test_suite")


def test_suite_covers_the_schema(schema) -> None:
    specs = build_expectations(schema)
    kinds = {(s.type, s.kwargs.get("column")) for s in specs}
    assert ("expect_column_values_to_be_between", "age") in kinds
    assert ("expect_column_values_to_be_in_set", "region") in kinds
    assert ("expect_column_values_to_not_be_null", "smoker") in kinds
    inference = build_expectations(schema, include_target=False)
    assert all(s.kwargs.get("column") != "charges" for s in inference)


def test_real_data_passes(insurance_frame, schema) -> None:
    report = _validate(insurance_frame, schema)
    assert report.success, [o.describe() for o in report.failures()]
    assert report.evaluated == len(build_expectations(schema))
    enforce_gate(report, 1.0)


@pytest.mark.parametrize(
    "mutate, column, expectation, shown",
    [
        (lambda f: f.drop(columns=["bmi"]), None, "expect_table_columns_to_match_set", "bmi"),
        (lambda f: f.assign(bmi=f["bmi"].astype(object).where(f.index != 3, "abc")), "bmi",
         "expect_column_values_to_be_in_type_list", "bmi"),
        (lambda f: f.assign(age=f["age"].where(f.index != 5, -4)), "age", "expect_column_values_to_be_between", "-4"),
        (lambda f: f.assign(region=f["region"].where(f.index != 7, "atlantis")), "region",
         "expect_column_values_to_be_in_set", "atlantis"),
        (lambda f: f.assign(smoker=f["smoker"].where(f.index != 9, None)), "smoker",
         "expect_column_values_to_not_be_null", "smoker"),
        (lambda f: f.assign(charges=f["charges"].where(f.index != 11, 0.0)), "charges",
         "expect_column_values_to_be_between", "charges"),
    ],
    ids=["missing_column", "non_numeric_bmi", "negative_age", "unknown_region", "null_smoker", "zero_charges"],
)
def test_each_defect_is_named_by_the_gate(insurance_frame, schema, mutate, column, expectation, shown) -> None:
    report = _validate(mutate(insurance_frame.copy()), schema)
    failed = report.failures()
    assert any(o.expectation == expectation and o.column == column for o in failed), [o.describe() for o in failed]
    with pytest.raises(ValidationGateError) as error:
        enforce_gate(report, 1.0)
    assert expectation in str(error.value) and shown in str(error.value)


def test_warning_severity_and_success_ratio(insurance_frame, schema) -> None:
    extra = [ExpectationSpec(type="expect_column_mean_to_be_between", kwargs={"column": "bmi", "min_value": 50},
                             severity="warning")]
    report = _validate(insurance_frame, schema, extra)
    assert not report.success
    assert gate_failures(report, 0.9) == []  # one warning among ~20 passes a 90% ratio
    reasons = gate_failures(report, 1.0)
    assert any("[warning]" in r and "bmi" in r for r in reasons)
    assert any("success ratio" in r for r in reasons)


def test_unknown_expectation_type_is_named(insurance_frame, schema) -> None:
    with pytest.raises(ValueError, match="expect_the_unexpected"):
        _validate(insurance_frame, schema, [ExpectationSpec(type="expect_the_unexpected")])
