"""The fault run's client, in its own process: shop traffic posted the way tracker.js posts it.

Each flush is resent until the gateway answers it for good, as the tracker does: the same
events with the same event_ids after a network error (the gateway may have died with the
request half done), a 429 or a 5xx; after a 503 that lists `retry_events`, only those
(the others were written and count as acknowledged). Waits follow the tracker's
equal-jitter backoff and honour Retry-After; the steps are shorter than the browser's
(base 0.5 s, cap 8 s instead of 1 s and 60 s) so a run is not mostly waiting. Unlike the
tracker, nothing is dropped after N failures: a flush is given up only after
`give_up_after` seconds, and the run counts that as a failure.

The pace is a target rate with a bound on requests in flight; when the gateway is away,
the schedule falls behind and catches up at the bound. With `--gate FILE`, the client sends
no further than the number of events written in FILE, so the harness can keep load flowing
across a slow fault and have the next one find traffic.

Output under `--out`: `acknowledged.ids` (every event the gateway acknowledged, one id a
line), `rejected.tsv` (event_id and first reason of every rejected event), `summary.json`,
and while running `progress.json` (sent and acknowledged so far).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from streaming.ingest.auth import basic_authorization
from streaming.settings import DEV_WRITE_KEY
from streaming.tools.traffic import Flush, flushes

BASE_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 30.0


@dataclass
class Ledger:
    """What the gateway said about every event, and how hard it was to get an answer."""

    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)
    rejected: list[tuple[str | None, str]] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    network_errors: int = 0
    resent_requests: int = 0
    retry_lists: int = 0
    acknowledged_in_503: int = 0
    longest_delivery_s: float = 0.0


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """tracker.js's equal jitter: half the doubled step fixed, half random (attempt from 1)."""
    step = min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** max(0, attempt - 1))
    return step / 2 + rng.random() * step / 2


def retry_after_seconds(response: httpx.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(response.headers.get("retry-after", "0"))))
    except ValueError:
        return 0.0


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _first_reason(item: dict) -> str:
    errors = item.get("errors") or [{}]
    return f"{errors[0].get('field', '?')}:{errors[0].get('rule', '?')}"


async def deliver(client: httpx.AsyncClient, url: str, flush: Flush, ledger: Ledger,
                  rng: random.Random, give_up_after: float,
                  write_key: str = DEV_WRITE_KEY) -> None:
    """Posts one flush until every event in it is acknowledged or rejected."""
    pending = list(flush.events)
    headers = {"content-type": "application/json", "user-agent": flush.user_agent,
               "authorization": basic_authorization(write_key)}
    started = time.monotonic()
    attempt = 0
    while pending:
        if attempt:
            ledger.resent_requests += 1
        try:
            response = await client.post(url, content=orjson.dumps({"events": pending}),
                                         headers=headers)
        except httpx.HTTPError:
            ledger.network_errors += 1
            wait = 0.0
        else:
            ledger.statuses[response.status_code] += 1
            body = _json(response)
            rejected = {item["index"]: item for item in body.get("rejected_events", [])}
            for index, item in sorted(rejected.items()):
                ledger.rejected.append((pending[index].get("event_id"), _first_reason(item)))
            retry = response.status_code == 429 or response.status_code >= 500
            if not retry:
                if response.status_code >= 400 and not rejected:
                    reason = f"request:{body.get('error', response.status_code)}"
                    ledger.rejected.extend((e.get("event_id"), reason) for e in pending)
                else:
                    ledger.acknowledged.extend(e["event_id"] for i, e in enumerate(pending)
                                               if i not in rejected)
                break
            pending = [e for i, e in enumerate(pending) if i not in rejected]
            listed = body.get("retry_events")
            if isinstance(listed, list):
                ledger.retry_lists += 1
                again = {item.get("event_id") for item in listed}
                written = [e["event_id"] for e in pending if e["event_id"] not in again]
                ledger.acknowledged.extend(written)
                ledger.acknowledged_in_503 += len(written)
                pending = [e for e in pending if e["event_id"] in again]
            wait = retry_after_seconds(response)
        if time.monotonic() - started > give_up_after:
            ledger.abandoned.extend(e.get("event_id") for e in pending)
            break
        attempt += 1
        await asyncio.sleep(max(wait, backoff_delay(attempt, rng)))
    ledger.longest_delivery_s = max(ledger.longest_delivery_s, time.monotonic() - started)


def _write_progress(out: Path, ledger: Ledger, total: int, in_flight: int) -> None:
    tmp = out / "progress.tmp"
    tmp.write_text(json.dumps({
        "total": total, "sent": ledger.sent, "in_flight": in_flight,
        "acknowledged": len(ledger.acknowledged), "rejected": len(ledger.rejected),
        "http_statuses": {str(k): v for k, v in sorted(ledger.statuses.items())},
        "network_errors": ledger.network_errors, "resent_requests": ledger.resent_requests,
        "at": time.time()}))
    tmp.replace(out / "progress.json")


def _allowed(gate: Path | None, events: int) -> int:
    if gate is None:
        return events
    try:
        return int(gate.read_text())
    except (FileNotFoundError, ValueError):
        return 0


async def run_load(url: str, events: int, rate: float, concurrency: int, visitors: int,
                   bad_share: float, seed: int, give_up_after: float, out: Path,
                   gate: Path | None = None) -> Ledger:
    """Sends `events` events at `rate`/s with at most `concurrency` flushes in flight."""
    ledger = Ledger()
    rng = random.Random(seed)
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task] = set()

    async def one(flush: Flush) -> None:
        try:
            await deliver(client, url, flush, ledger, rng, give_up_after)
        finally:
            slots.release()

    async def report() -> None:
        while True:
            _write_progress(out, ledger, events, len(tasks))
            await asyncio.sleep(0.5)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, connect=5), limits=limits) as client:
        reporter = asyncio.create_task(report())
        start = time.monotonic()
        scheduled = 0
        for flush in flushes(events, visitors, bad_share, seed):
            while scheduled >= _allowed(gate, events):
                await asyncio.sleep(0.2)
                start = time.monotonic() - scheduled / rate
            delay = start + scheduled / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(one(flush))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            scheduled += len(flush.events)
            ledger.sent = scheduled
        await asyncio.gather(*tasks)
        reporter.cancel()
    _write_progress(out, ledger, events, 0)
    return ledger


def write_ledger(ledger: Ledger, out: Path, started: float) -> dict:
    (out / "acknowledged.ids").write_text("".join(f"{i}\n" for i in ledger.acknowledged))
    (out / "rejected.tsv").write_text("".join(f"{i or ''}\t{r}\n" for i, r in ledger.rejected))
    summary = {
        "sent": ledger.sent, "acknowledged": len(ledger.acknowledged),
        "rejected": len(ledger.rejected), "abandoned": len(ledger.abandoned),
        "rejected_by_reason": dict(Counter(r for _, r in ledger.rejected).most_common()),
        "http_statuses": {str(k): v for k, v in sorted(ledger.statuses.items())},
        "network_errors": ledger.network_errors, "resent_requests": ledger.resent_requests,
        "answers_with_retry_events": ledger.retry_lists,
        "acknowledged_in_503_answers": ledger.acknowledged_in_503,
        "longest_delivery_s": round(ledger.longest_delivery_s, 1),
        "seconds": round(time.time() - started, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="events per second")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--bad-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--give-up-after", type=float, default=900.0,
                        help="seconds one flush may take to deliver before it is abandoned")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gate", type=Path, help="file holding how many events may be sent")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    ledger = asyncio.run(run_load(args.url, args.events, args.rate, args.concurrency,
                                  args.visitors, args.bad_share, args.seed, args.give_up_after,
                                  args.out, args.gate))
    print(json.dumps(write_ledger(ledger, args.out, started)), flush=True)
    return 1 if ledger.abandoned else 0


if __name__ == "__main__":
    sys.exit(main())
