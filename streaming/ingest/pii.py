"""Finds and removes personal data in free text: e-mail addresses, card numbers and IPs.

The handler runs every string a client controls through `redact` before the event is
streamed, so a visitor's e-mail typed into a search box (and so into the page URL), a card
number pasted into a form field that a site tracks, or an address in a referrer never
reaches Kinesis or the tables. Matches are replaced by fixed markers that are valid in a URL
host, path or query (`redacted-email`, `redacted-card`, `redacted-ip`), so cleaned URLs
still parse.

It is on the handler's hot path: one precompiled pattern, searched once per string, finds
every candidate; only candidates are validated (Luhn and length, `ipaddress`), and a
string without candidates is returned as it is. Every pattern starts with a look-behind
that fails inside a word, so the scan is linear in the string's length whatever it holds.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote_plus

EMAIL_MARKER = "redacted-email"
CARD_MARKER = "redacted-card"
IP_MARKER = "redacted-ip"

_EMAIL = r"(?P<email>(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}(?![\w\-]))"
_IPV4 = r"(?P<ipv4>(?<![\w.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?!\.?[0-9])(?!\w))"
# Card numbers as people write them: 13-19 digits in one run, in groups of four (Visa,
# Mastercard, Discover ...) or 4-6-4/5 (Amex, Diners). Free-form digit groups are not
# cards; that keeps UUIDs and dates out, whose groups never start a card-shaped run. A minus
# sign before the number (a card sent as a negative JSON number) does not hide it; a dash
# after a word does (`order-4111...` is an id's tail, as in a UUID).
_CARD = (r"(?P<card>(?<!\w)(?<!\w-)(?:[0-9]{13,19}|[0-9]{4}(?:[ \-][0-9]{4}){2}[ \-][0-9]{1,7}"
         r"|[0-9]{4}[ \-][0-9]{6}[ \-][0-9]{4,5})(?![\w\-]))")
_IPV6 = (r"(?P<ipv6>(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
         r"(?::?(?:[0-9]{1,3}\.){3}[0-9]{1,3})?(?![\w:.]))")
PII_PATTERN = re.compile("|".join((_EMAIL, _IPV4, _CARD, _IPV6)))
# What every match above needs somewhere: an @, a dotted number, eight digits in at most two
# groups, or two colons around a hex group. Cheaper than the full pattern, and run once over
# all of an event's strings, so the common event without personal data costs one search.
# Portable (RE2 runs it too: the lake's PII check, `clickstream_assets.quality.pii`).
TRIGGER = re.compile(r"@|[0-9]\.[0-9]+\.[0-9]|[0-9]{4}[ \-]?[0-9]{4}|:[0-9A-Fa-f]{0,4}:")
# The same test as TRIGGER for Python's engine, which scans fast for a pattern that begins
# with one character class and not for an alternation: the digit or colon that begins a
# match, then the branch chosen by a look-behind; the @ is a substring test. 2.7x faster on
# shop traffic (2.05 -> 0.76 us an event); tests/unit/test_security.py holds the two equal.
_FAST_TRIGGER = re.compile(r"[0-9:](?:(?<=[0-9])(?:\.[0-9]+\.[0-9]|[0-9]{3}[ \-]?[0-9]{4})"
                           r"|(?<=:)[0-9A-Fa-f]{0,4}:)")


def luhn_valid(digits: str) -> bool:
    """The check digit every payment card number carries (ISO/IEC 7812)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card_number(candidate: str) -> bool:
    """A Luhn-valid number of 14-19 digits, or of 13 starting with 4 (old Visa, the only
    13-digit cards): networks issue numbers with any first digit (UATP's start with 1), and
    the one common 13-digit value that is not a card, epoch milliseconds, starts with 1."""
    digits = candidate.replace(" ", "").replace("-", "")
    return (13 < len(digits) <= 19 or (len(digits) == 13 and digits[0] == "4")) and luhn_valid(digits)


def is_ip_address(candidate: str) -> bool:
    """An IP address that may be a person's: loopback (127.0.0.0/8, ::1) names this machine
    to whoever uses it, never a visitor, and is kept (`http://127.0.0.1:8080/` stays a URL)."""
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return not address.is_loopback


def _marker(match: re.Match) -> str:
    kind, text = match.lastgroup, match.group()
    if kind == "email":
        return EMAIL_MARKER
    if kind == "card":
        return CARD_MARKER if is_card_number(text) else text
    return IP_MARKER if is_ip_address(text) else text


def redact_text(text: str) -> str:
    """`text` with every e-mail, card number and IP address replaced by its marker."""
    return PII_PATTERN.sub(_marker, text) if PII_PATTERN.search(text) else text


def redact(value: str) -> str:
    """`value` unchanged when it holds no personal data, else its redacted form.

    Percent- or plus-encoded text (`a%40b.com`, `4111+1111+1111+1111`) is decoded first: it
    is personal data all the same. Only a value that held some is returned decoded.
    """
    text = unquote_plus(value) if "%" in value or "+" in value else value
    cleaned = redact_text(text)
    return value if cleaned == text else cleaned


def has_pii(value: str) -> bool:
    return redact(value) != value


def may_hold_pii(texts: list[str]) -> bool:
    """False only when none of `texts` can hold personal data (decoded as `redact` does)."""
    blob = "\n".join(texts)
    if "%" in blob or "+" in blob:
        blob = unquote_plus(blob)
    return "@" in blob or _FAST_TRIGGER.search(blob) is not None
