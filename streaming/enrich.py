"""Server-side enrichment: what the handler adds to a valid event before it is streamed.

Personal data stops here: the raw IP becomes a salted hash and a truncated network, and
query parameters that carry credentials or contact data are removed from URLs, so nothing
downstream (stream, tables, logs) ever holds them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ua_parser import parse as parse_user_agent

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
DENIED_QUERY_PARAMS = frozenset(
    {"email", "e-mail", "mail", "password", "pass", "pwd", "token", "access_token", "auth",
     "api_key", "apikey", "key", "secret", "ssn", "phone", "card", "cc", "card_number"}
)
BOT_DEVICE_FAMILIES = frozenset({"Spider"})


def strip_denied_params(url: str | None) -> str | None:
    """Drops deny-listed query parameters; keeps everything else of the URL byte for byte."""
    if not url:
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k.lower() not in DENIED_QUERY_PARAMS]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept)))


def url_parts(url: str | None) -> dict[str, str | None]:
    """Host, path and UTM parameters: the columns BI queries group by."""
    empty: dict[str, str | None] = {"page_host": None, "page_path": None}
    empty.update(dict.fromkeys(UTM_FIELDS))
    if not url:
        return empty
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    found: dict[str, str | None] = {"page_host": parts.hostname, "page_path": parts.path or "/"}
    found.update({name: query.get(name) for name in UTM_FIELDS})
    return found


def referrer_host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


@lru_cache(maxsize=4096)
def user_agent_fields(user_agent: str) -> tuple[str | None, str | None, str | None, str, bool]:
    """Browser, version, OS, device class, is_bot. Cached: sites see few distinct agents."""
    if not user_agent:
        return None, None, None, "unknown", False
    result = parse_user_agent(user_agent)
    browser = result.user_agent
    device_family = result.device.family if result.device else "Other"
    lowered = user_agent.lower()
    is_bot = device_family in BOT_DEVICE_FAMILIES or any(
        word in lowered for word in ("bot", "crawler", "spider", "headlesschrome")
    )
    mobile = any(word in lowered for word in ("mobile", "iphone", "android"))
    tablet = "ipad" in lowered or "tablet" in lowered
    device = "bot" if is_bot else "tablet" if tablet else "mobile" if mobile else "desktop"
    return (
        browser.family if browser else None,
        ".".join(p for p in (browser.major, browser.minor) if p) if browser else None,
        result.os.family if result.os else None,
        device,
        is_bot,
    )


def ip_hash(ip: str | None, salt: str) -> str | None:
    """Keyed hash: stable per visitor for analytics, useless to reverse without the salt."""
    if not ip:
        return None
    return hmac.new(salt.encode(), ip.encode(), hashlib.sha256).hexdigest()[:32]


def ip_network(ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network: enough for geography, not an address."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def stringify_properties(properties: dict[str, Any] | None) -> dict[str, str | None] | None:
    """Properties become a string map so one table schema holds every site's custom keys."""
    if properties is None:
        return None
    out: dict[str, str | None] = {}
    for key, value in properties.items():
        if value is None or isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = repr(value) if isinstance(value, float) else str(value)
    return out


def enrich(
    event: dict[str, Any],
    *,
    received_at: str,
    ingest_id: str,
    source_ip: str | None,
    user_agent: str,
    salt: str,
) -> dict[str, Any]:
    """The record written to the stream: the client's event, cleaned, plus server fields."""
    page_url = strip_denied_params(event.get("page_url"))
    referrer = strip_denied_params(event.get("referrer") or None)
    browser, browser_version, os_family, device, is_bot = user_agent_fields(user_agent or "")
    record = {
        "event_id": event["event_id"].lower(),
        "event_type": event["event_type"],
        "event_time": event["event_time"],
        "anonymous_id": event["anonymous_id"],
        "session_id": event["session_id"],
        "user_id": event.get("user_id"),
        "page_url": page_url,
        "referrer": referrer,
        "element": event.get("element"),
        "properties": stringify_properties(event.get("properties")),
        "schema_version": 1,
        "received_at": received_at,
        "ingest_id": ingest_id,
        "referrer_host": referrer_host(referrer),
        "ua_browser": browser,
        "ua_browser_version": browser_version,
        "ua_os": os_family,
        "ua_device": device,
        "is_bot": is_bot,
        "ip_hash": ip_hash(source_ip, salt),
        "ip_network": ip_network(source_ip),
    }
    record.update(url_parts(page_url))
    return record
