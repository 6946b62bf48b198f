/*
 * A deterministic environment for the tracker's core: a clock that moves only when a test
 * says so, timers on that clock, in-memory storage and a network whose every request waits
 * until the test answers it (or fails it). Nothing here replaces tracker logic: the real
 * createTracker runs against it exactly as it runs against the browser's.
 */
"use strict";

const { MemoryStorage, createTracker, uuid4 } = require("../tracker.js");

const START = Date.parse("2026-03-02T09:00:00.000Z");

/** Lets every pending promise callback run (they are all microtasks of settled requests). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function fakeEnvironment({ storage = MemoryStorage(), start = START, random = 0.5 } = {}) {
  let now = start;
  let nextTimer = 1;
  const timers = new Map();
  const requests = [];
  const state = { online: true, url: "https://shop.example/" };

  const env = {
    storage,
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextTimer++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => timers.delete(id),
    random: () => random,
    uuid: () => uuid4(globalThis.crypto),
    isOnline: () => state.online,
    page: { url: () => state.url, referrer: () => "", title: () => "Demo shop" },
    transport(request) {
      return new Promise((resolve, reject) => {
        requests.push({
          ...request,
          events: JSON.parse(request.body).events,
          answer: (status, body = {}, retryAfter = null) =>
            resolve({ status, body: JSON.stringify(body), retryAfter }),
          fail: () => reject(new TypeError("Failed to fetch")),
        });
      });
    },
  };

  return {
    env,
    state,
    requests,
    /** Moves the clock, running due timers in time order, each followed by its promises. */
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end)
          .sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await settle();
      }
      now = end;
      await settle();
    },
    /** Answers the oldest unanswered request and lets the tracker react. */
    async answer(status, body, retryAfter) {
      const request = requests.find((r) => !r.done);
      request.done = true;
      request.answer(status, body === undefined ? { accepted: request.events.length } : body, retryAfter);
      await settle();
      return request;
    },
    async fail() {
      const request = requests.find((r) => !r.done);
      request.done = true;
      request.fail();
      await settle();
      return request;
    },
    open: () => requests.filter((r) => !r.done),
    tracker: (options = {}) => createTracker(
      { apiUrl: "https://api.example/v1/events", batchSize: 3, flushIntervalMs: 1000, ...options },
      env,
    ),
  };
}

module.exports = { fakeEnvironment, settle, START };
