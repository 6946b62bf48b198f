"""The data-quality report and the KPI dashboard in headless Chromium, served by the gateway.

A lake with a week of traffic up to AS_OF (with a drop in one hour and a few planted defects)
and the known silver/gold days; Dagster runs the catalog, the bronze checks (twice, so the
report has history), the silver/gold checks of one day, and the dashboard; the real gateway
serves the pages the check and asset metadata link to; the browser loads each one offline
(every request that leaves 127.0.0.1 is refused) and must draw every chart without a console
error. Then the Dagster UI itself, on the same instance: the links in its asset and check
pages lead to the same pages. Screenshots go to docs/images for the README when asked for
(tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    Definitions,
    define_asset_job,
    instance_for_test,
)
from playwright.sync_api import Browser, Page, sync_playwright

from clickstream_assets.constants import BRONZE
from clickstream_assets.defs.lake.assets import gold_funnel, gold_page_kpis, silver_sessions
from clickstream_assets.defs.lake.checks import gold_quality, silver_quality
from clickstream_assets.defs.lakesql.assets import sql_catalog
from clickstream_assets.defs.lakesql.jobs import catalog_job
from clickstream_assets.defs.reports.assets import kpi_dashboard
from clickstream_assets.defs.reports.jobs import kpi_dashboard_job
from clickstream_assets.defs.stream.assets import bronze_catch_up
from clickstream_assets.defs.stream.checks import bronze_quality
from clickstream_assets.defs.stream.jobs import bronze_quality_job
from clickstream_assets.resources import build_resources
from streaming.local.stack import LocalStack, port_open, stop_process, wait_for
from streaming.tools.common import free_port
from tests.conftest import isolated_settings
from tests.e2e.test_website import CHROMIUM, LAUNCH_ARGS
from tests.integration.test_quality_volume import INSTANTS, as_of, week_with_a_planted_drop
from tests.integration.test_sql_views import D1, write_known_lake

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]


# The instant the lake's week of traffic ends at and the checks score up to: pinned, so the
# pages show the same week whatever the clock says (the volume tests check other instants).
AS_OF = INSTANTS[0]
RUN_CONFIG = {"bronze_quality_job": as_of(AS_OF), "kpi_dashboard_job": as_of(AS_OF, "kpi_dashboard")}


def definitions(settings) -> Definitions:
    modeled_checks = define_asset_job("modeled_checks", selection=AssetSelection.checks_for_assets(
        silver_sessions, gold_page_kpis, gold_funnel))
    return Definitions(
        assets=[bronze_catch_up, silver_sessions, gold_page_kpis, gold_funnel, sql_catalog,
                kpi_dashboard],
        asset_checks=[bronze_quality, silver_quality, gold_quality],
        jobs=[catalog_job, bronze_quality_job, modeled_checks, kpi_dashboard_job],
        resources=build_resources(settings))


@pytest.fixture(scope="module")
def browser() -> Browser:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The lake, a Dagster instance with the runs, and the gateway serving the pages."""
    settings = isolated_settings(tmp_path_factory.mktemp("reports"))
    rows, dropped = week_with_a_planted_drop(AS_OF)
    write_known_lake(settings.lake_uri, bronze=rows)
    defs = definitions(settings)
    with instance_for_test() as instance:
        runs = [("lakehouse_catalog_job", None), ("bronze_quality_job", None),
                ("bronze_quality_job", None), ("modeled_checks", str(D1)), ("kpi_dashboard_job", None)]
        for job, partition in runs:
            defs.resolve_job_def(job).execute_in_process(
                instance=instance, raise_on_error=False,
                run_config=RUN_CONFIG.get(job),
                tags={"dagster/partition": partition} if partition else None)
        stack = LocalStack(settings)
        stack.start_gateway()
        try:
            yield settings, instance, dropped
        finally:
            stack.stop()


def latest_metadata(instance, key: AssetKey) -> dict:
    event = instance.get_latest_materialization_event(key)
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def check_metadata(instance, key: AssetKey, name: str) -> dict:
    [record] = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(key, name), limit=1)
    evaluation = record.event.dagster_event.event_specific_data
    return {k: v.value for k, v in evaluation.metadata.items()}


def open_offline(browser: Browser, url: str, errors: list[str]) -> Page:
    """A page that may only talk to 127.0.0.1, with console errors and failed loads recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith("http://127.0.0.1") else route.abort())
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    page.on("response", lambda r: errors.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url)
    page.wait_for_selector("body[data-charts-drawn]", timeout=15_000)
    return page


CHART_STATE = """() => [...document.querySelectorAll('canvas')].map(canvas => {
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted += 1; }
  const values = chart ? chart.data.datasets.flatMap(d => d.data) : [];
  return {id: canvas.id, type: chart ? chart.config.type : null, painted,
          points: values.filter(v => v !== null).length,
          nonzero: values.filter(v => v !== null && v !== 0).length};
})"""


def assert_every_chart_drawn(page: Page, expected: set[str]) -> dict[str, dict]:
    """Every canvas holds a Chart.js chart with data, and pixels were painted on it."""
    charts = {c["id"]: c for c in page.evaluate(CHART_STATE)}
    assert set(charts) == expected
    assert page.evaluate("document.body.dataset.chartsDrawn") == str(len(expected))
    for name, chart in charts.items():
        assert chart["type"], f"{name} has no chart"
        assert chart["points"] > 0, f"{name} has no data"
        assert chart["painted"] > 2000, f"{name} is blank"
    return charts


def test_dashboard_draws_every_chart_offline(built, browser, screenshots):
    settings, instance, dropped = built
    url = latest_metadata(instance, AssetKey("kpi_dashboard"))["dashboard"]
    assert url == f"{settings.gateway_url}/reports/dashboard/"
    errors: list[str] = []
    page = open_offline(browser, url, errors)
    charts = assert_every_chart_drawn(page, {
        "chart-live", "chart-anomaly-volume", "chart-anomaly-score", "chart-funnel",
        "chart-conversion", "chart-pages", "chart-sources", "chart-visitors"})
    assert all(chart["nonzero"] > 0 for chart in charts.values())
    assert page.locator(".tile").first.inner_text() == "1\nvisits on 2026-11-21"
    flagged = page.locator("table").last.inner_text()
    assert dropped.strftime("%Y-%m-%d %H:%M") in flagged and "drop" in flagged
    assert errors == []
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)


def test_quality_report_draws_every_chart_offline(built, browser, screenshots):
    settings, instance, dropped = built
    metadata = check_metadata(instance, BRONZE, "no_personal_data")
    assert metadata["report"].startswith(f"{settings.gateway_url}/reports/quality/")
    errors: list[str] = []
    page = open_offline(browser, metadata["report"], errors)
    assert_every_chart_drawn(page, {"chart-volume", "chart-score", "chart-history"})
    text = page.inner_text("main")
    assert "j***@example.com" in text and "jane.doe" not in text
    assert dropped.strftime("%Y-%m-%d %H:%M") in text
    history = page.evaluate("Chart.getChart(document.getElementById('chart-history')).data")
    assert len(history["labels"]) == 2 and len(history["datasets"]) == 7  # two runs, 7 checks
    assert errors == []
    page.screenshot(path=str(screenshots / "dq-report.png"), full_page=True)

    gold = check_metadata(instance, AssetKey("gold_funnel"), "schema")
    gold_page = open_offline(browser, gold["report"], errors)
    assert_every_chart_drawn(gold_page, {"chart-volume", "chart-score", "chart-history"})
    assert "gold_funnel" in gold_page.inner_text("main") and errors == []


def test_the_dagster_ui_links_to_the_pages(built, browser, tmp_path):
    """What a user does: open the asset in the Dagster UI and follow the link to the page."""
    settings, instance, _ = built
    port = free_port()
    env = {**os.environ, **settings.to_env(),
           "DAGSTER_HOME": instance.root_directory}
    ui = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", str(ROOT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT, env=env, start_new_session=True,
        stdout=(tmp_path / "ui.log").open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: port_open("127.0.0.1", port), "dagster-webserver", 180, ui,
                 tmp_path / "ui.log")
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        # A first visit to the UI opens a newsletter dialog; a user clicks Skip.
        page.add_locator_handler(page.get_by_text("Join the Dagster community"),
                                 lambda: page.get_by_role("button", name="Skip").click())
        dashboard_url = f"{settings.gateway_url}/reports/dashboard/"
        page.goto(f"http://127.0.0.1:{port}/assets/kpi_dashboard")
        link = page.locator(f'a[href="{dashboard_url}"]').first
        link.wait_for(timeout=60_000)
        with context.expect_page() as opened:
            link.click()
        dashboard = opened.value
        dashboard.wait_for_selector("body[data-charts-drawn]", timeout=15_000)
        assert dashboard.evaluate("document.body.dataset.chartsDrawn") == "8"

        report_url = check_metadata(instance, BRONZE, "no_personal_data")["report"]
        page.goto(f"http://127.0.0.1:{port}/assets/bronze_events?view=checks")
        page.get_by_text("no_personal_data").first.click()
        link = page.locator(f'a[href="{report_url}"]').first
        link.wait_for(timeout=60_000)
        with context.expect_page() as opened:
            link.click()
        report = opened.value
        report.wait_for_selector("body[data-charts-drawn]", timeout=15_000)
        assert report.evaluate("document.body.dataset.chartsDrawn") == "3"
    finally:
        stop_process(ui)
