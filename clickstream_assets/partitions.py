"""Silver and gold are partitioned by UTC day, the grain of bronze's `event_date` partitions.

Daily rather than hourly: a day is the unit BI reads, bronze is already laid out by day (a
partition rebuild reads one bronze partition), and a late event re-builds one partition, not
dozens of tiny hourly ones. `end_offset=1` makes today a partition, so today's numbers can be
built during the day and refreshed by the late-data sensor as events keep arriving.
"""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from streaming.settings import load_settings

daily = DailyPartitionsDefinition(
    start_date=load_settings().partitions_start,
    timezone="UTC",
    end_offset=1,
)
