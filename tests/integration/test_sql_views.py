"""Every business view on the embedded engine, over a small lake whose numbers are known.

The lake is written with delta-rs in exactly the columns and types the Spark job and the
silver/gold transforms write (BRONZE_COLUMNS, SESSION_COLUMNS, ...; types as in
`clickstream_assets.lineage`), so the views meet the same tables they meet in production.
Silver and gold rows are what the transforms produce from the bronze events below (the
control-plane test checks the transforms on the same shape of data with real Spark). Every
expected number in the tests was counted by hand from the event list.

Other test modules import `write_known_lake` and the day constants.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable, write_deltalake

from clickstream_assets.lineage import TYPES
from streaming.lake.modeling import FUNNEL_COLUMNS, PAGE_KPI_COLUMNS, SESSION_COLUMNS
from streaming.lakesql.engine import EmbeddedEngine, delta_dataset
from streaming.lakesql.views import SqlError, load_views
from streaming.stream.transforms import BRONZE_COLUMNS, QUARANTINE_COLUMNS

D0, D1, D2 = date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21)
SITE = "https://shop.example.com"
ARROW_TYPES = {
    "string": pa.string(), "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32(),
    "bigint": pa.int64(), "int": pa.int32(), "boolean": pa.bool_(), "double": pa.float64(),
    "struct<id,text,selector>": pa.struct([(n, pa.string()) for n in ("id", "text", "selector")]),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
}


def arrow_schema(columns: tuple[str, ...]) -> pa.Schema:
    return pa.schema([(name, ARROW_TYPES[TYPES.get(name, "string")]) for name in columns])


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, datetime.strptime(clock, "%H:%M:%S").time(), UTC)


def bronze_event(visitor: str, when: datetime, event_type: str, path: str, *, bot: bool = False,
                 query: str = "", referrer: str | None = None, properties: dict | None = None,
                 received_delay: timedelta = timedelta(seconds=2), **overrides) -> dict:
    """One bronze row as the handler and the stream job write it."""
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{visitor}|{when.isoformat()}|{event_type}|{path}"))
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    row = {
        "event_id": event_id, "event_type": event_type, "event_time": when,
        "event_date": when.date(), "anonymous_id": visitor, "session_id": f"{visitor}-tab",
        "user_id": None, "page_url": f"{SITE}{path}{'?' + query if query else ''}",
        "page_host": "shop.example.com", "page_path": path, "referrer": referrer,
        "referrer_host": referrer.split("/")[2] if referrer else None,
        "utm_source": params.get("utm_source"), "utm_medium": params.get("utm_medium"),
        "utm_campaign": params.get("utm_campaign"), "utm_term": None, "utm_content": None,
        "element": {"id": "buy", "text": "Buy", "selector": "#buy"} if event_type == "click" else None,
        "properties": list((properties or {}).items()) or None,
        "ua_browser": "Googlebot" if bot else "Chrome", "ua_browser_version": "131.0.0",
        "ua_os": "Other" if bot else "Windows", "ua_device": "Spider" if bot else "Other",
        "is_bot": bot, "ip_hash": uuid.uuid5(uuid.NAMESPACE_DNS, visitor).hex,
        "ip_network": "203.0.113.0/24", "schema_version": 1,
        "received_at": when + received_delay, "ingest_id": f"local-{visitor}",
        "kinesis_shard_id": "shardId-000000000000",
        "kinesis_sequence_number": str(49650000000000000000000000000000000000000000000000000000
                                       + int(when.timestamp())),
        "kinesis_arrival_time": when + received_delay,
    }
    row.update(overrides)
    return row


def known_events() -> list[dict]:
    """Visitor D on D0 and again on D1; A (converts), B, C and a bot on D1; C again on D2."""
    d1 = lambda clock: at(D1, clock)  # noqa: E731 - reads like the event list it builds
    return [
        bronze_event("D", at(D0, "09:00:00"), "page_view", "/"),
        bronze_event("A", d1("10:00:00"), "page_view", "/",
                     query="utm_source=newsletter&utm_campaign=black-friday"),
        bronze_event("A", d1("10:01:00"), "click", "/"),
        bronze_event("A", d1("10:02:00"), "page_view", "/product/a"),
        bronze_event("A", d1("10:03:00"), "add_to_cart", "/product/a", properties={"price": "42.5"}),
        bronze_event("A", d1("10:05:00"), "checkout", "/checkout"),
        bronze_event("A", d1("10:06:00"), "purchase", "/checkout/done", properties={"revenue": "42.5"}),
        bronze_event("A", d1("11:00:00"), "page_view", "/"),
        bronze_event("B", d1("10:10:00"), "page_view", "/sale", referrer="https://www.google.com/"),
        bronze_event("B", d1("10:20:00"), "page_view", "/product/a"),
        bronze_event("B", d1("10:25:00"), "add_to_cart", "/product/a", properties={"price": "10"}),
        bronze_event("C", d1("10:30:00"), "page_view", "/"),
        bronze_event("D", d1("12:00:00"), "page_view", "/"),
        bronze_event("D", d1("12:02:00"), "page_view", "/sale"),
        bronze_event("Z", d1("10:00:30"), "page_view", "/", bot=True),
        bronze_event("Z", d1("10:00:40"), "page_view", "/product/a", bot=True),
        bronze_event("C", at(D2, "09:00:00"), "page_view", "/"),
    ]


def session(visitor: str, start: datetime, end: datetime, events: int, page_views: int,
            entry: str, exit_: str, **fields) -> dict:
    firsts = {f"first_{step}_at": fields.pop(step, None)
              for step in ("page_view", "add_to_cart", "checkout", "purchase")}
    firsts["first_page_view_at"] = firsts["first_page_view_at"] or start
    row = {
        "session_date": start.date(), "session_key": uuid.uuid5(uuid.NAMESPACE_OID,
                                                                f"{visitor}|{start}").hex,
        "anonymous_id": visitor, "user_id": None, "session_start": start, "session_end": end,
        "duration_seconds": (end - start).total_seconds(), "events": events,
        "page_views": page_views, "entry_page": entry, "exit_page": exit_, "converted": False,
        "revenue": 0.0, "utm_source": None, "utm_campaign": None, "referrer_host": None,
        "ua_device": "Other", "is_bot": False, **firsts,
    }
    row.update(fields)
    return row


def known_sessions() -> list[dict]:
    d1 = lambda clock: at(D1, clock)  # noqa: E731
    return [
        session("D", at(D0, "09:00:00"), at(D0, "09:00:00"), 1, 1, "/", "/"),
        session("A", d1("10:00:00"), d1("10:06:00"), 6, 2, "/", "/product/a", converted=True,
                revenue=42.5, utm_source="newsletter", utm_campaign="black-friday",
                add_to_cart=d1("10:03:00"), checkout=d1("10:05:00"), purchase=d1("10:06:00")),
        session("A", d1("11:00:00"), d1("11:00:00"), 1, 1, "/", "/"),
        session("B", d1("10:10:00"), d1("10:25:00"), 3, 2, "/sale", "/product/a",
                referrer_host="www.google.com", add_to_cart=d1("10:25:00")),
        session("C", d1("10:30:00"), d1("10:30:00"), 1, 1, "/", "/"),
        session("D", d1("12:00:00"), d1("12:02:00"), 2, 2, "/", "/sale"),
        session("Z", d1("10:00:30"), d1("10:00:40"), 2, 2, "/", "/product/a", is_bot=True,
                ua_device="Spider"),
        session("C", at(D2, "09:00:00"), at(D2, "09:00:00"), 1, 1, "/", "/"),
    ]


def page_kpi(day: date, path: str, views: int, visitors: int, clicks: int, entrances: int,
             bounces: int) -> dict:
    return {"event_date": day, "page_path": path, "views": views, "unique_visitors": visitors,
            "clicks": clicks, "entrances": entrances, "bounces": bounces,
            "bounce_rate": bounces / entrances if entrances else None}


def known_page_kpis() -> list[dict]:
    return [
        page_kpi(D0, "/", 1, 1, 0, 1, 1),
        page_kpi(D1, "/", 4, 3, 1, 4, 2),
        page_kpi(D1, "/product/a", 2, 2, 0, 0, 0),
        page_kpi(D1, "/sale", 2, 2, 0, 1, 0),
        page_kpi(D2, "/", 1, 1, 0, 1, 1),
    ]


def funnel_row(day: date, sessions: int, steps: tuple[int, int, int, int], revenue: float) -> dict:
    pv, cart, checkout, purchase = steps

    def rate(numerator: int, denominator: int) -> float | None:
        return numerator / denominator if denominator else None

    return {"event_date": day, "sessions": sessions, "page_view_sessions": pv,
            "add_to_cart_sessions": cart, "checkout_sessions": checkout,
            "purchase_sessions": purchase, "add_to_cart_rate": rate(cart, pv),
            "checkout_rate": rate(checkout, cart), "purchase_rate": rate(purchase, checkout),
            "conversion_rate": rate(purchase, pv), "revenue": revenue}


def known_funnel() -> list[dict]:
    return [funnel_row(D0, 1, (1, 0, 0, 0), 0.0), funnel_row(D1, 5, (5, 2, 1, 1), 42.5),
            funnel_row(D2, 1, (1, 0, 0, 0), 0.0)]


def known_quarantine() -> list[dict]:
    when = at(D1, "10:40:00")
    return [
        {"raw_record": "not json", "reason": "malformed_json: record is not a JSON object",
         "event_id": None, "kinesis_shard_id": "shardId-000000000001",
         "kinesis_sequence_number": "49650000000000000000000000000000000000000000000000000001",
         "kinesis_arrival_time": when, "quarantined_at": when + timedelta(seconds=1),
         "quarantine_date": D1},
        {"raw_record": '{"event_id": "x"}',
         "reason": "event_id: required UUID; received_at: missing, the record did not pass the "
                   "ingestion handler",
         "event_id": "x", "kinesis_shard_id": "shardId-000000000001",
         "kinesis_sequence_number": "49650000000000000000000000000000000000000000000000000002",
         "kinesis_arrival_time": when, "quarantined_at": when + timedelta(seconds=1),
         "quarantine_date": D1},
    ]


def write_table(uri: str, rows: list[dict], columns: tuple[str, ...], partition: str,
                mode: str = "overwrite") -> None:
    table = pa.Table.from_pylist(rows, schema=arrow_schema(columns))
    write_deltalake(uri, table, partition_by=[partition], mode=mode)


def write_known_lake(lake: str, bronze: list[dict] | None = None) -> None:
    """The five tables under `lake`, laid out as the pipeline lays them out."""
    write_table(f"{lake}/bronze/events", bronze if bronze is not None else known_events(),
                BRONZE_COLUMNS, "event_date")
    write_table(f"{lake}/bronze/quarantine", known_quarantine(), QUARANTINE_COLUMNS,
                "quarantine_date")
    write_table(f"{lake}/silver/sessions", known_sessions(), SESSION_COLUMNS, "session_date")
    write_table(f"{lake}/gold/page_kpis", known_page_kpis(), PAGE_KPI_COLUMNS, "event_date")
    write_table(f"{lake}/gold/funnel", known_funnel(), FUNNEL_COLUMNS, "event_date")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    lake = str(tmp_path_factory.mktemp("sql-views") / "lake")
    write_known_lake(lake)
    with EmbeddedEngine.open(lake) as opened:
        yield opened


def rows(engine: EmbeddedEngine, sql: str) -> list[dict]:
    return engine.query(sql).to_pylist()


def test_every_view_is_created(engine):
    assert sorted(v.name for v in engine.views) == sorted(v.name for v in load_views())
    assert (engine.unavailable, engine.broken) == ({}, {})
    assert sorted(engine.tables) == ["bronze_events", "bronze_quarantine", "gold_funnel",
                                     "gold_page_kpis", "silver_sessions"]


def test_daily_kpis(engine):
    days = rows(engine, "SELECT * FROM daily_kpis ORDER BY event_date")
    assert [d["event_date"] for d in days] == [D0, D1, D2]
    d1 = days[1]
    # A10, A11, B10, C10, D12 (the bot's visit is excluded); visitors A, B, C, D
    assert (d1["sessions"], d1["visitors"], d1["page_views"], d1["events"]) == (5, 4, 8, 13)
    assert d1["avg_session_seconds"] == pytest.approx((360 + 0 + 900 + 0 + 120) / 5)
    assert d1["bounce_rate"] == pytest.approx(2 / 5)  # A11 and C10 saw one page
    assert (d1["conversions"], d1["conversion_rate"], d1["revenue"]) == (1, 0.2, 42.5)
    schema = engine.schema_of("daily_kpis")
    assert {schema.field(c).type for c in ("sessions", "page_views", "conversions")} == {pa.int64()}
    assert (days[0]["sessions"], days[0]["bounce_rate"], days[0]["conversion_rate"]) == (1, 1.0, 0.0)


def test_shop_funnel(engine):
    steps = rows(engine, "SELECT step, sessions, rate_from_previous, rate_from_start "
                         "FROM shop_funnel WHERE event_date = DATE '2026-11-20' ORDER BY step_number")
    assert steps == [
        {"step": "page_view", "sessions": 5, "rate_from_previous": None, "rate_from_start": 1.0},
        {"step": "add_to_cart", "sessions": 2, "rate_from_previous": 0.4, "rate_from_start": 0.4},
        {"step": "checkout", "sessions": 1, "rate_from_previous": 0.5, "rate_from_start": 0.2},
        {"step": "purchase", "sessions": 1, "rate_from_previous": 1.0, "rate_from_start": 0.2},
    ]
    d2 = rows(engine, "SELECT step, sessions, rate_from_previous FROM shop_funnel "
                      "WHERE event_date = DATE '2026-11-21' ORDER BY step_number")
    assert [(s["sessions"], s["rate_from_previous"]) for s in d2] == [
        (1, None), (0, 0.0), (0, None), (0, None)]


def test_top_pages(engine):
    pages = rows(engine, "SELECT page_path, views, unique_visitors, clicks, entrances, "
                         "bounce_rate, view_rank FROM top_pages "
                         "WHERE event_date = DATE '2026-11-20' ORDER BY view_rank")
    assert [(p["page_path"], p["views"], p["view_rank"]) for p in pages] == [
        ("/", 4, 1), ("/product/a", 2, 2), ("/sale", 2, 3)]
    home = pages[0]
    assert (home["unique_visitors"], home["clicks"], home["entrances"]) == (3, 1, 4)
    assert home["bounce_rate"] == 0.5
    assert (pages[1]["bounce_rate"], pages[2]["bounce_rate"]) == (None, 0.0)


def test_sessions_by_source(engine):
    sources = rows(engine, "SELECT source, campaign, sessions, visitors, conversions, "
                           "conversion_rate, revenue FROM sessions_by_source "
                           "WHERE event_date = DATE '2026-11-20' ORDER BY sessions DESC, source")
    assert sources == [
        {"source": "(direct)", "campaign": "(none)", "sessions": 3, "visitors": 3,
         "conversions": 0, "conversion_rate": 0.0, "revenue": 0.0},
        {"source": "newsletter", "campaign": "black-friday", "sessions": 1, "visitors": 1,
         "conversions": 1, "conversion_rate": 1.0, "revenue": 42.5},
        {"source": "www.google.com", "campaign": "(none)", "sessions": 1, "visitors": 1,
         "conversions": 0, "conversion_rate": 0.0, "revenue": 0.0},
    ]


def test_new_vs_returning(engine):
    found = {(r["event_date"], r["visitor_type"]): (r["visitors"], r["sessions"], r["conversions"],
                                                   r["revenue"])
             for r in rows(engine, "SELECT * FROM new_vs_returning")}
    assert found == {
        (D0, "new"): (1, 1, 0, 0.0),              # D's first visit
        (D1, "new"): (3, 4, 1, 42.5),             # A (twice), B, C
        (D1, "returning"): (1, 1, 0, 0.0),        # D, first seen on D0
        (D2, "returning"): (1, 1, 0, 0.0),        # C, first seen on D1
    }


def test_events_per_minute(engine):
    minutes = rows(engine, "SELECT minute, events, page_views, visitors, bot_events "
                           "FROM events_per_minute WHERE event_date = DATE '2026-11-20' "
                           "ORDER BY minute")
    assert len(minutes) == 13  # 15 events on D1, two pairs share a minute
    first = minutes[0]
    assert first["minute"] == at(D1, "10:00:00")
    assert (first["events"], first["page_views"], first["visitors"], first["bot_events"]) == (3, 3, 2, 2)
    assert sum(m["events"] for m in minutes) == 15


def test_hourly_volume(engine):
    hours = rows(engine, "SELECT hour, events, visitors, bot_events FROM hourly_volume "
                         "ORDER BY hour")
    assert [(h["hour"], h["events"], h["visitors"], h["bot_events"]) for h in hours] == [
        (at(D0, "09:00:00"), 1, 1, 0),
        (at(D1, "10:00:00"), 12, 4, 2),   # A 6, B 3, C 1, Z 2
        (at(D1, "11:00:00"), 1, 1, 0),
        (at(D1, "12:00:00"), 2, 1, 0),
        (at(D2, "09:00:00"), 1, 1, 0),
    ]


def test_partition_filter_reaches_the_delta_files(engine):
    """A filter on event_date goes into the Arrow scan, where it selects only that day's files."""
    plan = engine.query("EXPLAIN SELECT count(*) FROM bronze_events "
                        "WHERE event_date = DATE '2026-11-20'").column(1)[0].as_py()
    assert "event_date" in plan.split("Filters:")[1].split("\n")[1]
    dataset = delta_dataset(DeltaTable(engine.tables["bronze_events"].location))
    day = [f.path for f in dataset.get_fragments(filter=ds.field("event_date") == D1)]
    assert len(day) == 1 and day[0].startswith("event_date=2026-11-20/")


def test_user_errors_are_messages(engine):
    with pytest.raises(SqlError, match=r"syntax error at line 1, column 7: .* \(near .SELEC 1.\)"):
        engine.query("SELEC 1")
    with pytest.raises(SqlError, match=r"one statement at a time"):
        engine.query("SELECT 1; SELECT 2")
    with pytest.raises(SqlError, match=r"no table or view named top_page \(did you mean top_pages\?\)"):
        engine.query("SELECT * FROM top_page")
    with pytest.raises(SqlError, match=r'Referenced column "nope" not found'):
        engine.query("SELECT nope FROM daily_kpis")


def test_views_over_missing_tables_are_explained(tmp_path):
    lake = str(tmp_path / "lake")
    write_table(f"{lake}/bronze/events", known_events(), BRONZE_COLUMNS, "event_date")
    with EmbeddedEngine.open(lake) as engine:
        assert sorted(v.name for v in engine.views) == ["events_per_minute", "hourly_volume"]
        assert engine.unavailable["shop_funnel"] == "reads gold_funnel, which is not in the lake yet"
        with pytest.raises(SqlError, match="shop_funnel is not available: reads gold_funnel"):
            engine.query("SELECT * FROM shop_funnel")
