#!/usr/bin/env python
"""Command line entry point: run a pipeline for a use-case config.

    python run.py training --config configs/insurance.yaml
    python run.py batch_inference --config configs/insurance.yaml
    python run.py seed --config configs/insurance.yaml

Heavy libraries are imported inside the commands, so that --help answers at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.environment import set_process_defaults

set_process_defaults()

import click  # noqa: E402

from core.config import ConfigError, RunConfig, load_config  # noqa: E402

CONFIG_OPTION = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False),
    help="Use-case config, for example configs/insurance.yaml.",
)
CACHE_OPTION = click.option("--no-cache", is_flag=True, help="Run every step, ignoring ZenML's cache.")


def schedule_options(command):
    """``--schedule`` and ``--max-runs`` (core/scheduling.py)."""
    command = click.option("--max-runs", type=click.IntRange(min=1), default=None,
                           help="With --schedule on the local orchestrator: stop after this many runs.")(command)
    return click.option("--schedule", "schedule", default=None, metavar="CRON|'every <N>s|m|h'",
                        help="Run on a schedule: a ZenML schedule where the orchestrator supports one, "
                             "else in this process (local orchestrator).")(command)


def _load(config_path: str) -> RunConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _launch(pipeline_name: str, config_path: str, no_cache: bool, **options):
    from core.launch import PIPELINES, LaunchError, PipelineFailed

    config = _load(config_path)
    try:
        return config, PIPELINES[pipeline_name](config, enable_cache=False if no_cache else None, **options)
    except (ConfigError, LaunchError, PipelineFailed) as exc:
        raise click.ClickException(str(exc)) from exc


def _scheduled(pipeline_name: str, config_path: str, no_cache: bool, schedule: str, max_runs) -> None:
    """Run on the schedule; exits non-zero if any run this process started failed."""
    from core.launch import LaunchError, run_on_schedule

    config = _load(config_path)
    try:
        outcomes = run_on_schedule(pipeline_name, config, schedule, enable_cache=False if no_cache else None,
                                   max_runs=max_runs, echo=click.echo)
    except (ConfigError, LaunchError) as exc:
        raise click.ClickException(str(exc)) from exc
    failed = outcomes.count("failed")
    if failed:
        raise click.ClickException(f"{failed} of {len(outcomes)} scheduled runs failed (see the lines above)")


def _outputs(run, step_name: str, output: str):
    from zenml.client import Client

    step = Client().get_pipeline_run(run.id).steps[step_name]
    return step.outputs[output][0].load()


def _where_to_look(run) -> None:
    from zenml.client import Client

    client = Client()
    store = client.zen_store
    if store.type.value == "rest":  # a ZenML server: its dashboard is at its own address
        click.echo(f"\nDashboard: {store.url}/projects/default/runs/{run.id}")
    else:
        click.echo("\nDashboard: start it with `zenml login --local` (inside .venv), then open")
        click.echo(f"  http://127.0.0.1:8237/projects/default/runs/{run.id}")
    tracker = client.active_stack.experiment_tracker
    if tracker is not None and tracker.flavor == "mlflow":
        uri = tracker.get_tracking_uri()
        click.echo(f"MLflow: {uri}" if uri.startswith("http") else f"MLflow: mlflow ui --backend-store-uri {uri}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """MLOps pipelines on ZenML. Pipelines: training, batch_inference, data, feature_engineering. API: serve, api. Setup: seed."""


@cli.command()
@CONFIG_OPTION
@CACHE_OPTION
@schedule_options
@click.option("--dataset-version", type=click.IntRange(min=1), default=None,
              help="Retrain on this stored version of training_raw_data instead of extracting the source.")
def training(config_path: str, no_cache: bool, schedule, max_runs, dataset_version) -> None:
    """Extract, validate, prepare, train candidates, evaluate, register and promote."""
    if schedule:
        if dataset_version is not None:
            raise click.ClickException("--dataset-version retrains once on stored data; it does not go with --schedule")
        return _scheduled("training", config_path, no_cache, schedule, max_runs)
    config, run = _launch("training", config_path, no_cache, dataset_version=dataset_version)
    evaluation = _outputs(run, "select_best_model", "model_evaluation")
    decision = _outputs(run, "promote_model", "promotion_decision")
    click.echo(f"\nRun: {run.name} ({run.status.value})")
    click.echo(f"Model: {config.model.name} version {decision['model_version']}, best candidate "
               f"'{evaluation['candidate']}' ({evaluation['estimator']})")
    click.echo("Held-out metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in evaluation["metrics"].items()))
    click.echo(f"Promotion: {'promoted to production' if decision['promoted'] else 'not promoted'}: "
               f"{decision['reason']}")
    _where_to_look(run)


@cli.command(name="batch_inference")
@CONFIG_OPTION
@CACHE_OPTION
@schedule_options
def batch_inference(config_path: str, no_cache: bool, schedule, max_runs) -> None:
    """Validate a new batch, check drift, and predict with the production model."""
    if schedule:
        return _scheduled("batch_inference", config_path, no_cache, schedule, max_runs)
    config, run = _launch("batch_inference", config_path, no_cache)
    stored = _outputs(run, "store_predictions", "prediction_store")
    click.echo(f"\nRun: {run.name} ({run.status.value})")
    click.echo(f"Predictions: {stored['rows_written']} rows appended to {stored['table']} "
               f"({stored['rows_in_table']} rows in the table)")
    _where_to_look(run)


@cli.command(name="feature_engineering")
@CONFIG_OPTION
@CACHE_OPTION
@schedule_options
def feature_engineering(config_path: str, no_cache: bool, schedule, max_runs) -> None:
    """Ingest (raw lake), validate, prepare, engineer features, append them to the feature table."""
    if schedule:
        return _scheduled("feature_engineering", config_path, no_cache, schedule, max_runs)
    config, run = _launch("feature_engineering", config_path, no_cache)
    written = _outputs(run, "store_feature_table", "feature_table_write")
    click.echo(f"\nRun: {run.name} ({run.status.value})")
    click.echo(f"Feature table {written['table']}: {written['rows_written']} rows appended as version "
               f"{written['feature_version']} ({written['rows_in_table']} rows in the table)")
    _where_to_look(run)


@cli.command()
@CONFIG_OPTION
@CACHE_OPTION
@schedule_options
def data(config_path: str, no_cache: bool, schedule, max_runs) -> None:
    """DataOps: extract, validate, profile, impute and normalize, explore (EDA), log the activity."""
    if schedule:
        return _scheduled("data", config_path, no_cache, schedule, max_runs)
    from core.paths import STATE_DIR
    from steps.explore.activity import activity_log_path

    config, run = _launch("data", config_path, no_cache)
    activity = _outputs(run, "record_data_activity", "data_activity")
    click.echo(f"\nRun: {run.name} ({run.status.value})")
    click.echo(f"Rows: {activity['rows']}, validation {activity['validation']}, issues: "
               + (", ".join(f"{name} ({count})" for name, count in activity["issues"].items()) or "none"))
    click.echo(f"Activity log: {activity_log_path(STATE_DIR, config.parameters.use_case)}")
    _where_to_look(run)


@cli.command()
@CONFIG_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="uvicorn's; 'warning' drops access logs.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes, each with its own copy of the model (one per core for throughput).")
def serve(config_path: str, host: str, port: int, log_level: str, workers: int) -> None:
    """Serve the production model over HTTP (GET /predict, /health, /docs)."""
    import uvicorn

    from serving.app import CONFIG_ENVIRONMENT_VARIABLE, app_for_config
    from serving.model_source import NoProductionModel, production_version

    config = _load(config_path)
    if config.parameters.serving is None:
        raise click.ClickException("this config has no 'serving' section: it defines no prediction API")
    try:
        if workers == 1:
            uvicorn.run(app_for_config(config), host=host, port=port, log_level=log_level)
            return
        if production_version(config.model.name) is None:  # say so once, not once per worker
            raise NoProductionModel(f"model '{config.model.name}' has no production version: train one first "
                                    f"(python run.py training --config {config_path})")
    except NoProductionModel as exc:
        raise click.ClickException(str(exc)) from exc
    os.environ[CONFIG_ENVIRONMENT_VARIABLE] = str(Path(config_path).resolve())
    uvicorn.run("serving.app:app_from_environment", factory=True, workers=workers, host=host, port=port,
                log_level=log_level)


@cli.command()
@click.option("--config", "config_paths", multiple=True, type=click.Path(dir_okay=False),
              help="A use case to serve (repeatable); default: every config in configs/.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="uvicorn's; 'warning' drops access logs.")
def api(config_paths, host: str, port: int, log_level: str) -> None:
    """Project API: pipelines, runs, metrics, models, data quality, POST /predict/<use case> (/docs)."""
    import uvicorn

    from core.launch import LaunchError, check_store
    from core.paths import PROJECT_ROOT
    from serving.project_api import create_project_api

    paths = config_paths or sorted(str(path) for path in (PROJECT_ROOT / "configs").glob("*.yaml"))
    try:
        check_store()
    except LaunchError as exc:
        raise click.ClickException(str(exc)) from exc
    uvicorn.run(create_project_api([_load(path) for path in paths]), host=host, port=port, log_level=log_level)


@cli.command()
@CONFIG_OPTION
@click.option("--replace", is_flag=True, help="Reload the table even if it already holds rows.")
def seed(config_path: str, replace: bool) -> None:
    """Load the config's seed CSV into its SQL source table (skipped if already loaded)."""
    from core.database import SourceError
    from core.paths import resolve_path
    from steps.ingest.sources import seed_database

    params = _load(config_path).parameters
    if params.source.kind != "sql" or not params.seed_csv:
        raise click.ClickException("this config has no SQL source with a seed_csv to load")
    try:
        rows = seed_database(params.seed_csv, params.source, params.schema_, replace=replace)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{params.source.describe()}: {rows} rows (from {resolve_path(params.seed_csv)})")


if __name__ == "__main__":
    sys.exit(cli())
