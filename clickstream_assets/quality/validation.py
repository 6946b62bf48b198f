"""pandera's findings turned into what a person acts on: failures per rule and failing rows.

`Model.validate(frame, lazy=True)` collects every failure as one row per (rule, failing
value); a reader needs per rule how many rows break it with an example, and a few whole
failing rows with the rules each breaks, so that is what comes out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from pandera.errors import SchemaErrors
from pandera.pandas import DataFrameModel

NULLABLE_DTYPES = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(),
                   pa.bool_(): pd.BooleanDtype()}
COLUMN_PRESENCE = ("column_in_schema", "column_in_dataframe")
TEXT_LIMIT = 80


def frame_of(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with integers and booleans as nullable dtypes: a null stays a null
    instead of turning an integer column into floats."""
    return table.to_pandas(types_mapper=NULLABLE_DTYPES.get)


def text(value: object) -> str:
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return "NULL"
    shown = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return shown if len(shown) <= TEXT_LIMIT else shown[:TEXT_LIMIT - 1] + "…"


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    failing_rows: int
    example: str


@dataclass(frozen=True)
class SchemaOutcome:
    rows: int
    failing_rows: int
    rules: tuple[RuleFailure, ...]
    sample: tuple[dict, ...]

    @property
    def passed(self) -> bool:
        return not self.rules


def _rule(context: str, column: object, check: object, case: object) -> str:
    if check in COLUMN_PRESENCE:
        return f"{check}: {case}"
    if context == "Column" and isinstance(column, str):
        return f"{column}: {check}"
    return str(check)


def _named(frame: pd.DataFrame, rule: str) -> list[str]:
    """The frame's columns a rule's text mentions as whole words."""
    return [c for c in frame.columns if re.search(rf"\b{re.escape(c)}\b", rule)]


def _example(frame: pd.DataFrame, rule: str, cases: pd.DataFrame, indexes: set[int]) -> str:
    """A column rule's first failing value; for a rule across columns, the values of the
    columns it names in its first failing row."""
    if cases["schema_context"].iloc[0] == "Column" or not indexes:
        return text(cases["failure_case"].iloc[0])
    first = min(indexes)
    return ", ".join(f"{c}={text(frame.at[first, c])}" for c in _named(frame, rule))


def validate(model: type[DataFrameModel], frame: pd.DataFrame, keys: Sequence[str],
             sample_size: int = 10) -> SchemaOutcome:
    """Validates every rule (lazily) and summarizes failures per rule plus a sample of failing
    rows showing the key columns, the columns the broken rules name, and the broken rules."""
    try:
        model.validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return SchemaOutcome(len(frame), 0, (), ())
    cases = cases.assign(rule=[_rule(*row) for row in cases[
        ["schema_context", "column", "check", "failure_case"]].itertuples(index=False)])
    rules, rows_by_rule = [], {}
    for rule, group in cases.groupby("rule", sort=False):
        indexes = set(group["index"].dropna().astype(int))
        rows_by_rule[rule] = indexes
        rules.append(RuleFailure(rule, len(indexes) if indexes else len(frame),
                                 _example(frame, rule, group, indexes)))
    rules.sort(key=lambda r: (-r.failing_rows, r.rule))
    failing = set().union(*rows_by_rule.values())
    whole_table = any(not indexes for indexes in rows_by_rule.values())
    sample = []
    for index in sorted(failing)[:sample_size]:
        broken = [rule for rule, indexes in rows_by_rule.items() if index in indexes]
        named = [c for c in _named(frame, " ".join(broken)) if c not in keys]
        row = frame.loc[index]
        sample.append({**{c: text(row[c]) for c in [*keys, *named]},
                       "broken rules": "; ".join(broken)})
    return SchemaOutcome(len(frame), len(frame) if whole_table else len(failing), tuple(rules),
                         tuple(sample))
