"""/reports on the gateway before any report exists: 404 pages that say what builds them.

On a fresh home `<home>/reports` does not exist; Starlette's StaticFiles answered 500 there.
The app under test is the gateway's own (`build_app`), driven in-process over ASGI.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from streaming.local.dagster_ui import DAGSTER_PORT
from streaming.local.gateway import build_app
from streaming.reports.app import DAGSTER_URL
from tests.conftest import isolated_settings


def get_all(home: Path, paths: list[str]) -> dict[str, httpx.Response]:
    """GETs each path from a gateway app for `home`; an app exception becomes a 500 answer
    rather than a raise, so the test sees what a browser would."""
    app = build_app(isolated_settings(home))

    async def run() -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return {path: await client.get(path) for path in paths}

    return asyncio.run(run())


def test_the_hint_names_where_the_dagster_ui_really_is():
    assert DAGSTER_URL.endswith(f":{DAGSTER_PORT}")


@pytest.mark.parametrize(("path", "names"), [
    ("/reports/dashboard/", ["kpi_dashboard", "kpi_dashboard_schedule"]),
    ("/reports/dashboard/index.html", ["kpi_dashboard", "kpi_dashboard_schedule"]),
    ("/reports/quality/x.html", ["bronze_quality", "bronze_quality_schedule",
                                 "modeled_hourly_schedule"]),
    ("/reports/", ["kpi_dashboard", "bronze_quality"]),
    ("/reports/no/such/page.html", ["kpi_dashboard", "bronze_quality"]),
])
def test_a_fresh_home_answers_404_saying_what_builds_the_report(tmp_path, path, names):
    assert not (tmp_path / "reports").exists()
    answer = get_all(tmp_path, [path])[path]
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    for name in [*names, DAGSTER_URL]:
        assert name in answer.text
    # the page's links lead to the reports root from any depth
    assert 'href="/reports/static/reports.css"' in answer.text


def test_once_reports_exist_they_are_served_and_unknown_pages_still_404(tmp_path):
    dashboard = tmp_path / "reports" / "dashboard"
    dashboard.mkdir(parents=True)
    (dashboard / "index.html").write_text("<h1>the dashboard</h1>")
    (tmp_path / "reports" / "quality").mkdir()
    (tmp_path / "reports" / "quality" / "run1-bronze.html").write_text("<h1>bronze</h1>")

    answers = get_all(tmp_path, ["/reports/dashboard/", "/reports/quality/run1-bronze.html",
                                 "/reports/", "/reports/quality/x.html", "/reports/nothing/",
                                 "/reports/static/reports.css"])
    assert answers["/reports/dashboard/"].status_code == 200
    assert answers["/reports/dashboard/"].text == "<h1>the dashboard</h1>"
    assert answers["/reports/quality/run1-bronze.html"].text == "<h1>bronze</h1>"
    assert answers["/reports/"].status_code == 200
    assert "run1-bronze" in answers["/reports/"].text
    assert answers["/reports/quality/x.html"].status_code == 404
    assert "bronze_quality" in answers["/reports/quality/x.html"].text
    assert answers["/reports/nothing/"].status_code == 404
    assert answers["/reports/static/reports.css"].status_code == 200


def test_the_same_app_serves_pages_written_after_its_first_404(tmp_path):
    """StaticFiles checks its folder once; the first request must not fix the answer."""
    app = build_app(isolated_settings(tmp_path))

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            before = (await client.get("/reports/dashboard/")).status_code
            (tmp_path / "reports" / "dashboard").mkdir(parents=True)
            (tmp_path / "reports" / "dashboard" / "index.html").write_text("dash")
            after = (await client.get("/reports/dashboard/")).status_code
            return [before, after]

    assert asyncio.run(run()) == [404, 200]
