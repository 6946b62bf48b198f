"""The stream and the bronze tables the stream job writes.

The stream job runs outside Dagster (a local process, or the Glue streaming job): Dagster
observes it and, when it is down or stalled with a backlog, runs a catch-up, which is what
materializing bronze means here.
"""

import hashlib
import json

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    ObserveResult,
    multi_asset,
    multi_observable_source_asset,
)

from clickstream_assets.constants import BRONZE, INGESTION, OWNER, QUARANTINE, REASON_TAG, STREAM
from clickstream_assets.lineage import BRONZE_SCHEMA, QUARANTINE_SCHEMA
from clickstream_assets.resources import KinesisResource, LakeResource, StreamJobResource
from streaming.lake import tables
from streaming.lake.read import commits_since, latest_version

OBSERVATION_CAP = 200_000

stream_spec = AssetSpec(
    STREAM,
    description="The Kinesis data stream the ingestion handler writes to (partition key "
                "anonymous_id). Observed: shards, records arrived since the last observation, "
                "and the stream job's backlog and lag measured from its checkpoint.",
    group_name=INGESTION, owners=[OWNER], kinds={"kinesis"},
)
bronze_spec = AssetSpec(
    BRONZE,
    deps=[STREAM],
    description="Every valid click event exactly once (dedup on event_id, idempotent Delta "
                "writes), partitioned by event_date. Written continuously by the stream job; "
                "materializing it runs a catch-up (available-now) on the job's checkpoint.",
    group_name=INGESTION, owners=[OWNER], kinds={"spark", "delta"},
    metadata={"dagster/column_schema": BRONZE_SCHEMA, "dagster/table_name": tables.BRONZE.qualified_name},
)
quarantine_spec = AssetSpec(
    QUARANTINE,
    deps=[STREAM],
    description="Records from the stream that are not valid v1 events (unparsable, missing "
                "fields, bypassed the handler), with the raw record and every broken rule.",
    group_name=INGESTION, owners=[OWNER], kinds={"spark", "delta"},
    metadata={"dagster/column_schema": QUARANTINE_SCHEMA,
              "dagster/table_name": tables.QUARANTINE.qualified_name},
)


def _previous_positions(context) -> dict[str, str | None] | None:
    records = context.instance.fetch_observations(STREAM, limit=1).records
    if not records:
        return None
    observation = records[0].asset_observation
    value = observation.metadata.get("positions") if observation else None
    return json.loads(value.value) if value is not None else None


@multi_observable_source_asset(specs=[stream_spec], required_resource_keys={"kinesis", "lake"})
def kinesis_stream(context):
    """Observation: what arrived since the last one and how far behind the job is."""
    kinesis: KinesisResource = context.resources.kinesis
    lake: LakeResource = context.resources.lake
    previous = _previous_positions(context)
    arrived = kinesis.backlog_after(previous or {}, cap=OBSERVATION_CAP)
    backlog = kinesis.backlog_after(lake.committed_positions(), cap=OBSERVATION_CAP)
    positions = arrived.tips()
    version = hashlib.sha256(json.dumps(positions, sort_keys=True).encode()).hexdigest()[:16]
    yield ObserveResult(
        asset_key=STREAM,
        data_version=DataVersion(version),
        metadata={
            "shard_count": len(positions),
            "records_since_last_observation": arrived.records,
            "first_observation": previous is None,
            "backlog_records": backlog.records,
            "backlog_capped": backlog.capped,
            "consumer_lag_seconds": round(backlog.lag_seconds, 3),
            "positions": json.dumps(positions, sort_keys=True),
        },
    )


def commit_summary(uri: str, after_version: int) -> dict[str, int]:
    """Rows and files added by data-changing commits after `after_version`."""
    commits = commits_since(uri, after_version)
    added = [f for c in commits for f in c.added if f.data_change]
    return {"rows_added": sum(f.records or 0 for f in added), "files_added": len(added),
            "commits": len(commits)}


@multi_asset(specs=[bronze_spec, quarantine_spec], required_resource_keys={"lake", "stream_job"})
def bronze_catch_up(context: AssetExecutionContext):
    """Drains the stream's backlog into bronze and quarantine with the job's own checkpoint,
    so nothing is read twice; the run's tags say why it was launched."""
    lake: LakeResource = context.resources.lake
    job: StreamJobResource = context.resources.stream_job
    reason = context.run.tags.get(REASON_TAG, "launched by hand")
    context.log.info(f"catch-up: {reason}")
    before = {BRONZE: latest_version(lake.uri(tables.BRONZE)),
              QUARANTINE: latest_version(lake.uri(tables.QUARANTINE))}
    seconds = job.catch_up(context.log.info)
    for key, uri in ((BRONZE, lake.uri(tables.BRONZE)), (QUARANTINE, lake.uri(tables.QUARANTINE))):
        summary = commit_summary(uri, before[key])
        yield MaterializeResult(asset_key=key, metadata={
            "reason": reason, "duration_seconds": round(seconds, 1),
            "delta_version": latest_version(uri), **summary,
            "rows_per_second": round(summary["rows_added"] / seconds, 1) if seconds else 0.0,
        })
