"""The schedule of the SQL stage."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from clickstream_assets.defs.lakesql.jobs import catalog_job

catalog_schedule = ScheduleDefinition(
    job=catalog_job, cron_schedule="*/15 * * * *", execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every 15 minutes, so a new table is queryable within a quarter of an hour.")
