"""The embedded stand-in for API Gateway: HTTP request -> proxy event -> the same handler.

The handler runs as it does in Lambda, on the event loop, except that its Kinesis writes go
through one coalescing producer (`streaming.local.coalesce`), awaited, since this process
serves many requests at once. The handler's work is CPU only (the erased-ids list it checks
is reread at most once a minute), so it runs on the loop: worker threads would only take
turns on the GIL, at the cost of a thread hand-off per request.

Like API Gateway it reads at most a bounded body (the handler answers 413 beyond 1 MiB),
throttles each write key (429 with Retry-After; usage plans do this in AWS) before the
handler runs, and publishes the endpoint's OpenAPI document at /openapi.json.

It also serves the demo shop (`site.py`) and the report pages.
"""

from __future__ import annotations

import base64
import gc
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from streaming.contract import MAX_BODY_BYTES
from streaming.ingest.auth import presented_key
from streaming.ingest.handler import route
from streaming.ingest.http import SECURITY_HEADERS, StreamWrite, parse_proxy_event, runtime
from streaming.ingest.openapi import openapi_document
from streaming.local.coalesce import CoalescingProducer
from streaming.local.ratelimit import RateLimiter, retry_after
from streaming.local.site import site_routes
from streaming.reports.app import reports_app
from streaming.settings import Settings, load_settings


def query_parameters(request: Request) -> dict[str, str] | None:
    """`queryStringParameters` as API Gateway builds it: repeated names joined by commas."""
    joined: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        joined.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in joined.items()} or None


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
        "queryStringParameters": query_parameters(request),
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


async def bounded_body(request: Request) -> bytes:
    """At most MAX_BODY_BYTES + 1 bytes: enough for the handler to see a body is too large,
    without holding whatever a client claims to send in memory."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            break
    return bytes(body)


def throttled(request: Request, limiter: RateLimiter) -> Response | None:
    """429 when the request's write key has used up its rate; unknown keys pass on to the
    handler, which answers 401 without reading the body."""
    rt = runtime()
    headers = {k.lower(): v for k, v in request.headers.items()}
    key = rt.write_keys.match(presented_key(headers, query_parameters(request) or {}))
    wait = limiter.acquire(key.digest) if key is not None else 0.0
    if not wait:
        return None
    return JSONResponse(
        {"error": "rate_limited",
         "message": f"more than {limiter.rate:g} requests/s for this write key; retry later"},
        status_code=429,
        headers={**SECURITY_HEADERS, **rt.origins.response_headers(headers.get("origin")),
                 "retry-after": retry_after(wait), "access-control-expose-headers": "retry-after"})


async def invoke_handler(request: Request) -> Response:
    limited = throttled(request, request.app.state.rate_limiter)
    if limited is not None:
        return limited
    body = await bounded_body(request)
    result = route(parse_proxy_event(proxy_event(request, body)), runtime())
    if isinstance(result, StreamWrite):
        result = result.respond(await request.app.state.producer.put(result.events))
    return Response(
        content=result.get("body", ""),
        status_code=result["statusCode"],
        headers=result.get("headers", {}),
    )


class EveryMethod:
    """An ASGI app, not an endpoint function, so Starlette's Route passes every HTTP method on
    (QUERY, TRACE, made-up ones): the handler answers each, with 405, `allow` and a reason."""

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope, receive, send) -> None:
        response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def openapi_endpoint(server_url: str):
    """The endpoint's OpenAPI document, with this gateway as its server."""
    document = openapi_document(server_url)

    async def serve_document(_: Request) -> Response:
        return JSONResponse(document)

    return serve_document


def build_app(settings: Settings) -> Starlette:
    routes = [
        Route("/healthz", health),
        Route("/v1/{rest:path}", EveryMethod(invoke_handler)),
        Route("/openapi.json", openapi_endpoint(settings.gateway_url)),
        Mount("/reports", app=reports_app(settings)),
        *site_routes(settings),
    ]
    app = Starlette(routes=routes)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst)
    shared = runtime()
    app.state.producer = CoalescingProducer(shared.client, shared.settings.stream_name)
    return app


def serve(settings: Settings | None = None) -> None:
    settings = settings or load_settings()
    app = build_app(settings)
    # What starting built (botocore's service models, the user-agent parser's patterns) lives
    # as long as the process: frozen, the garbage collector no longer scans it every time the
    # requests' short-lived objects trigger a full collection.
    gc.freeze()
    uvicorn.run(app, host=settings.gateway_host, port=settings.gateway_port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    serve()
