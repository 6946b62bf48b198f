"""`clickstream export-subject`: every stored row about a person, as JSON Lines.

The right of access: the person's ids are resolved as an erasure resolves them
(`erasure.resolve`), then each table's current rows of those ids are written, one JSON
object a line. The first line names the ids and the identity links that connected them,
so a reader can see why a row about another id is theirs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from streaming.lake import tables
from streaming.lake.erasure import Subject, resolve
from streaming.lake.subject import PERSONAL_TABLES, current_rows
from streaming.settings import Settings


def subject_lines(settings: Settings, subject: Subject) -> Iterator[str]:
    ids = resolve(settings, {subject.id})
    found = {table.name: list(current_rows(table.uri(settings), table, ids))
             for table in PERSONAL_TABLES}
    links = [{key: row[key] for key in ("anonymous_id", "user_id", "source", "first_seen_at",
                                        "last_seen_at")}
             for row in found[tables.IDENTITIES.name]]
    yield _line({"subject": subject.id, "ids": sorted(ids), "links": links})
    for name, rows in found.items():
        for row in rows:
            yield _line({"table": name, "row": row})


def _line(record: dict) -> str:
    return json.dumps(record, default=str, sort_keys=True)
