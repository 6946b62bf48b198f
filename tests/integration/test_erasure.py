"""Erasure of a person, on real Delta tables: silver and gold built by Spark from bronze,
then `forget` through delta-rs, then every version of every table read back.

The person is u-1 (`subject_events`): anon-1 identified as u-1, anon-2 aliased u-1's earlier
id anon-0. anon-10 and u-10 have the person's ids as prefixes, B's properties name anon-1,
a quarantined non-JSON record contains anon-1 as text: none of those rows is theirs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, Definitions
from deltalake import DeltaTable

from clickstream_assets.constants import PRIVACY_REQUESTS
from clickstream_assets.defs.lake.privacy import erasures_hold, forget_job, privacy_requests
from clickstream_assets.resources import build_resources
from streaming.cli import main as cli
from streaming.erased import subject_hash
from streaming.lake import audit, suppression, tables
from streaming.lake.erasure import Subject, forget
from streaming.lake.modeling import identity_links, sessionize
from streaming.lake.rebuild import rebuild_gold, replace_day, spark_day
from streaming.lake.subject import PERSONAL_TABLES, record_ids
from streaming.settings import load_settings
from streaming.stream.transforms import BRONZE_COLUMNS, QUARANTINE_COLUMNS
from tests.integration.test_identities import USER, subject_events
from tests.integration.test_sql_views import D0, D1, D2, at, known_quarantine, write_table

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PERSON = {USER, "anon-0", "anon-1", "anon-2"}
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def clock():
    """An injected "now" that moves a second per call."""
    ticks = iter(range(10_000))
    return lambda: NOW + timedelta(seconds=next(ticks))


def quarantined(raw: str, sequence: int, index: int | None = None) -> dict:
    return {"raw_record": raw, "reason": "event_type: not a v1 event type", "event_id": None,
            "kinesis_shard_id": "shardId-000000000000",
            "kinesis_sequence_number": str(49650000000000000000000000000000000000000000000000000100
                                           + sequence),
            "kinesis_record_index": index, "kinesis_arrival_time": at(D1, "13:00:00"),
            "quarantined_at": at(D1, "13:00:01"), "quarantine_date": D1}


def subject_quarantine() -> list[dict]:
    return [*known_quarantine(),
            quarantined(json.dumps({"anonymous_id": "anon-1", "event_type": "teleport"}), 1),
            quarantined(json.dumps({"anonymous_id": "anon-10", "event_type": "teleport"}), 2),
            quarantined("not json, but anon-1 in text", 3),
            quarantined(json.dumps({"anonymous_id": "B", "user_id": USER}), 4, index=0)]


def settings_at(home):
    return replace(load_settings(), mode="embedded", home=home, lake_uri=str(home / "lake"))


def write_raw_lake(settings) -> None:
    write_table(tables.BRONZE.uri(settings), subject_events(), BRONZE_COLUMNS, "event_date")
    write_table(tables.QUARANTINE.uri(settings), subject_quarantine(), QUARANTINE_COLUMNS,
                "quarantine_date")


def build_modeled(spark, settings) -> None:
    """Silver and gold of every day, as the Dagster assets build them."""
    bronze = tables.BRONZE.uri(settings)
    for day in map(str, (D0, D1, D2)):
        events = spark_day(spark, bronze, tables.BRONZE, day)
        replace_day(sessionize(events), settings, tables.SESSIONS, day)
        replace_day(identity_links(events), settings, tables.IDENTITIES, day)
    rebuild_gold(spark, settings, [D0, D1, D2])


def every_version(uri: str) -> tuple[list[dict], list[int]]:
    """Rows of every version still readable, and the versions that are not."""
    rows, unreadable = [], []
    for entry in DeltaTable(uri).history():
        try:
            table = DeltaTable(uri, version=entry["version"]).to_pyarrow_dataset().to_table()
        except FileNotFoundError:
            unreadable.append(entry["version"])
            continue
        rows += table.to_pylist()
    return rows, unreadable


def ids_of(table, row: dict) -> set[str]:
    if table is tables.QUARANTINE:
        return record_ids(row["raw_record"])
    return {row["anonymous_id"], row["user_id"]} - {None}


def gold(settings, table, day) -> dict:
    rows = DeltaTable(table.uri(settings)).to_pyarrow_dataset().to_table().to_pylist()
    return {r.get("page_path"): r for r in rows if r["event_date"] == day}


@pytest.fixture(scope="module")
def erased(tmp_path_factory, spark):
    settings = settings_at(tmp_path_factory.mktemp("erasure") / "home")
    write_raw_lake(settings)
    build_modeled(spark, settings)
    before = {"pages": gold(settings, tables.PAGE_KPIS, D1),
              "funnel": {day: gold(settings, tables.FUNNEL, day)[None] for day in (D1, D2)}}
    rebuilt = []

    def rebuild(days):
        rebuilt.append(days)
        return rebuild_gold(spark, settings, days)

    outcome = forget(settings, Subject(user_id=USER), "dpo@example.com", rebuild, clock())
    return settings, outcome, before, rebuilt


def test_ids_resolve_through_identity_links(erased):
    _, outcome, _, _ = erased
    assert outcome.ids_resolved == len(PERSON)
    assert outcome.verified


def test_only_the_persons_rows_are_removed(erased):
    settings, outcome, _, _ = erased
    # bronze: anon-1's four events, anon-2's alias; quarantine: anon-1's record and the
    # aggregate member carrying u-1; sessions: anon-1 on D1 and D2, anon-2 on D1;
    # identity links: four on D1, one on D2
    assert outcome.rows_removed == {"bronze_events": 5, "bronze_quarantine": 2,
                                    "silver_sessions": 3, "silver_identities": 5}
    bronze = DeltaTable(tables.BRONZE.uri(settings)).to_pyarrow_dataset().to_table().to_pylist()
    assert {r["anonymous_id"] for r in bronze} >= {"anon-10", "B"}
    assert any(r["user_id"] == "u-10" for r in bronze)
    assert any(dict(r["properties"] or []).get("referred_by") == "anon-1" for r in bronze)
    raw = [r["raw_record"] for r in
           DeltaTable(tables.QUARANTINE.uri(settings)).to_pyarrow_dataset().to_table().to_pylist()]
    assert "not json, but anon-1 in text" in raw
    assert any("anon-10" in r for r in raw)


def test_no_version_of_any_table_returns_the_person(erased):
    settings, outcome, _, _ = erased
    for table in PERSONAL_TABLES:
        rows, unreadable = every_version(table.uri(settings))
        assert rows, table.name
        assert not [r for r in rows if ids_of(table, r) & PERSON], table.name
        assert outcome.verification[table.name]["rows"] == 0
        assert outcome.verification[table.name]["unreadable_versions"] == len(unreadable)
    assert sum(outcome.files_purged.values()) > 0


def test_gold_days_that_counted_them_are_rebuilt(erased):
    settings, outcome, before, rebuilt = erased
    assert rebuilt == [[D1, D2]] and outcome.gold_rebuilt == [str(D1), str(D2)]
    home_before, home = before["pages"]["/"], gold(settings, tables.PAGE_KPIS, D1)["/"]
    # anon-1's page view of / on D1 is gone; anon-10's and B's stay
    assert (home_before["views"], home_before["unique_visitors"]) == (7, 6)
    assert (home["views"], home["unique_visitors"]) == (6, 5)
    funnel = {day: gold(settings, tables.FUNNEL, day)[None] for day in (D1, D2)}
    # D1's human visits: A twice, B twice, C, D, anon-10, and the person's two
    assert (before["funnel"][D1]["sessions"], before["funnel"][D1]["revenue"]) == (9, 141.5)
    assert (funnel[D1]["sessions"], funnel[D1]["revenue"]) == (7, 42.5)
    assert (before["funnel"][D2]["sessions"], funnel[D2]["sessions"]) == (2, 1)


def log_text(uri: str) -> str:
    """Everything a table's Delta log holds (JSON commits, checkpoints' rows), with the
    statistics' quotes unescaped."""
    texts = []
    for path in sorted(Path(uri, "_delta_log").iterdir()):
        if path.suffix == ".json" or path.name == "_last_checkpoint":
            texts.append(path.read_text())
        elif path.suffix == ".parquet":
            texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
    return "\n".join(texts).replace('\\"', '"')  # statistics are JSON inside JSON


def test_no_log_file_of_any_table_names_the_person(erased):
    """File statistics (min and max of the stats columns) in the log's commits would keep an
    id long after its files were vacuumed."""
    settings, _, _, _ = erased
    for table in (*PERSONAL_TABLES, tables.PAGE_KPIS, tables.FUNNEL):
        text = log_text(table.uri(settings))
        if table is tables.BRONZE:
            assert '"anon-10"' in text, "the scan reads the statistics of the others' rows"
        assert not [i for i in PERSON if f'"{i}"' in text], table.name


def test_the_audit_trail_and_suppression_list_hold_hashes_only(erased):
    settings, outcome, _, _ = erased
    trail = audit.audit_trail(settings)
    steps = trail.steps(outcome.request_id)
    assert [s["step"] for s in steps] == [
        "requested", "deleted", "deleted", "deleted", "rebuilt", "rebuilt", "deleted",
        *["purged"] * 6, "completed"]
    assert steps[0]["requested_by"] == "dpo@example.com" and steps[0]["requested_at"] == NOW
    assert steps[-1]["verified"] is True
    salt = settings.subject_hash_salt
    assert steps[0]["subject_hash"] == subject_hash(USER, salt)
    deleted = {s["table_name"]: s for s in steps if s["step"] == "deleted"}
    assert deleted["bronze_events"]["partitions"] == [str(D1), str(D2)]
    assert deleted["bronze_events"]["rows_removed"] == 5
    assert deleted["bronze_events"]["table_version"] == 1  # the DELETE after the first write
    listed = suppression.request_hashes(suppression.suppression_target(settings),
                                        outcome.request_id)
    assert listed == {subject_hash(i, salt) for i in PERSON}
    for table in (tables.REQUESTS, tables.SUPPRESSED):
        text = json.dumps(DeltaTable(table.uri(settings)).to_pyarrow_dataset().to_table()
                          .to_pylist(), default=str)
        assert not [i for i in PERSON if f'"{i}"' in text], table.name


def test_an_unknown_id_is_a_completed_request_with_zero_rows(erased):
    settings, _, _, _ = erased

    def no_rebuild(days):
        raise AssertionError(f"nothing to rebuild, asked for {days}")

    outcome = forget(settings, Subject(anonymous_id="nobody"), "dpo@example.com", no_rebuild,
                     clock())
    assert outcome.verified and set(outcome.rows_removed.values()) == {0}
    assert outcome.ids_resolved == 1
    assert audit.audit_trail(settings).steps(outcome.request_id)[-1]["step"] == "completed"


def test_the_dagster_job_runs_an_erasure_and_the_check_verifies_every_request(erased):
    settings, _, _, _ = erased
    defs = Definitions(assets=[privacy_requests], asset_checks=[erasures_hold],
                       jobs=[forget_job], resources=build_resources(settings))
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("forget_job").execute_in_process(
            instance=instance, run_config={"ops": {"privacy_requests": {"config": {
                "anonymous_id": "anon-10", "requested_by": "ticket-42"}}}})
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.asset_key == PRIVACY_REQUESTS and check.passed
    # every completed request is checked, however many the module's earlier tests made
    completed = audit.audit_trail(settings).completed()
    assert check.metadata["requests_checked"].value == len(completed) >= 1
    assert not any(r["anonymous_id"] == "anon-10" for r in DeltaTable(
        tables.BRONZE.uri(settings)).to_pyarrow_dataset().to_table().to_pylist())


def test_a_crash_halfway_is_finished_by_running_the_request_again(tmp_path):
    settings = settings_at(tmp_path / "home")
    write_raw_lake(settings)

    def crash(days):
        raise RuntimeError("the driver died")

    with pytest.raises(RuntimeError, match="the driver died"):
        forget(settings, Subject(user_id="u-10"), "dpo@example.com", crash, clock())
    trail = audit.audit_trail(settings)
    [first] = [s for s in trail.rows().to_pylist() if s["step"] == "requested"]
    rebuilt = []
    outcome = forget(settings, Subject(user_id="u-10"), "someone else",
                     lambda days: rebuilt.append(days) or {}, clock())
    assert outcome.resumed and outcome.request_id == first["request_id"]
    # the days come from the first run's deletions, recorded before it crashed
    assert rebuilt == [[D1]] and outcome.rows_removed["bronze_events"] == 0
    steps = trail.steps(outcome.request_id)
    assert sum(s["rows_removed"] or 0 for s in steps if s["table_name"] == "bronze_events") == 1
    assert steps[-1]["step"] == "completed" and steps[-1]["verified"]


def test_export_and_forget_from_the_command_line(tmp_path, monkeypatch, capsys):
    settings = settings_at(tmp_path / "home")
    write_raw_lake(settings)
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    assert cli(["export-subject", "--anonymous-id", "anon-1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["subject"] == "anon-1" and set(lines[0]["ids"]) == {"anon-1", USER, "anon-2"}
    found = [(line["table"], line["row"].get("event_type")) for line in lines[1:]]
    assert sorted(found) == sorted([("bronze_events", t) for t in (
        "page_view", "custom:identify", "purchase", "custom:alias", "page_view")]
        + [("bronze_quarantine", None)] * 2)
    assert cli(["forget", "--anonymous-id", "nobody", "--requested-by", "cli"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_removed"]["bronze_events"] == 0
