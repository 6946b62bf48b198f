"""`clickstream sql` as a user runs it: a subprocess over a real lake, answering every view."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from streaming.lakesql.views import load_views
from tests.integration.test_sql_views import write_known_lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("sql-cli") / "lake")
    write_known_lake(path)
    return path


def sql(lake: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLICKSTREAM_MODE": "embedded", "CLICKSTREAM_LAKE_URI": lake}
    return subprocess.run([sys.executable, "-m", "streaming.cli", "sql", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("view", [v.name for v in load_views()])
def test_sql_answers_every_view(lake, view):
    done = sql(lake, f"SELECT * FROM {view}", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows and set(rows[0]) == set(next(v for v in load_views() if v.name == view).columns)


def test_table_output(lake):
    done = sql(lake, "SELECT event_date, sessions, conversion_rate, revenue FROM daily_kpis "
                     "ORDER BY event_date")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "event_date | sessions | conversion_rate | revenue",
        "-----------+----------+-----------------+--------",
        "2026-11-19 |        1 |             0.0 |     0.0",
        "2026-11-20 |        5 |             0.2 |    42.5",
        "2026-11-21 |        1 |             0.0 |     0.0",
        "(3 rows)",
    ]


def test_csv_output(lake):
    done = sql(lake, "SELECT step, sessions FROM shop_funnel WHERE event_date = DATE '2026-11-20' "
                     "ORDER BY step_number", "--format", "csv")
    assert done.stdout.splitlines() == ["step,sessions", "page_view,5", "add_to_cart,2",
                                        "checkout,1", "purchase,1"]


@pytest.mark.parametrize(("query", "message"), [
    ("SELECT * FROM daily_kpi", "no table or view named daily_kpi (did you mean daily_kpis?)"),
    ("SELEC * FROM daily_kpis", "syntax error at line 1"),
    ("SELECT nope FROM top_pages", 'Referenced column "nope" not found'),
])
def test_errors_are_one_clear_line(lake, query, message):
    done = sql(lake, query)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("clickstream: ") and message in done.stderr
    assert "Traceback" not in done.stderr
