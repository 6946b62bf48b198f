"""A Kinesis endpoint in front of kinesalite that refuses or throttles writes, on the wire.

kinesalite never throttles and never fails, so the answers a loaded Kinesis gives cannot be
provoked on it. This proxy speaks the same JSON protocol as Kinesis and passes every call
through, except that it can
- throttle: answer PutRecords with AWS's partial failure, `ProvisionedThroughputExceeded`
  for the records `refuse` picks (only the others are forwarded and written), or
- be unavailable: answer every call with HTTP 503 `ServiceUnavailable`,
so the handler (a real gateway process pointed at the proxy) meets them through boto3 exactly
as it would meet AWS's.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

PUT_RECORDS = "Kinesis_20131202.PutRecords"
JSON_TYPE = "application/x-amz-json-1.1"
Refuse = Callable[[bytes], bool]


class KinesisProxy:
    """`with KinesisProxy(upstream, port) as proxy:`; set `refuse` or `unavailable` to fault."""

    def __init__(self, upstream: str, port: int) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = port
        self.refuse: Refuse | None = None
        self.unavailable = False
        self.refused = 0
        self.forwarded = 0
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> KinesisProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _forward(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        return self._client.post(self.upstream + "/", content=body, headers=headers)

    def _put_records(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """Forwards the records `refuse` lets through; the rest fail as throttled."""
        request = json.loads(body)
        records = request["Records"]
        refused = [self.refuse(base64.b64decode(r["Data"])) for r in records] if self.refuse \
            else [False] * len(records)
        passing = [r for r, no in zip(records, refused, strict=True) if not no]
        written = iter([])
        failed = sum(refused)
        if passing:
            response = self._forward(headers, json.dumps({**request, "Records": passing}).encode())
            if response.status_code != 200:
                return response.status_code, response.content
            answer = response.json()
            written = iter(answer["Records"])
            failed += answer.get("FailedRecordCount", 0)
        with self._lock:
            self.refused += sum(refused)
            self.forwarded += len(passing)
        throttled = {"ErrorCode": "ProvisionedThroughputExceededException",
                     "ErrorMessage": "Rate exceeded for shard (injected by the fault proxy)"}
        out = [throttled if no else next(written) for no in refused]
        return 200, json.dumps({"FailedRecordCount": failed, "Records": out}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                """Quiet: the test or harness reports what matters."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                if proxy.unavailable:
                    status, content = 503, json.dumps(
                        {"__type": "ServiceUnavailable", "message": "injected by the fault proxy"}
                    ).encode()
                elif self.headers.get("x-amz-target") == PUT_RECORDS:
                    status, content = proxy._put_records(headers, body)
                else:
                    response = proxy._forward(headers, body)
                    status, content = response.status_code, response.content
                self.send_response(status)
                self.send_header("content-type", JSON_TYPE)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        return Handler
