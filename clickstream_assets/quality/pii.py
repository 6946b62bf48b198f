"""Personal data in stored strings: raw IP addresses, e-mail addresses and card numbers.

The handler redacts these before anything is streamed (`streaming.ingest.pii`); this scan proves it
for what is actually stored, every string column of a table including struct fields and map
keys and values, so a producer that bypassed the handler, a replay or a new code path shows
up. It uses the handler's definition of personal data, so "clean" means the same thing on
both sides. A vectorized pre-filter (pyarrow, RE2) leaves only candidate values to Python.
Findings are masked: the check's metadata must not become the leak it reports.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

import pyarrow as pa
import pyarrow.compute as pc

from clickstream_assets.quality.rules import NETWORK
from streaming.ingest.pii import PII_PATTERN, TRIGGER, is_card_number, is_ip_address

PREFILTER = f"{TRIGGER.pattern}|%"
KINDS = {"email": "email", "card": "card number", "ipv4": "IP address", "ipv6": "IP address"}
# Values that look like addresses and are not: the handler keeps the visitor's /24 or /48
# network on purpose, and browser versions are dotted numbers (131.0.0.0).
NOT_AN_ADDRESS = {"ip_network": re.compile(NETWORK), "ua_browser_version": re.compile(r"[0-9.]+")}
SAMPLE_SIZE = 10


@dataclass(frozen=True)
class Finding:
    column: str
    kind: str
    masked: str
    key: str | None


@dataclass(frozen=True)
class PiiOutcome:
    values_scanned: int
    counts: Counter
    sample: tuple[Finding, ...]

    @property
    def findings(self) -> int:
        return sum(self.counts.values())


def mask(kind: str, text: str) -> str:
    """Enough to find the value again, not enough to use it."""
    if kind == "email":
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "card number":
        digits = re.sub(r"\D", "", text)
        return f"{'*' * (len(digits) - 4)}{digits[-4:]}"
    separator = ":" if ":" in text else "."
    return separator.join(text.split(separator)[:2]) + f"{separator}***"


def _row(index: int) -> int:
    return index


def _leaves(path: str, array: pa.Array, row_of: Callable[[int], int] = _row
            ) -> Iterator[tuple[str, pa.Array, Callable[[int], int]]]:
    """Every string array inside `array`, with a function from an index in it to the table row
    it belongs to: struct fields, map keys and values and list items included."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield path, array, row_of
    elif pa.types.is_struct(kind):
        for index in range(kind.num_fields):
            yield from _leaves(f"{path}.{kind.field(index).name}", array.field(index), row_of)
    elif pa.types.is_map(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind):
        offsets = array.offsets.to_pylist()

        def parent(index: int) -> int:
            return row_of(bisect_right(offsets, offsets[0] + index) - 1)

        if pa.types.is_map(kind):
            yield from _leaves(f"{path}.key", array.keys, parent)
            yield from _leaves(f"{path}.value", array.items, parent)
        else:
            yield from _leaves(f"{path}[]", array.flatten(), parent)


def _personal(kind: str, text: str) -> bool:
    """Whether a pattern match is personal data: a valid card number or address (loopback and
    unspecified addresses identify nobody)."""
    if kind == "email":
        return True
    if kind == "card":
        return is_card_number(text)
    if not is_ip_address(text):
        return False
    address = ipaddress.ip_address(text)
    return not (address.is_loopback or address.is_unspecified)


def scan(table: pa.Table, key: str | None = None) -> PiiOutcome:
    """Counts personal data per (column, kind) in every string of `table`, with a masked
    sample naming each finding's row by its `key` column."""
    keys = table.column(key).to_pylist() if key else None
    counts: Counter = Counter()
    sample: list[Finding] = []
    scanned = 0
    for name in table.column_names:
        array = table.column(name).combine_chunks()
        for path, strings, row_of in _leaves(name, array):
            scanned += len(strings) - strings.null_count
            hits = pc.fill_null(pc.match_substring_regex(strings, PREFILTER), False)
            for index in pc.indices_nonzero(hits).to_pylist():
                value = strings[index].as_py()
                text = unquote_plus(value) if "%" in value or "+" in value else value
                if name in NOT_AN_ADDRESS and NOT_AN_ADDRESS[name].fullmatch(text):
                    continue
                for match in PII_PATTERN.finditer(text):
                    if not _personal(match.lastgroup, match.group()):
                        continue
                    kind = KINDS[match.lastgroup]
                    counts[(path, kind)] += 1
                    if len(sample) < SAMPLE_SIZE:
                        row_key = keys[row_of(index)] if keys else None
                        sample.append(Finding(path, kind, mask(kind, match.group()),
                                              None if row_key is None else str(row_key)))
    return PiiOutcome(scanned, counts, tuple(sample))
