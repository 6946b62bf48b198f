"""The reports as the local gateway serves them, under /reports.

/reports/ lists the pages; /reports/dashboard/ is the KPI dashboard and
/reports/quality/<run>-<layer>.html the data-quality reports, both written by Dagster runs
into `<home>/reports`; /reports/static/ holds the page script and style and Chart.js, served
from its npm package (streaming/reports/node_modules, installed by `npm ci`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from streaming.reports.render import CHART_JS, STATIC_DIR, esc, page, reports_dir
from streaming.settings import Settings

INDEX_LIMIT = 200


def reports_app(settings: Settings) -> Starlette:
    directory = reports_dir(settings)

    async def index(_: Request) -> Response:
        quality = sorted((directory / "quality").glob("*.html"), key=lambda p: p.stat().st_mtime,
                         reverse=True)[:INDEX_LIMIT]
        items = [f'<li><a href="quality/{esc(p.name)}">{esc(p.stem)}</a> '
                 f'<small>{datetime.fromtimestamp(p.stat().st_mtime, UTC):%Y-%m-%d %H:%M} UTC</small></li>'
                 for p in quality]
        dashboard = ('<p><a href="dashboard/">KPI dashboard</a></p>'
                     if (directory / "dashboard" / "index.html").exists()
                     else '<p class="empty">no dashboard yet: materialize kpi_dashboard in Dagster</p>')
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
        Mount("/", StaticFiles(directory=directory, html=True, check_dir=False), name="reports"),
    ])
