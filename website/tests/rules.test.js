/*
 * The tracker's pure rules: backoff, answer classification, batching by count and bytes,
 * the persistent queue and the client-side contract checks.
 */
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const {
  MemoryStorage, PersistentQueue, backoffDelay, retryAfterMs, classifyStatus, takeBatch,
  eventType, checkProperties, uuid4,
} = require("../tracker.js");

const event = (n, extra = {}) => ({ event_id: `id-${n}`, event_type: "click", ...extra });

test("backoff doubles per attempt up to the cap, with half of each step random", () => {
  const low = [1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, 1000, 60000, () => 0));
  const high = [1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, 1000, 60000, () => 1));
  assert.deepEqual(low, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.deepEqual(high, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  assert.equal(backoffDelay(3, 1000, 60000, () => 0.25), 2500);
});

test("Retry-After is read as seconds or an HTTP date, and capped at five minutes", () => {
  const now = Date.parse("2026-03-02T09:00:00Z");
  assert.equal(retryAfterMs("7", now), 7000);
  assert.equal(retryAfterMs("Mon, 02 Mar 2026 09:00:30 GMT", now), 30000);
  assert.equal(retryAfterMs("86400", now), 300000);
  assert.equal(retryAfterMs(null, now), 0);
  assert.equal(retryAfterMs("soon", now), 0);
  assert.equal(retryAfterMs("-5", now), 0);
});

test("only 429 and 5xx answers are retried; 207 counts as delivered", () => {
  assert.deepEqual([200, 207].map(classifyStatus), ["delivered", "delivered"]);
  assert.deepEqual([429, 500, 502, 503, 504].map(classifyStatus), Array(5).fill("retry"));
  assert.deepEqual([400, 401, 403, 404, 413, 415].map(classifyStatus), Array(6).fill("rejected"));
});

test("a batch is the longest head of the queue within the count and byte limits", () => {
  const events = [1, 2, 3, 4, 5].map((n) => event(n, { pad: "x".repeat(100) }));
  assert.deepEqual(takeBatch(events, 3, 60000).map((e) => e.event_id), ["id-1", "id-2", "id-3"]);
  const oneSize = JSON.stringify({ events: [events[0]] }).length;
  const byBytes = takeBatch(events, 10, oneSize * 2);
  assert.equal(byBytes.length, 2);
  assert.ok(JSON.stringify({ events: byBytes }).length <= oneSize * 2);
  assert.equal(takeBatch(events, 10, 10).length, 1, "the head event always goes");
  assert.deepEqual(takeBatch([], 10, 60000), []);
});

test("the queue keeps order across instances, drops the oldest past its bound", () => {
  const storage = MemoryStorage();
  const first = PersistentQueue(storage, "q", 4);
  assert.deepEqual(first.push([event(1), event(2), event(3)]), []);
  const reloaded = PersistentQueue(storage, "q", 4);
  const dropped = reloaded.push([event(4), event(5), event(6)]);
  assert.deepEqual(dropped.map((e) => e.event_id), ["id-1", "id-2"]);
  assert.deepEqual(first.all().map((e) => e.event_id), ["id-3", "id-4", "id-5", "id-6"]);
  first.remove(["id-4", "id-6"]);
  assert.deepEqual(reloaded.all().map((e) => e.event_id), ["id-3", "id-5"]);
  reloaded.clear();
  assert.equal(storage.getItem("q"), null);
});

test("two tabs sharing the queue never overwrite each other's events", () => {
  const storage = MemoryStorage();
  const tabA = PersistentQueue(storage, "q", 100);
  const tabB = PersistentQueue(storage, "q", 100);
  tabA.push([event(1)]);
  tabB.push([event(2)]);
  tabA.remove(["id-1"]);
  tabA.push([event(3)]);
  assert.deepEqual(tabB.all().map((e) => e.event_id), ["id-2", "id-3"]);
});

test("when storage is full the oldest half of the queue gives way", () => {
  const inner = MemoryStorage();
  const limited = {
    getItem: inner.getItem,
    removeItem: inner.removeItem,
    setItem(key, value) {
      if (value.length > 200) throw new Error("QuotaExceededError");
      inner.setItem(key, value);
    },
  };
  const queue = PersistentQueue(limited, "q", 1000);
  const dropped = queue.push([1, 2, 3, 4, 5, 6, 7, 8].map((n) => event(n)));
  const kept = queue.all().map((e) => e.event_id);
  assert.deepEqual(dropped.map((e) => e.event_id).concat(kept),
    ["id-1", "id-2", "id-3", "id-4", "id-5", "id-6", "id-7", "id-8"]);
  assert.ok(kept.length >= 1 && kept.at(-1) === "id-8");
});

test("a corrupt stored queue reads as empty instead of breaking the page", () => {
  const storage = MemoryStorage();
  storage.setItem("q", "{not json");
  assert.deepEqual(PersistentQueue(storage, "q", 10).all(), []);
});

test("event types follow the contract; other names become custom:<name>", () => {
  assert.equal(eventType("purchase"), "purchase");
  assert.equal(eventType("newsletter_signup"), "custom:newsletter_signup");
  assert.equal(eventType("custom:login"), "custom:login");
  assert.equal(eventType("two words"), null);
  assert.equal(eventType("x".repeat(65)), null);
  assert.equal(eventType(42), null);
});

test("properties must be flat scalars, at most 50 keys", () => {
  assert.deepEqual(checkProperties({ a: 1, b: "x", c: true, d: null, e: undefined }),
    { value: { a: 1, b: "x", c: true, d: null } });
  assert.deepEqual(checkProperties({}), { value: null });
  assert.match(checkProperties({ nested: { a: 1 } }).reason, /not a scalar/);
  assert.match(checkProperties([1, 2]).reason, /flat object/);
  const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
  assert.match(checkProperties(many).reason, /more than 50/);
  assert.match(checkProperties({ long: "y".repeat(2049) }).reason, /longer than 2048/);
});

test("uuid4 makes RFC 4122 version 4 ids", () => {
  const ids = new Set(Array.from({ length: 200 }, () => uuid4(globalThis.crypto)));
  assert.equal(ids.size, 200);
  for (const id of ids) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});
