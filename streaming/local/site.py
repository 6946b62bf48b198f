"""The demo shop as the embedded gateway serves it: the page template with the tracker's API
URL filled in, the way the AWS deploy step fills it into index.html, so the page posts to this
gateway (in embedded mode with the development write key), and the website's other files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from streaming.ingest.auth import QUERY_PARAMETER
from streaming.ingest.events import EVENTS_PATH
from streaming.ingest.http import runtime
from streaming.settings import DEV_WRITE_KEY, Settings

WEBSITE_DIR = Path(__file__).resolve().parents[2] / "website"
API_URL_PLACEHOLDER = "__CLICKSTREAM_API_URL__"


def events_url(settings: Settings) -> str:
    """The URL the shop page posts to: with the development key when that key is configured."""
    url = f"{settings.gateway_url}{EVENTS_PATH}"
    if settings.embedded and runtime().write_keys.match(DEV_WRITE_KEY) is not None:
        url += "?" + urlencode({QUERY_PARAMETER: DEV_WRITE_KEY})
    return url


def website_page(api_url: str):
    """Serves index.template.html with the API URL filled in, like the AWS deploy step."""

    async def page(_: Request) -> Response:
        template = (WEBSITE_DIR / "index.template.html").read_text()
        return HTMLResponse(template.replace(API_URL_PLACEHOLDER, api_url))

    return page


def site_routes(settings: Settings) -> list[BaseRoute]:
    """The shop's page at / and /index.html, and the website folder's files (last: it
    answers every path the routes before it did not)."""
    page = website_page(events_url(settings))
    routes: list[BaseRoute] = [Route("/", page), Route("/index.html", page)]
    if WEBSITE_DIR.is_dir():
        routes.append(Mount("/", StaticFiles(directory=WEBSITE_DIR), name="website"))
    return routes
