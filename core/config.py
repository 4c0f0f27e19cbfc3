"""The use-case config: one YAML per use case, validated when it loads.

The file keeps ZenML's run-config shape (``model:``, ``parameters:``, ``settings:``) so that a
ZenML user recognises it, but its ``parameters:`` are checked here by pydantic with unknown keys
forbidden. A typo therefore fails at load time with the dotted path of the key, instead of being
silently ignored by a step that never reads it.

The column schema is the single source of truth for a data set: it generates the Great
Expectations suite, tells preparation which columns are numeric or categorical, and names the
target. Adding a tabular data set means writing a new config, not new code.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.paths import resolve_path


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ColumnType = Literal["int", "float", "string", "bool"]


class ColumnSpec(StrictModel):
    """One column of the source table and the rules its values must follow."""

    type: ColumnType
    nullable: bool = False
    min: Optional[float] = None
    max: Optional[float] = None
    strict_min: bool = False
    allowed: Optional[List[str]] = None
    description: str = ""
    # A record key (such as customerID): kept for joins and lookups, never a model feature.
    identifier: bool = False
    # The source delivers this number as text (churn's TotalCharges): it is parsed before
    # validation, blank text becoming a missing value and any other non-number an error.
    numbers_as_text: bool = False

    @model_validator(mode="after")
    def _check_bounds(self) -> "ColumnSpec":
        if self.numbers_as_text and self.type not in ("int", "float"):
            raise ValueError("'numbers_as_text' applies to int and float columns")
        if self.identifier and self.type not in ("int", "string"):
            raise ValueError("an identifier column is an int or a string")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.allowed is not None and self.type != "string":
            raise ValueError("'allowed' only applies to string columns")
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise ValueError("'min'/'max' only apply to numeric columns")
        return self


class SchemaSpec(StrictModel):
    """The table's columns, its target, and how many rows a usable table has at least."""

    columns: Dict[str, ColumnSpec]
    target: str
    min_rows: int = Field(default=1, ge=1)
    # A text class label (churn's Yes/No): cleaning turns the target into 1 for this class and 0
    # for the others, so the metrics' positive class is this one.
    positive_class: Optional[str] = None

    @model_validator(mode="after")
    def _check_target(self) -> "SchemaSpec":
        if self.target not in self.columns:
            raise ValueError(f"target '{self.target}' is not one of the columns {sorted(self.columns)}")
        target = self.columns[self.target]
        if target.identifier:
            raise ValueError(f"the target '{self.target}' cannot be an identifier")
        if self.positive_class is not None and (target.type != "string" or not target.allowed
                                                or self.positive_class not in target.allowed):
            raise ValueError(f"positive_class '{self.positive_class}' must be one of the target's 'allowed' values "
                             "(a string target)")
        return self

    @property
    def feature_columns(self) -> List[str]:
        return [name for name, spec in self.columns.items() if name != self.target and not spec.identifier]

    @property
    def text_number_columns(self) -> List[str]:
        return [name for name, spec in self.columns.items() if spec.numbers_as_text]

    def numeric_features(self, among: Optional[List[str]] = None) -> List[str]:
        names = among if among is not None else self.feature_columns
        return [n for n in names if self.columns[n].type in ("int", "float")]

    def categorical_features(self, among: Optional[List[str]] = None) -> List[str]:
        names = among if among is not None else self.feature_columns
        return [n for n in names if self.columns[n].type in ("string", "bool")]


def configured_url(section: str, url_env: Optional[str], url: Optional[str], url_key: str = "url") -> str:
    """A URL given by an environment variable (which wins, and keeps secrets out of configs and
    of ZenML's stored run configuration) or by the config itself; resolved at run time."""
    resolved = (os.environ.get(url_env) if url_env else None) or url
    if not resolved:
        raise ConfigError(f"{section}: environment variable {url_env} is not set and no '{url_key}' is configured")
    return resolved


class RestSpec(StrictModel):
    """A paginated JSON API (``steps/ingest/rest.py``): ``GET <base_url><endpoint>?page=N&page_size=M``
    answering ``{"<records_key>": [...], "next": <anything truthy while more pages follow>}``.

    The bearer token comes from the environment variable ``token_env`` or, if unset there, from
    the key ``token`` of the ZenML secret ``token_secret``; configs never hold it. Connection
    errors, timeouts, 429 and 5xx answers are retried ``retries`` times with exponential backoff
    starting at ``backoff_seconds``; other 4xx answers, a body that is not JSON and a page whose
    records change shape fail at once, naming the page."""

    base_url: Optional[str] = None
    base_url_env: Optional[str] = None
    endpoint: str = Field(pattern=r"^/")
    page_size: int = Field(default=500, ge=1, le=10_000)
    records_key: str = "items"
    token_env: Optional[str] = None
    token_secret: Optional[str] = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0)

    @model_validator(mode="after")
    def _check_base_url(self) -> "RestSpec":
        if not (self.base_url or self.base_url_env):
            raise ValueError("a rest source needs 'base_url' or 'base_url_env'")
        return self

    def resolved_base_url(self) -> str:
        return configured_url("source.rest", self.base_url_env, self.base_url, "base_url").rstrip("/")


class LakeSpec(StrictModel):
    """Where a source's data lands in the raw lake (steps/store/lake.py):
    ``raw/<source>/<type>/<YYYY>/<MM>/<DD>/<timestamp>.<ext>`` on the artifact store."""

    source: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: str = Field(pattern=r"^[a-z][a-z0-9_]*$")


class SourceSpec(StrictModel):
    """Where raw records come from: a CSV file, a folder of CSV files, a SQL table or a REST API.

    The database URL may be given by an environment variable (``url_env``), which wins over
    ``url``. That keeps passwords out of configs and out of ZenML's stored run configuration: the
    URL is resolved inside the step, at run time.

    A ``csv_folder`` reads every file matching ``pattern`` under ``path`` with ``separator`` and
    adds ``group_column`` holding the file's path relative to the folder (for example the
    experiment a recording belongs to). ``missing_column_defaults`` fills columns that the files
    matching ``missing_column_defaults_for`` (a glob relative to the folder) lack by design:
    SKAB's anomaly-free recording has no label columns, all its points are normal. Any other file
    that lacks a column is an error, so a recording that lost its labels is never read as normal.
    """

    kind: Literal["csv", "csv_folder", "sql", "stock_market", "rest", "joined"]
    path: Optional[str] = None
    url: Optional[str] = None
    url_env: Optional[str] = None
    table: Optional[str] = None
    separator: str = ","
    pattern: str = "**/*.csv"
    group_column: Optional[str] = None
    missing_column_defaults: Dict[str, Any] = Field(default_factory=dict)
    missing_column_defaults_for: Optional[str] = None
    rest: Optional[RestSpec] = None
    # A ``joined`` source: several sources of the same records, joined one-to-one on ``key``.
    parts: Optional[Dict[str, "SourceSpec"]] = None
    key: Optional[str] = None
    # Land the data as received in the raw lake (csv and rest sources).
    lake: Optional[LakeSpec] = None

    @model_validator(mode="after")
    def _check_kind(self) -> "SourceSpec":
        if (self.kind == "joined") != (self.parts is not None) or (self.kind == "joined") != (self.key is not None):
            raise ValueError("a joined source takes 'parts' (two or more named sources) and 'key' (the column "
                             "that identifies a record in each), and only a joined source has them")
        if self.lake is not None and self.kind not in ("csv", "rest"):
            raise ValueError(f"'lake' lands csv and rest sources as received, not {self.kind} sources (give it to "
                             "a joined source's parts)")
        if self.kind == "joined":
            if len(self.parts) < 2:
                raise ValueError("a joined source needs at least two parts")
            nested = [name for name, part in self.parts.items() if part.kind == "joined"]
            if nested:
                raise ValueError(f"the parts of a joined source cannot be joined sources themselves: {nested}")
            if self.path or self.url or self.url_env or self.table or self.group_column or self.rest:
                raise ValueError("a joined source takes only 'parts' and 'key'")
            return self
        if (self.kind == "rest") != (self.rest is not None):
            raise ValueError("a rest source takes its settings in 'rest:', and only a rest source has them")
        if self.kind == "rest":
            if self.path or self.url or self.url_env or self.table or self.group_column:
                raise ValueError("a rest source takes only 'rest:'")
        elif self.kind == "stock_market":
            if not self.path:
                raise ValueError("a stock_market source needs 'path' (a folder, an s3:// prefix or "
                                 "kaggle://<owner>/<dataset> in the Kaggle layout)")
            scheme = self.path.split("://", 1)[0] if "://" in self.path else None
            if scheme not in (None, "s3", "kaggle"):
                raise ValueError(f"a stock_market source reads a folder, s3:// or kaggle://, not {scheme}://")
            if (self.url or self.url_env or self.table or self.group_column or self.missing_column_defaults
                    or self.missing_column_defaults_for):
                raise ValueError("a stock_market source takes only 'path'")
        elif self.kind in ("csv", "csv_folder"):
            if not self.path:
                raise ValueError(f"a {self.kind} source needs 'path'")
            if self.url or self.url_env or self.table:
                raise ValueError(f"a {self.kind} source does not take 'url', 'url_env' or 'table'")
            if self.kind == "csv_folder" and not self.group_column:
                raise ValueError("a csv_folder source needs 'group_column' (the column naming each file)")
            if self.kind == "csv" and (self.group_column or self.missing_column_defaults):
                raise ValueError("'group_column' and 'missing_column_defaults' apply to csv_folder sources")
            if bool(self.missing_column_defaults) != bool(self.missing_column_defaults_for):
                raise ValueError("'missing_column_defaults' and 'missing_column_defaults_for' (the files they "
                                 "apply to) go together")
        else:
            # Compared with the defaults, not with the fields set: ZenML round-trips step
            # parameters through a dict that carries every default.
            file_only = [name for name in ("separator", "pattern", "group_column", "missing_column_defaults",
                                           "missing_column_defaults_for")
                         if getattr(self, name) != type(self).model_fields[name].get_default(call_default_factory=True)]
            if file_only:
                raise ValueError(f"a sql source does not take {file_only}")
            if not (self.url or self.url_env):
                raise ValueError("a sql source needs 'url' or 'url_env'")
            if not self.table:
                raise ValueError("a sql source needs 'table'")
            if self.path:
                raise ValueError("a sql source does not take 'path'")
        return self

    def database_url(self) -> str:
        """The URL to connect to: the environment variable if set, else the config's URL."""
        return resolve_sqlite_url(configured_url("source", self.url_env, self.url))

    def describe(self) -> str:
        """A human-readable name for logs and errors, with any password hidden."""
        if self.kind in ("csv", "csv_folder", "stock_market"):
            path = self.path or ""
            return f"{self.kind}:{path if '://' in path else resolve_path(path)}"
        if self.kind == "rest":
            return f"rest:{self.rest.base_url_env or self.rest.base_url}{self.rest.endpoint}"
        if self.kind == "joined":
            return f"joined on {self.key}: " + ", ".join(f"{name}={part.describe()}" for name, part in self.parts.items())
        from sqlalchemy.engine import make_url

        try:
            shown = make_url(self.database_url()).render_as_string(hide_password=True)
        except Exception:  # an unparseable URL is reported by the reader itself
            shown = "<unparseable url>"
        return f"sql:{shown}/{self.table}"


SourceSpec.model_rebuild()


def resolve_sqlite_url(url: str) -> str:
    """Make a relative SQLite path absolute, leave other URLs alone. A path under ``state/`` is
    taken from the state folder (``MLOPS_STATE_DIR``, by default the project's ``state/``), so
    that a private state folder (the tests') also holds the databases; others from the project root."""
    from core.paths import STATE_DIR

    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        relative = Path(url[len(prefix):])
        if relative.parts and relative.parts[0] == "state":
            return prefix + str(Path(STATE_DIR).joinpath(*relative.parts[1:]))
        return prefix + str(resolve_path(relative))
    return url


class SmoothingSpec(StrictModel):
    """Noise reduction inside each window: a moving average, or a Savitzky-Golay filter."""

    method: Literal["none", "rolling_mean", "savgol"] = "rolling_mean"
    length: int = Field(default=5, ge=1)
    polyorder: int = Field(default=2, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "SmoothingSpec":
        if self.method == "savgol" and not self.polyorder < self.length:
            raise ValueError("savgol needs polyorder < length")
        return self


class GroupSplitSpec(StrictModel):
    """Split whole groups (experiments), never rows: a group's windows stay on one side."""

    test_groups: int = Field(ge=1)
    validation_groups: int = Field(ge=1)
    random_state: int = 42
    always_train: List[str] = Field(default_factory=list)


class TimeseriesSpec(StrictModel):
    """Sliding windows over ordered readings, per group, turned into one feature row per window.

    A window of ``length`` readings ending at a reading predicts that reading's label, so each
    group's first ``length - 1`` readings get no window (they are reported, not predicted).
    """

    group_column: str
    time_column: str
    sensors: List[str] = Field(min_length=1)
    window_length: int = Field(default=60, ge=2)
    stride: int = Field(default=1, ge=1)
    smoothing: SmoothingSpec = SmoothingSpec()
    split: GroupSplitSpec

    @model_validator(mode="after")
    def _check(self) -> "TimeseriesSpec":
        if self.smoothing.length > self.window_length:
            raise ValueError("smoothing.length cannot exceed window_length")
        return self


class DerivedFeatureSpec(StrictModel):
    column: str
    statistic: Literal["mean", "median"]


class RollingFeaturesSpec(StrictModel):
    """Features computed per group over the last ``window`` rows in ``order_column`` order.

    Rows missing any ``require`` column are removed first (they are counted), and each group's
    first ``window - 1`` rows, which have no complete window, are dropped.
    """

    group_column: str
    order_column: str
    window: int = Field(default=30, ge=2)
    features: Dict[str, DerivedFeatureSpec] = Field(min_length=1)
    require: List[str] = Field(default_factory=list)
    # Publish the feature table as this Feast feature view in the stack's feature store (the
    # group column is its entity); the online store then serves each group's latest values.
    feature_view: Optional[str] = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # How far back Feast looks for a row when joining or serving: older values count as missing.
    feature_ttl_days: int = Field(default=30, ge=1)


class ExpectationSpec(StrictModel):
    """An extra Great Expectations 1.x expectation, by its snake_case type and keyword arguments."""

    type: str
    kwargs: Dict[str, Any] = Field(default_factory=dict)
    severity: Literal["critical", "warning"] = "critical"


class ValidationSpec(StrictModel):
    """How strict the meta-validation gate is.

    A failed ``critical`` expectation always stops the pipeline. ``min_success_ratio`` is the
    share of all expectations (critical and warning) that must pass; warnings alone can therefore
    stop a run when too many of them fail at once.
    """

    min_success_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    extra_expectations: List[ExpectationSpec] = Field(default_factory=list)


class SplitSpec(StrictModel):
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    random_state: int = 42
    stratify: bool = False


class FeatureSelectionSpec(StrictModel):
    """Univariate statistical tests on the train split: keep a feature when p < alpha."""

    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    always_keep: List[str] = Field(default_factory=list)


class CandidateSpec(StrictModel):
    """A model to train. ``sample_rows`` trains on a seeded random sample of at most that many
    train rows (recorded with the run), for estimators that cannot take every row in time."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    estimator: str
    params: Dict[str, Any] = Field(default_factory=dict)
    sample_rows: Optional[int] = Field(default=None, ge=1)

    @field_validator("estimator")
    @classmethod
    def _known_estimator(cls, estimator: str) -> str:
        from steps.train.factory import ESTIMATORS

        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator '{estimator}', expected one of {sorted(ESTIMATORS)}")
        return estimator


class ThresholdSpec(StrictModel):
    min: Optional[float] = None
    max: Optional[float] = None

    @model_validator(mode="after")
    def _one_bound(self) -> "ThresholdSpec":
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs 'min' or 'max'")
        return self


class TrainingSpec(StrictModel):
    task: Literal["regression", "classification"]
    candidates: List[CandidateSpec] = Field(min_length=1)
    selection_metric: str
    quality_gate: Dict[str, ThresholdSpec] = Field(default_factory=dict)

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, candidates: List[CandidateSpec]) -> List[CandidateSpec]:
        names = [c.name for c in candidates]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"candidate names must be unique, repeated: {duplicates}")
        return candidates

    @model_validator(mode="after")
    def _known_metrics(self) -> "TrainingSpec":
        from steps.evaluate.metrics import METRICS

        known = METRICS[self.task]
        for metric in [self.selection_metric, *self.quality_gate]:
            if metric not in known:
                raise ValueError(f"unknown {self.task} metric '{metric}', expected one of {sorted(known)}")
        return self


class SliceSpec(StrictModel):
    """Slice analysis (steps/slices): which features, how errors are defined, what counts."""

    features: Optional[List[str]] = None
    error_quantile: float = Field(default=0.8, gt=0.0, lt=1.0)
    bins: int = Field(default=20, ge=2, le=200)
    pair_depth: int = Field(default=2, ge=0, le=4)
    min_support: float = Field(default=0.05, gt=0.0)
    min_lift: float = Field(default=1.5, ge=1.0)
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    correction: Literal["fdr_bh", "holm"] = "fdr_bh"
    max_slices: int = Field(default=10, ge=1)


class PromotionSpec(StrictModel):
    """A new model replaces production only if it is better by at least ``min_improvement``."""

    min_improvement: float = Field(default=0.0, ge=0.0)


class DriftSpec(StrictModel):
    fail_on_drift: bool = False


class PredictionSinkSpec(StrictModel):
    """The SQL table that batch predictions are appended to (never overwritten)."""

    url: Optional[str] = None
    url_env: Optional[str] = None
    table: str = Field(default="predictions", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _has_url(self) -> "PredictionSinkSpec":
        if not (self.url or self.url_env):
            raise ValueError("the predictions sink needs 'url' or 'url_env'")
        return self

    def as_source(self) -> SourceSpec:
        """Reuse the source's URL resolution (environment first, relative SQLite paths)."""
        return SourceSpec(kind="sql", url=self.url, url_env=self.url_env, table=self.table)


class InferenceSpec(StrictModel):
    source: SourceSpec
    predictions: PredictionSinkSpec
    drift: DriftSpec = DriftSpec()


class ServingFeatureSpec(StrictModel):
    min: Optional[float] = None
    max: Optional[float] = None
    description: str = ""


class ServingSpec(StrictModel):
    """The prediction API (serving/): its query parameters (the model's inputs, with bounds),
    and how often it checks the registry for a newly promoted version (0: only on request)."""

    features: Dict[str, ServingFeatureSpec] = Field(min_length=1)
    reload_interval_seconds: float = Field(default=30.0, ge=0.0)


class FeatureStoreSpec(StrictModel):
    """A tabular use case's features as a Feast feature view in the stack's feature store.

    Training publishes the cleaned table (offline store, then materialized into the online
    store) and reads its training rows back with ``get_historical_features``, keyed by the
    cleaned table's ``client_id`` and ``loaded_at``. Batch inference writes a new batch's
    profiles to the online store and scores what ``get_online_features`` returns for its ids.
    Each feature carries its schema ``description`` and the tags ``owner``, ``source`` and
    ``version``: Feast keeps them in its registry (``feast feature-views describe <view>``)."""

    feature_view: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    owner: str = Field(min_length=1)
    version: str = Field(min_length=1)
    # Where the values come from, for people reading the registry; defaults to the source's kind
    # and table or file (never its URL, which may hold a password).
    source: Optional[str] = None
    # How far back a point-in-time join or an online read looks: older values count as missing.
    ttl_days: int = Field(default=365, ge=1)


class MonitoringSpec(StrictModel):
    """Each training run's metric against the model's earlier versions (steps/evaluate/monitoring.py):
    worse by more than ``tolerance`` (relative) is flagged. ``metric`` defaults to the selection metric."""

    metric: Optional[str] = None
    tolerance: float = Field(default=0.05, ge=0.0)


class BinSpec(StrictModel):
    """A numeric column cut into categories at finite ``edges`` (right-closed, ``pandas.cut``),
    such as income bands. The first bin takes everything up to the first edge and the last one
    everything above the last edge, so n edges make n + 1 bins. The bins are counted, encoded,
    and their association with the target is measured."""

    column: str
    edges: List[float] = Field(min_length=1)
    labels: Optional[List[str]] = None

    @model_validator(mode="after")
    def _check(self) -> "BinSpec":
        if any(b <= a for a, b in zip(self.edges, self.edges[1:])) or not all(map(math.isfinite, self.edges)):
            raise ValueError(f"bin edges must be finite and increasing: {self.edges}")
        if self.labels is not None and len(self.labels) != len(self.edges) + 1:
            raise ValueError(f"{len(self.edges)} edges make {len(self.edges) + 1} bins, which need as many labels; "
                             f"got {len(self.labels)}")
        return self

    @property
    def bin_labels(self) -> List[str]:
        edges = self.edges
        return self.labels or [f"<= {edges[0]:g}", *(f"({a:g}, {b:g}]" for a, b in zip(edges, edges[1:])),
                               f"> {edges[-1]:g}"]


class ExplorationSpec(StrictModel):
    """The ``data`` pipeline's exploration (steps/explore): which numeric columns to bin, which
    two columns are a map's longitude and latitude, and how many rows the charts and the
    permutation importance use (a seeded sample: the statistics always use every row)."""

    bins: Dict[str, BinSpec] = Field(default_factory=dict)
    geo: Optional[List[str]] = Field(default=None, min_length=2, max_length=2)
    chart_rows: int = Field(default=4000, ge=100)
    importance_rows: int = Field(default=6000, ge=100)
    importance_repeats: int = Field(default=5, ge=1, le=50)
    random_state: int = 42


class IngestionSpec(StrictModel):
    """How the extract step recovers from a failure: REST sources already retry each request
    (``rest.retries``, with backoff); ``step_retries`` re-runs the whole extract (a ZenML step
    retry) after ``retry_delay_seconds``, doubling the delay each time. Each attempt is logged."""

    step_retries: int = Field(default=0, ge=0, le=5)
    retry_delay_seconds: int = Field(default=5, ge=0)


class EngineeredFeatureSpec(StrictModel):
    """One engineered feature, computed from the cleaned table's columns (or from features
    defined before it) by one of a few rules (steps/prepare/engineering.py):

    - ``fill``: ``column``, with missing values replaced by ``value`` (float);
    - ``ratio``: ``numerator`` / max(``denominator``, ``min_denominator``) (float);
    - ``bucket``: ``column`` cut at ``edges`` into ``labels`` (open-ended, like ``exploration.bins``; string);
    - ``count_in``: how many of ``columns`` hold one of ``values`` (int);
    - ``flag``: 1 if ``column`` holds one of ``values``, else 0 (int).
    """

    kind: Literal["fill", "ratio", "bucket", "count_in", "flag"]
    description: str = Field(min_length=1)
    column: Optional[str] = None
    value: Optional[float] = None
    numerator: Optional[str] = None
    denominator: Optional[str] = None
    min_denominator: float = 1.0
    edges: Optional[List[float]] = None
    labels: Optional[List[str]] = None
    columns: Optional[List[str]] = None
    values: Optional[List[str]] = None

    @model_validator(mode="after")
    def _check(self) -> "EngineeredFeatureSpec":
        needed = {"fill": ("column", "value"), "ratio": ("numerator", "denominator"), "bucket": ("column", "edges"),
                  "count_in": ("columns", "values"), "flag": ("column", "values")}[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} feature needs {missing}")
        if self.kind == "bucket":
            BinSpec(column=self.column, edges=self.edges, labels=self.labels)  # the same rules as a bin
        return self

    @property
    def inputs(self) -> List[str]:
        return [name for name in (self.column, self.numerator, self.denominator, *(self.columns or [])) if name]

    @property
    def type(self) -> ColumnType:
        return {"fill": "float", "ratio": "float", "bucket": "string", "count_in": "int", "flag": "int"}[self.kind]

    @property
    def bin(self) -> BinSpec:
        return BinSpec(column=self.column, edges=self.edges, labels=self.labels)


class FeatureTableSpec(StrictModel):
    """The engineered features as a relational table (steps/store/feature_table.py): SQLite on
    ``local`` (``url``), PostgreSQL on ``services`` (``url_env`` wins when set). Each run appends
    its rows under its own ``feature_version``; nothing already stored is replaced."""

    table: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    key: str
    url: Optional[str] = None
    url_env: Optional[str] = None

    @model_validator(mode="after")
    def _has_url(self) -> "FeatureTableSpec":
        if not (self.url or self.url_env):
            raise ValueError("a feature table needs 'url' or 'url_env'")
        return self

    def database_url(self) -> str:
        return resolve_sqlite_url(configured_url("feature_table", self.url_env, self.url))


class FeatureFieldSpec(StrictModel):
    """One feature of a feature view, with the metadata Feast's registry keeps for it."""

    name: str
    type: ColumnType
    description: str = ""
    tags: Dict[str, str] = Field(default_factory=dict)


class FeatureViewSpec(StrictModel):
    """What a publication step tells Feast: built from a use case's config by
    ``steps.store.feature_store.tabular_view`` or ``rolling_view``, never written by hand."""

    name: str
    entity: str
    timestamp: str
    ttl_days: int
    fields: List[FeatureFieldSpec]

    @property
    def feature_names(self) -> List[str]:
        return [field.name for field in self.fields]

    def references(self) -> List[str]:
        """``view:feature`` names, as Feast's retrieval calls take them."""
        return [f"{self.name}:{field.name}" for field in self.fields]


class UseCaseParameters(StrictModel):
    """Everything a use case needs besides the ZenML model and settings."""

    use_case: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    source: SourceSpec
    seed_csv: Optional[str] = None
    schema_: SchemaSpec = Field(alias="schema")
    validation: ValidationSpec = ValidationSpec()
    split: SplitSpec = SplitSpec()
    feature_selection: FeatureSelectionSpec = FeatureSelectionSpec()
    timeseries: Optional[TimeseriesSpec] = None
    rolling: Optional[RollingFeaturesSpec] = None
    training: TrainingSpec
    slices: SliceSpec = SliceSpec()
    promotion: PromotionSpec = PromotionSpec()
    inference: Optional[InferenceSpec] = None
    serving: Optional[ServingSpec] = None
    feature_store: Optional[FeatureStoreSpec] = None
    monitoring: MonitoringSpec = MonitoringSpec()
    exploration: ExplorationSpec = ExplorationSpec()
    ingestion: IngestionSpec = IngestionSpec()
    engineered_features: Dict[str, EngineeredFeatureSpec] = Field(default_factory=dict)
    feature_table: Optional[FeatureTableSpec] = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def feature_schema(self) -> SchemaSpec:
        """The schema with the engineered features as columns: what the models' features are
        chosen from."""
        if not self.engineered_features:
            return self.schema_
        added = {name: ColumnSpec(type=rule.type, description=rule.description)
                 for name, rule in self.engineered_features.items()}
        return self.schema_.model_copy(update={"columns": {**self.schema_.columns, **added}})

    @model_validator(mode="after")
    def _features_exist(self) -> "UseCaseParameters":
        unknown = sorted(set(self.feature_selection.always_keep) - set(self.schema_.feature_columns))
        if unknown:
            raise ValueError(f"feature_selection.always_keep names unknown features {unknown}")
        if self.timeseries is not None and self.rolling is not None:
            raise ValueError("'timeseries' and 'rolling' are two different preparations: configure one")
        if self.rolling is not None:
            roll = self.rolling
            needed = [roll.group_column, roll.order_column, *roll.require, *(f.column for f in roll.features.values())]
            missing = sorted({c for c in needed if c not in self.schema_.columns})
            if missing:
                raise ValueError(f"rolling names columns missing from the schema: {missing}")
            unknown = sorted(set(self.slices.features or []) - set(roll.features))
            if unknown:
                raise ValueError(f"slices.features names features the rolling section does not derive: {unknown}")
        elif self.timeseries is None:
            unknown = sorted(set(self.slices.features or []) - set(self.schema_.feature_columns))
            if unknown:
                raise ValueError(f"slices.features names unknown features {unknown}")
        else:
            series = self.timeseries
            needed = [series.group_column, series.time_column, *series.sensors]
            missing = [c for c in needed if c not in self.schema_.columns]
            if missing:
                raise ValueError(f"timeseries names columns missing from the schema: {missing}")
            if self.training.task != "classification":
                raise ValueError("timeseries windows are implemented for classification (anomaly detection)")
        if self.feature_store is not None and (self.timeseries is not None or self.rolling is not None):
            raise ValueError("'feature_store' publishes a tabular use case's cleaned table; rolling features "
                             "have their own 'rolling.feature_view'")
        if self.monitoring.metric is not None:
            from steps.evaluate.metrics import METRICS

            if self.monitoring.metric not in METRICS[self.training.task]:
                raise ValueError(f"monitoring.metric '{self.monitoring.metric}' is not a {self.training.task} metric: "
                                 f"{sorted(METRICS[self.training.task])}")
        known = {name: column.type for name, column in self.schema_.columns.items()}
        for name, rule in self.engineered_features.items():
            if name in known:
                raise ValueError(f"engineered feature '{name}' already names a column")
            unknown = [column for column in rule.inputs if column not in known]
            if unknown:
                raise ValueError(f"engineered feature '{name}' reads {unknown}, which are neither columns nor "
                                 "features defined before it")
            # A number parsed from text would turn every value missing, silently: refuse it here.
            not_numeric = [column for column in rule.inputs if known[column] not in ("int", "float")]
            if rule.kind in ("fill", "ratio", "bucket") and not_numeric:
                raise ValueError(f"engineered feature '{name}' ({rule.kind}) needs numeric inputs, not {not_numeric}")
            known[name] = rule.type
        if self.feature_table is not None:
            if not self.engineered_features:
                raise ValueError("feature_table stores engineered features: configure 'engineered_features'")
            if self.feature_table.key not in self.schema_.columns:
                raise ValueError(f"feature_table.key '{self.feature_table.key}' is not a column")
        explored = [*(b.column for b in self.exploration.bins.values()), *(self.exploration.geo or [])]
        not_numeric = sorted({c for c in explored if self.schema_.columns.get(c) is None
                              or self.schema_.columns[c].type not in ("int", "float")})
        if not_numeric:
            raise ValueError(f"exploration bins and geo need numeric schema columns, not {not_numeric}")
        clashes = sorted(set(self.exploration.bins) & set(self.schema_.columns))
        if clashes:
            raise ValueError(f"exploration bin names must be new column names, not {clashes}")
        if self.split.stratify and self.training.task != "classification":
            raise ValueError("split.stratify only applies to classification")
        return self


class ModelSpec(StrictModel):
    """The ZenML Model (control plane) that every training run adds a version to."""

    name: str
    description: str = ""
    tags: List[str] = Field(default_factory=list)
    license: Optional[str] = None
    audience: Optional[str] = None
    use_cases: Optional[str] = None
    limitations: Optional[str] = None
    ethics: Optional[str] = None


# A settings key of a config and ZenML's class for it (module, class).
ZENML_SETTINGS = {
    "docker": ("zenml.config", "DockerSettings"),
    "resources": ("zenml.config", "ResourceSettings"),
    "orchestrator.kubernetes": ("zenml.integrations.kubernetes.flavors", "KubernetesOrchestratorSettings"),
}
# Models whose extra keys are meant (DockerBuildOptions: any flag of the build command).
OPEN_SETTINGS = {"DockerBuildOptions"}


def _zenml_settings(kind: str, value: Dict[str, Any]) -> Dict[str, Any]:
    """``value`` checked by ZenML's own settings class for ``kind``. Those classes accept (or
    ignore) unknown keys, so a typo would pass silently: here it is an error naming the key."""
    import importlib

    from pydantic import BaseModel as PydanticModel

    module, name = ZENML_SETTINGS[kind]
    model = getattr(importlib.import_module(module), name)

    def unknown_keys(cls, data: Dict[str, Any], where: str) -> List[str]:
        found = []
        for key, item in data.items():
            field = cls.model_fields.get(key)
            if field is None:
                found.append(f"{where}{key}")
                continue
            nested = getattr(field.annotation, "__args__", (field.annotation,))
            nested = [t for t in nested if isinstance(t, type) and issubclass(t, PydanticModel)]
            if nested and isinstance(item, dict) and nested[0].__name__ not in OPEN_SETTINGS:
                found += unknown_keys(nested[0], item, f"{where}{key}.")
        return found

    unknown = unknown_keys(model, value, "")
    if unknown:
        raise ValueError(f"unknown {kind} setting(s) {unknown} (ZenML's {model.__name__} has no such field)")
    model.model_validate(value)  # types and ZenML's own rules; its error names the field
    return value


class SettingsSpec(StrictModel):
    """ZenML settings of a run or a step: ``docker`` (DockerSettings, over the project's own in
    ``core/images.py``), ``resources`` (ResourceSettings, for orchestrators and step operators
    that reserve resources from them) and ``orchestrator.kubernetes`` (the Kubernetes
    orchestrator's own: its pods take their CPU and memory from ``pod_settings.resources``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    docker: Dict[str, Any] = Field(default_factory=dict)
    resources: Dict[str, Any] = Field(default_factory=dict)
    kubernetes: Dict[str, Any] = Field(default_factory=dict, alias="orchestrator.kubernetes")

    @field_validator("docker", "resources", "kubernetes")
    @classmethod
    def _check_with_zenml(cls, value: Dict[str, Any], info) -> Dict[str, Any]:
        kind = "orchestrator.kubernetes" if info.field_name == "kubernetes" else info.field_name
        return _zenml_settings(kind, value) if value else value

    def for_zenml(self) -> Dict[str, Any]:
        keyed = (("docker", self.docker), ("resources", self.resources), ("orchestrator.kubernetes", self.kubernetes))
        return {kind: value for kind, value in keyed if value}


class StepSpec(StrictModel):
    """Settings for one step of the pipelines, by the step's name (``steps: {name: {settings: ...}}``)."""

    settings: SettingsSpec = Field(default_factory=SettingsSpec)


class RunConfig(StrictModel):
    """A whole config file."""

    model: ModelSpec
    parameters: UseCaseParameters
    settings: SettingsSpec = Field(default_factory=SettingsSpec)
    steps: Dict[str, StepSpec] = Field(default_factory=dict)
    enable_cache: Optional[bool] = None


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"invalid config {path}:"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "<root>"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (not part of the config schema)"
        lines.append(f"  - {location}: {message}")
    return "\n".join(lines)


def load_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read and validate a config file, raising ConfigError that names every bad key."""
    config_path = Path(path)
    if not config_path.is_file():
        raise ConfigError(f"config file not found: {config_path}")
    try:
        raw = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {config_path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config {config_path} must be a mapping with 'model' and 'parameters'")
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(config_path, exc)) from exc
