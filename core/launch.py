"""Launching a pipeline for a use-case config, with the checks that save a wasted run.

Shared by ``run.py`` and the tests, so both start pipelines exactly the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from core.config import ConfigError, RunConfig


class LaunchError(RuntimeError):
    """The pipeline cannot start: the message says why and what to do."""


class PipelineFailed(RuntimeError):
    """A run failed; the message names each failed step and its own error message."""

    def __init__(self, run_name: str, failures: Dict[str, str]):
        self.run_name = run_name
        self.failures = failures
        listing = "\n".join(f"  step '{step}': {message}" for step, message in failures.items())
        super().__init__(f"pipeline run '{run_name}' failed:\n{listing}")


NO_ERROR = "no error recorded"
# How ZenML's container engines report a failed `docker build` / `podman build`.
IMAGE_BUILD_FAILED = "Failed to build image"


def _failure_message(info) -> str:
    """The step's exception message; failures outside the step function (for example while
    saving an output) carry only a traceback, whose last line names the error."""
    if info is None:
        return NO_ERROR
    if info.message and info.message.strip():
        return info.message.strip()
    lines = [line.strip() for line in (info.traceback or "").splitlines() if line.strip()]
    return lines[-1] if lines else NO_ERROR


def _latest_run_id(pipeline_name: str):
    from zenml.client import Client

    runs = Client().list_pipeline_runs(pipeline_name=pipeline_name, sort_by="desc:created", size=1)
    return runs.items[0].id if runs.items else None


def _raise_run_failure(pipeline_name: str, error: Exception, previous_run_id) -> None:
    """Turn ZenML's generic 'step(s) failed' into the failed steps' own messages.

    Only a run created by this launch is summarised: if the error came before ZenML created
    one, the original error is raised, never an older run's failures.
    """
    from zenml.client import Client
    from zenml.enums import ExecutionStatus

    if str(error).startswith(IMAGE_BUILD_FAILED):
        raise LaunchError(f"the step image could not be built, no step was run: {error} (the build's own "
                          "output above says why)") from error
    latest = _latest_run_id(pipeline_name)
    if latest is None or latest == previous_run_id:
        raise error
    run = Client().get_pipeline_run(latest)
    failures = {}
    for name, step in run.steps.items():
        if step.status == ExecutionStatus.FAILED:
            failures[name] = _failure_message(step.exception_info)
    if not failures:
        raise error
    if NO_ERROR in failures.values():
        # A step whose error could not be recorded: typically the artifact store went away, and
        # with it the step's logs and outputs. Say what of the stack does not answer now.
        for number, problem in enumerate(stack_problems(), start=1):
            failures[f"(stack check {number}, after the run)"] = problem
    raise PipelineFailed(run.name, failures) from error


def preflight_training(config: RunConfig) -> None:
    """Fail before any step runs on what the YAML schema alone cannot check."""
    from steps.train.factory import make_estimator
    from steps.validate.expectations import check_expectation_types

    params = config.parameters
    for candidate in params.training.candidates:
        try:
            make_estimator(candidate.estimator, candidate.params)
        except ValueError as exc:
            raise ConfigError(f"parameters.training.candidates[{candidate.name}]: {exc}") from exc
    try:
        check_expectation_types(params.validation.extra_expectations)
    except ValueError as exc:
        raise ConfigError(f"parameters.validation.extra_expectations: {exc}") from exc


def check_store() -> None:
    """The ZenML store the client is logged in to answers.

    A client left logged in to a server that has since stopped (``stacks/services/down`` logs
    it out, a crash does not) otherwise fails with a connection traceback from inside ZenML."""
    from zenml.config.global_config import GlobalConfiguration

    configuration = GlobalConfiguration().store_configuration
    try:
        GlobalConfiguration().zen_store
    except RuntimeError as error:
        if configuration.type.value != "rest":
            raise
        raise LaunchError(
            f"the ZenML server {configuration.url} that the client is logged in to does not answer, nothing "
            "was run: start it (`stacks/services/up` for this project's services stack) or go back to the "
            "local store with `zenml logout`") from error


def check_stack(needs_feature_store: bool = False) -> None:
    """The pipelines need an experiment tracker and a model registry in the active stack, and a
    feature store when the config publishes a feature view."""
    from zenml.client import Client

    stack = Client().active_stack
    wanted = [("experiment tracker", stack.experiment_tracker), ("model registry", stack.model_registry)]
    if needs_feature_store:
        wanted.append(("feature store", stack.feature_store))
    missing = [kind for kind, component in wanted if component is None]
    if missing:
        raise LaunchError(
            f"the active stack '{stack.name}' has no {' and no '.join(missing)}; switch to one that has "
            "(`zenml stack set local`, registered by `make stack` or `python -m stacks.register local`)"
        )


def check_reachable() -> None:
    """The active stack's artifact store and experiment tracker answer, before any step runs.

    Without this, a stopped tracking server or a wrong S3 key shows up as a retry loop or a
    traceback deep inside a step, after the earlier steps have spent their time. The message
    names the component and its address; resolved secret values are masked in it."""
    from zenml.client import Client

    problems = stack_problems()
    if problems:
        raise LaunchError(f"the active stack '{Client().active_stack.name}' is not usable, nothing was run:\n  - "
                          + "\n  - ".join(problems))


def stack_problems() -> List[str]:
    """What of the active stack's artifact store and tracking server does not answer (see
    ``check_reachable``); also asked after a run whose failed steps recorded no error."""
    import urllib.error
    import urllib.request

    from zenml.client import Client

    stack = Client().active_stack
    problems = []
    store = stack.artifact_store
    try:
        if not store.exists(store.path):  # a new local store: its folder comes with the first run
            store.makedirs(store.path)
        store.listdir(store.path)
    except Exception as exc:  # any failure to list the store's root is the user's to see, named
        problems.append(f"artifact store '{store.name}' ({store.path}) refused or did not answer: "
                        f"{type(exc).__name__}: {_mask_secrets(str(exc), store)}")
    if stack.orchestrator.flavor in ("local_docker", "local_podman"):
        problems += container_engine_problems()
    tracker = stack.experiment_tracker
    uri = tracker.get_tracking_uri() if tracker is not None and tracker.flavor == "mlflow" else ""
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as response:
                healthy = response.status == 200
        except (urllib.error.URLError, OSError) as exc:
            healthy, reason = False, str(getattr(exc, "reason", exc))
        else:
            reason = "its /health did not answer 200"
        if not healthy:
            problems.append(f"experiment tracker '{tracker.name}' at {uri} is not reachable: {reason}")
    return problems


def container_engine_problems() -> List[str]:
    """The Docker API that the local_docker (or local_podman) orchestrator starts step containers through answers
    (podman's, from `stacks/containers/up`, or a Docker engine's)."""
    import os

    import docker

    where = os.environ.get("DOCKER_HOST", "the default Docker socket")
    try:
        client = docker.from_env(timeout=10)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # DockerException and connection errors: either way no engine to run steps
        return [f"the container engine at {where} does not answer ({type(exc).__name__}: {str(exc)[:200]}): start it "
                "with `stacks/containers/up` (podman), or start Docker"]
    return []


def _mask_secrets(text: str, component) -> str:
    """``text`` with the component's configured string values of 8 or more characters masked.

    Read attribute by attribute: that is how ZenML resolves ``{{secret.key}}`` references (a
    ``model_dump`` would give the references, not the values that could leak)."""
    config = component.config
    for field in type(config).model_fields:
        try:
            value = getattr(config, field)
        except KeyError:  # a secret reference that does not resolve holds no value to leak
            continue
        if isinstance(value, str) and len(value) >= 8 and value in text:
            text = text.replace(value, "***")
    return text[:500]


def production_version(model_name: str):
    """The production model version, or LaunchError telling the user to train first."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    try:
        return Client().get_model_version(model_name, ModelStages.PRODUCTION)
    except KeyError as exc:
        raise LaunchError(
            f"model '{model_name}' has no production version yet: run "
            "`python run.py training --config <config>` first"
        ) from exc


def _model(config: RunConfig, version: Optional[str] = None):
    from zenml import Model

    spec = config.model
    return Model(
        name=spec.name,
        version=version,
        description=spec.description or None,
        tags=list(spec.tags) or None,
        license=spec.license,
        audience=spec.audience,
        use_cases=spec.use_cases,
        limitations=spec.limitations,
        ethics=spec.ethics,
    )


def project_step_names(config: RunConfig) -> List[str]:
    """What a config's ``steps:`` may name: every step of the project's pipelines, and each
    candidate's training step (``train_<candidate>``)."""
    import importlib
    import pkgutil

    import steps
    from zenml.steps import BaseStep

    from pipelines.training import candidate_step

    names = {candidate_step(candidate.name) for candidate in config.parameters.training.candidates}
    for stage in pkgutil.iter_modules(steps.__path__):
        module = importlib.import_module(f"steps.{stage.name}.steps")
        names.update(item.name for item in vars(module).values() if isinstance(item, BaseStep))
    return sorted(names)


def check_step_settings(config: RunConfig) -> None:
    """A ``steps:`` entry names a step of the pipelines; ZenML would only warn and ignore it."""
    known = project_step_names(config)
    unknown = sorted(set(config.steps) - set(known))
    if unknown:
        raise ConfigError(f"steps: {unknown} name no step of the pipelines (the steps are: {', '.join(known)})")


def _options(config: RunConfig, pipeline_name: str, enable_cache: Optional[bool], tags: Sequence[str] = (),
             schedule=None) -> Dict[str, Any]:
    from zenml.client import Client

    from core.images import docker_settings

    check_step_settings(config)
    settings = {"experiment_tracker": {"experiment_name": config.model.name}, **config.settings.for_zenml(),
                "docker": docker_settings(config.settings.docker, Client().active_stack_model.labels)}
    cache = config.enable_cache if enable_cache is None else enable_cache
    options: Dict[str, Any] = {
        "run_name": f"{config.parameters.use_case}_{pipeline_name}_{{date}}_{{time}}",
        "settings": settings,
        "tags": [config.parameters.use_case, pipeline_name, *tags],
    }
    if config.steps:
        options["steps"] = {name: {"settings": step.settings.for_zenml()} for name, step in config.steps.items()}
    if cache is not None:
        options["enable_cache"] = cache
    if schedule is not None:
        options["schedule"] = schedule
    return options


def check_dataset_version(config: RunConfig, version: int) -> None:
    """Version ``version`` of the raw data exists and was extracted from this config's source."""
    from zenml.client import Client

    from pipelines.ingestion import RAW_DATA_ARTIFACT

    try:
        stored = Client().get_artifact_version(RAW_DATA_ARTIFACT, str(version))
    except KeyError as error:
        raise LaunchError(f"there is no version {version} of '{RAW_DATA_ARTIFACT}' (`zenml artifact version list "
                          f"--artifact {RAW_DATA_ARTIFACT}` lists them)") from error
    recorded, expected = (stored.run_metadata or {}).get("source"), config.parameters.source.describe()
    if recorded != expected:
        raise LaunchError(f"version {version} of '{RAW_DATA_ARTIFACT}' was extracted from {recorded or 'an unrecorded source'}, "
                          f"not from this config's source ({expected}): pick a version of this use case")


def run_training(config: RunConfig, enable_cache: Optional[bool] = None, tags: Sequence[str] = (), schedule=None,
                 dataset_version: Optional[int] = None):
    """Run the training pipeline; returns the finished pipeline run (None when ``schedule``
    hands it to the orchestrator). ``dataset_version`` retrains on that stored version of the
    raw data (``training_raw_data``) instead of extracting the source again."""
    check_store()  # first: importing the pipeline's steps already talks to the store
    from pipelines.training import training

    preflight_training(config)
    rolling = config.parameters.rolling
    check_stack(needs_feature_store=rolling is not None and rolling.feature_view is not None)
    check_reachable()
    if dataset_version is not None:
        check_dataset_version(config, dataset_version)
        tags = [*tags, f"dataset_version_{dataset_version}"]
    pipeline = training.with_options(model=_model(config), **_options(config, "training", enable_cache, tags, schedule))
    previous = _latest_run_id("training")
    try:
        return pipeline(params=config.parameters, dataset_version=dataset_version)
    except Exception as exc:
        _raise_run_failure("training", exc, previous)


def run_batch_inference(config: RunConfig, enable_cache: Optional[bool] = None, tags: Sequence[str] = (),
                        schedule=None):
    """Score the configured batch with the production model; returns the finished run (None
    when ``schedule`` hands it to the orchestrator)."""
    check_store()
    from pipelines.batch_inference import batch_inference
    from zenml.enums import ModelStages

    if config.parameters.inference is None:
        raise ConfigError("parameters.inference is not configured for this use case")
    check_stack()
    check_reachable()
    production_version(config.model.name)
    options = _options(config, "batch_inference", enable_cache, tags, schedule)
    options["settings"].pop("experiment_tracker", None)
    pipeline = batch_inference.with_options(model=_model(config, ModelStages.PRODUCTION.value), **options)
    previous = _latest_run_id("batch_inference")
    try:
        return pipeline(params=config.parameters)
    except Exception as exc:
        _raise_run_failure("batch_inference", exc, previous)


def _run_untracked(pipeline, name: str, config: RunConfig, enable_cache: Optional[bool], tags: Sequence[str],
                   schedule):
    """Start a pipeline without model or experiment tracking (data, feature engineering)."""
    check_reachable()
    options = _options(config, name, enable_cache, tags, schedule)
    options["settings"].pop("experiment_tracker", None)  # no step of these pipelines tracks experiments
    previous = _latest_run_id(name)
    try:
        return pipeline.with_options(**options)(params=config.parameters)
    except Exception as exc:
        _raise_run_failure(name, exc, previous)


def run_data(config: RunConfig, enable_cache: Optional[bool] = None, tags: Sequence[str] = (), schedule=None):
    """Extract, validate, profile, normalize and explore the use case's table (DataOps); returns
    the finished run (None when ``schedule`` hands it to the orchestrator)."""
    check_store()
    from pipelines.data import data

    return _run_untracked(data, "data", config, enable_cache, tags, schedule)


def run_feature_engineering(config: RunConfig, enable_cache: Optional[bool] = None, tags: Sequence[str] = (),
                            schedule=None):
    """Ingest, validate, prepare and engineer features into the relational feature table;
    returns the finished run (None when ``schedule`` hands it to the orchestrator)."""
    check_store()
    from pipelines.feature_engineering import feature_engineering

    if config.parameters.feature_table is None:
        raise ConfigError("parameters.feature_table is not configured for this use case: there is nowhere to store "
                          "engineered features")
    return _run_untracked(feature_engineering, "feature_engineering", config, enable_cache, tags, schedule)


PIPELINES = {"training": run_training, "batch_inference": run_batch_inference, "data": run_data,
             "feature_engineering": run_feature_engineering}


def run_on_schedule(pipeline_name: str, config: RunConfig, schedule_text: str, enable_cache: Optional[bool] = None,
                    max_runs: Optional[int] = None, echo=print) -> List[str]:
    """``--schedule``: a ZenML schedule on a schedulable orchestrator, else runs in this process
    (``core/scheduling.py``); returns the outcome of each run started here."""
    from core.paths import STATE_DIR
    from core.scheduling import (
        SCHEDULED_TAG,
        ScheduleError,
        ScheduleLog,
        active_orchestrator_schedules,
        parse_schedule,
        run_in_foreground,
        zenml_schedule,
    )

    try:
        spec = parse_schedule(schedule_text)
    except ScheduleError as error:
        raise ConfigError(str(error)) from error
    check_store()
    run = PIPELINES[pipeline_name]
    name = f"{config.parameters.use_case}_{pipeline_name}"
    if active_orchestrator_schedules():
        run(config, enable_cache, tags=[SCHEDULED_TAG], schedule=zenml_schedule(spec, name))
        echo(f"schedule '{name}' ({spec.describe()}) registered with the orchestrator; `zenml pipeline schedule "
             "list` shows it")
        return []

    def once() -> str:
        return run(config, enable_cache, tags=[SCHEDULED_TAG]).name

    log = ScheduleLog(Path(STATE_DIR) / "logs" / f"schedule_{name}.log")
    return run_in_foreground(spec, once, log, max_runs=max_runs, echo=echo)
