"""The SQL under sql/ parses as Trino (Athena's dialect) and translates for the embedded engine;
the DDL matches the lake's layout; query output renders for a terminal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from streaming.lakesql.catalog import TableEntry, table_name
from streaming.lakesql.engine import glue_table_input
from streaming.lakesql.output import render
from streaming.lakesql.views import SQL_DIR, VIEWS_DIR, SqlError, View, load_views

SQL_FILES = sorted(SQL_DIR.rglob("*.sql"))
# Athena DDL for creating the tables by hand; the catalog asset registers the same in Glue.
DDL_DIR = SQL_DIR / "ddl"
PIPELINE_TABLES = {"bronze_events": "bronze/events", "bronze_quarantine": "bronze/quarantine",
                   "silver_sessions": "silver/sessions", "gold_page_kpis": "gold/page_kpis",
                   "gold_funnel": "gold/funnel"}


def test_there_are_views_and_ddl():
    assert {p.stem for p in VIEWS_DIR.glob("*.sql")} == {
        "daily_kpis", "shop_funnel", "top_pages", "sessions_by_source", "new_vs_returning",
        "events_per_minute", "hourly_volume"}
    assert {p.stem for p in DDL_DIR.glob("*.sql")} == set(PIPELINE_TABLES)


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: str(p.relative_to(SQL_DIR)))
def test_every_file_parses_as_trino(path: Path):
    statements = [s for s in sqlglot.parse(path.read_text(), read="trino") if s is not None]
    assert len(statements) == 1
    assert isinstance(statements[0], exp.Create)


@pytest.mark.parametrize("view", load_views(), ids=lambda v: v.name)
def test_views_create_themselves_and_translate(view: View):
    assert view.statement.kind == "VIEW" and view.statement.this.name == view.name
    assert view.description, "a view file starts with a comment saying what the view is for"
    assert set(view.reads) <= set(PIPELINE_TABLES)
    assert f"CREATE OR REPLACE VIEW {view.name} AS " in view.duckdb_sql()


@pytest.mark.parametrize("name", sorted(PIPELINE_TABLES))
def test_ddl_registers_the_delta_table_where_the_pipeline_writes_it(name: str):
    create = sqlglot.parse_one((DDL_DIR / f"{name}.sql").read_text(), read="trino")
    assert create.this.name == name == table_name(*PIPELINE_TABLES[name].split("/"))
    location = create.find(exp.LocationProperty).this.name
    assert location == f"${{lake_uri}}/{PIPELINE_TABLES[name]}"
    properties = {p.name: p.args["value"].name for p in create.find_all(exp.Property)
                  if type(p) is exp.Property}
    assert properties == {"table_type": "DELTA"}
    assert create.find(exp.ExternalProperty) is not None
    glue = glue_table_input(TableEntry(name, f"s3://lake/{PIPELINE_TABLES[name]}", ()))
    assert glue["Parameters"]["table_type"] == "DELTA"
    assert glue["StorageDescriptor"]["Location"] == location.replace("${lake_uri}", "s3://lake")


def test_a_view_file_must_create_its_own_view():
    with pytest.raises(SqlError, match="must create the view it is named after"):
        View.from_sql("daily_kpis", "CREATE OR REPLACE VIEW other AS SELECT 1 AS x")
    with pytest.raises(SqlError, match="expected CREATE OR REPLACE VIEW"):
        View.from_sql("daily_kpis", "SELECT 1")


def test_column_lineage_follows_ctes_and_aliases():
    view = next(v for v in load_views() if v.name == "new_vs_returning")
    schema = {"silver_sessions": {c: "unknown" for c in (
        "session_date", "anonymous_id", "is_bot", "converted", "revenue")}}
    assert view.column_lineage(schema) == {
        "event_date": ["silver_sessions.session_date"],
        "visitor_type": ["silver_sessions.session_date"],
        "visitors": ["silver_sessions.anonymous_id"],
        "sessions": [],
        "conversions": ["silver_sessions.converted"],
        "revenue": ["silver_sessions.revenue"],
    }


def test_render_table_csv_and_json():
    result = pa.table({
        "event_date": pa.array([date(2026, 11, 20), None], pa.date32()),
        "sessions": pa.array([5, 12], pa.int64()),
        "rate": pa.array([0.2, None], pa.float64()),
        "at": pa.array([datetime(2026, 11, 20, 10, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
        "props": pa.array([[("k", "v")], None], pa.map_(pa.string(), pa.string())),
    })
    assert render(result).splitlines() == [
        "event_date | sessions | rate | at                        | props",
        "-----------+----------+------+---------------------------+----------",
        "2026-11-20 |        5 |  0.2 | 2026-11-20 10:00:00+00:00 | {\"k\":\"v\"}",
        "NULL       |       12 | NULL | NULL                      | NULL",
        "(2 rows)",
    ]
    assert render(result, "csv").splitlines() == [
        "event_date,sessions,rate,at,props",
        '2026-11-20,5,0.2,2026-11-20 10:00:00+00:00,"{""k"":""v""}"',
        ",12,,,",
    ]
    assert render(result, "json") == (
        '[{"event_date":"2026-11-20","sessions":5,"rate":0.2,"at":"2026-11-20T10:00:00+00:00",'
        '"props":{"k":"v"}},{"event_date":null,"sessions":12,"rate":null,"at":null,"props":null}]')
