"""A Great Expectations 1.x suite generated from the config's column schema, and its run.

The schema already says each column's type, nullability, range and allowed values, so the
suite is derived from it rather than written a second time. ``extra_expectations`` in the config
add anything the schema cannot say. GX runs in an ephemeral context: no project folder, no
stored state, the same on every stack.
"""

from __future__ import annotations

import json
import logging
import os
from typing import List, Sequence

import pandas as pd

from core.config import ColumnSpec, ExpectationSpec, SchemaSpec
from steps.validate.report import ExpectationOutcome, ValidationReport

# ZenML sets the root logger to INFO, at which GX logs hundreds of lines of its own docs
# bookkeeping on import ("Skipping registering function ..."). Warnings still show.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

_INT_TYPES = ["int8", "int16", "int32", "int64", "Int8", "Int16", "Int32", "Int64",
              "uint8", "uint16", "uint32", "uint64"]
_FLOAT_TYPES = ["float16", "float32", "float64", "Float32", "Float64"]
TYPE_LISTS = {
    "int": _INT_TYPES,
    # A float column whose values happen to be whole numbers is read as integers: accept both.
    "float": _FLOAT_TYPES + _INT_TYPES,
    "string": ["object", "str", "string", "category"],
    "bool": ["bool", "boolean"],
}


def _column_expectations(name: str, column: ColumnSpec) -> List[ExpectationSpec]:
    specs = [
        ExpectationSpec(
            type="expect_column_values_to_be_in_type_list",
            kwargs={"column": name, "type_list": TYPE_LISTS[column.type]},
        )
    ]
    if not column.nullable:
        specs.append(ExpectationSpec(type="expect_column_values_to_not_be_null", kwargs={"column": name}))
    if column.min is not None or column.max is not None:
        specs.append(
            ExpectationSpec(
                type="expect_column_values_to_be_between",
                kwargs={
                    "column": name,
                    "min_value": column.min,
                    "max_value": column.max,
                    "strict_min": column.strict_min,
                },
            )
        )
    if column.allowed is not None:
        specs.append(
            ExpectationSpec(
                type="expect_column_values_to_be_in_set",
                kwargs={"column": name, "value_set": list(column.allowed)},
            )
        )
    return specs


def build_expectations(
    schema: SchemaSpec, extra: Sequence[ExpectationSpec] = (), include_target: bool = True
) -> List[ExpectationSpec]:
    """The suite for a table: exact column set, row count, then per-column rules.

    ``include_target=False`` gives the suite for an inference batch, which has no target column;
    extra expectations about the target are left out of it too.
    """
    columns = [c for c in schema.columns if include_target or c != schema.target]
    specs = [
        ExpectationSpec(
            type="expect_table_columns_to_match_set",
            kwargs={"column_set": columns, "exact_match": True},
        ),
        ExpectationSpec(type="expect_table_row_count_to_be_between", kwargs={"min_value": schema.min_rows}),
    ]
    for name in columns:
        specs.extend(_column_expectations(name, schema.columns[name]))
    specs.extend(e for e in extra if include_target or e.kwargs.get("column") != schema.target)
    return specs


def check_expectation_types(specs: Sequence[ExpectationSpec]) -> None:
    """Fail early, naming the expectation, when a config asks for one GX does not know."""
    from great_expectations.expectations.registry import get_expectation_impl

    for spec in specs:
        try:
            get_expectation_impl(spec.type)
        except Exception as exc:
            raise ValueError(f"unknown Great Expectations expectation type '{spec.type}'") from exc


def _exception_text(exception_info: object) -> str | None:
    """GX 1.x nests exception details per metric; collect their messages into one line."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    messages = [str(i.get("exception_message")) for i in infos if isinstance(i, dict) and i.get("raised_exception")]
    return "; ".join(dict.fromkeys(messages)) or None


def run_expectations(frame: pd.DataFrame, specs: Sequence[ExpectationSpec], suite_name: str) -> ValidationReport:
    """Validate ``frame`` against ``specs`` and return a project-owned report."""
    os.environ.setdefault("GE_USAGE_STATS", "FALSE")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.registry import get_expectation_impl

    check_expectation_types(specs)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("source")
        .add_dataframe_asset(suite_name)
        .add_batch_definition_whole_dataframe("whole_table")
    )
    suite = gx.ExpectationSuite(name=suite_name)
    for index, spec in enumerate(specs):
        # The index maps each result back to its spec (and severity), whatever GX's order.
        suite.add_expectation(get_expectation_impl(spec.type)(**spec.kwargs, meta={"spec_index": index}))
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch_definition, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")

    outcomes: list[ExpectationOutcome] = [None] * len(specs)  # type: ignore[list-item]
    for item in result.results:
        index = int(item.expectation_config.meta["spec_index"])
        spec = specs[index]
        details = item.result or {}
        observed = details.get("observed_value")
        outcomes[index] = ExpectationOutcome(
            expectation=spec.type,
            column=spec.kwargs.get("column"),
            kwargs=json.loads(json.dumps(spec.kwargs, default=str)),
            severity=spec.severity,
            success=bool(item.success),
            observed=None if observed is None else str(observed),
            unexpected_count=details.get("unexpected_count"),
            unexpected_examples=[repr(v) for v in (details.get("partial_unexpected_list") or [])[:10]],
            error=_exception_text(item.exception_info),
        )
    return ValidationReport(suite_name=suite_name, data_asset=suite_name, outcomes=outcomes)
