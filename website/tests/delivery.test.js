/*
 * Delivery: batching thresholds, retries with backoff, what is never retried, the offline
 * queue across reloads, and the keepalive send when the page is hidden. Every request here
 * goes through the real tracker core; the test plays the server and the clock.
 */
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { MemoryStorage } = require("../tracker.js");
const { fakeEnvironment, settle, START } = require("./environment.js");

const ids = (events) => events.map((e) => e.event_id);

test("a full batch leaves at once, in tracking order, as one {events: [...]} body", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 3 });
  const tracked = ["page_view", "click", "add_to_cart"].map((t) => tracker.track(t, { n: 1 }));
  assert.equal(net.requests.length, 1);
  const [request] = net.requests;
  assert.equal(request.url, "https://api.example/v1/events");
  assert.equal(request.keepalive, false);
  assert.deepEqual(ids(request.events), ids(tracked));
  assert.deepEqual(request.events.map((e) => e.event_type), ["page_view", "click", "add_to_cart"]);
  await net.answer(200);
  assert.deepEqual(tracker.queued(), []);
});

test("fewer events leave when the oldest has waited flushIntervalMs", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 20, flushIntervalMs: 1000 });
  tracker.track("click");
  await net.advance(600);
  tracker.track("click");
  await net.advance(399);
  assert.equal(net.requests.length, 0);
  await net.advance(1);
  assert.equal(net.requests.length, 1);
  assert.equal(net.requests[0].events.length, 2);
});

test("events carry the contract fields and a unique event_id each", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 2 });
  tracker.page();
  tracker.track("purchase", { order_id: "ORD-1", value: 42.5, currency: "EUR" });
  const [view, purchase] = net.requests[0].events;
  assert.equal(view.event_type, "page_view");
  assert.equal(view.page_url, "https://shop.example/");
  assert.deepEqual(view.properties, { title: "Demo shop" });
  assert.equal(view.event_time, new Date(START).toISOString());
  assert.equal(view.schema_version, 1);
  assert.equal(purchase.properties.value, 42.5);
  assert.notEqual(view.event_id, purchase.event_id);
  assert.equal(view.anonymous_id, purchase.anonymous_id);
  assert.equal(view.session_id, purchase.session_id);
  assert.equal("user_id" in view, false);
});

test("network errors are retried with growing jittered backoff, with the same event_ids", async () => {
  const net = fakeEnvironment({ random: 0.5 });
  const tracker = net.tracker({ batchSize: 1, baseBackoffMs: 1000 });
  const event = tracker.track("checkout", { value: 10 });
  const waits = [];
  for (const expected of [750, 1500, 3000]) {
    await net.fail();
    assert.equal(tracker.status().retryInMs, expected);
    await net.advance(expected - 1);
    waits.push(net.open().length);
    await net.advance(1);
  }
  assert.deepEqual(waits, [0, 0, 0], "no request before the backoff ran out");
  assert.equal(net.requests.length, 4);
  for (const request of net.requests) assert.deepEqual(ids(request.events), [event.event_id]);
  await net.answer(200);
  assert.deepEqual(tracker.queued(), []);
  assert.equal(tracker.status().retryInMs, 0);
});

test("5xx answers are retried; a 503 resends only the events it lists as retryable", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 3, flushIntervalMs: 100 });
  const [a, b, c] = ["click", "click", "click"].map((t) => tracker.track(t));
  await net.answer(503, {
    accepted: 2, rejected: 0, retryable: 1,
    retry_events: [{ index: 1, event_id: b.event_id, reason: "ProvisionedThroughputExceeded" }],
  });
  assert.deepEqual(ids(tracker.queued()), [b.event_id]);
  await net.advance(tracker.status().retryInMs);
  assert.deepEqual(ids(net.requests[1].events), [b.event_id]);
  await net.answer(502, "Bad Gateway");
  await net.advance(tracker.status().retryInMs);
  assert.deepEqual(ids(net.requests[2].events), [b.event_id]);
  await net.answer(200);
  assert.deepEqual(tracker.queued(), []);
  assert.ok(a && c);
});

test("a 429 waits at least as long as its Retry-After asks", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 1 });
  tracker.track("click");
  await net.answer(429, { error: "throttled" }, "7");
  await net.advance(6999);
  assert.equal(net.requests.length, 1);
  await net.advance(1);
  assert.equal(net.requests.length, 2);
});

for (const status of [400, 404, 413, 415]) {
  test(`a ${status} answer is final: the batch is dropped, reported and never resent`, async () => {
    const net = fakeEnvironment();
    const tracker = net.tracker({ batchSize: 2 });
    const drops = [];
    tracker.on("drop", (detail) => drops.push(detail));
    const events = [tracker.track("click"), tracker.track("click")];
    await net.answer(status, { error: "rule" });
    await net.advance(10 * 60 * 1000);
    assert.equal(net.requests.length, 1);
    assert.deepEqual(tracker.queued(), []);
    assert.deepEqual(drops.map((d) => [d.reason, ids(d.events)]), [[`http_${status}`, ids(events)]]);
  });
}

test("a 207 settles the whole batch: rejected events are final, accepted ones done", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 2 });
  const answers = [];
  tracker.on("answer", (detail) => answers.push(detail));
  const [, bad] = [tracker.track("click"), tracker.track("click")];
  const body = { accepted: 1, rejected: 1, retryable: 0,
    rejected_events: [{ index: 1, event_id: bad.event_id, errors: [{ field: "x", rule: "y" }] }] };
  await net.answer(207, body);
  await net.advance(60000);
  assert.equal(net.requests.length, 1);
  assert.deepEqual(tracker.queued(), []);
  assert.deepEqual(answers.map((a) => [a.status, a.outcome, a.body.rejected]), [[207, "delivered", 1]]);
});

test("a batch the server keeps failing is dropped after maxRetries, unblocking the queue", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 1, maxRetries: 2, maxBackoffMs: 1000 });
  const drops = [];
  tracker.on("drop", (detail) => drops.push(detail));
  const poison = tracker.track("click");
  for (let i = 0; i < 3; i += 1) {
    await net.answer(500, { error: "boom" });
    await net.advance(1000);
  }
  assert.equal(net.requests.length, 3);
  assert.deepEqual(drops.map((d) => [d.reason, ids(d.events)]), [["max_retries", [poison.event_id]]]);
  const next = tracker.track("click");
  assert.deepEqual(ids(net.requests[3].events), [next.event_id]);
});

test("offline, nothing is sent and the queue grows; back online it drains at once", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 2, flushIntervalMs: 1000 });
  tracker.track("click");
  await net.advance(1000);
  await net.fail();
  net.state.online = false;
  const offline = [1, 2, 3, 4].map(() => tracker.track("click"));
  await net.advance(60000);
  assert.equal(net.requests.length, 1);
  assert.equal(tracker.status().queued, 5);
  net.state.online = true;
  tracker.handleOnline();
  assert.equal(net.requests.length, 2, "no backoff left over from before going offline");
  await net.answer(200);
  await net.answer(200);
  await net.answer(200);
  const sent = net.requests.flatMap((r) => ids(r.events));
  assert.deepEqual(sent.slice(1), [sent[0], ...ids(offline)]);
  assert.deepEqual(tracker.queued(), []);
});

test("the offline queue is bounded: the oldest events give way and are reported", async () => {
  const net = fakeEnvironment();
  net.state.online = false;
  const tracker = net.tracker({ maxQueueSize: 5 });
  const drops = [];
  tracker.on("drop", (detail) => drops.push(...ids(detail.events)));
  const events = Array.from({ length: 8 }, () => tracker.track("click"));
  assert.deepEqual(ids(tracker.queued()), ids(events.slice(3)));
  assert.deepEqual(drops, ids(events.slice(0, 3)));
});

test("queued events survive a reload and leave first when the next page starts", async () => {
  const storage = MemoryStorage();
  const before = fakeEnvironment({ storage });
  before.state.online = false;
  const first = before.tracker();
  const queued = [first.track("click"), first.track("add_to_cart", { product_id: "mug" })];

  const after = fakeEnvironment({ storage, start: START + 60000 });
  const second = after.tracker({ batchSize: 20 });
  assert.equal(after.requests.length, 1, "events older than the interval leave at once");
  const view = second.page();
  assert.deepEqual(ids(after.requests[0].events), ids(queued));
  await after.answer(200);
  await after.advance(1000);
  assert.deepEqual(ids(after.requests[1].events), [view.event_id]);
  assert.equal(view.anonymous_id, queued[0].anonymous_id);
});

test("one regular request at a time; events in flight are never put in another request", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 2 });
  const first = [tracker.track("click"), tracker.track("click")];
  const later = [tracker.track("click"), tracker.track("click")];
  assert.equal(net.requests.length, 1);
  await net.advance(5000);
  assert.equal(net.requests.length, 1);
  await net.answer(200);
  assert.deepEqual(ids(net.requests[1].events), ids(later));
  assert.deepEqual(ids(net.requests[0].events), ids(first));
});

test("hiding the page sends the rest with keepalive at once, ignoring backoff", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 2 });
  const first = [tracker.track("click"), tracker.track("click")];
  await net.fail();
  const last = tracker.track("purchase", { value: 5 });
  assert.ok(tracker.status().retryInMs > 0);
  tracker.flushOnHide();
  const hidden = net.requests[1];
  assert.equal(hidden.keepalive, true);
  assert.deepEqual(ids(hidden.events), [...ids(first), last.event_id]);
  tracker.flushOnHide();
  assert.equal(net.requests.length, 2, "events already in flight are not sent twice");
  await net.answer(200);
  assert.deepEqual(tracker.queued(), []);
});

test("a page closed before its keepalive answer resends the same events on the next page", async () => {
  const storage = MemoryStorage();
  const before = fakeEnvironment({ storage });
  const first = before.tracker({ batchSize: 20 });
  const event = first.track("purchase", { value: 5 });
  first.flushOnHide();
  assert.equal(before.requests[0].keepalive, true);

  const after = fakeEnvironment({ storage, start: START + 5000 });
  after.tracker();
  assert.deepEqual(ids(after.requests[0].events), [event.event_id]);
});

test("flush() sends everything now, batch after batch, and resolves when done", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 2, flushIntervalMs: 60000 });
  net.state.online = false;
  const events = [1, 2, 3, 4, 5].map(() => tracker.track("click"));
  net.state.online = true;
  let resolved = false;
  const done = tracker.flush().then(() => { resolved = true; });
  for (let i = 0; i < 3; i += 1) {
    await settle();
    assert.equal(resolved, false);
    await net.answer(200);
  }
  await done;
  assert.deepEqual(net.requests.map((r) => r.events.length), [2, 2, 1]);
  assert.deepEqual(net.requests.flatMap((r) => ids(r.events)), ids(events));
  assert.deepEqual(tracker.queued(), []);
});

test("events over the batch byte limit are refused at once, not queued", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ maxBatchBytes: 2000 });
  const drops = [];
  tracker.on("drop", (detail) => drops.push(detail.reason));
  const event = tracker.track("click", { note: "z".repeat(2000) });
  assert.ok(event);
  assert.deepEqual(drops, ["too_large"]);
  assert.deepEqual(tracker.queued(), []);
});

test("a tracker without an API URL queues but never sends", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ apiUrl: null, batchSize: 1 });
  tracker.track("click");
  await net.advance(60000);
  assert.equal(net.requests.length, 0);
  assert.equal(tracker.status().queued, 1);
});
