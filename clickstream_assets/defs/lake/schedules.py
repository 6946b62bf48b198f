"""Schedules of the lake stage: today's silver/gold, and table maintenance."""

from datetime import UTC, datetime, timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from clickstream_assets.defs.lake.jobs import modeled_job, optimize_job, vacuum_job

optimize_schedule = ScheduleDefinition(
    job=optimize_job, cron_schedule="30 3 * * *", execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Compacts bronze nightly.")
vacuum_schedule = ScheduleDefinition(
    job=vacuum_job, cron_schedule="0 4 * * 0", execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Vacuums bronze weekly with the default 7-day retention.")


@schedule(job=modeled_job, cron_schedule="10 * * * *", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING,
          description="Hourly: rebuilds today's silver and gold; in the first hour of a day "
                      "also yesterday's, so its final hour is included.")
def modeled_hourly_schedule(context: ScheduleEvaluationContext):
    now = context.scheduled_execution_time or datetime.now(UTC)
    days = [now.date()] + ([now.date() - timedelta(days=1)] if now.hour == 0 else [])
    for day in days:
        key = day.isoformat()
        yield RunRequest(run_key=f"{key}@{now:%Y%m%dT%H}", partition_key=key)
