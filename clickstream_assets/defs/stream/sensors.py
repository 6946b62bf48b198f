"""Sensors of the stream stage: bronze health, and stream lag -> catch-up runs."""

import hashlib
import json
from datetime import UTC, datetime

from dagster import (
    AssetObservation,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from clickstream_assets.constants import BRONZE, QUARANTINE, REASON_TAG
from clickstream_assets.defs.stream.jobs import catch_up_job
from clickstream_assets.resources import KinesisResource, LakeResource, StreamJobResource
from streaming.lake import tables
from streaming.lake.read import commits_since, latest_version


def _progress_summary(progress: dict | None) -> dict:
    if not progress:
        return {}
    return {"last_batch_id": progress.get("batchId"),
            "last_batch_rows": progress.get("numInputRows"),
            "last_batch_ms": (progress.get("durationMs") or {}).get("triggerExecution"),
            "rows_per_second": round(progress.get("processedRowsPerSecond") or 0.0, 1)}


def _table_observation(key, uri: str, after_version: int, job: dict) -> AssetObservation:
    commits = commits_since(uri, after_version)
    added = [f for c in commits for f in c.added if f.data_change]
    version = latest_version(uri)
    last_commit = commits[-1].timestamp_ms / 1000 if commits else None
    metadata = {
        "delta_version": version, "rows_added": sum(f.records or 0 for f in added),
        "files_added": len(added), "commits": len(commits),
        "job_state": job.get("state", "unknown"), "job_alive": bool(job.get("alive")),
        **_progress_summary(job.get("last_progress")),
    }
    if last_commit:
        metadata["last_commit_at"] = datetime.fromtimestamp(last_commit, UTC).isoformat()
    return AssetObservation(asset_key=key, metadata=metadata,
                            tags={"dagster/data_version": str(version)})


@sensor(minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Observes bronze and quarantine: latest Delta version and commit time, "
                    "rows and files added since the last observation, the job's last progress.")
def bronze_health_sensor(context: SensorEvaluationContext, lake: LakeResource,
                         stream_job: StreamJobResource):
    job = stream_job.status()
    seen = json.loads(context.cursor) if context.cursor else {}
    versions = {"bronze": latest_version(lake.uri(tables.BRONZE)),
                "quarantine": latest_version(lake.uri(tables.QUARANTINE)), "state": job.get("state")}
    if versions == seen:
        return SkipReason(f"no new commits (bronze v{versions['bronze']}, job {job.get('state')})")
    events = [_table_observation(BRONZE, lake.uri(tables.BRONZE), seen.get("bronze", -1), job)]
    if versions["quarantine"] != seen.get("quarantine"):
        events.append(_table_observation(QUARANTINE, lake.uri(tables.QUARANTINE),
                                         seen.get("quarantine", -1), job))
    return SensorResult(asset_events=events, cursor=json.dumps(versions))


def catch_up_reason(job: dict, records: int, lag_seconds: float, capped: bool,
                    threshold: float) -> str | None:
    """Why a catch-up should run now, or None.

    A catch-up shares the job's checkpoint, so it must never run beside a live job: when the
    job is alive and progressing, a lag over the threshold is a capacity problem (more shards
    or workers), reported but not acted on.
    """
    if records == 0:
        return None
    waiting = f"{records:,}{'+' if capped else ''} records waiting, oldest {lag_seconds:.0f}s old"
    if not job.get("alive"):
        return f"stream job is down (state {job.get('state', 'unknown')}); {waiting}"
    if job.get("stalled") and lag_seconds > threshold:
        return f"stream job stalled (no progress report); {waiting}"
    return None


@sensor(job=catch_up_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Launches a catch-up run when the stream job is down or stalled with a "
                    "backlog; one run per backlog window (run_key = committed position and "
                    "the number of failed catch-ups, so a failed run is retried).")
def stream_lag_sensor(context: SensorEvaluationContext, kinesis: KinesisResource,
                      lake: LakeResource, stream_job: StreamJobResource):
    job = stream_job.status()
    positions = lake.committed_positions()
    backlog = kinesis.backlog_after(positions)
    threshold = stream_job.config.settings().lag_threshold_seconds
    reason = catch_up_reason(job, backlog.records, backlog.lag_seconds, backlog.capped, threshold)
    if reason is None:
        return SkipReason(f"job {job.get('state', 'unknown')}, backlog {backlog.records:,} "
                          f"records, lag {backlog.lag_seconds:.1f}s "
                          f"(threshold {threshold:.0f}s)")
    window = hashlib.sha256(json.dumps(positions, sort_keys=True).encode()).hexdigest()[:12]
    failed = len(context.instance.get_run_ids(
        RunsFilter(job_name=catch_up_job.name, statuses=[DagsterRunStatus.FAILURE])))
    context.log.info(reason)
    return RunRequest(
        run_key=f"catch-up-{lake.committed_batch()}-{window}-{failed}",
        tags={REASON_TAG: reason, "clickstream/backlog_records": str(backlog.records),
              "clickstream/lag_seconds": f"{backlog.lag_seconds:.1f}"},
    )
