/*
 * The live pipeline panel: each request the tracker sends and the server's answer, newest
 * first, so a person clicking through the shop sees the ingestion API react (and sees
 * events wait in the queue while offline). It only listens to the tracker's events; it
 * never changes what is sent.
 */
(function () {
  "use strict";

  const MAX_ROWS = 8;
  const clock = new Intl.DateTimeFormat("en-GB", { timeStyle: "medium" });

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** "click ×2 · add_to_cart": types in order of first appearance, with counts. */
  function typeSummary(events) {
    const counts = new Map();
    for (const event of events) counts.set(event.event_type, (counts.get(event.event_type) || 0) + 1);
    return [...counts].map(([type, n]) => (n > 1 ? `${type} ×${n}` : type)).join(" · ");
  }

  const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

  function resultText(answer) {
    const body = answer.body || {};
    switch (answer.outcome) {
      case "delivered":
        return `accepted ${body.accepted ?? answer.events.length} · rejected ${body.rejected ?? 0}`;
      case "retry":
        return `retry ${answer.retryEvents.length} in ${seconds(answer.retryInMs)}`;
      case "network_error":
        return `network error · retry in ${seconds(answer.retryInMs)}`;
      case "dropped":
        return "dropped: the server kept failing this batch";
      default:
        return `rejected: ${body.error || `HTTP ${answer.status}`}`;
    }
  }

  function tone(answer) {
    if (answer.outcome === "delivered") return answer.status === 200 ? "ok" : "warn";
    return answer.outcome === "retry" || answer.outcome === "network_error" ? "warn" : "err";
  }

  /** Renders the panel into `container` and keeps it current. */
  function attach(tracker, container, apiUrl) {
    container.replaceChildren();
    const head = element("header", "panel-head");
    head.append(element("h2", "", "Live pipeline"));
    const pill = element("span", "pill");
    head.append(pill);
    const meta = element("p", "panel-meta");
    const log = element("ol", "panel-log");
    const empty = element("li", "panel-empty", "No request yet: click around the shop.");
    log.append(empty);
    container.append(head, meta, log);
    const rows = new Map();

    function refresh() {
      const status = tracker.status();
      const state = status.consent !== "granted" ? (status.consent === "denied" ? "off" : "waiting for consent")
        : !apiUrl ? "no API URL" : status.online ? "online" : "offline";
      pill.textContent = state;
      pill.dataset.state = state.split(" ")[0];
      const target = apiUrl ? `POST ${new URL(apiUrl).host}${new URL(apiUrl).pathname}` : "no API URL";
      meta.textContent = `${status.queued} queued · ${target}`;
      meta.dataset.queued = String(status.queued);
    }

    function addRow(detail) {
      empty.remove();
      const row = element("li", "entry wait");
      row.dataset.status = "sending";
      const top = element("div", "entry-head");
      const badge = element("span", "badge", "…");
      const count = detail.events.length;
      top.append(badge, element("span", "entry-title",
        `${count} event${count === 1 ? "" : "s"}${detail.keepalive ? " · keepalive" : ""}`),
      element("time", "", clock.format(new Date())));
      const result = element("p", "entry-result", "sending…");
      const details = element("details");
      details.append(element("summary", "", "event ids and answer"));
      const pre = element("pre", "", detail.events.map((e) => `${e.event_type.padEnd(12)} ${e.event_id}`).join("\n"));
      details.append(pre);
      row.append(top, element("p", "entry-types", typeSummary(detail.events)), result, details);
      log.prepend(row);
      rows.set(detail.events[0].event_id, { row, badge, result, pre });
      while (log.children.length > MAX_ROWS) log.lastElementChild.remove();
      refresh();
    }

    /** Requests started before the panel was attached (a backlog sent as the page loads)
     *  get their row when their answer comes. */
    function settleRow(answer) {
      if (!rows.has(answer.events[0].event_id)) addRow(answer);
      const entry = rows.get(answer.events[0].event_id);
      rows.delete(answer.events[0].event_id);
      const label = answer.status ? String(answer.status) : "network";
      entry.row.className = `entry ${tone(answer)}`;
      entry.row.dataset.status = label;
      entry.badge.textContent = answer.status ? label : "net";
      entry.result.textContent = resultText(answer);
      const body = answer.body ? JSON.stringify(answer.body, null, 1) : answer.error;
      entry.pre.textContent += `\n\n${label} ${body || ""}`;
      refresh();
    }

    function noteDrop(detail) {
      if (detail.reason.startsWith("http_") || detail.reason === "max_retries") return;
      empty.remove();
      const row = element("li", "entry err", `not sent (${detail.reason}): ${typeSummary(detail.events) || "event"}`);
      row.dataset.status = "dropped";
      log.prepend(row);
      refresh();
    }

    tracker.on("send", addRow);
    tracker.on("answer", settleRow);
    tracker.on("track", refresh);
    tracker.on("drop", noteDrop);
    tracker.on("consent", refresh);
    window.addEventListener("online", refresh);
    window.addEventListener("offline", refresh);
    refresh();
  }

  window.ClickstreamPanel = { attach };
})();
