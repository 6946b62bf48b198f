"""An S3-compatible server on loopback, for tests and local AWS-mode rehearsals: moto's S3
(`moto[server]`, a dev dependency) served by a single-threaded WSGI server. It answers moto's
other AWS APIs on the same port too (moto dispatches by the service a request is signed for):
the control plane's tests reach Glue's job API here, through boto3's endpoint configuration
(`AWS_ENDPOINT_URL_GLUE`), as a deployment could point at any Glue-compatible endpoint.

Single-threaded because of how the lake commits: delta-rs writes each Delta log entry with a
conditional PutObject (`If-None-Match: *`, create only if absent), and two writers racing for
one version must see exactly one of them win. moto 5.2's S3 honours the header as a check
then a put, which is not atomic across threads; `moto_server` always serves threaded, so it
could let both writers "create" the same log entry. Here one request is handled at a time
(werkzeug's non-threaded server also answers HTTP/1.0 and closes each connection, so no
client can hold it), which makes every check-then-put atomic.

Each request is logged as `"PUT /bucket/key HTTP/1.1" 412 - if-none-match=*`, the condition
appended when the request carried one, so a log shows that conditional puts were made and
how many lost a race (412).

    python -m streaming.local.s3_server --port 9000     # state is in memory, gone when it stops
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def endpoint_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def start_s3_server(port: int, log: Path, timeout: float = 30.0) -> subprocess.Popen:
    """Starts the server on `127.0.0.1:port` in its own session (stop it with
    `streaming.local.stack.stop_process`), logging to `log`; returns once it answers S3 requests."""
    # Imported here, not at the top: the server process itself needs none of the stack's
    # imports (Spark's among them, a second of start-up).
    from streaming.local.stack import port_open, stop_process, wait_for

    if port_open(HOST, port):
        raise RuntimeError(f"port {port} is already in use")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "streaming.local.s3_server", "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for(lambda: s3_ready(port), "S3 server (moto)", timeout, process, log)
    except BaseException:
        stop_process(process)
        raise
    return process


def s3_ready(port: int) -> bool:
    """True once S3 answers: an unsigned GET / is ListBuckets for moto (and loads its S3
    backend, so the first real request does not pay for that)."""
    try:
        return httpx.get(f"{endpoint_url(port)}/", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def serve(port: int) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class RequestHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            condition = self.headers.get("If-None-Match") if self.headers else None
            suffix = f" if-none-match={condition}" if condition else ""
            self.log("info", '"%s" %s %s%s', self.requestline, code, size, suffix)

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(HOST, port, app, threaded=False, processes=1, request_handler=RequestHandler)
    print(f"S3 (moto, single-threaded) on {endpoint_url(port)}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    with contextlib.suppress(KeyboardInterrupt):
        serve(parser.parse_args(argv).port)


if __name__ == "__main__":
    main()
