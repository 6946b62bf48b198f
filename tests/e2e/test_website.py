"""The demo shop in headless Chromium, through the real embedded pipeline into bronze.

A shopper gives consent, signs in and buys a mug; goes offline and keeps shopping; closes
a tab offline with events still queued and comes back; closes a tab online before the
next batch was due (the keepalive request on pagehide) and comes back. The test reads
what the browser actually sent off the wire, then asserts that bronze holds exactly those
events, once each, with the types, order, ids and identities the tracker gave them: the
tracker, the gateway, the handler, Kinesis and the Spark job all run for real.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    Response,
    expect,
    sync_playwright,
)

from streaming.lake import tables
from streaming.settings import DEV_WRITE_KEY

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CLICKSTREAM_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BRONZE_TIMEOUT = 90.0
WIRE_TIMEOUT = 20.0
FLUSH_INTERVAL_MS = 1000

# What the shopper does below, event by event, in the order the tracker records it.
PURCHASE = [
    "page_view",      # landing page, held until consent
    "click",          # Sign in
    "page_view",      # #/login
    "click",          # the Sign in button
    "custom:login",
    "page_view",      # back to #/
    "click",          # the Trail Mug card
    "page_view",      # #/product/trail-mug
    "click",          # Add to cart
    "add_to_cart",
    "click",          # Cart
    "page_view",      # #/cart
    "click",          # Checkout
    "checkout",
    "page_view",      # #/checkout
    "click",          # Place order
    "purchase",
    "page_view",      # #/order/<id>
]
OFFLINE = ["click", "page_view", "click", "add_to_cart"]  # continue shopping, add a tote
CLOSED_OFFLINE = ["click", "page_view"]  # Cart, then the tab is closed while offline
REVISIT = ["page_view"]                  # a new tab on the shop sends what was left
CLOSED_ONLINE = ["click", "page_view"]   # Cart, then the tab is closed at once, online
LAST_VISIT = ["page_view"]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


class Wire:
    """Every POST the browser made to the events API and the answers it got, in order."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.attempts = 0
        self.answers: list[tuple[int, list[dict]]] = []

    def on_request(self, request: Request) -> None:
        if request.method == "POST" and request.url == self.api_url:
            self.attempts += 1

    def on_response(self, response: Response) -> None:
        request = response.request
        if request.method == "POST" and request.url == self.api_url:
            self.answers.append((response.status, json.loads(request.post_data)["events"]))

    def delivered(self) -> list[dict]:
        """Events the API accepted, once each, in the order they were first sent."""
        seen: dict[str, dict] = {}
        for status, events in self.answers:
            if status == 200:
                for event in events:
                    seen.setdefault(event["event_id"], event)
        return list(seen.values())


def wait_until(page: Page, check: Callable[[], bool], what: str, timeout: float) -> None:
    """Polls through the page so playwright keeps delivering network events meanwhile."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        page.wait_for_timeout(100)


def queued(page: Page, field: str) -> list[str]:
    """One field of each event in the tracker's storage queue, oldest first."""
    return page.evaluate(
        "field => JSON.parse(localStorage.getItem('clickstream.queue') || '[]').map(e => e[field])",
        field)


def bronze_rows(uri: str, anonymous_id: str, expected: set[str]) -> dict[str, dict]:
    """This visitor's bronze rows by event_id, once every expected id has arrived."""
    deadline = time.monotonic() + BRONZE_TIMEOUT
    columns = ["event_id", "event_type", "event_time", "anonymous_id", "session_id", "user_id",
               "page_url", "page_path", "referrer", "element", "properties", "received_at"]
    while True:
        try:
            table = DeltaTable(uri).to_pyarrow_dataset().to_table(columns=columns)
            rows = [{**r, "properties": dict(r["properties"] or [])}
                    for r in table.to_pylist() if r["anonymous_id"] == anonymous_id]
        except TableNotFoundError:
            rows = []
        if expected <= {r["event_id"] for r in rows}:
            ids = [r["event_id"] for r in rows]
            assert len(ids) == len(set(ids)), "an event landed in bronze more than once"
            return {r["event_id"]: r for r in rows}
        if time.monotonic() > deadline:
            missing = expected - {r["event_id"] for r in rows}
            raise AssertionError(f"{len(missing)} events not in bronze after {BRONZE_TIMEOUT}s")
        time.sleep(1)


@pytest.fixture(scope="module")
def browser() -> Browser:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` "
                    "(./clickstream installs it) or set CLICKSTREAM_CHROMIUM")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=LAUNCH_ARGS)
        yield launched
        launched.close()


def shop_tab(context: BrowserContext, url: str, errors: list[str]) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page


def test_purchase_offline_and_reload_land_in_bronze_exactly(stack, browser, screenshots) -> None:
    shop_url = f"{stack.settings.gateway_url}/"
    wire = Wire(f"{stack.settings.gateway_url}/v1/events?writeKey={DEV_WRITE_KEY}")
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.on("request", wire.on_request)
    context.on("response", wire.on_response)
    errors: list[str] = []
    page = shop_tab(context, shop_url, errors)

    # Consent is asked for, and until it is given nothing is sent or stored.
    expect(page.locator("#consent")).to_be_visible()
    page.wait_for_timeout(FLUSH_INTERVAL_MS * 2)
    assert wire.attempts == 0
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('clickstream.'))") == []
    page.click("#consent-accept")

    # The purchase.
    page.click("#nav-login")
    page.fill("#username", "ada")
    page.click("#sign-in")
    page.click('.card-link[data-track-product-id="trail-mug"]')
    page.click(".product-info button[data-action=add]")
    page.click("#nav-cart")
    page.click("#checkout")
    page.click("#place-order")
    order_id = page.text_content("#order-id")
    wait_until(page, lambda: len(wire.delivered()) == len(PURCHASE), "the purchase events",
               WIRE_TIMEOUT)

    # Offline: events wait in the queue, no request is even tried; online again, they go.
    context.set_offline(True)
    page.click("#continue-shopping")
    page.click('.card button[data-product="canvas-tote"]')
    wait_until(page, lambda: queued(page, "event_type") == OFFLINE, "the offline events", 5)
    expect(page.locator(".pill")).to_have_text("offline")
    attempts_before = wire.attempts
    page.wait_for_timeout(FLUSH_INTERVAL_MS * 2)
    assert wire.attempts == attempts_before
    context.set_offline(False)
    wait_until(page, lambda: len(wire.delivered()) == len(PURCHASE + OFFLINE),
               "the offline events after reconnecting", WIRE_TIMEOUT)
    expect(page.locator(".pill")).to_have_text("online")
    expect(page.locator(".panel-meta")).to_have_attribute("data-queued", "0")
    expect(page.locator("#toast")).to_be_hidden()
    page.screenshot(path=str(screenshots / "demo-shop.png"))

    # Offline again and the tab is closed with events queued: the next visit sends them.
    context.set_offline(True)
    page.click("#nav-cart")
    wait_until(page, lambda: queued(page, "event_type") == CLOSED_OFFLINE,
               "the closed tab's events", 5)
    page.close()
    context.set_offline(False)
    page = shop_tab(context, shop_url, errors)
    wait_until(page, lambda: len(wire.delivered()) == len(PURCHASE + OFFLINE + CLOSED_OFFLINE
                                                          + REVISIT),
               "the closed tab's events from the next visit", WIRE_TIMEOUT)

    # Closed online before the flush interval: the pagehide keepalive request delivers the
    # events (bronze has them before any other visit); the next visit never saw that answer,
    # so it sends them again, and the pipeline keeps one copy.
    attempts_before = wire.attempts
    page.click("#nav-cart")
    wait_until(page, lambda: queued(page, "event_type") == CLOSED_ONLINE,
               "the events of the tab closed online", 5)
    hidden_ids = set(queued(page, "event_id"))
    anonymous_id = page.evaluate("localStorage.getItem('clickstream.anonymous_id')")
    assert wire.attempts == attempts_before, "the batch left before the tab was closed"
    page.close()
    bronze_rows(tables.BRONZE.uri(stack.settings), anonymous_id, hidden_ids)
    page = shop_tab(context, shop_url, errors)
    expected_types = PURCHASE + OFFLINE + CLOSED_OFFLINE + REVISIT + CLOSED_ONLINE + LAST_VISIT
    wait_until(page, lambda: len(wire.delivered()) == len(expected_types),
               "the last visit's events", WIRE_TIMEOUT)
    context.close()

    assert errors == []
    assert {status for status, _ in wire.answers} == {200}
    sent = wire.delivered()
    assert [event["event_type"] for event in sent] == expected_types
    ids = [event["event_id"] for event in sent]
    assert {event["anonymous_id"] for event in sent} == {anonymous_id}

    rows = bronze_rows(tables.BRONZE.uri(stack.settings), anonymous_id, set(ids))
    assert sorted(rows) == sorted(ids), "bronze holds exactly the events the browser sent"
    ordered = [rows[event_id] for event_id in ids]
    assert [row["event_type"] for row in ordered] == expected_types
    for event, row in zip(sent, ordered, strict=True):
        assert row["event_time"] == datetime.fromisoformat(event["event_time"])
        assert row["session_id"] == event["session_id"]
    times = [row["event_time"] for row in ordered]
    assert times == sorted(times), "event times follow the order the shopper acted in"
    assert len({row["session_id"] for row in ordered}) == 1
    assert [row["user_id"] for row in ordered] == [None] * 4 + ["ada"] * (len(ids) - 4)

    views = [row for row in ordered if row["event_type"] == "page_view"]
    hashes = [row["page_url"].removeprefix(shop_url) for row in views]
    assert hashes == ["", "#/login", "#/", "#/product/trail-mug", "#/cart", "#/checkout",
                      f"#/order/{order_id}", "#/", "#/cart", "", "#/cart", ""]
    assert {row["page_path"] for row in views} == {"/"}
    assert views[1]["referrer"] == shop_url
    assert views[3]["properties"]["title"] == "Trail Mug · Trailhead Supply"

    add = next(row for row in ordered if row["event_type"] == "add_to_cart")
    assert add["properties"]["product_id"] == "trail-mug"
    assert float(add["properties"]["price"]) == 14.0
    click = ordered[ids.index(add["event_id"]) - 1]
    assert click["element"]["selector"] == 'button[data-track="add-to-cart"]'
    assert click["element"]["text"] == "Add to cart"
    assert click["properties"] == {"name": "add-to-cart", "product_id": "trail-mug"}
    purchase = next(row for row in ordered if row["event_type"] == "purchase")
    assert purchase["properties"]["order_id"] == order_id
    assert float(purchase["properties"]["value"]) == 14.0
    assert purchase["properties"]["products"] == "trail-mug"
    assert ordered[len(PURCHASE) + 3]["properties"]["product_id"] == "canvas-tote"
