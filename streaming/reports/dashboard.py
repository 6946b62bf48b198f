"""The KPI dashboard: one page of charts built only from the business views.

Every number on it comes from a query on the views in `sql/views`, through whichever engine
the mode provides (DuckDB embedded, Athena on AWS), so the dashboard shows exactly what an
analyst gets from `clickstream sql`. Live traffic is shown up to the newest event; volume
anomalies up to now, so a pipeline that went quiet shows as a drop rather than as old data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from streaming.reports.quality import volume_charts
from streaming.reports.render import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PALETTE,
    chart,
    figure,
    page,
    table,
    tiles,
)
from streaming.reports.volume import recent_scores

LIVE_MINUTES = 180
RECENT_DAYS = 7
TREND_DAYS = 30


def _day(value: date) -> str:
    return f"DATE '{value.isoformat()}'"


@dataclass(frozen=True)
class Dashboard:
    html: str
    latest_day: date | None
    latest_minute: datetime | None
    flagged_hours: int
    rows: dict[str, int]


def _rows(engine, sql: str) -> list[dict]:
    return engine.query(sql).to_pylist()


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def live_traffic(engine) -> tuple[datetime | None, list[dict]]:
    """Events per minute for the LIVE_MINUTES minutes up to the newest event, gaps as zero."""
    newest = _rows(engine, "SELECT max(event_date) AS day FROM bronze_events")[0]["day"]
    if newest is None:
        return None, []
    rows = _rows(engine, "SELECT minute, events, bot_events FROM events_per_minute "
                         f"WHERE event_date >= {_day(newest - timedelta(days=1))} ORDER BY minute")
    latest = rows[-1]["minute"]
    counts = {r["minute"]: r for r in rows}
    minutes = [latest - timedelta(minutes=k) for k in range(LIVE_MINUTES - 1, -1, -1)]
    return latest, [counts.get(m, {"minute": m, "events": 0, "bot_events": 0}) for m in minutes]


def build_dashboard(engine, now: datetime) -> Dashboard:
    latest_day = _rows(engine, "SELECT max(event_date) AS day FROM daily_kpis")[0]["day"]
    since = (latest_day or now.date()) - timedelta(days=RECENT_DAYS - 1)
    trend_since = (latest_day or now.date()) - timedelta(days=TREND_DAYS - 1)
    latest_minute, live = live_traffic(engine)
    kpis = _rows(engine, "SELECT * FROM daily_kpis "
                         f"WHERE event_date >= {_day(trend_since)} ORDER BY event_date")
    funnel = _rows(engine, "SELECT step_number, step, sum(sessions) AS sessions FROM shop_funnel "
                           f"WHERE event_date >= {_day(since)} GROUP BY step_number, step "
                           "ORDER BY step_number")
    pages = _rows(engine, "SELECT page_path, sum(views) AS views, sum(entrances) AS entrances "
                          f"FROM top_pages WHERE event_date >= {_day(since)} GROUP BY page_path "
                          "ORDER BY views DESC, page_path LIMIT 10")
    sources = _rows(engine, "SELECT source, sum(sessions) AS sessions, sum(conversions) AS "
                            f"conversions FROM sessions_by_source WHERE event_date >= {_day(since)} "
                            "GROUP BY source ORDER BY sessions DESC, source LIMIT 8")
    visitors = _rows(engine, "SELECT event_date, visitor_type, visitors FROM new_vs_returning "
                             f"WHERE event_date >= {_day(trend_since)} ORDER BY event_date")
    scores = recent_scores(engine, now, days=2)

    latest = kpis[-1] if kpis else {}
    days = [str(k["event_date"]) for k in kpis]
    by_type = {(str(v["event_date"]), v["visitor_type"]): v["visitors"] for v in visitors}
    visitor_days = sorted({str(v["event_date"]) for v in visitors})
    charts = {
        "chart-live": chart("line", [m["minute"].strftime("%H:%M") for m in live], [
            {"label": "events", "data": [m["events"] for m in live], "borderColor": BLUE,
             "backgroundColor": BLUE, "pointRadius": 0, "borderWidth": 1.5, "fill": False},
            {"label": "of which bots", "data": [m["bot_events"] for m in live],
             "borderColor": GREY, "backgroundColor": GREY, "pointRadius": 0, "borderWidth": 1}],
            x="minute (UTC)",
            y="events"),
        "chart-funnel": chart("bar", [f["step"] for f in funnel], [
            {"label": "visits reaching the step", "data": [f["sessions"] for f in funnel],
             "backgroundColor": [BLUE, PALETTE[1], PALETTE[2], GREEN][:len(funnel)]}],
            y="visits"),
        "chart-pages": chart("bar", [p["page_path"] for p in pages], [
            {"label": "page views", "data": [p["views"] for p in pages], "backgroundColor": BLUE},
            {"label": "entrances", "data": [p["entrances"] for p in pages],
             "backgroundColor": ORANGE}], y="", indexAxis="y"),
        "chart-conversion": chart("line", days, [
            {"label": "conversion rate (%)", "data": [
                None if k["conversion_rate"] is None else round(100 * k["conversion_rate"], 2)
                for k in kpis], "borderColor": GREEN, "backgroundColor": GREEN,
             "pointRadius": 3}], x="day", y="% of visits with a purchase"),
        "chart-sources": chart("doughnut", [s["source"] for s in sources], [
            {"label": "visits", "data": [s["sessions"] for s in sources],
             "backgroundColor": PALETTE[:len(sources)]}]),
        "chart-visitors": chart("bar", visitor_days, [
            {"label": kind, "data": [by_type.get((d, kind), 0) for d in visitor_days],
             "backgroundColor": color}
            for kind, color in (("new", BLUE), ("returning", ORANGE))], x="day", y="visitors"),
        **{key.replace("chart-", "chart-anomaly-"): config
           for key, config in volume_charts(scores).items()},
    }
    charts["chart-pages"]["options"]["scales"] = {"x": {"beginAtZero": True}}
    charts["chart-visitors"]["options"]["scales"]["x"]["stacked"] = True
    charts["chart-visitors"]["options"]["scales"]["y"]["stacked"] = True
    flagged = [s for s in scores if s.flag]
    on = f" on {latest_day}" if latest_day else ""
    body = "\n".join([
        tiles([(f"visits{on}", f"{latest.get('sessions', 0):,}"),
               (f"visitors{on}", f"{latest.get('visitors', 0):,}"),
               (f"conversion rate{on}", _percent(latest.get("conversion_rate"))),
               (f"bounce rate{on}", _percent(latest.get("bounce_rate"))),
               (f"revenue{on}", f"{latest.get('revenue') or 0:,.2f}"),
               ("anomalous hours (48 h)", str(len(flagged)))]),
        '<div class="grid">',
        figure("chart-live", "Events per minute",
               f"last {LIVE_MINUTES} minutes up to the newest event"
               + (f" ({latest_minute:%Y-%m-%d %H:%M} UTC)" if latest_minute else "")),
        figure("chart-anomaly-volume", "Volume and anomaly flags",
               "events per hour, last 48 hours; red: drop or spike"),
        figure("chart-anomaly-score", "Anomaly score", "robust z-score per hour"),
        figure("chart-funnel", "Shop funnel", f"visits, last {RECENT_DAYS} days"),
        figure("chart-conversion", "Conversion", f"daily, last {TREND_DAYS} days"),
        figure("chart-pages", "Top pages", f"last {RECENT_DAYS} days"),
        figure("chart-sources", "Visits by source", f"first touch, last {RECENT_DAYS} days"),
        figure("chart-visitors", "New vs returning visitors", f"daily, last {TREND_DAYS} days"),
        "</div>",
        "<h2>Flagged hours</h2>",
        table(["hour (UTC)", "events", "expected", "score", "flag"],
              [(s.hour.strftime("%Y-%m-%d %H:%M"), s.events, round(s.expected, 1),
                round(s.score, 2), s.flag) for s in flagged], [False, True, True, True, False],
              empty="no drops or spikes in the last 48 hours"),
    ])
    subtitle = (f"as of {now:%Y-%m-%d %H:%M} UTC · latest modeled day "
                f"{latest_day or 'none yet'} · every number comes from the SQL views")
    return Dashboard(
        html=page("Clickstream KPIs", subtitle, body, charts), latest_day=latest_day,
        latest_minute=latest_minute, flagged_hours=len(flagged),
        rows={"events_per_minute": len(live), "daily_kpis": len(kpis), "shop_funnel": len(funnel),
              "top_pages": len(pages), "sessions_by_source": len(sources),
              "new_vs_returning": len(visitors)})
