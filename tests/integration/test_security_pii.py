"""A security review's scan of a real run: no raw PII in any stored column, retries stored once.

Shop traffic plus events carrying e-mails, card numbers and IP addresses in URLs,
referrers, properties, element text and ids go over HTTP through the real gateway,
kinesalite and the Spark stream job into Delta; then every string of every row of every
table the run wrote is scanned (tests/pii_scanner.py, independent of the handler's code).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from deltalake import DeltaTable

from streaming.ingest.auth import basic_authorization
from streaming.lake import tables
from streaming.settings import DEV_WRITE_KEY
from streaming.tools.traffic import flushes, send
from tests.pii_scanner import scan_rows

pytestmark = [pytest.mark.slow, pytest.mark.spark]

EMAIL, CARD, AMEX, IPV4, IPV6 = ("ada.lovelace@example.org", "4111 1111 1111 1111",
                                 "378282246310005", "203.0.113.77", "2001:db8:85a3::8a2e:370:7334")


def planted(n: int) -> dict:
    now = datetime.now(UTC).isoformat()
    return {
        "event_id": str(uuid.uuid4()), "event_type": "page_view", "event_time": now,
        "anonymous_id": f"visitor-{n}", "session_id": str(uuid.uuid4()), "user_id": EMAIL,
        "page_url": f"https://shop.example.com/u/{EMAIL}/orders?q={CARD.replace(' ', '+')}"
                    f"&email={EMAIL}&from={IPV4}#/pay/{AMEX}",
        "referrer": f"https://mail.example.net/read?to=ada%40example.org&ip={IPV6}",
        "element": {"id": "pay", "text": f"Card {CARD}, receipt to {EMAIL}",
                    "selector": f"a[href='mailto:{EMAIL}']"},
        "properties": {"note": f"call from {IPV4} or [{IPV6}]", EMAIL: "key", "card": AMEX,
                       "pan": 5555555555554444, "price": 9.5},
    }


def bronze(uri: str, wanted: set[str], timeout: float = 180) -> list[dict]:
    """Every bronze row, once all `wanted` event_ids are there (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = DeltaTable(uri).to_pyarrow_dataset().to_table().to_pylist() if Path(uri).exists() else []
        if wanted <= {row["event_id"] for row in rows} or time.monotonic() > deadline:
            return rows
        time.sleep(1)


def test_no_stored_column_holds_raw_pii_and_a_retried_batch_is_stored_once(stack):
    settings = stack.settings
    url = f"{settings.gateway_url}/v1/events"
    traffic = send(url, flushes(1500, 60, bad_share=0.02, seed=11), concurrency=4)
    batch = {"events": [planted(n) for n in range(20)]}
    assert len(scan_rows(batch["events"])) >= 20 * 10, "the scanner sees what was planted"
    headers = {"authorization": basic_authorization(DEV_WRITE_KEY)}
    answers = [httpx.post(url, json=batch, headers=headers, timeout=30) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    planted_ids = {event["event_id"] for event in batch["events"]}

    rows = bronze(tables.BRONZE.uri(settings), set(traffic.accepted_ids) | planted_ids)
    ours = [row for row in rows if row["event_id"] in planted_ids]
    assert sorted(row["event_id"] for row in ours) == sorted(planted_ids), "each once"
    assert set(traffic.accepted_ids) <= {row["event_id"] for row in rows}
    assert all(row["user_id"].startswith("hashed-") and "redacted-email" in row["page_url"]
               for row in ours)

    stored = rows + (DeltaTable(tables.QUARANTINE.uri(settings)).to_pyarrow_dataset().to_table().to_pylist()
                     if Path(tables.QUARANTINE.uri(settings)).exists() else [])
    findings = scan_rows(stored)
    columns = {column for row in stored for column in row}
    print(f"\nPII scan: {len(stored)} rows, {len(columns)} columns, {len(findings)} findings "
          f"({len(traffic.accepted_ids)} traffic events + {len(planted_ids)} planted, sent twice)")
    assert findings == []
    assert {row["ip_network"] for row in ours} == {"127.0.0.0/24"}
    assert all(len(row["ip_hash"]) == 32 for row in ours)
