"""Visits whose visitor identified later: silver sessions to rebuild so they carry the user_id.

A visit's user_id comes from its events or, through silver_identities, from the visitor's
links (`streaming.lake.modeling.sessionize`). A link seen after a day's sessions were built
(the visitor logged in the next week) leaves that day's visits without it until the day is
rebuilt; Dagster's `identified_later_sensor` asks for exactly those days.
"""

from __future__ import annotations

import pyarrow.compute as pc

from streaming.lake import tables
from streaming.lake.read import read_columns
from streaming.settings import Settings


def identified_later(settings: Settings) -> dict[str, int]:
    """Per session day, how many of its visitors have no user_id in their visits but are
    linked to one now."""
    linked = pc.unique(read_columns(tables.IDENTITIES.uri(settings), ["anonymous_id"])
                       ["anonymous_id"].cast("string"))
    sessions = read_columns(tables.SESSIONS.uri(settings),
                            ["session_date", "anonymous_id", "user_id"])
    if not len(linked) or not sessions.num_rows:
        return {}
    anonymous = sessions.filter(pc.and_(pc.is_null(sessions["user_id"]), pc.is_in(
        sessions["anonymous_id"].cast("string"), linked)))
    visitors = anonymous.group_by("session_date").aggregate([("anonymous_id", "count_distinct")])
    return {str(day): count for day, count in zip(
        visitors["session_date"].to_pylist(), visitors["anonymous_id_count_distinct"].to_pylist(),
        strict=True)}
