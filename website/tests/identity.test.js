/*
 * Who the events belong to: anonymous_id in first-party storage, sessions that end after 30
 * minutes without activity, user_id after login, and consent before anything is stored.
 */
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { MemoryStorage, SessionStore } = require("../tracker.js");
const { fakeEnvironment, START } = require("./environment.js");

const MINUTE = 60 * 1000;

test("a session lasts while events come less than 30 minutes apart", () => {
  let n = 0;
  const sessions = SessionStore(MemoryStorage(), "s", 30 * MINUTE, () => `session-${++n}`);
  const at = [0, 29, 58, 87, 87 + 30].map((m) => sessions.touch(START + m * MINUTE));
  assert.deepEqual(at, Array(5).fill("session-1"));
  assert.equal(sessions.touch(START + (117 + 30) * MINUTE + 1), "session-2");
});

test("the tracker rotates session_id after inactivity, keeps anonymous_id", async () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 1 });
  const first = tracker.track("click");
  await net.advance(30 * MINUTE);
  const sameSession = tracker.track("click");
  await net.advance(30 * MINUTE + 1);
  const newSession = tracker.track("click");
  assert.equal(sameSession.session_id, first.session_id);
  assert.notEqual(newSession.session_id, first.session_id);
  assert.equal(newSession.anonymous_id, first.anonymous_id);
});

test("anonymous_id and session are shared by a reload within the session", () => {
  const storage = MemoryStorage();
  const first = fakeEnvironment({ storage }).tracker().track("click");
  const second = fakeEnvironment({ storage, start: START + 10 * MINUTE }).tracker().track("click");
  assert.equal(second.anonymous_id, first.anonymous_id);
  assert.equal(second.session_id, first.session_id);
  assert.equal(storage.getItem("clickstream.anonymous_id"), first.anonymous_id);
});

test("after login events carry user_id, across reloads; logout starts a new visitor", () => {
  const storage = MemoryStorage();
  const tracker = fakeEnvironment({ storage }).tracker();
  const anonymous = tracker.track("click");
  tracker.identify("ada");
  const known = tracker.track("custom:login");
  const reloaded = fakeEnvironment({ storage, start: START + MINUTE }).tracker();
  const afterReload = reloaded.track("click");
  reloaded.reset();
  const afterLogout = reloaded.track("click");
  assert.equal("user_id" in anonymous, false);
  assert.equal(known.user_id, "ada");
  assert.equal(afterReload.user_id, "ada");
  assert.equal("user_id" in afterLogout, false);
  assert.notEqual(afterLogout.anonymous_id, known.anonymous_id);
  assert.notEqual(afterLogout.session_id, known.session_id);
  assert.throws(() => reloaded.identify(""), TypeError);
  assert.throws(() => reloaded.identify("u".repeat(129)), TypeError);
});

test("with consent required, nothing is sent or stored until consent is given", async () => {
  const storage = MemoryStorage();
  const keys = [];
  const watched = { ...storage, setItem: (k, v) => { keys.push(k); storage.setItem(k, v); } };
  const net = fakeEnvironment({ storage: watched });
  const tracker = net.tracker({ requireConsent: true, batchSize: 20 });
  const view = tracker.page();
  tracker.identify("ada");
  await net.advance(60000);
  assert.equal(net.requests.length, 0);
  assert.deepEqual(keys, []);
  assert.equal(tracker.consent(), "pending");
  assert.equal(tracker.status().queued, 1);

  tracker.setConsent(true);
  assert.equal(net.requests.length, 1, "held events are older than the interval: sent at once");
  const [sent] = net.requests[0].events;
  assert.equal(sent.event_id, view.event_id);
  assert.equal(sent.event_time, new Date(START).toISOString(), "the time it happened");
  assert.equal(sent.user_id, "ada");
  assert.ok(sent.anonymous_id && sent.session_id);
  assert.equal(storage.getItem("clickstream.consent"), "granted");
});

test("consent given once holds on the next page", () => {
  const storage = MemoryStorage();
  fakeEnvironment({ storage }).tracker({ requireConsent: true }).setConsent(true);
  const next = fakeEnvironment({ storage }).tracker({ requireConsent: true });
  assert.equal(next.consent(), "granted");
});

test("declining drops what was held and clears every identifier; later events are ignored",
  async () => {
    const storage = MemoryStorage();
    const net = fakeEnvironment({ storage });
    const tracker = net.tracker({ batchSize: 20 });
    tracker.identify("ada");
    tracker.track("click");
    tracker.setConsent(false);
    assert.equal(tracker.track("click"), null);
    await net.advance(60000);
    assert.equal(net.requests.length, 0);
    assert.deepEqual(tracker.queued(), []);
    for (const name of ["anonymous_id", "user_id", "session", "queue"]) {
      assert.equal(storage.getItem(`clickstream.${name}`), null, name);
    }
    assert.equal(storage.getItem("clickstream.consent"), "denied");
  });

test("page views on a route change carry the previous route as referrer, once per URL", () => {
  const net = fakeEnvironment();
  const tracker = net.tracker({ batchSize: 20 });
  const landing = tracker.page();
  assert.equal(tracker.pageChanged(), null);
  net.state.url = "https://shop.example/#/cart";
  const cart = tracker.pageChanged();
  assert.equal("referrer" in landing, false);
  assert.equal(cart.page_url, "https://shop.example/#/cart");
  assert.equal(cart.referrer, "https://shop.example/");
});
