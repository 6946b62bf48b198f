"""Write keys: which site a request comes from, checked before its body is even decoded.

Like the write keys of hosted analytics APIs, a key identifies a site rather than a person:
it is embedded in the site's pages, so it is not a secret from visitors. It keeps
everything that is not one of the configured sites out of the stream, lets the gateway (or
an API Gateway usage plan) throttle each site on its own, and is revoked by removing it
from the configuration. A site may have several keys at once, for rotation.

A key is accepted from `Authorization: Basic base64("<key>:")` (the peers' convention:
the key as user name, no password) or, for browsers, from the `writeKey` query parameter:
a custom header would turn the tracker's simple `text/plain` POST into a CORS preflight.

Keys come from configuration: `CLICKSTREAM_WRITE_KEYS` (`site:key` pairs separated by
commas or new lines), a file named by `CLICKSTREAM_WRITE_KEYS_FILE` in the same format, or
in AWS a Secrets Manager secret named by `CLICKSTREAM_WRITE_KEYS_SECRET` holding a JSON
object `{"site": "key"}` or `{"site": ["key", "next-key"]}`, read once per container.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

import boto3
import orjson

from streaming.settings import Settings

QUERY_PARAMETER = "writeKey"
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 256
KEY_PATTERN = re.compile(r"[A-Za-z0-9._~\-]+")
SITE_PATTERN = re.compile(r"[A-Za-z0-9._\-]{1,64}")


@dataclass(frozen=True)
class WriteKey:
    """One configured key: its site and the SHA-256 of the key (the key itself is not kept)."""

    site: str
    digest: bytes


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class WriteKeys:
    keys: tuple[WriteKey, ...]

    def match(self, presented: str | None) -> WriteKey | None:
        """The configured key equal to `presented`, compared in constant time.

        Digests of equal length are compared with `hmac.compare_digest`, against every
        configured key without stopping early, so the time taken tells nothing about how
        much of a guess was right, nor which key it was close to.
        """
        if presented is None:
            return None
        digest = _digest(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def _pairs(text: str) -> list[tuple[str, str]]:
    """`site:key` pairs from text, or a JSON object of site -> key (or list of keys)."""
    if text.lstrip().startswith("{"):
        try:
            loaded = orjson.loads(text)
        except orjson.JSONDecodeError:
            loaded = None
        if not isinstance(loaded, dict):
            raise ValueError("write keys: text starting with { must be a JSON object of site -> key")
        pairs = []
        for site, keys in loaded.items():
            listed = [keys] if isinstance(keys, str) else keys if isinstance(keys, list) else [None]
            if not all(isinstance(key, str) for key in listed):
                raise ValueError(f"write keys: site {site[:64]!r} needs a key string or a list of them")
            pairs += [(site, key) for key in listed]
        return pairs
    pairs = []
    for item in re.split(r"[,\n]", text):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        site, separator, key = item.partition(":")
        if not separator:
            raise ValueError(f"write keys: expected site:key, got an entry for {site[:16]!r}... "
                             "without a colon")
        pairs.append((site.strip(), key.strip()))
    return pairs


def parse_write_keys(text: str) -> WriteKeys:
    """Checks every entry; errors name the site, never the key."""
    keys = []
    for site, key in _pairs(text):
        if not SITE_PATTERN.fullmatch(site):
            raise ValueError(f"write keys: site name {site[:64]!r} must be 1-64 of A-Z a-z 0-9 . _ -")
        if not (MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH) or not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"write keys: the key of site {site!r} must be {MIN_KEY_LENGTH}-"
                             f"{MAX_KEY_LENGTH} URL-safe characters (A-Z a-z 0-9 . _ ~ -)")
        keys.append(WriteKey(site, _digest(key)))
    return WriteKeys(tuple(keys))


def load_write_keys(settings: Settings, secrets_client=None) -> WriteKeys:
    """The configured keys from exactly one source; no key at all is a configuration error.

    `secrets_client` is a boto3 Secrets Manager client; one is created when none is given.
    """
    sources = [name for name, value in (("CLICKSTREAM_WRITE_KEYS_SECRET", settings.write_keys_secret),
                                        ("CLICKSTREAM_WRITE_KEYS_FILE", settings.write_keys_file),
                                        ("CLICKSTREAM_WRITE_KEYS", settings.write_keys)) if value]
    if len(sources) > 1:
        raise ValueError(f"write keys: set only one of {', '.join(sources)}")
    if settings.write_keys_secret:
        if secrets_client is None:
            secrets_client = boto3.client("secretsmanager", region_name=settings.region)
        text = secrets_client.get_secret_value(SecretId=settings.write_keys_secret)["SecretString"]
    elif settings.write_keys_file:
        text = Path(settings.write_keys_file).read_text()
    else:
        text = settings.write_keys
    keys = parse_write_keys(text)
    if not keys.keys:
        raise ValueError("no write keys configured: set CLICKSTREAM_WRITE_KEYS, "
                         "CLICKSTREAM_WRITE_KEYS_FILE or CLICKSTREAM_WRITE_KEYS_SECRET")
    return keys


def basic_authorization(key: str) -> str:
    """The Authorization header value that carries `key` (for clients written in Python)."""
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def presented_key(headers: dict[str, str], query: dict[str, str]) -> str | None:
    """The key a request carries: Basic authorization first, else the `writeKey` parameter.

    A malformed Authorization header yields an empty key (answered 401), never a fallback to
    the query parameter, so one request cannot carry two different claims.
    """
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return ""
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return query.get(QUERY_PARAMETER)
