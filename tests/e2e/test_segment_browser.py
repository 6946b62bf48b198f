"""analytics-next (the npm package's own UMD bundle, unmodified) on the demo shop page in
headless Chromium, through the real gateway and pipeline into bronze.

Nothing comes from a CDN: the bundle is injected from tests/segment_clients/node_modules,
its settings are given inline (`cdnSettings`, so the settings fetch never happens), and any
request for one of its lazy chunks is answered from the same package directory. Every other
request that leaves the machine is aborted and makes the test fail.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from playwright.sync_api import Route

from streaming.ingest.segment import event_id
from streaming.lake import tables
from streaming.settings import DEV_WRITE_KEY
from tests.e2e.test_website import bronze_rows, browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

UMD = Path(__file__).resolve().parent.parent / "segment_clients/node_modules/@segment/analytics-next/dist/umd"
LOAD = """async ([writeKey, apiHost]) => {
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
    { writeKey, cdnSettings: { integrations: { 'Segment.io': { apiKey: writeKey, apiHost,
      protocol: 'http' } } } })
  await analytics.page('Shop', { section: 'home' })
  await analytics.track('Product Added', { product_id: 'trail-mug', price: 18 })
  await analytics.identify('shopper-1', { email: 'jane@example.com' })
  return analytics.user().anonymousId()
}"""


def test_analytics_next_on_the_shop_page_lands_in_bronze(stack, browser):  # noqa: F811
    origin = stack.settings.gateway_url
    api_host = f"{urlsplit(origin).netloc}/v1"
    outside: list[str] = []
    sent: list[tuple[str, dict]] = []
    context = browser.new_context()

    def local_only(route: Route) -> None:
        url = route.request.url
        chunk = UMD / urlsplit(url).path.rsplit("/", 1)[-1]
        if url.startswith(origin):
            route.continue_()
        elif "/analytics-next/bundles/" in url and chunk.is_file():
            route.fulfill(path=str(chunk), content_type="application/javascript")
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", local_only)
    page = context.new_page()
    page.on("request", lambda request: sent.append((urlsplit(request.url).path, orjson.loads(
        request.post_data))) if "/v1/" in request.url and request.method == "POST"
        and not request.url.endswith("/v1/events") else None)
    page.goto(f"{origin}/")
    page.add_script_tag(path=str(UMD / "index.js"))
    anonymous = page.evaluate(LOAD, [DEV_WRITE_KEY, api_host])
    context.close()
    assert outside == []
    assert [path for path, _ in sent] == ["/v1/p", "/v1/t", "/v1/i"]
    assert all(body["writeKey"] == DEV_WRITE_KEY and body["anonymousId"] == anonymous for _, body in sent)
    expected = {event_id(body["messageId"]): body for _, body in sent}
    rows = bronze_rows(tables.BRONZE.uri(stack.settings), anonymous, set(expected))
    assert sorted(rows) == sorted(expected), "bronze holds exactly what analytics-next sent"
    page_view, added, identify = (rows[event_id(body["messageId"])] for _, body in sent)
    assert [page_view["event_type"], added["event_type"], identify["event_type"]] == [
        "page_view", "add_to_cart", "custom:identify"]
    assert page_view["page_url"] == f"{origin}/"
    assert page_view["properties"]["section"] == "home"
    assert added["properties"] == {"product_id": "trail-mug", "price": "18"}
    assert identify["user_id"] == "shopper-1"
    assert identify["properties"]["traits.email"].startswith("hashed-")
