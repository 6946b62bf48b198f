/*
 * Clickstream tracker: records what a visitor does and delivers it to the clickstream
 * ingestion API as events of contract v1 (POST {api}/v1/events).
 *
 * Why it is built this way:
 *  - One plain script, no build step and no dependencies: a site embeds it with a <script>
 *    tag and gets `window.Clickstream`; node's test runner loads the same file through
 *    `module.exports`.
 *  - Every side effect (clock, timers, storage, network, randomness, the page's location)
 *    comes in through an environment object. The queue, batching, retry, session and consent
 *    rules are therefore tested in node with a fake clock and a fake network, and `init`
 *    binds the very same core to the browser.
 *  - Delivery is at least once: an event stays in the first-party storage queue until an
 *    answer settles it and carries its own event_id, so a resend after a lost answer, a
 *    reload or a closed tab is dropped as a duplicate by the pipeline, never counted twice.
 */
(function (root, factory) {
  "use strict";
  const api = factory(root);
  if (typeof module === "object" && module.exports) module.exports = api;
  if (root && root.document) root.Clickstream = api;
})(typeof window !== "undefined" ? window : globalThis, function (root) {
  "use strict";

  const SCHEMA_VERSION = 1;
  const STANDARD_TYPES = ["page_view", "click", "add_to_cart", "checkout", "purchase"];
  const CUSTOM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
  const HTTP_URL = /^https?:\/\/[^/?#]+/i;
  const MAX_SERVER_BATCH = 500;
  const MAX_ID_LENGTH = 128;
  const MAX_PROPERTIES = 50;
  const MAX_STRING_LENGTH = 2048;
  const MAX_ELEMENT_TEXT = 100;
  const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;
  const EMPTY_BATCH_BYTES = '{"events":[]}'.length;

  const DEFAULTS = Object.freeze({
    apiUrl: null,
    // A batch leaves when this many events wait, or when the oldest has waited flushIntervalMs.
    batchSize: 20,
    flushIntervalMs: 5000,
    // Browsers cap keepalive request bodies at 64 KiB; every batch stays below, so any batch
    // can also be the last one sent while the page is being hidden or closed.
    maxBatchBytes: 60000,
    // The offline queue's bound: past it, the oldest events give way to the newest.
    maxQueueSize: 1000,
    baseBackoffMs: 1000,
    maxBackoffMs: 60000,
    // Consecutive 429/5xx answers for one batch before it is dropped, so one batch that the
    // server keeps failing cannot block the queue for ever. Network errors never count: the
    // server has not seen those events, and the queue's bound already limits what waits.
    maxRetries: 10,
    sessionTimeoutMs: 30 * 60 * 1000,
    requireConsent: false,
    maxEventsBeforeConsent: 100,
    storagePrefix: "clickstream.",
  });

  const encoder = new TextEncoder();
  const utf8Length = (text) => encoder.encode(text).length;

  /** A random (version 4) UUID from getRandomValues, which, unlike randomUUID, also exists
   *  on pages served over plain http from a LAN address. */
  function uuid4(crypto) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => (b + 0x100).toString(16).slice(1)).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
      hex.slice(20)].join("-");
  }

  /** Storage with the localStorage interface, kept in memory: for tests, and for browsers
   *  where localStorage is disabled or full (the tracker then still works for one page). */
  function MemoryStorage() {
    const items = new Map();
    return {
      getItem: (key) => (items.has(key) ? items.get(key) : null),
      setItem: (key, value) => { items.set(key, String(value)); },
      removeItem: (key) => { items.delete(key); },
    };
  }

  function readJson(storage, key) {
    const raw = storage.getItem(key);
    if (!raw) return null;
    try {
      return JSON.parse(raw);
    } catch {
      return null;
    }
  }

  /**
   * The offline queue: events in the order they were tracked, kept in storage so they
   * survive reloads and closed tabs. Every operation reads storage afresh and removes by
   * event_id, so tabs of one site sharing the queue never overwrite each other's events.
   */
  function PersistentQueue(storage, key, maxSize) {
    const read = () => {
      const list = readJson(storage, key);
      return Array.isArray(list) ? list : [];
    };
    const write = (list) => {
      if (list.length) storage.setItem(key, JSON.stringify(list));
      else storage.removeItem(key);
    };
    return {
      all: read,
      size: () => read().length,
      /** Appends events; returns those that had to give way (oldest first). */
      push(events) {
        const list = read().concat(events);
        const dropped = list.length > maxSize ? list.splice(0, list.length - maxSize) : [];
        for (;;) {
          try {
            write(list);
            return dropped;
          } catch {
            // Storage is full: like the size bound, the oldest half gives way.
            dropped.push(...list.splice(0, Math.ceil(list.length / 2)));
          }
        }
      },
      remove(ids) {
        const gone = new Set(ids);
        write(read().filter((event) => !gone.has(event.event_id)));
      },
      clear: () => storage.removeItem(key),
    };
  }

  /** Sessions end after `timeoutMs` without any tracked event; the next event starts a new
   *  one. Kept in storage so that every tab and reload of the site shares the session. */
  function SessionStore(storage, key, timeoutMs, newId) {
    return {
      touch(now) {
        let session = readJson(storage, key);
        const expired = !session || typeof session.id !== "string"
          || !(now - session.last <= timeoutMs);
        if (expired) session = { id: newId(), started: now, last: now };
        else session.last = Math.max(session.last, now);
        storage.setItem(key, JSON.stringify(session));
        return session.id;
      },
      clear: () => storage.removeItem(key),
    };
  }

  /** Exponential backoff with "equal jitter": the wait doubles per failure up to maxMs, and
   *  half of it is random, so clients that failed together do not come back together while
   *  each still waits at least half the step. `attempt` counts from 1. */
  function backoffDelay(attempt, baseMs, maxMs, random) {
    const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(cap / 2 + (random() * cap) / 2);
  }

  /** A Retry-After header (seconds or HTTP date) in milliseconds, capped; 0 when absent. */
  function retryAfterMs(header, now) {
    if (header === null || header === undefined || String(header).trim() === "") return 0;
    const seconds = Number(header);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
    return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : 0;
  }

  /** What an HTTP status means for the batch: delivered (2xx, including 207 where the
   *  rejected events are final), retry (429 and 5xx) or rejected (any other answer: the
   *  same request would fail the same way, so it is never resent). */
  function classifyStatus(status) {
    if (status >= 200 && status < 300) return "delivered";
    if (status === 429 || status >= 500) return "retry";
    return "rejected";
  }

  /** The longest head of `events` that fits one request: at most maxCount events and
   *  maxBytes of JSON body. */
  function takeBatch(events, maxCount, maxBytes) {
    const batch = [];
    let bytes = EMPTY_BATCH_BYTES;
    for (const event of events) {
      const size = utf8Length(JSON.stringify(event)) + (batch.length ? 1 : 0);
      if (batch.length >= maxCount || (batch.length && bytes + size > maxBytes)) break;
      batch.push(event);
      bytes += size;
    }
    return batch;
  }

  /** The contract's event_type for a name: standard types as they are, anything else as
   *  custom:<name>; null when the name cannot be one. */
  function eventType(name) {
    if (typeof name !== "string") return null;
    if (STANDARD_TYPES.includes(name)) return name;
    const custom = name.startsWith("custom:") ? name.slice("custom:".length) : name;
    return CUSTOM_NAME.test(custom) ? `custom:${custom}` : null;
  }

  /** Properties as the contract allows them (flat scalars, <= 50 keys), or the reason why
   *  not: the tracker refuses what the server would reject, and says so at once. */
  function checkProperties(properties) {
    if (properties === null || properties === undefined) return { value: null };
    if (typeof properties !== "object" || Array.isArray(properties)) {
      return { reason: "properties must be a flat object" };
    }
    const value = {};
    for (const [key, item] of Object.entries(properties)) {
      if (item === undefined) continue;
      if (key.length > MAX_ID_LENGTH) return { reason: `property name too long: ${key.slice(0, 40)}` };
      if (item !== null && !["string", "number", "boolean"].includes(typeof item)) {
        return { reason: `property ${key} is not a scalar` };
      }
      if (typeof item === "string" && item.length > MAX_STRING_LENGTH) {
        return { reason: `property ${key} is longer than ${MAX_STRING_LENGTH} characters` };
      }
      value[key] = item;
    }
    if (Object.keys(value).length > MAX_PROPERTIES) {
      return { reason: `more than ${MAX_PROPERTIES} properties` };
    }
    return { value: Object.keys(value).length ? value : null };
  }

  function parseJson(text) {
    try {
      return typeof text === "string" && text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  /**
   * The tracker's core, bound to an environment:
   *   storage    getItem/setItem/removeItem (first-party: localStorage in a browser)
   *   transport  ({url, body, keepalive}) -> Promise<{status, body, retryAfter}>; rejects on
   *              a network error
   *   now, setTimeout, clearTimeout, random, uuid
   *   isOnline   () -> false when the device is known to be offline (no send is tried)
   *   page       {url(), referrer(), title()}
   */
  function createTracker(options, env) {
    const config = Object.assign({}, DEFAULTS, options);
    config.batchSize = Math.max(1, Math.min(config.batchSize, MAX_SERVER_BATCH));
    const key = (name) => config.storagePrefix + name;
    const storage = env.storage;
    const queue = PersistentQueue(storage, key("queue"), config.maxQueueSize);
    const sessions = SessionStore(storage, key("session"), config.sessionTimeoutMs, env.uuid);
    const listeners = new Map();
    const inflight = new Set();
    let userId = storage.getItem(key("user_id"));
    let beforeConsent = [];
    let busy = null;
    let timer = null;
    let retryAt = 0;
    let attempt = 0;
    let serverFailures = 0;
    let lastPageUrl = null;

    function emit(name, detail) {
      for (const listener of listeners.get(name) || []) {
        try {
          listener(detail);
        } catch (error) {
          // A broken listener must not stop delivery; its error still reaches the console.
          env.setTimeout(() => { throw error; }, 0);
        }
      }
    }

    function on(name, listener) {
      if (!listeners.has(name)) listeners.set(name, []);
      listeners.get(name).push(listener);
      return () => listeners.set(name, listeners.get(name).filter((l) => l !== listener));
    }

    function consent() {
      return storage.getItem(key("consent")) || (config.requireConsent ? "pending" : "granted");
    }

    function canSend() {
      return consent() === "granted" && Boolean(config.apiUrl) && env.isOnline();
    }

    function anonymousId() {
      let id = storage.getItem(key("anonymous_id"));
      if (!id) {
        id = env.uuid();
        storage.setItem(key("anonymous_id"), id);
      }
      return id;
    }

    const pendingEvents = () => queue.all().filter((event) => !inflight.has(event.event_id));

    function refuse(reason, events) {
      emit("drop", { reason, events });
      return null;
    }

    /** Identity is stamped when an event enters the queue, which only happens with consent:
     *  before that, no identifier is created or stored. */
    function enqueue(events) {
      const identity = { anonymous_id: anonymousId(), session_id: sessions.touch(env.now()) };
      if (userId) identity.user_id = userId;
      const fitting = [];
      for (const event of events) {
        Object.assign(event, identity);
        if (utf8Length(JSON.stringify(event)) + EMPTY_BATCH_BYTES > config.maxBatchBytes) {
          refuse("too_large", [event]);
        } else {
          fitting.push(event);
        }
      }
      const dropped = queue.push(fitting);
      if (dropped.length) emit("drop", { reason: "queue_full", events: dropped });
      for (const event of fitting) emit("track", event);
      schedule();
    }

    function track(name, properties, extra = {}) {
      const type = eventType(name);
      if (!type) return refuse(`invalid event type: ${String(name).slice(0, 80)}`, []);
      const checked = checkProperties(properties);
      if (checked.reason) return refuse(checked.reason, []);
      const state = consent();
      if (state === "denied") return null;
      const event = {
        event_id: env.uuid(),
        event_type: type,
        event_time: new Date(env.now()).toISOString(),
        page_url: env.page.url(),
        schema_version: SCHEMA_VERSION,
      };
      if (extra.referrer) event.referrer = extra.referrer;
      if (extra.element) event.element = extra.element;
      if (checked.value) event.properties = checked.value;
      if (state === "pending") {
        if (beforeConsent.length >= config.maxEventsBeforeConsent) {
          return refuse("consent_pending", [event]);
        }
        beforeConsent.push(event);
      } else {
        enqueue([event]);
      }
      return event;
    }

    /** A page view; the referrer is the previous page of this single-page app, else the
     *  document's referrer. */
    function page(properties) {
      const url = env.page.url();
      const referrer = lastPageUrl || env.page.referrer();
      lastPageUrl = url;
      return track("page_view", Object.assign({ title: env.page.title() }, properties),
        { referrer: HTTP_URL.test(referrer || "") ? referrer : null });
    }

    /** A page view only when the URL changed since the last one (history and hash routes). */
    function pageChanged() {
      return env.page.url() === lastPageUrl ? null : page();
    }

    function identify(id) {
      if (typeof id !== "string" || !id.trim() || id.length > MAX_ID_LENGTH) {
        throw new TypeError(`user_id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
      }
      userId = id;
      if (consent() === "granted") storage.setItem(key("user_id"), id);
    }

    /** Logout: the next events belong to a new anonymous visitor and session, so a shared
     *  device does not join two people's histories. Queued events are still delivered. */
    function reset() {
      userId = null;
      storage.removeItem(key("user_id"));
      storage.removeItem(key("anonymous_id"));
      sessions.clear();
    }

    function setConsent(granted) {
      if (granted) {
        storage.setItem(key("consent"), "granted");
        if (userId) storage.setItem(key("user_id"), userId);
        const held = beforeConsent;
        beforeConsent = [];
        if (held.length) enqueue(held);
      } else {
        storage.setItem(key("consent"), "denied");
        beforeConsent = [];
        queue.clear();
        reset();
        schedule();
      }
      emit("consent", consent());
    }

    function backOff(minimumMs) {
      attempt += 1;
      const delay = Math.max(
        backoffDelay(attempt, config.baseBackoffMs, config.maxBackoffMs, env.random), minimumMs);
      retryAt = env.now() + delay;
      return delay;
    }

    function settle(events, answer, keepalive) {
      const ids = events.map((event) => event.event_id);
      const body = parseJson(answer.body);
      let outcome = classifyStatus(answer.status);
      let retryIds = [];
      if (outcome === "retry") {
        // The handler lists the events it could not write; the others are done. Without such
        // a list (a proxy's 502, a 429) the whole batch is resent.
        const listed = body && Array.isArray(body.retry_events)
          ? new Set(body.retry_events.map((item) => item && item.event_id)) : null;
        retryIds = listed ? ids.filter((id) => listed.has(id)) : ids;
      }
      queue.remove(ids.filter((id) => !retryIds.includes(id)));
      const detail = { status: answer.status, outcome, body, events, keepalive };
      if (outcome === "retry") {
        serverFailures += 1;
        if (serverFailures > config.maxRetries) {
          queue.remove(retryIds);
          emit("drop", { reason: "max_retries", events: events.filter((e) => retryIds.includes(e.event_id)) });
          outcome = "dropped";
          detail.outcome = outcome;
          serverFailures = 0;
          attempt = 0;
          retryAt = 0;
        } else {
          detail.retryEvents = retryIds;
          detail.retryInMs = backOff(retryAfterMs(answer.retryAfter, env.now()));
        }
      } else {
        serverFailures = 0;
        attempt = 0;
        retryAt = 0;
        if (outcome === "rejected") emit("drop", { reason: `http_${answer.status}`, events });
      }
      emit("answer", detail);
      return outcome;
    }

    function networkFailure(events, error, keepalive) {
      const retryInMs = backOff(0);
      emit("answer", {
        status: 0, outcome: "network_error", error: String((error && error.message) || error),
        events, keepalive, retryInMs,
      });
      return "network_error";
    }

    /** Sends the next batch of queued events that no other request carries. */
    function sendBatch(keepalive) {
      const maxCount = keepalive ? MAX_SERVER_BATCH : config.batchSize;
      const events = takeBatch(pendingEvents(), maxCount, config.maxBatchBytes);
      if (!events.length) return Promise.resolve("empty");
      const ids = events.map((event) => event.event_id);
      ids.forEach((id) => inflight.add(id));
      emit("send", { events, keepalive });
      let request;
      try {
        request = Promise.resolve(env.transport({
          url: config.apiUrl, body: JSON.stringify({ events }), keepalive,
        }));
      } catch (error) {
        request = Promise.reject(error);
      }
      return request
        .then((answer) => settle(events, answer, keepalive),
          (error) => networkFailure(events, error, keepalive))
        .finally(() => ids.forEach((id) => inflight.delete(id)));
    }

    /** The one regular request in flight at a time; when it ends, the next is planned. */
    function startSend() {
      if (!busy) {
        busy = sendBatch(false).finally(() => {
          busy = null;
          schedule();
        });
      }
      return busy;
    }

    /** Plans the next regular request: now when a full batch waits, else when the oldest
     *  waiting event is flushIntervalMs old, and never before a backoff has run out. */
    function schedule() {
      if (timer !== null) {
        env.clearTimeout(timer);
        timer = null;
      }
      if (busy || !canSend()) return;
      const pending = pendingEvents();
      if (!pending.length) return;
      const now = env.now();
      const oldest = Date.parse(pending[0].event_time);
      const ready = pending.length >= config.batchSize || !Number.isFinite(oldest)
        ? now : Math.min(oldest, now) + config.flushIntervalMs;
      const due = Math.max(ready, retryAt);
      if (due <= now) {
        startSend();
      } else {
        timer = env.setTimeout(() => {
          timer = null;
          schedule();
        }, due - now);
      }
    }

    /** Sends everything queued now, ignoring the interval and any backoff; resolves when
     *  the queue is empty or a request was not delivered. */
    function flush() {
      const loop = () => {
        retryAt = 0;
        if (!canSend() || !pendingEvents().length) return Promise.resolve();
        return startSend().then((outcome) => (outcome === "delivered" ? loop() : undefined));
      };
      return (busy || Promise.resolve()).then(loop);
    }

    /** The page is being hidden or closed: the last chance to send, so it goes at once
     *  with keepalive (the request outlives the page) whatever the backoff says. */
    function flushOnHide() {
      return canSend() ? sendBatch(true) : Promise.resolve("empty");
    }

    /** Back online: waiting out a backoff earned while offline would only delay delivery. */
    function handleOnline() {
      attempt = 0;
      retryAt = 0;
      schedule();
    }

    function status() {
      return {
        consent: consent(),
        online: env.isOnline(),
        queued: queue.size() + beforeConsent.length,
        inflight: inflight.size,
        retryInMs: Math.max(0, retryAt - env.now()),
      };
    }

    schedule();
    return {
      track, page, pageChanged, identify, reset, setConsent, flush, flushOnHide,
      handleOnline, status, on, consent,
      queued: () => queue.all(),
      anonymousId: () => storage.getItem(key("anonymous_id")),
      userId: () => userId,
    };
  }

  function browserStorage(win) {
    try {
      const storage = win.localStorage;
      storage.setItem("clickstream.probe", "1");
      storage.removeItem("clickstream.probe");
      return storage;
    } catch {
      return MemoryStorage();
    }
  }

  /** fetch with keepalive rather than sendBeacon: a keepalive request outlives the page just
   *  the same, and when the page survives (a tab switch) its answer still settles the queue
   *  exactly. text/plain keeps the request "simple", so a cross-origin API needs no CORS
   *  preflight per batch. */
  function fetchTransport(win) {
    return (request) => win.fetch(request.url, {
      method: "POST",
      body: request.body,
      keepalive: request.keepalive,
      credentials: "omit",
      cache: "no-store",
      headers: { "content-type": "text/plain;charset=UTF-8" },
    }).then((response) => response.text().then((body) => ({
      status: response.status, body, retryAfter: response.headers.get("retry-after"),
    })));
  }

  function browserEnvironment(win) {
    return {
      storage: browserStorage(win),
      transport: fetchTransport(win),
      now: () => Date.now(),
      setTimeout: (fn, ms) => win.setTimeout(fn, ms),
      clearTimeout: (id) => win.clearTimeout(id),
      random: Math.random,
      uuid: () => uuid4(win.crypto),
      isOnline: () => win.navigator.onLine !== false,
      page: {
        url: () => win.location.href,
        referrer: () => win.document.referrer,
        title: () => win.document.title,
      },
    };
  }

  /** Properties of a marked element: data-track="name" plus every data-track-<key>. */
  function trackedProperties(element) {
    const properties = { name: element.getAttribute("data-track") };
    for (const attribute of Array.from(element.attributes)) {
      if (attribute.name.startsWith("data-track-")) {
        properties[attribute.name.slice("data-track-".length).replace(/-/g, "_")] = attribute.value;
      }
    }
    return properties;
  }

  /** A stable selector: by id when there is one, else by the data-track mark. */
  function describeElement(element, win) {
    const tag = element.tagName.toLowerCase();
    const name = element.getAttribute("data-track");
    const text = (element.innerText || element.textContent || "").replace(/\s+/g, " ").trim();
    const selector = element.id
      ? `${tag}#${win.CSS.escape(element.id)}`
      : `${tag}[data-track="${name.replace(/["\\]/g, "\\$&")}"]`;
    const described = { text: text.slice(0, MAX_ELEMENT_TEXT), selector };
    if (element.id) described.id = element.id;
    return described;
  }

  function bindDom(tracker, win) {
    const doc = win.document;
    // Capture phase: the click is recorded before the page's own handlers run, so it
    // precedes the events they track, even when one of them stops propagation.
    doc.addEventListener("click", (event) => {
      const target = event.target instanceof win.Element ? event.target.closest("[data-track]") : null;
      if (target) {
        tracker.track("click", trackedProperties(target), { element: describeElement(target, win) });
      }
    }, true);
    // Deferred by one task so the app has rendered the new view (and its title) first.
    const routeChanged = () => win.setTimeout(() => tracker.pageChanged(), 0);
    win.addEventListener("hashchange", routeChanged);
    win.addEventListener("popstate", routeChanged);
    doc.addEventListener("visibilitychange", () => {
      if (doc.visibilityState === "hidden") tracker.flushOnHide();
    });
    win.addEventListener("pagehide", () => tracker.flushOnHide());
    win.addEventListener("online", () => tracker.handleOnline());
  }

  /**
   * Starts tracking this page: Clickstream.init({apiUrl, requireConsent, ...}) returns the
   * tracker, records the first page view (unless autoPageViews is false), then page views on
   * route changes and clicks on elements marked data-track.
   */
  function init(options = {}) {
    const tracker = createTracker(options, browserEnvironment(root));
    bindDom(tracker, root);
    if (options.autoPageViews !== false) tracker.page();
    return tracker;
  }

  return {
    SCHEMA_VERSION, DEFAULTS, init, createTracker, PersistentQueue, SessionStore,
    MemoryStorage, backoffDelay, retryAfterMs, classifyStatus, takeBatch, eventType,
    checkProperties, uuid4,
  };
});
