"""Sensors: bronze health, stream lag -> catch-up runs, late data -> partition rebuilds."""

import hashlib
import json
import os
from collections import defaultdict
from datetime import UTC, datetime

from dagster import (
    AssetObservation,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from clickstream_assets.defs.lake.assets import SESSIONS
from clickstream_assets.defs.stream.assets import BRONZE, QUARANTINE, REASON_TAG
from clickstream_assets.jobs import catch_up_job, modeled_job
from clickstream_assets.partitions import daily
from clickstream_assets.resources import KinesisResource, LakeResource, StreamJobResource
from streaming.lake.read import Commit, commits_since, latest_version

LAG_THRESHOLD_SECONDS = float(os.environ.get("CLICKSTREAM_LAG_THRESHOLD_SECONDS", "60"))
LATE_SCAN_COMMITS = 500


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
    versions = {"bronze": latest_version(lake.bronze_uri),
                "quarantine": latest_version(lake.quarantine_uri), "state": job.get("state")}
    if versions == seen:
        return SkipReason(f"no new commits (bronze v{versions['bronze']}, job {job.get('state')})")
    events = [_table_observation(BRONZE, lake.bronze_uri, seen.get("bronze", -1), job)]
    if versions["quarantine"] != seen.get("quarantine"):
        events.append(_table_observation(QUARANTINE, lake.quarantine_uri,
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
    reason = catch_up_reason(job, backlog.records, backlog.lag_seconds, backlog.capped,
                             LAG_THRESHOLD_SECONDS)
    if reason is None:
        return SkipReason(f"job {job.get('state', 'unknown')}, backlog {backlog.records:,} "
                          f"records, lag {backlog.lag_seconds:.1f}s "
                          f"(threshold {LAG_THRESHOLD_SECONDS:.0f}s)")
    window = hashlib.sha256(json.dumps(positions, sort_keys=True).encode()).hexdigest()[:12]
    failed = len(context.instance.get_run_ids(
        RunsFilter(job_name=catch_up_job.name, statuses=[DagsterRunStatus.FAILURE])))
    context.log.info(reason)
    return RunRequest(
        run_key=f"catch-up-{lake.committed_batch()}-{window}-{failed}",
        tags={REASON_TAG: reason, "clickstream/backlog_records": str(backlog.records),
              "clickstream/lag_seconds": f"{backlog.lag_seconds:.1f}"},
    )


def rows_by_day(commits: list[Commit]) -> dict[str, list[tuple[float, int]]]:
    """Per event_date touched by new data: (commit time in seconds, rows) of each commit."""
    found: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for commit in commits:
        per_day: dict[str, int] = defaultdict(int)
        for added in commit.added:
            day = added.partition.get("event_date")
            if added.data_change and day:
                per_day[day] += added.records or 0
        for day, rows in per_day.items():
            found[day].append((commit.timestamp_ms / 1000, rows))
    return found


def _built_at(instance: DagsterInstance, day: str) -> float | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=SESSIONS, asset_partitions=[day]), limit=1).records
    return records[0].timestamp if records else None


@sensor(job=modeled_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Requests a rebuild of exactly the silver/gold partitions whose day "
                    "received events in bronze after the partition was last built.")
def late_data_sensor(context: SensorEvaluationContext, lake: LakeResource):
    after = int(context.cursor) if context.cursor else -1
    commits = commits_since(lake.bronze_uri, after, limit=LATE_SCAN_COMMITS)
    if not commits:
        return SkipReason(f"no bronze commits after version {after}")
    valid_days = set(daily.get_partition_keys())
    requests = []
    for day, arrivals in sorted(rows_by_day(commits).items()):
        built = _built_at(context.instance, day) if day in valid_days else None
        rows = sum(n for at, n in arrivals if built is not None and at > built)
        if not rows:
            continue
        reason = f"{rows} events for {day} arrived after the partition was built"
        context.log.info(reason)
        requests.append(RunRequest(
            run_key=f"late-{day}-v{commits[-1].version}", partition_key=day,
            tags={REASON_TAG: reason, "clickstream/late_rows": str(rows)}))
    return SensorResult(run_requests=requests, cursor=str(commits[-1].version))

