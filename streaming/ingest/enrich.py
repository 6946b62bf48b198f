"""Server-side enrichment: what the handler adds to a valid event before it is streamed.

Personal data stops here: the raw IP becomes a salted hash and a truncated network,
query parameters that carry credentials or contact data are removed from URLs, and
e-mail addresses, card numbers and IP addresses anywhere in the client's strings (URLs,
element text, property names and values) are replaced by markers; an id that holds one is
replaced by its salted hash, so joins on it still work. Nothing downstream (stream, tables,
logs) ever holds them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ua_parser import parse as parse_user_agent

from streaming.contract import UUID_PATTERN, canonical_time
from streaming.ingest import pii

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
DENIED_QUERY_PARAMS = frozenset(
    {"email", "e-mail", "mail", "password", "pass", "pwd", "token", "access_token", "auth",
     "api_key", "apikey", "key", "secret", "ssn", "phone", "card", "cc", "card_number",
     "writekey", "write_key"}
)
BOT_DEVICE_FAMILIES = frozenset({"Spider"})
# Crawlers name themselves; scripts and automation frameworks send their library's agent.
BOT_AGENT_WORDS = ("bot", "crawler", "spider", "headlesschrome", "phantomjs", "selenium",
                   "puppeteer", "scrapy", "curl/", "wget/", "python-requests", "python-httpx",
                   "python-urllib", "aiohttp", "go-http-client", "okhttp", "java/", "libwww",
                   "httpclient", "node-fetch", "axios/")
ID_FIELDS = ("anonymous_id", "session_id", "user_id")


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


def _clean_host(hostport: str) -> str:
    """A host that is an IP address (or holds other personal data) becomes a marker."""
    if hostport.startswith("["):
        inside, _, rest = hostport[1:].partition("]")
        return pii.IP_MARKER + rest if pii.is_ip_address(inside.split("%")[0]) else hostport
    host, separator, port = hostport.partition(":")
    return pii.redact(host) + separator + port


def _clean_component(text: str, safe: str) -> str:
    cleaned = pii.redact(text)
    return text if cleaned == text else quote(cleaned, safe=safe)


def clean_url(url: str | None) -> str | None:
    """Deny-listed parameters, credentials (user:password@) and personal data removed.

    Parts that hold nothing personal keep their exact bytes; a redacted part is re-encoded.
    """
    if not url:
        return url
    parts = urlsplit(url)
    netloc = _clean_host(parts.netloc.rpartition("@")[2])
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(pii.redact(k), pii.redact(v)) for k, v in pairs if k.lower() not in DENIED_QUERY_PARAMS]
    query = parts.query if kept == pairs else urlencode(kept)
    path = _clean_component(parts.path, safe="/")
    fragment = _clean_component(parts.fragment, safe="/?=&")
    return urlunsplit(parts._replace(netloc=netloc, path=path, query=query, fragment=fragment))


URL_FIELDS = ("page_host", "page_path", *UTM_FIELDS)


@lru_cache(maxsize=8192)
def url_parts(url: str | None) -> MappingProxyType[str, str | None]:
    """Host, path and UTM parameters: the columns BI queries group by.

    Cached, and read-only since every caller shares it: a site's events repeat a few
    thousand URLs, and parsing was the largest single cost of enrichment in the handler
    profile (docs/benchmarks.md)."""
    if not url:
        return MappingProxyType(dict.fromkeys(URL_FIELDS))
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return MappingProxyType(dict(zip(URL_FIELDS, (parts.hostname, parts.path or "/",
                                                  *(query.get(name) for name in UTM_FIELDS)),
                                     strict=True)))


@lru_cache(maxsize=8192)
def referrer_host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


@lru_cache(maxsize=4096)
def user_agent_fields(user_agent: str) -> tuple[str | None, str | None, str | None, str, bool]:
    """Browser, version, OS, device class, is_bot. Cached: sites see few distinct agents.

    No user agent at all is a bot too: every browser sends one.
    """
    if not user_agent:
        return None, None, None, "bot", True
    result = parse_user_agent(user_agent)
    browser = result.user_agent
    device_family = result.device.family if result.device else "Other"
    lowered = user_agent.lower()
    is_bot = device_family in BOT_DEVICE_FAMILIES or any(word in lowered for word in BOT_AGENT_WORDS)
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


def keyed_hash(value: str, salt: str) -> str:
    """Stable per value for analytics and joins, useless to reverse without the salt."""
    return hmac.new(salt.encode(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def ip_hash(ip: str | None, salt: str) -> str | None:
    return keyed_hash(ip, salt) if ip else None


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


def request_fields(*, received_at: str, ingest_id: str, source_ip: str | None, user_agent: str,
                   salt: str) -> dict[str, Any]:
    """Server fields shared by every event of one request, computed once per request."""
    browser, browser_version, os_family, device, is_bot = user_agent_fields(user_agent or "")
    return {
        "received_at": received_at,
        "ingest_id": ingest_id,
        "ua_browser": browser,
        "ua_browser_version": browser_version,
        "ua_os": os_family,
        "ua_device": device,
        "is_bot": is_bot,
        "ip_hash": ip_hash(source_ip, salt),
        "ip_network": ip_network(source_ip),
    }


@lru_cache(maxsize=8192)
def _uuid_shaped(value: str) -> bool:
    """Cached: a request's events repeat their visitor's and session's ids."""
    return UUID_PATTERN.fullmatch(value) is not None


def _client_strings(event: dict[str, Any], element: dict | None,
                    properties: dict[str, str | None] | None) -> list[str]:
    """Every string the client chose. Ids shaped like UUIDs (what trackers generate) are left
    out: hex and dashes cannot form an address or card, but their digit runs look like one
    to the cheap trigger."""
    texts = [event[name] for name in ("page_url", "referrer", "event_type") if event.get(name)]
    for name in ID_FIELDS:
        value = event.get(name)
        if isinstance(value, str) and not _uuid_shaped(value):
            texts.append(value)
    if element:
        texts += [value for value in element.values() if isinstance(value, str)]
    if properties:
        texts += properties
        texts += [value for value in properties.values() if value is not None]
    return texts


def enrich(event: dict[str, Any], request: dict[str, Any], salt: str) -> dict[str, Any]:
    """The record written to the stream: the client's event, cleaned, plus `request` fields.

    event_time is rewritten to UTC with microseconds: the same instant in the one form every
    reader of the stream parses alike.

    One combined scan of the event's strings decides whether any of them may hold personal
    data; only then is each string cleaned on its own (the rare, slower path).
    """
    element = event.get("element")
    properties = stringify_properties(event.get("properties"))
    ids = {name: event.get(name) for name in ID_FIELDS}
    event_type = event["event_type"]
    if pii.may_hold_pii(_client_strings(event, element, properties)):
        page_url = clean_url(event.get("page_url"))
        referrer = clean_url(event.get("referrer") or None)
        event_type = pii.redact(event_type)
        if element:
            element = {k: pii.redact(v) if isinstance(v, str) else v for k, v in element.items()}
        if properties:
            properties = {pii.redact(k): None if v is None else pii.redact(v)
                          for k, v in properties.items()}
        ids = {name: f"hashed-{keyed_hash(value, salt)}" if value and pii.has_pii(value) else value
               for name, value in ids.items()}
    else:
        page_url = strip_denied_params(event.get("page_url"))
        referrer = strip_denied_params(event.get("referrer") or None)
    record = {
        "event_id": event["event_id"].lower(),
        "event_type": event_type,
        "event_time": canonical_time(event["event_time"]),
        **ids,
        "page_url": page_url,
        "referrer": referrer,
        "element": element,
        "properties": properties,
        "schema_version": 1,
        "referrer_host": referrer_host(referrer),
        **request,
    }
    record.update(url_parts(page_url))
    return record
