"""The embedded stand-in for API Gateway: HTTP request -> proxy event -> the same handler.

It also serves the demo website, with the tracker's API URL filled into the page template
the way the AWS deployment does, so the page posts to this gateway.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from streaming.handler import lambda_handler
from streaming.settings import Settings, load_settings

WEBSITE_DIR = Path(__file__).resolve().parent.parent / "website"
API_URL_PLACEHOLDER = "__CLICKSTREAM_API_URL__"


def proxy_event(request: Request, body: bytes) -> dict:
    """An API Gateway HTTP API (payload 2.0) event, as AWS would deliver it to Lambda."""
    client_ip = request.client.host if request.client else None
    is_text = True
    try:
        text = body.decode()
    except UnicodeDecodeError:
        is_text = False
        text = base64.b64encode(body).decode()
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": f"{request.method} {request.url.path}",
        "rawPath": request.url.path,
        "rawQueryString": request.url.query,
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "requestContext": {
            "http": {
                "method": request.method,
                "path": request.url.path,
                "protocol": f"HTTP/{request.scope.get('http_version', '1.1')}",
                "sourceIp": client_ip,
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": f"local-{now:.6f}",
            "stage": "$default",
            "timeEpoch": int(now * 1000),
        },
        "body": text,
        "isBase64Encoded": not is_text,
    }


async def invoke_handler(request: Request) -> Response:
    body = await request.body()
    result = await run_in_threadpool(lambda_handler, proxy_event(request, body), None)
    return Response(
        content=result.get("body", ""),
        status_code=result["statusCode"],
        headers=result.get("headers", {}),
    )


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def website_page(api_url: str):
    """Serves index.template.html with the API URL filled in, like the AWS deploy step."""

    async def page(_: Request) -> Response:
        template = (WEBSITE_DIR / "index.template.html").read_text()
        return HTMLResponse(template.replace(API_URL_PLACEHOLDER, api_url))

    return page


def build_app(settings: Settings) -> Starlette:
    routes = [
        Route("/healthz", health),
        Route("/v1/{rest:path}", invoke_handler, methods=["GET", "POST", "OPTIONS", "PUT", "DELETE"]),
        Route("/", website_page(f"{settings.gateway_url}/v1/events")),
        Route("/index.html", website_page(f"{settings.gateway_url}/v1/events")),
    ]
    if WEBSITE_DIR.is_dir():
        routes.append(Mount("/", StaticFiles(directory=WEBSITE_DIR), name="website"))
    return Starlette(routes=routes)


def serve(settings: Settings | None = None) -> None:
    settings = settings or load_settings()
    uvicorn.run(build_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    serve()
