"""The dashboard's schedule, which never publishes numbers a blocking gold check failed."""

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    DagsterInstance,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from clickstream_assets.defs.lake.checks import gold_quality
from clickstream_assets.defs.reports.jobs import kpi_dashboard_job


def failing_gold_checks(instance: DagsterInstance) -> list[str]:
    """Blocking gold checks whose latest evaluation failed."""
    keys: list[AssetCheckKey] = list(gold_quality.check_keys)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    failing = []
    for key, record in latest.items():
        event = record.event.dagster_event if record.event else None
        evaluation = event.event_specific_data if event else None
        if isinstance(evaluation, AssetCheckEvaluation) and not evaluation.passed:
            failing.append(f"{key.asset_key.to_user_string()}/{key.name} ({record.partition})")
    return sorted(failing)


@schedule(job=kpi_dashboard_job, cron_schedule="*/10 * * * *", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING,
          description="Every 10 minutes, for fresh live traffic and anomaly flags; skipped while "
                      "a blocking gold check is failing.")
def kpi_dashboard_schedule(context: ScheduleEvaluationContext):
    failing = failing_gold_checks(context.instance)
    if failing:
        return SkipReason(f"gold checks failing: {', '.join(failing)}")
    return RunRequest()
