"""Synthetic but realistic shop traffic, sent over HTTP the way trackers send it.

Visitors browse in sessions (landing page, product pages, clicks, sometimes a cart, a
checkout and a purchase), each tracker flush carries one visitor's next 10-100 events, and a
small share of events is broken in the ways real clients break them. The sender keeps every
event_id the gateway accepted, so the pipeline can be checked against exactly that set.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
import urllib3

from streaming.contract import rfc3339
from streaming.ingest.auth import basic_authorization
from streaming.settings import DEV_WRITE_KEY

SITE = "https://shop.example.com"
PRODUCTS = [f"/product/{slug}" for slug in (
    "trail-runner", "city-sneaker", "rain-jacket", "wool-socks", "day-pack", "water-bottle",
    "running-cap", "fleece", "hiking-boot", "yoga-mat", "headlamp", "thermal-tee")]
LANDINGS = ["/", "/", "/", "/category/shoes", "/category/outdoor", "/sale"]
REFERRERS = [None, None, "https://www.google.com/", "https://www.bing.com/",
             "https://news.example.org/article", "https://social.example.net/feed"]
CAMPAIGNS = [None, None, None, ("newsletter", "email", "black_friday"),
             ("google", "cpc", "shoes_q4"), ("social", "paid", "retarget")]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
BAD_KINDS = ("missing_anonymous_id", "unknown_event_type", "future_event_time",
             "relative_page_url", "nested_property", "not_a_uuid")


@dataclass
class Visitor:
    anonymous_id: str
    user_agent: str
    user_id: str | None = None
    session_id: str = ""
    page: str = "/"


def _session_events(visitor: Visitor, rng: random.Random) -> Iterator[dict]:
    """One visit: page views and clicks, with the shop funnel's drop-offs along the way."""
    visitor.session_id = str(uuid.uuid4())
    campaign = rng.choice(CAMPAIGNS)
    referrer = rng.choice(REFERRERS)
    landing = rng.choice(LANDINGS)
    query = f"?utm_source={campaign[0]}&utm_medium={campaign[1]}&utm_campaign={campaign[2]}" \
        if campaign else ""

    def event(event_type: str, path: str, **extra) -> dict:
        base = {"event_id": str(uuid.uuid4()), "event_type": event_type,
                "event_time": rfc3339(datetime.now(UTC) - timedelta(milliseconds=rng.randint(0, 900)),
                                      "milliseconds"),
                "anonymous_id": visitor.anonymous_id, "session_id": visitor.session_id,
                "page_url": f"{SITE}{path}", "schema_version": 1}
        if visitor.user_id:
            base["user_id"] = visitor.user_id
        base.update(extra)
        return base

    yield event("page_view", landing + query, **({"referrer": referrer} if referrer else {}))
    cart = 0.0
    for _ in range(rng.randint(1, 6)):
        product = rng.choice(PRODUCTS)
        yield event("click", landing, element={"id": "product-link", "text": product[9:],
                                               "selector": f"a[href='{product}']"})
        yield event("page_view", product, referrer=f"{SITE}{landing}")
        if rng.random() < 0.3:
            price = round(rng.uniform(9, 180), 2)
            cart += price
            yield event("add_to_cart", product, properties={"sku": product[9:], "price": price,
                                                            "quantity": 1})
    if cart and rng.random() < 0.5:
        yield event("checkout", "/checkout", properties={"cart_value": round(cart, 2)})
        if rng.random() < 0.6:
            visitor.user_id = visitor.user_id or f"user-{rng.randint(1, 10**6)}"
            yield event("purchase", "/checkout/done",
                        properties={"order_id": str(uuid.uuid4())[:8], "revenue": round(cart, 2),
                                    "currency": "EUR"})


def break_event(event: dict, kind: str) -> dict:
    """The ways real clients send broken events; each must come back rejected with a reason."""
    bad = dict(event)
    if kind == "missing_anonymous_id":
        bad.pop("anonymous_id")
    elif kind == "unknown_event_type":
        bad["event_type"] = "pageview"
    elif kind == "future_event_time":
        bad["event_time"] = rfc3339(datetime.now(UTC) + timedelta(hours=2), "milliseconds")
    elif kind == "relative_page_url":
        bad["page_url"] = "/relative/path"
    elif kind == "nested_property":
        bad["properties"] = {"cart": {"items": 3}}
    elif kind == "not_a_uuid":
        bad["event_id"] = "12345"
    return bad


@dataclass(frozen=True)
class Flush:
    """One tracker request: a visitor's browser and its queued events."""

    user_agent: str
    events: list[dict]


def flushes(total: int, visitors: int, bad_share: float, seed: int = 7) -> Iterator[Flush]:
    """Tracker flushes (one visitor's next 10-100 events) adding up to exactly `total` events."""
    rng = random.Random(seed)
    crowd = [Visitor(str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(USER_AGENTS))
             for _ in range(visitors)]
    sessions: dict[int, Iterator[dict]] = {}
    sent = 0
    while sent < total:
        who = rng.randrange(visitors)
        size = min(rng.randint(10, 100), total - sent)
        batch: list[dict] = []
        while len(batch) < size:
            try:
                event = next(sessions[who])
            except (KeyError, StopIteration):
                sessions[who] = _session_events(crowd[who], rng)
                continue
            if rng.random() < bad_share:
                event = break_event(event, rng.choice(BAD_KINDS))
            batch.append(event)
        sent += len(batch)
        yield Flush(crowd[who].user_agent, batch)


@dataclass
class SendResult:
    """What the gateway said, summed over the run."""

    sent: int = 0
    accepted_ids: list[str] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    http_latencies_ms: list[float] = field(default_factory=list)
    retries: int = 0
    failed_requests: int = 0
    started: float = 0.0
    finished: float = 0.0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def absorb(self, posted: SendResult) -> None:
        """Adds one flush's outcome (`post_flush`) to the run's totals."""
        self.sent += posted.sent
        self.accepted_ids += posted.accepted_ids
        self.rejected.update(posted.rejected)
        self.statuses.update(posted.statuses)
        self.http_latencies_ms += posted.http_latencies_ms
        self.retries += posted.retries
        self.failed_requests += posted.failed_requests


def connection_pool(url: str, connections: int) -> urllib3.HTTPConnectionPool:
    """Keep-alive connections to `url`'s host, for `post_flush` from as many threads.

    urllib3 from threads, not an asyncio client: httpx's AsyncClient cost 1.4 ms of CPU a
    request here, urllib3 0.4 ms, and a load generator on the machine it measures takes its
    CPU from the system under test (docs/benchmarks.md).
    """
    return urllib3.connection_from_url(url, maxsize=connections, block=True,
                                       timeout=urllib3.Timeout(30))


def post_flush(pool: urllib3.HTTPConnectionPool, url: str, flush: Flush, attempts: int = 6,
               write_key: str = DEV_WRITE_KEY) -> SendResult:
    """Posts one flush; on 429/5xx/network errors resends the same events (same ids).

    Returns this flush's outcome, for the caller to `absorb` (calls run on several threads).
    """
    result = SendResult(sent=len(flush.events))
    batch, target = flush.events, urllib3.util.parse_url(url).request_uri
    body = orjson.dumps({"events": batch})
    headers = {"content-type": "application/json", "user-agent": flush.user_agent,
               "authorization": basic_authorization(write_key)}
    for attempt in range(attempts):
        if attempt:
            result.retries += 1
            time.sleep(min(2.0, 0.1 * 2 ** attempt) * random.uniform(0.5, 1.0))
        started = time.perf_counter()
        try:
            response = pool.urlopen("POST", target, body=body, headers=headers, retries=False)
        except urllib3.exceptions.HTTPError:
            continue
        result.http_latencies_ms.append((time.perf_counter() - started) * 1000)
        result.statuses[response.status] += 1
        if response.status == 429 or response.status >= 500:
            continue
        answer = orjson.loads(response.data) if response.data else {}
        rejected = {item["index"]: item for item in answer.get("rejected_events", [])}
        if response.status >= 400 and not rejected:
            result.rejected[f"request:{answer.get('error', response.status)}"] += len(batch)
            return result
        for index, event in enumerate(batch):
            if index in rejected:
                for error in rejected[index]["errors"][:1]:
                    result.rejected[f"{error['field']}:{error['rule']}"] += 1
            else:
                result.accepted_ids.append(event["event_id"])
        return result
    result.failed_requests += 1
    return result


def send(url: str, batches: Iterable[Flush], concurrency: int = 8,
         progress: Callable[[SendResult], None] | None = None,
         progress_every: float = 2.0, write_key: str = DEV_WRITE_KEY) -> SendResult:
    """Sends every flush with `concurrency` requests in flight; calls `progress` periodically.

    The key defaults to the embedded stack's development key, which the demo stack accepts.
    """
    result = SendResult(started=time.time())
    pool = connection_pool(url, concurrency)
    in_flight: set[Future[SendResult]] = set()
    reported = time.monotonic()

    def settle(until: str) -> None:
        nonlocal in_flight, reported
        done, in_flight = wait(in_flight, timeout=progress_every, return_when=until)
        for posted in done:
            result.absorb(posted.result())
        if progress and time.monotonic() - reported >= progress_every:
            progress(result)
            reported = time.monotonic()

    with ThreadPoolExecutor(concurrency, thread_name_prefix="post") as posters:
        for flush in batches:
            while len(in_flight) >= 2 * concurrency:
                settle(FIRST_COMPLETED)
            in_flight.add(posters.submit(post_flush, pool, url, flush, write_key=write_key))
        while in_flight:
            settle(ALL_COMPLETED)
    pool.close()
    result.finished = time.time()
    return result
