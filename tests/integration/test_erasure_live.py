"""An erasure on the running stack: while the stream job writes bronze, while OPTIMIZE
compacts it, and twice at once for the same person. Nothing of anyone else is lost or
doubled, nothing of the person is left in any version, and the person's events sent after
the erasure that were already in the stream are dropped by the job and counted.

Everything is real: kinesalite, the gateway, the Spark job, delta-rs commits.
"""

from __future__ import annotations

import threading
import uuid

import orjson
import pytest

from streaming.ingest.enrich import enrich, request_fields
from streaming.kinesis import kinesis_client, put_events
from streaming.lake import tables
from streaming.lake.delta import bronze_target
from streaming.lake.erasure import Subject, forget
from streaming.lake.read import read_columns
from streaming.local.stack import LocalStack
from streaming.stream.status import read_status
from streaming.tools.common import wait_until
from streaming.tools.faults.verify import bronze_counts, wait_for_bronze
from streaming.tools.traffic import USER_AGENTS, Flush, send
from tests.conftest import isolated_settings

pytestmark = pytest.mark.slow

PERSON, LOGIN = "person-anon", "person-user"
OTHERS = [f"visitor-{n}" for n in range(12)]


# A fixed instant in the past: the gateway refuses only times ahead of its clock, so the
# events are the same at any hour (no day boundary between two of them).
EVENT_TIME = "2026-11-25T10:00:00.000Z"


def events(visitor: str, count: int, user_id: str | None = None) -> list[dict]:
    return [{"event_id": str(uuid.uuid4()), "event_type": "page_view", "event_time": EVENT_TIME,
             "anonymous_id": visitor, "session_id": f"{visitor}-s", "schema_version": 1,
             "page_url": f"https://shop.example.com/{n}", **({"user_id": user_id} if user_id else {})}
            for n in range(count)]


def post(settings, per_visitor: dict[str, list[dict]]) -> dict[str, set[str]]:
    """One tracker request per visitor; the acknowledged ids, by visitor."""
    flushes = [Flush(USER_AGENTS[0], batch) for batch in per_visitor.values()]
    result = send(f"{settings.gateway_url}/v1/events", iter(flushes), concurrency=4)
    acknowledged = set(result.accepted_ids)
    return {visitor: {e["event_id"] for e in batch} & acknowledged
            for visitor, batch in per_visitor.items()}


def traffic(settings, person_events: int) -> dict[str, list[dict]]:
    return {PERSON: events(PERSON, person_events, LOGIN),
            **{visitor: events(visitor, 10) for visitor in OTHERS}}


def test_forget_while_the_stream_writes_optimize_runs_and_a_second_request_races(tmp_path):
    settings = isolated_settings(tmp_path)
    stack = LocalStack(settings)
    try:
        stack.start(progress=lambda _: None)
        before = post(settings, traffic(settings, 20))
        assert wait_for_bronze(settings, set().union(*before.values()), timeout=180)
        others, person = set(), set(before[PERSON])
        for visitor in OTHERS:
            others |= before[visitor]
        stop = threading.Event()

        def keep_sending() -> None:
            while not stop.is_set():
                sent = post(settings, traffic(settings, 5))
                person.update(sent[PERSON])
                others.update(*(sent[visitor] for visitor in OTHERS))

        outcomes, failures = [], []

        def erase() -> None:
            try:
                outcomes.append(forget(settings, Subject(anonymous_id=PERSON), "dpo",
                                       rebuild_gold=lambda days: {}))
            except Exception as exc:
                failures.append(exc)

        workers = [threading.Thread(target=keep_sending), threading.Thread(target=erase),
                   threading.Thread(target=erase),
                   threading.Thread(target=lambda: bronze_target(settings).optimize("anonymous_id"))]
        for worker in workers:
            worker.start()
        for worker in workers[1:]:
            worker.join(timeout=600)
        stop.set()
        workers[0].join(timeout=60)
        assert failures == [] and len(outcomes) == 2 and all(o.verified for o in outcomes)
        assert len(person) > len(before[PERSON]), "no traffic flowed during the erasure"

        # The person's events already in the stream (Kinesis keeps them a day): written as the
        # handler wrote them before the erasure; the job must drop them. (The gateway drops
        # later ones itself: tests/integration/test_handler.py.)
        stale = events(PERSON, 7, LOGIN)
        assert put_events(kinesis_client(settings), settings.stream_name, [
            (PERSON, orjson.dumps(enrich(e, request_fields(
                received_at=e["event_time"], ingest_id="before-the-erasure", source_ip=None,
                user_agent=USER_AGENTS[0], salt=settings.ip_hash_salt), settings.ip_hash_salt)))
            for e in stale]).failed == 0
        person |= {e["event_id"] for e in stale}
        after = post(settings, {visitor: events(visitor, 10) for visitor in OTHERS})
        others |= set().union(*after.values())
        assert wait_for_bronze(settings, others, timeout=180)
        assert wait_until(lambda: read_status(settings).get("suppressed_events", 0) >= 7, 60, 1)
        counts = bronze_counts(settings)
        assert {i: counts[i] for i in others} == dict.fromkeys(others, 1)
        assert not person & counts.keys()
        assert PERSON not in set(read_columns(tables.BRONZE.uri(settings),
                                              ["anonymous_id"])["anonymous_id"].to_pylist())
    finally:
        stack.stop()
