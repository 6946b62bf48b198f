"""An independent PII scanner for stored data: what a security review would run over a table.

Written apart from `streaming.ingest.pii` on purpose (other patterns, other code), so a gap in the
handler's redaction is not mirrored by the same gap here. It looks at every string,
percent-decoded as a URL would be, for e-mail addresses, IPv4/IPv6 addresses and Luhn-valid
card numbers as the networks issue them: 14-19 digits with any first digit, or 13 starting
with 4, found in any consecutive digit groups of a run of digits separated by single spaces
or dashes (13-digit epoch milliseconds are not cards). Canonical UUIDs are skipped: event, session
and visitor ids are UUIDs, and a UUID's digit groups can look like a card number.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

UUID = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")
IPV6 = re.compile(r"(?<![0-9A-Za-z:.])[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?![0-9A-Za-z:.])")
DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ \-]?[0-9])*(?![0-9A-Za-z])")
# The handler keeps the visitor's network: a /24 or /48 network address is allowed there.
NETWORK_COLUMN = "ip_network"


def luhn(digits: str) -> bool:
    checksum = 0
    for index, digit in enumerate(int(d) for d in reversed(digits)):
        checksum += sum(divmod(digit * 2, 10)) if index % 2 else digit
    return checksum % 10 == 0


def _valid_ip(text: str) -> bool:
    """Loopback addresses are no one's: the local shop is served from 127.0.0.1."""
    try:
        return not ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def find_pii(text: str) -> list[tuple[str, str]]:
    """(kind, match) for every piece of personal data in `text`."""
    text = UUID.sub(" ", unquote_plus(text))
    found = [("email", m) for m in EMAIL.findall(text)]
    found += [("ipv4", m) for m in IPV4.findall(text) if _valid_ip(m)]
    found += [("ipv6", m) for m in IPV6.findall(text) if m.count(":") >= 2 and _valid_ip(m.strip("."))]
    for run in DIGIT_RUN.findall(text):
        groups = re.split(r"[ \-]", run)
        for start in range(len(groups)):
            for end in range(start + 1, len(groups) + 1):
                digits = "".join(groups[start:end])
                card_length = 14 <= len(digits) <= 19 or (len(digits) == 13 and digits[0] == "4")
                if card_length and luhn(digits):
                    found.append(("card", " ".join(groups[start:end])))
    return found


def _allowed_network(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return network.prefixlen == (24 if network.version == 4 else 48)


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a stored value: plain, in a struct, a map or a list."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def scan_rows(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(column, kind, match) for every finding in every string of every row."""
    findings = []
    for row in rows:
        for column, value in row.items():
            if column == NETWORK_COLUMN and value is not None:
                if not _allowed_network(value):
                    findings.append((column, "network", value))
                continue
            for text in _strings(value):
                findings += [(column, kind, match) for kind, match in find_pii(text)]
    return findings
