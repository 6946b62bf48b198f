"""The reports as the local gateway serves them, under /reports.

/reports/ lists the pages; /reports/dashboard/ is the KPI dashboard and
/reports/quality/<run>-<layer>.html the data-quality reports, both written by Dagster runs
into `<home>/reports`; /reports/static/ holds the page script and style and Chart.js, served
from its npm package (streaming/reports/node_modules, installed by `npm ci`).

A page that no run has written yet (on a fresh home, the whole folder) answers 404 with a
page naming the Dagster asset and schedule that build it, never a server error: a user who
follows the README before the first scheduled run should learn what to start, not see a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, get_route_path
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from streaming.reports.render import CHART_JS, STATIC_DIR, esc, page, reports_dir
from streaming.settings import Settings

INDEX_LIMIT = 200
# Where `./clickstream demo --ui` (streaming.local.dagster_ui.DAGSTER_PORT) and the README's
# `dagster dev` serve the UI; not imported from there, since that module pulls in Spark.
DAGSTER_URL = "http://127.0.0.1:3000"

DASHBOARD_HINT = (
    "The KPI dashboard is written by the Dagster asset <code>kpi_dashboard</code> "
    "(job <code>kpi_dashboard_job</code>; schedule <code>kpi_dashboard_schedule</code>, every "
    "10 minutes, skipped while a blocking gold check is failing).")
QUALITY_HINT = (
    "Data-quality reports are written one per check run: <code>quality/&lt;run&gt;-bronze.html</code> "
    "by the asset checks <code>bronze_quality</code> (job <code>bronze_quality_job</code>; "
    "schedule <code>bronze_quality_schedule</code>, hourly at five past), "
    "<code>quality/&lt;run&gt;-silver-&lt;day&gt;.html</code> and <code>-gold-&lt;day&gt;.html</code> "
    "by <code>silver_quality</code> and <code>gold_quality</code>, which run with every build of "
    "<code>silver_gold_job</code> (schedule <code>modeled_hourly_schedule</code>, hourly at ten "
    "past).")
DAGSTER_HINT = (
    "These schedules run by default under Dagster; to build a report now, materialize the "
    f'asset or launch the job in the Dagster UI at <a href="{DAGSTER_URL}">{DAGSTER_URL}</a> '
    "(<code>./clickstream demo --ui</code>, or <code>dagster dev -w workspace.yaml</code> "
    "beside <code>./clickstream stack</code>).")


def not_built(scope: Scope) -> HTMLResponse:
    """404 for a report page that does not exist (yet), saying what would write it."""
    first = get_route_path(scope).strip("/").split("/", 1)[0]
    hints = {"dashboard": [DASHBOARD_HINT], "quality": [QUALITY_HINT]}.get(
        first, [DASHBOARD_HINT, QUALITY_HINT])
    body = (f'<p class="empty">No report at <code>{esc(scope["path"])}</code> yet.</p>'
            + "".join(f"<p>{hint}</p>" for hint in hints) + f"<p>{DAGSTER_HINT}</p>")
    # Links from the page lead to the reports root by an absolute path (`/reports/` under
    # the gateway), so they work at any depth.
    root = scope.get("root_path", "").rstrip("/") + "/"
    return HTMLResponse(page("Report not built yet", "404: not found", body, {}, root=root),
                        status_code=404)


class ReportFiles(StaticFiles):
    """`<home>/reports` as static files; a missing folder or page is a 404 with hints.

    Starlette's StaticFiles raises (a 500) when its folder does not exist, and checks that
    only once, but Dagster creates the folder with its first report, while the gateway runs.
    """

    async def check_config(self) -> None:
        """A missing folder is a state (no report yet), not a configuration error."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            return not_built(scope)


def reports_app(settings: Settings) -> Starlette:
    directory = reports_dir(settings)

    async def index(request: Request) -> Response:
        if not directory.is_dir():
            return not_built(request.scope)
        quality = sorted((directory / "quality").glob("*.html"), key=lambda p: p.stat().st_mtime,
                         reverse=True)[:INDEX_LIMIT]
        items = [f'<li><a href="quality/{esc(p.name)}">{esc(p.stem)}</a> '
                 f'<small>{datetime.fromtimestamp(p.stat().st_mtime, UTC):%Y-%m-%d %H:%M} UTC</small></li>'
                 for p in quality]
        dashboard = ('<p><a href="dashboard/">KPI dashboard</a></p>'
                     if (directory / "dashboard" / "index.html").exists()
                     else '<p class="empty">no dashboard yet: materialize kpi_dashboard in '
                          f'Dagster ({DAGSTER_URL})</p>')
        body = (dashboard + "<h2>Data-quality reports</h2>"
                + (f'<ul class="reports">{"".join(items)}</ul>' if items
                   else '<p class="empty">no check has run yet</p>'))
        return HTMLResponse(page("Clickstream reports", f"from {directory}", body, {}, root=""))

    async def chart_js(_: Request) -> Response:
        if not CHART_JS.exists():
            return PlainTextResponse("Chart.js is not installed: run `npm ci` in streaming/reports",
                                     status_code=503)
        return FileResponse(CHART_JS, media_type="text/javascript")

    return Starlette(routes=[
        Route("/", index),
        Route("/static/chart.umd.js", chart_js),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="report-static"),
        Mount("/", ReportFiles(directory=directory, html=True, check_dir=False), name="reports"),
    ])
