"""Sensors of the stream stage: bronze health, stream lag -> catch-up runs, and the Glue
stream job's state -> a new continuous run."""

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
from clickstream_assets.defs.stream.jobs import catch_up_job, stream_job_start_job
from clickstream_assets.resources import (
    ACTIVE_RUN_STATES,
    CATCH_UP_ARGUMENTS,
    KinesisResource,
    LakeResource,
    StreamJobResource,
)
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


def restart_reason(runs: list[dict]) -> str | None:
    """Why the continuous Glue run must be started now, or None while a run holds the job.

    `runs` newest first, as GetJobRuns reports them. Every continuous run ends some day: at
    the job's timeout (TIMEOUT), on an error (FAILED, ERROR), or stopped (STOPPED: Glue's
    maintenance restart, or a person). A catch-up run in progress holds the job's one slot;
    once it ends, the continuous run comes back.
    """
    if any(run["JobRunState"] in ACTIVE_RUN_STATES for run in runs):
        return None
    continuous = [run for run in runs
                  if run.get("Arguments", {}).get("--trigger") != CATCH_UP_ARGUMENTS["--trigger"]]
    if not continuous:
        return "the continuous stream job has no recent run"
    last = continuous[0]
    ended = f"continuous run {last['Id']} ended {last['JobRunState']}"
    if minutes := round(last.get("ExecutionTime", 0) / 60):
        ended += f" after {minutes} min"
    if message := last.get("ErrorMessage"):
        ended += f": {message}"
    return ended


@sensor(job=stream_job_start_job, minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="AWS mode: starts the continuous Glue stream job again when no run of it "
                    "is active (after its timeout, a failure or a maintenance stop), with the "
                    "reason in the run's tags; stop this sensor before stopping the job on "
                    "purpose.")
def stream_job_sensor(context: SensorEvaluationContext, stream_job: StreamJobResource):
    if stream_job.config.settings().embedded:
        return SkipReason("embedded mode: `clickstream stack` supervises the stream job")
    runs = stream_job.glue_runs()
    reason = restart_reason(runs)
    if reason is None:
        active = next(run for run in runs if run["JobRunState"] in ACTIVE_RUN_STATES)
        return SkipReason(f"Glue run {active['Id']} is {active['JobRunState']}")
    failed = len(context.instance.get_run_ids(
        RunsFilter(job_name=stream_job_start_job.name, statuses=[DagsterRunStatus.FAILURE])))
    last = runs[0]["Id"] if runs else "none"
    context.log.info(reason)
    return RunRequest(run_key=f"start-after-{last}-{failed}",
                      tags={REASON_TAG: reason, "clickstream/glue_last_run": last})
