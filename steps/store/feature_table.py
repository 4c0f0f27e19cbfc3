"""The engineered features as a relational table, through SQLAlchemy: SQLite on ``local``,
PostgreSQL on ``services`` (``feature_table`` in the config). The DDL is generated from the
config and kept in the repository (``sql/<table>.sql``; a test checks it is current):

    python -m steps.store.feature_table configs/churn.yaml > sql/churn_features.sql

Each run appends its rows under its own ``feature_version`` (the pipeline run's id), with the
feature-metadata table beside them, so a feature set can always be read back as it was."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Dict, List

import pandas as pd

from core.config import FeatureTableSpec, SchemaSpec

SQL_TYPES = {"string": "TEXT", "int": "INTEGER", "float": "DOUBLE PRECISION", "bool": "BOOLEAN"}
VERSION, COMPUTED_AT = "feature_version", "computed_at"
METADATA_SUFFIX = "_metadata"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def stored_columns(spec: FeatureTableSpec, schema: SchemaSpec) -> List[str]:
    """The key, then every model input (source and engineered), then the target."""
    return [spec.key, *schema.feature_columns, schema.target]


def table_ddl(spec: FeatureTableSpec, schema: SchemaSpec, source: str = "") -> str:
    columns = [f"    {_quote(spec.key)} TEXT NOT NULL", f"    {VERSION} TEXT NOT NULL", f"    {COMPUTED_AT} TIMESTAMP NOT NULL"]
    for name in stored_columns(spec, schema)[1:]:
        column = schema.columns[name]  # a text label is stored encoded, as 1/0
        sql_type = "INTEGER" if name == schema.target and schema.positive_class else SQL_TYPES[column.type]
        columns.append(f"    {_quote(name)} {sql_type}")
    columns.append(f"    PRIMARY KEY ({_quote(spec.key)}, {VERSION})")
    metadata = spec.table + METADATA_SUFFIX
    header = f"-- Generated from {source} by `python -m steps.store.feature_table {source}`; do not edit.\n" if source else ""
    return (f"{header}CREATE TABLE IF NOT EXISTS {spec.table} (\n" + ",\n".join(columns) + "\n);\n"
            f"CREATE INDEX IF NOT EXISTS {spec.table}_by_version ON {spec.table} ({VERSION});\n"
            f"CREATE TABLE IF NOT EXISTS {metadata} (\n    feature TEXT NOT NULL,\n    {VERSION} TEXT NOT NULL,\n"
            "    type TEXT NOT NULL,\n    kind TEXT NOT NULL,\n    derived_from TEXT NOT NULL,\n    rule TEXT NOT NULL,\n"
            f"    description TEXT NOT NULL,\n    PRIMARY KEY (feature, {VERSION})\n);\n")


def write_feature_table(features: pd.DataFrame, metadata: pd.DataFrame, spec: FeatureTableSpec, schema: SchemaSpec,
                        version: str, computed_at: datetime) -> Dict[str, int]:
    """Create the tables if needed and append this version's rows (in one transaction)."""
    from sqlalchemy import create_engine, text

    from core.database import SourceError

    rows = features[stored_columns(spec, schema)].assign(**{VERSION: version, COMPUTED_AT: computed_at})
    engine = create_engine(spec.database_url())
    try:
        with engine.begin() as connection:
            for statement in table_ddl(spec, schema).split(";"):
                if statement.strip():
                    connection.exec_driver_sql(statement)
            rows.to_sql(spec.table, connection, if_exists="append", index=False, chunksize=1000)
            metadata.assign(**{VERSION: version}).to_sql(spec.table + METADATA_SUFFIX, connection, if_exists="append",
                                                         index=False)
            total = connection.execute(text(f"SELECT COUNT(*) FROM {spec.table}")).scalar_one()
    except Exception as error:  # the database's own error, with the table named and the URL's password hidden
        from sqlalchemy.engine import make_url

        shown = make_url(spec.database_url()).render_as_string(hide_password=True)
        raise SourceError(f"writing feature table {spec.table} at {shown} failed: {type(error).__name__}: "
                          f"{str(error).splitlines()[0][:300]}") from error
    finally:
        engine.dispose()
    return {"rows_written": len(rows), "rows_in_table": int(total)}


def main(argv: List[str]) -> None:
    from core.config import load_config

    [path] = argv
    params = load_config(path).parameters
    if params.feature_table is None:
        raise SystemExit(f"{path} has no feature_table section")
    sys.stdout.write(table_ddl(params.feature_table, params.feature_schema, source=path))


if __name__ == "__main__":
    main(sys.argv[1:])
