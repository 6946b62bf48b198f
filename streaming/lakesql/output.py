"""Query results as text for a terminal or a pipe: an aligned table, CSV, or a JSON array."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import orjson
import pyarrow as pa

FORMATS = ("table", "csv", "json")


def _plain(value: object) -> object:
    """Python values from Arrow, made JSON-friendly: maps (lists of pairs) become objects."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return float(value)
    return value


def _text(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return repr(round(value, 6))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def render(result: pa.Table, fmt: str = "table") -> str:
    rows = [{k: _plain(v) for k, v in row.items()} for row in result.to_pylist()]
    if fmt == "json":
        return orjson.dumps(rows, default=str).decode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.column_names)
        writer.writerows(["" if row[c] is None else _text(row[c]) for c in result.column_names]
                         for row in rows)
        return out.getvalue().rstrip("\n")
    return _table(result, rows)


def _table(result: pa.Table, rows: list[dict]) -> str:
    names = result.column_names
    cells = [[_text(row[name]) for name in names] for row in rows]
    widths = [max([len(name), *(len(r[i]) for r in cells)]) for i, name in enumerate(names)]
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or
               pa.types.is_decimal(f.type) for f in result.schema]

    def line(values: list[str]) -> str:
        return " | ".join(v.rjust(w) if num else v.ljust(w)
                          for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    body = [line(names), "-+-".join("-" * w for w in widths)] + [line(r) for r in cells]
    count = len(rows)
    return "\n".join([*body, f"({count} row{'s' if count != 1 else ''})"])
