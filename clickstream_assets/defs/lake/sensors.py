"""The lake stage's sensors: late data, and visitors identified later -> rebuilds of exactly
the partitions concerned."""

from collections import defaultdict

from dagster import (
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from clickstream_assets.constants import REASON_TAG, SESSIONS
from clickstream_assets.defs.lake.jobs import modeled_job
from clickstream_assets.partitions import daily
from clickstream_assets.resources import LakeResource
from streaming.lake import tables
from streaming.lake.identified import identified_later
from streaming.lake.read import Commit, commits_since, latest_version

LATE_SCAN_COMMITS = 500


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
    commits = commits_since(lake.uri(tables.BRONZE), after, limit=LATE_SCAN_COMMITS)
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



@sensor(job=modeled_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Requests a rebuild of the silver/gold days with visits of visitors who "
                    "identified later (an identity link newer than the day's sessions), so "
                    "those visits carry the user_id.")
def identified_later_sensor(context: SensorEvaluationContext, lake: LakeResource):
    stale = identified_later(lake.config.settings())
    valid_days = set(daily.get_partition_keys())
    version = latest_version(lake.uri(tables.IDENTITIES))
    requests = []
    for day, visitors in sorted(stale.items()):
        if day not in valid_days:
            continue
        reason = f"{visitors} visitors of {day} identified later"
        context.log.info(reason)
        requests.append(RunRequest(run_key=f"identified-{day}-v{version}", partition_key=day,
                                   tags={REASON_TAG: reason}))
    if not requests:
        return SkipReason("every visit of a linked visitor carries its user_id")
    return SensorResult(run_requests=requests)
