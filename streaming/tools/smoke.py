"""`clickstream smoke`: after every deploy, prove the deployed path end to end.

A deploy can succeed in Terraform's eyes and still leave a pipeline that loses every event (a
wrong stream name, a job that cannot start, a key the handler cannot read). So the release
workflow posts a few events carrying a marker no other event has to the deployed API and waits
until the SQL resource (Athena on AWS, DuckDB over the Delta tables embedded) finds every one of
them in `bronze_events`; anything less within the timeout fails the deployment. The same
command runs against the embedded stack, which is how it is tested.

The events are `custom:smoke_test` events of their own session and visitor (`smoke-<uuid>`),
so they never count as page views, carts or purchases in silver and gold.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from streaming.ingest.auth import basic_authorization
from streaming.lakesql.engine import open_engine
from streaming.lakesql.views import SqlError
from streaming.settings import Settings

EVENT_TYPE = "custom:smoke_test"
EVENTS_PATH = "/v1/events"
MARKER = re.compile(r"smoke-[0-9a-f]{32}")


@dataclass(frozen=True)
class SmokeResult:
    marker: str
    sent: int
    found: int
    seconds: float


def new_marker() -> str:
    """A marker no other event carries; it also names the run in the logs and the failure."""
    return f"smoke-{uuid.uuid4().hex}"


def smoke_events(marker: str, count: int, now: datetime) -> list[dict]:
    """`count` valid events of one visitor and session named after the marker."""
    return [{
        "event_id": str(uuid.uuid4()),
        "event_type": EVENT_TYPE,
        "event_time": (now + timedelta(milliseconds=index)).isoformat(),
        "anonymous_id": marker,
        "session_id": marker,
        "page_url": "https://smoke-test.invalid/",
        "properties": {"smoke_marker": marker, "index": index},
        "schema_version": 1,
    } for index in range(count)]


def post_events(api_url: str, write_key: str, events: list[dict],
                client: httpx.Client) -> None:
    """Posts the events in one request; anything but 200 with all of them accepted fails the
    smoke test at once, with the API's answer (waiting would only hide the cause)."""
    answer = client.post(f"{api_url.rstrip('/')}{EVENTS_PATH}", json={"events": events},
                         headers={"authorization": basic_authorization(write_key)})
    accepted = answer.json().get("accepted") if answer.headers.get(
        "content-type", "").startswith("application/json") else None
    if answer.status_code != 200 or accepted != len(events):
        raise RuntimeError(f"smoke: POST {api_url}{EVENTS_PATH} answered {answer.status_code} "
                           f"(accepted {accepted} of {len(events)}): {answer.text[:500]}")


def count_marker(settings: Settings, marker: str, since: datetime) -> int:
    """Distinct events of the marker in bronze, read through the SQL resource; the date bound
    lets Athena prune bronze's event_date partitions (a smoke test scans one or two days)."""
    if not MARKER.fullmatch(marker):
        raise ValueError(f"not a smoke marker: {marker!r}")
    query = (f"SELECT count(DISTINCT event_id) AS events FROM bronze_events "
             f"WHERE event_date >= DATE '{since.date().isoformat()}' AND session_id = '{marker}'")
    with open_engine(settings) as engine:
        return int(engine.query(query).column("events")[0].as_py() or 0)


def run_smoke(settings: Settings, api_url: str, write_key: str, events: int = 5,
              timeout: float = 600.0, poll_seconds: float = 2.0,
              say: Callable[[str], None] = print) -> SmokeResult:
    """Sends `events` marked events and polls until all are queryable; a TimeoutError naming
    the marker (and the last query error, if any) when they are not there within `timeout`."""
    if events < 1 or timeout <= 0:
        raise ValueError("smoke: --events and --timeout must be positive")
    marker = new_marker()
    started = datetime.now(UTC)
    clock = time.monotonic()
    with httpx.Client(timeout=30) as client:
        post_events(api_url, write_key, smoke_events(marker, events, started), client)
    say(f"smoke: {events} events with marker {marker} accepted by {api_url}; waiting until "
        f"bronze_events has them (at most {timeout:.0f}s)")
    # the day before too: an event sent just before midnight UTC lands in that partition
    since = started - timedelta(days=1)
    found, last_error = 0, ""
    deadline = clock + timeout
    while True:
        try:
            found, last_error = count_marker(settings, marker, since), ""
        except SqlError as exc:  # bronze not created yet, or Athena refused: keep polling
            last_error = str(exc)
        if found >= events:
            seconds = time.monotonic() - clock
            say(f"smoke: all {events} events of {marker} queryable after {seconds:.1f}s")
            return SmokeResult(marker, events, found, seconds)
        if time.monotonic() + poll_seconds > deadline:
            break
        time.sleep(poll_seconds)
    detail = f"; last query error: {last_error}" if last_error else ""
    raise TimeoutError(f"smoke: {found} of {events} events with marker {marker} in "
                       f"bronze_events after {timeout:.0f}s{detail}")
