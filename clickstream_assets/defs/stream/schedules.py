"""Schedules of the stream stage: stream observations and the hourly bronze checks."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from clickstream_assets.defs.stream.jobs import bronze_quality_job, observe_stream_job

observe_stream_schedule = ScheduleDefinition(
    job=observe_stream_job, cron_schedule="*/5 * * * *", execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Observes the stream every 5 minutes (also on demand from the UI).")
bronze_quality_schedule = ScheduleDefinition(
    job=bronze_quality_job, cron_schedule="5 * * * *", execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly, just after the hour, so the volume check scores the hour that ended.")
