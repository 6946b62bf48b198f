"""Silver and gold are partitioned by UTC day, the grain of bronze's `event_date` partitions.

Daily rather than hourly: a day is the unit BI reads, bronze is already laid out by day (a
partition rebuild reads one bronze partition), and a late event re-builds one partition, not
dozens of tiny hourly ones. `end_offset=1` makes today a partition, so today's numbers can be
built during the day and refreshed by the late-data sensor as events keep arriving.
"""

from __future__ import annotations

import os

from dagster import DailyPartitionsDefinition

daily = DailyPartitionsDefinition(
    start_date=os.environ.get("CLICKSTREAM_PARTITIONS_START", "2026-11-01"),
    timezone="UTC",
    end_offset=1,
)
