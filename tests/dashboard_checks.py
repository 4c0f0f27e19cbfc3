"""What the dashboard tests look for on a training run's page, shared by the `local` stack's
dashboard (tests/pipeline/test_dashboard.py) and the `services` stack's ZenML server
(tests/services/test_services_stack.py)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PROJECT_ROOT

SCREENSHOT_DIR = PROJECT_ROOT / "test-output"
TRAINING_STEPS = ("extract_source", "validate_expectations", "validation_gate", "clean_dataset", "split_dataset",
                  "fit_preprocessor", "train_gradient_boosting", "select_best_model", "analyze_slices",
                  "register_model", "promote_model")
TRAINING_ARTIFACTS = ("extract_source/outputs/step_output/training_raw_data",
                      "clean_dataset/outputs/step_output/training_dataset",
                      "select_best_model/outputs/step_output/model",
                      "validate_expectations/outputs/step_output/validation_report")


def check_training_run_page(page, run_url: str, screenshot_prefix: str) -> None:
    """The run's DAG shows the steps and artifacts from the source extract to the model, and the
    validation report's visualization opens. Screenshots go to ``test-output/``."""
    page.goto(run_url, wait_until="networkidle")
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    try:
        page.wait_for_selector("[data-id='step/extract_source']", timeout=60_000)
        # The DAG may open zoomed in, and only nodes in view are rendered: fit it, as a user would.
        page.get_by_role("button", name="Fit view").click()
        page.wait_for_selector("[data-id='step/promote_model']", timeout=30_000)
    finally:  # keep what the browser saw, also when the DAG does not appear
        page.screenshot(path=str(SCREENSHOT_DIR / f"{screenshot_prefix}-training-dag.png"))
    node_ids = set(page.eval_on_selector_all("[data-id]", "nodes => nodes.map(n => n.getAttribute('data-id'))"))
    for step in TRAINING_STEPS:
        assert f"step/{step}" in node_ids, step
    for artifact in TRAINING_ARTIFACTS:
        assert artifact in node_ids, artifact

    frame = open_visualization(page, "validate_expectations/outputs/step_output/validation_report")
    frame.get_by_text("expect_column_values_to_be_between").first.wait_for(timeout=60_000)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{screenshot_prefix}-validation-report.png"))


def open_visualization(page, artifact_node: str):
    """Click an artifact of the run's DAG and open its HTML visualization; returns its frame."""
    page.click(f"[data-id='{artifact_node}']")
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("tab", name="Visualization").click()
    load_preview = dialog.get_by_role("button", name="Load Preview")
    iframe = page.locator("iframe[title='Secure HTML Content']")
    load_preview.or_(iframe).first.wait_for(timeout=60_000)
    if load_preview.is_visible():  # large visualizations wait for an explicit click
        load_preview.click()
    return page.frame_locator("iframe[title='Secure HTML Content']")


def open_run_artifact(page, run_url: str, step: str, artifact: str, heading: str):
    """Open a run's page, fit its DAG, and open the HTML visualization of ``step``'s output
    ``artifact`` until ``heading`` shows; returns the visualization's frame."""
    page.goto(run_url, wait_until="networkidle")
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.wait_for_selector(f"[data-id='step/{step}']", timeout=60_000)
    page.get_by_role("button", name="Fit view").click()
    frame = open_visualization(page, f"{step}/outputs/step_output/{artifact}")
    frame.get_by_text(heading).first.wait_for(timeout=60_000)
    return frame


def check_data_run_eda(page, run_url: str, screenshot_prefix: str) -> int:
    """The data pipeline's run page shows its EDA report with every chart rendered; returns the
    number of charts the browser loaded."""
    frame = open_run_artifact(page, run_url, "explore_data", "eda_report", "Permutation importance")
    loaded = frame.locator("img").evaluate_all("images => images.filter(i => i.complete && i.naturalWidth > 0).length")
    page.screenshot(path=str(SCREENSHOT_DIR / f"{screenshot_prefix}-eda-report.png"), full_page=True)
    return loaded


def check_slice_report(page, run_url: str, screenshot_prefix: str, report) -> None:
    """The run's slice report (``report``, the artifact loaded through the client) opens from its
    DAG as a table sorted as the report is and a lift bar chart: one row, one bar and one
    lower-bound tick per slice."""
    frame = open_run_artifact(page, run_url, "analyze_slices", "slice_report", "Under-performing data slices")
    page.screenshot(path=str(SCREENSHOT_DIR / f"{screenshot_prefix}-slice-report.png"), full_page=True)
    rows = frame.locator("table tbody tr")
    assert rows.count() == len(report.slices)
    assert frame.locator("svg rect").count() == len(report.slices)
    assert frame.locator("svg line.lower-bound").count() == len(report.slices)
    assert rows.locator("td:nth-child(7)").all_inner_texts() == [f"{s.lift:.2f}" for s in report.slices]
    assert report.slices[0].description in rows.first.inner_text()


def screenshot_path(name: str) -> Path:
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    return SCREENSHOT_DIR / name


def check_server_run_page(browser, credentials, run_id: str, screenshot_prefix: str) -> None:
    """Log in on the services stack's ZenML server as a user would, then check the training run's
    page (``check_training_run_page``)."""
    from stacks.services import settings

    # The login page animates its background; with reduced motion, as a user may set, headless
    # Chromium types into it in seconds instead of a minute (software rendering).
    context = browser.new_context(viewport={"width": 1800, "height": 1100}, reduced_motion="reduce")
    page = context.new_page()
    try:
        page.goto(f"{settings.ZENML_URL}/login", wait_until="networkidle")
        page.fill("input[name=username]", settings.ADMIN)
        page.fill("input[name=password]", credentials["zenml_admin_password"])
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
        page.screenshot(path=str(screenshot_path(f"{screenshot_prefix}-after-login.png")))
        check_training_run_page(page, f"{settings.ZENML_URL}/projects/default/runs/{run_id}", screenshot_prefix)
    finally:
        context.close()
