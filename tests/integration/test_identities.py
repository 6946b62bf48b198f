"""silver_identities: the links between a person's ids, built by Spark from real Delta bronze.

The events carry the property under test: a visitor who browses anonymously and identifies,
a Segment alias from a second device linking an earlier id, and a visitor whose id the
person's id is a prefix of, who never identified. The erasure tests import `subject_events`.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from dagster import (
    AssetSelection,
    DagsterInstance,
    Definitions,
    SkipReason,
    build_sensor_context,
    define_asset_job,
)
from deltalake import DeltaTable

from clickstream_assets.constants import IDENTITIES, REASON_TAG
from clickstream_assets.defs.lake.assets import silver_identities, silver_sessions
from clickstream_assets.defs.lake.checks import silver_quality
from clickstream_assets.defs.lake.sensors import identified_later_sensor
from clickstream_assets.resources import build_resources
from streaming.lake import tables
from streaming.settings import load_settings
from streaming.stream.transforms import BRONZE_COLUMNS
from tests.integration.test_sql_views import D1, D2, at, bronze_event, known_events, write_table

pytestmark = [pytest.mark.slow, pytest.mark.spark]

USER = "u-1"


def subject_events() -> list[dict]:
    """The known lake's events plus the person: `anon-1` browses, identifies as u-1 and keeps
    browsing; `anon-2`, a second device, aliases u-1's earlier id `anon-0`; `anon-1` comes back
    on D2. `anon-10` and user `u-10` share the person's ids as prefixes, and visitor B's
    properties mention `anon-1`: none of them is the person."""
    return [
        *known_events(),
        bronze_event("anon-1", at(D1, "13:00:00"), "page_view", "/"),
        bronze_event("anon-1", at(D1, "13:05:00"), "custom:identify", "/account", user_id=USER),
        bronze_event("anon-1", at(D1, "13:06:00"), "purchase", "/checkout/done", user_id=USER,
                     properties={"revenue": "99.0"}),
        bronze_event("anon-2", at(D1, "14:00:00"), "custom:alias", "/", user_id=USER,
                     properties={"previousId": "anon-0"}),
        bronze_event("anon-1", at(D2, "10:00:00"), "page_view", "/sale", user_id=USER),
        bronze_event("anon-10", at(D1, "13:00:00"), "page_view", "/", user_id="u-10"),
        bronze_event("B", at(D1, "15:00:00"), "page_view", "/",
                     properties={"referred_by": "anon-1", "note": USER}),
    ]


@pytest.fixture
def settings(tmp_path, spark):
    home = tmp_path / "home"
    settings = replace(load_settings(), mode="embedded", home=home, lake_uri=str(home / "lake"))
    write_table(tables.BRONZE.uri(settings), subject_events(), BRONZE_COLUMNS, "event_date")
    return settings


def build_day(settings, day) -> dict:
    defs = Definitions(
        assets=[silver_identities], asset_checks=[silver_quality],
        jobs=[define_asset_job("identities", AssetSelection.assets(silver_identities)
                               | AssetSelection.checks_for_assets(silver_identities))],
        resources=build_resources(settings))
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("identities").execute_in_process(
            instance=instance, partition_key=str(day))
    assert result.success
    return {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}


def links(settings) -> set[tuple]:
    rows = DeltaTable(tables.IDENTITIES.uri(settings)).to_pyarrow_dataset().to_table().to_pylist()
    return {(r["link_date"], r["anonymous_id"], r["user_id"], r["source"], r["first_seen_at"],
             r["last_seen_at"], r["events"]) for r in rows}


def test_links_of_one_day_with_first_and_last_seen(settings):
    checks = build_day(settings, D1)
    assert links(settings) == {
        (D1, "anon-1", USER, "identify", at(D1, "13:05:00"), at(D1, "13:05:00"), 1),
        (D1, "anon-1", USER, "event", at(D1, "13:06:00"), at(D1, "13:06:00"), 1),
        (D1, "anon-2", USER, "event", at(D1, "14:00:00"), at(D1, "14:00:00"), 1),
        (D1, "anon-0", USER, "alias", at(D1, "14:00:00"), at(D1, "14:00:00"), 1),
        (D1, "anon-10", "u-10", "event", at(D1, "13:00:00"), at(D1, "13:00:00"), 1),
    }
    assert checks[(IDENTITIES, "schema")].passed


def test_a_day_rebuilt_replaces_only_itself(settings):
    build_day(settings, D1)
    build_day(settings, D2)
    build_day(settings, D1)
    found = links(settings)
    assert len([link for link in found if link[0] == D1]) == 5
    assert {link for link in found if link[0] == D2} == {
        (D2, "anon-1", USER, "event", at(D2, "10:00:00"), at(D2, "10:00:00"), 1)}


LATER = "u-3"


def identified_later_events() -> list[dict]:
    """`anon-3` visits anonymously on D1 and logs in as u-3 on D2; `anon-4` never identifies."""
    return [
        bronze_event("anon-3", at(D1, "09:00:00"), "page_view", "/"),
        bronze_event("anon-3", at(D1, "09:02:00"), "page_view", "/sale"),
        bronze_event("anon-4", at(D1, "09:30:00"), "page_view", "/"),
        bronze_event("anon-3", at(D2, "18:00:00"), "custom:identify", "/account", user_id=LATER),
    ]


def build(settings, day, *assets) -> None:
    defs = Definitions(assets=list(assets), resources=build_resources(settings),
                       jobs=[define_asset_job("build", AssetSelection.assets(*assets))])
    with DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("build").execute_in_process(
            instance=instance, partition_key=str(day)).success


def visit_users(settings, day) -> dict[str, str | None]:
    rows = DeltaTable(tables.SESSIONS.uri(settings)).to_pyarrow_dataset().to_table().to_pylist()
    return {r["anonymous_id"]: r["user_id"] for r in rows if r["session_date"] == day}


def test_a_visit_before_the_visitor_identified_carries_the_user_id(settings):
    write_table(tables.BRONZE.uri(settings), identified_later_events(), BRONZE_COLUMNS,
                "event_date")
    build(settings, D2, silver_identities)
    build(settings, D1, silver_identities, silver_sessions)
    assert visit_users(settings, D1) == {"anon-3": LATER, "anon-4": None}


def test_a_later_identification_asks_for_the_days_it_changes_and_no_more(settings):
    write_table(tables.BRONZE.uri(settings), identified_later_events(), BRONZE_COLUMNS,
                "event_date")
    build(settings, D1, silver_identities, silver_sessions)
    assert visit_users(settings, D1) == {"anon-3": None, "anon-4": None}
    build(settings, D2, silver_identities)
    resources = build_resources(settings)
    with DagsterInstance.ephemeral() as instance:
        with build_sensor_context(instance=instance, resources=resources) as context:
            result = identified_later_sensor(context)
        [request] = result.run_requests
        assert (request.partition_key, request.tags[REASON_TAG]) == (
            str(D1), f"1 visitors of {D1} identified later")
        build(settings, D1, silver_identities, silver_sessions)
        assert visit_users(settings, D1) == {"anon-3": LATER, "anon-4": None}
        with build_sensor_context(instance=instance, resources=resources) as context:
            assert isinstance(identified_later_sensor(context), SkipReason)
