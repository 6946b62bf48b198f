"""The Dagster control plane on the real stack: kinesalite, the handler, a real catch-up job
(Spark subprocess on the job's checkpoint), silver/gold on real Spark and Delta tables.

One scenario, in order, as a user lives it: the stream job is down while clicks arrive; the
lag sensor asks for a catch-up; the catch-up drains the backlog; silver and gold are built
for two days; a late event arrives for the first day; the late-data sensor asks to rebuild
exactly that day.
"""

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    RunRequest,
    SensorResult,
    SkipReason,
    build_sensor_context,
    materialize,
)
from deltalake import DeltaTable

from clickstream_assets.constants import BRONZE, REASON_TAG, STREAM
from clickstream_assets.defs.lake.assets import gold_funnel, gold_page_kpis, silver_sessions
from clickstream_assets.defs.lake.sensors import late_data_sensor
from clickstream_assets.defs.stream.assets import bronze_catch_up, kinesis_stream
from clickstream_assets.defs.stream.jobs import observe_stream_job
from clickstream_assets.defs.stream.sensors import bronze_health_sensor, stream_lag_sensor
from clickstream_assets.resources import build_resources
from streaming.erased import ErasedIds
from streaming.ingest.events import ingest
from streaming.ingest.http import write_now
from streaming.kinesis import ensure_stream, kinesis_client
from streaming.lake import tables

pytestmark = [pytest.mark.slow, pytest.mark.spark]

DAY, NEXT_DAY = "2026-11-20", "2026-11-21"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
SITE = "https://shop.example.com"


def click(visitor: str, at: str, event_type: str, path: str, **extra) -> dict:
    return {"event_id": str(uuid.uuid4()), "event_type": event_type, "event_time": at,
            "anonymous_id": visitor, "session_id": f"{visitor}-tab", "page_url": f"{SITE}{path}",
            **extra}


def known_events() -> list[dict]:
    """Four visits on DAY (one converting, two bounces) and one on NEXT_DAY."""
    d = f"{DAY}T"
    return [
        click("A", d + "10:00:00Z", "page_view", "/"),
        click("A", d + "10:01:00Z", "click", "/", element={"id": "product-a"}),
        click("A", d + "10:02:00Z", "page_view", "/product/a"),
        click("A", d + "10:03:00Z", "add_to_cart", "/product/a", properties={"price": 42.5}),
        click("A", d + "10:05:00Z", "checkout", "/checkout"),
        click("A", d + "10:06:00Z", "purchase", "/checkout/done", properties={"revenue": 42.5}),
        click("A", d + "11:00:00Z", "page_view", "/"),
        click("B", d + "10:10:00Z", "page_view", "/sale"),
        click("B", d + "10:20:00Z", "page_view", "/product/a"),
        click("B", d + "10:25:00Z", "add_to_cart", "/product/a", properties={"price": 10}),
        click("C", d + "10:30:00Z", "page_view", "/"),
        click("C", f"{NEXT_DAY}T09:00:00Z", "page_view", "/"),
    ]


def send(settings, events: list[dict]) -> None:
    response = write_now(ingest({"content-type": "application/json", "user-agent": CHROME},
                                orjson.dumps({"events": events}), "203.0.113.5", settings,
                                ErasedIds(settings)), kinesis_client(settings), settings.stream_name)
    assert response["statusCode"] == 200, response["body"]


@pytest.fixture(scope="module")
def settings(kinesis, tmp_path_factory):
    home = tmp_path_factory.mktemp("control-plane")
    own = replace(kinesis.settings, home=home, lake_uri=str(home / "lake"),
                  checkpoint_uri=str(home / "checkpoints"), stream_name=f"cp-{uuid.uuid4().hex[:8]}")
    ensure_stream(kinesis_client(own), own.stream_name, own.shard_count)
    return own


@pytest.fixture(scope="module")
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture(scope="module")
def resources(settings, spark):
    return build_resources(settings)


def tick(sensor, instance, resources, cursor=None):
    with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        return sensor(context)


def bronze_ids(settings) -> list[str]:
    return DeltaTable(tables.BRONZE.uri(settings)).to_pyarrow_dataset().to_table(columns=["event_id"])[
        "event_id"].to_pylist()


def table(settings, name: str, day: str) -> list[dict]:
    rows = DeltaTable(f"{settings.lake_uri}/{name}").to_pyarrow_dataset().to_table().to_pylist()
    return [r for r in rows if str(r.get("session_date") or r.get("event_date")) == day]


def observe_stream(instance, resources) -> dict:
    defs = Definitions(assets=[kinesis_stream], jobs=[observe_stream_job], resources=resources)
    assert defs.resolve_job_def("observe_stream_job").execute_in_process(
        instance=instance).success
    record = instance.fetch_observations(STREAM, limit=1).records[0]
    observation = record.asset_observation
    metadata = {k: v.value for k, v in observation.metadata.items()}
    return {**metadata, "data_version": observation.tags["dagster/data_version"]}


def test_control_plane_scenario(settings, instance, resources):
    events = known_events()
    send(settings, events)
    # the handler writes one record per visitor of the request (streaming/records.py)
    records = len({event["anonymous_id"] for event in events})

    request = tick(stream_lag_sensor, instance, resources)
    assert isinstance(request, RunRequest)
    assert "stream job is down" in request.tags[REASON_TAG]
    assert request.tags["clickstream/backlog_records"] == str(records)

    result = materialize([bronze_catch_up], instance=instance, resources=resources,
                         tags=request.tags)
    metadata = result.asset_materializations_for_node("bronze_catch_up")[0].metadata
    assert metadata["rows_added"].value == len(events)
    assert "stream job is down" in metadata["reason"].value
    assert sorted(bronze_ids(settings)) == sorted(e["event_id"] for e in events)

    assert isinstance(tick(stream_lag_sensor, instance, resources), SkipReason)

    first = observe_stream(instance, resources)
    assert (first["shard_count"], first["records_since_last_observation"]) == (2, records)
    assert (first["backlog_records"], first["consumer_lag_seconds"]) == (0, 0.0)
    again = observe_stream(instance, resources)
    assert again["records_since_last_observation"] == 0
    assert again["data_version"] == first["data_version"]

    health = tick(bronze_health_sensor, instance, resources)
    assert isinstance(health, SensorResult)
    bronze_observation = next(e for e in health.asset_events if e.asset_key == BRONZE)
    assert bronze_observation.metadata["rows_added"].value == len(events)
    assert bronze_observation.metadata["job_state"].value == "stopped"

    for day in (DAY, NEXT_DAY):
        assert materialize([silver_sessions, gold_page_kpis, gold_funnel], instance=instance,
                           resources=resources, partition_key=day).success
    assert_known_models(lambda name: table(settings, name, DAY))
    assert len(table(settings, "silver/sessions", NEXT_DAY)) == 1

    late = click("D", f"{DAY}T23:00:00Z", "page_view", "/late")
    send(settings, [late])
    arrived = observe_stream(instance, resources)
    assert (arrived["records_since_last_observation"], arrived["backlog_records"]) == (1, 1)
    assert arrived["data_version"] != first["data_version"]
    materialize([bronze_catch_up], instance=instance, resources=resources,
                tags=tick(stream_lag_sensor, instance, resources).tags)

    late_tick = tick(late_data_sensor, instance, resources)
    assert [r.partition_key for r in late_tick.run_requests] == [DAY]
    assert late_tick.run_requests[0].tags["clickstream/late_rows"] == "1"
    repeat = tick(late_data_sensor, instance, resources, cursor=late_tick.cursor)
    assert isinstance(repeat, SkipReason)

    materialize([silver_sessions, gold_page_kpis, gold_funnel], instance=instance,
                resources=resources, partition_key=DAY)
    assert len(table(settings, "silver/sessions", DAY)) == 5
    assert table(settings, "gold/funnel", DAY)[0]["sessions"] == 5
    materialized = instance.get_materialized_partitions(AssetKey("gold_funnel"))
    assert materialized == {DAY, NEXT_DAY}


def assert_known_models(rows: Callable[[str], list[dict]]) -> None:
    """Silver and gold of DAY as `known_events` make them; `rows("silver/sessions")` is a
    table's rows of that day (the AWS rehearsal reads them from S3)."""
    sessions = {(s["anonymous_id"], s["session_start"].hour): s for s in rows("silver/sessions")}
    assert sorted(sessions) == [("A", 10), ("A", 11), ("B", 10), ("C", 10)]
    converting = sessions[("A", 10)]
    assert (converting["events"], converting["page_views"]) == (6, 2)
    assert (converting["entry_page"], converting["exit_page"]) == ("/", "/product/a")
    assert converting["converted"] and converting["revenue"] == 42.5
    assert converting["duration_seconds"] == 360.0
    assert sessions[("B", 10)]["duration_seconds"] == 900.0
    assert converting["session_start"] == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    [funnel] = rows("gold/funnel")
    assert (funnel["sessions"], funnel["page_view_sessions"], funnel["add_to_cart_sessions"],
            funnel["checkout_sessions"], funnel["purchase_sessions"]) == (4, 4, 2, 1, 1)
    assert (funnel["add_to_cart_rate"], funnel["checkout_rate"], funnel["purchase_rate"],
            funnel["conversion_rate"], funnel["revenue"]) == (0.5, 0.5, 1.0, 0.25, 42.5)

    pages = {p["page_path"]: p for p in rows("gold/page_kpis")}
    assert set(pages) == {"/", "/product/a", "/sale"}
    home = pages["/"]
    assert (home["views"], home["unique_visitors"], home["clicks"], home["entrances"],
            home["bounces"]) == (3, 2, 1, 3, 2)
    assert home["bounce_rate"] == pytest.approx(2 / 3)
    assert (pages["/product/a"]["views"], pages["/product/a"]["unique_visitors"],
            pages["/product/a"]["bounce_rate"]) == (2, 2, None)
    assert (pages["/sale"]["entrances"], pages["/sale"]["bounce_rate"]) == (1, 0.0)
