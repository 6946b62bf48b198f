"""Which web origins may send events: an allow-list from configuration.

The tracker's POST is a CORS "simple request" (text/plain, no custom header), so browsers
send it without asking first and only hide the answer from a page of another origin. The
allow-list is therefore enforced twice: a preflight from an unlisted origin is refused,
and so is the POST itself (403, nothing written). Requests without an Origin header come
from servers and scripts, not browsers; the write key is their check.

`CLICKSTREAM_ALLOWED_ORIGINS` lists origins separated by commas: exact ones
(`https://shop.example.com`) or any port of one host (`http://localhost:*`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from streaming.settings import Settings

ALLOWED_METHODS = "OPTIONS, POST"
ALLOWED_HEADERS = "authorization, content-type"
PREFLIGHT_MAX_AGE = "600"


def _normalized(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


@dataclass(frozen=True)
class OriginPolicy:
    exact: frozenset[str]
    any_port: frozenset[str]

    @classmethod
    def parse(cls, text: str, *extra: str) -> OriginPolicy:
        """Entries must be scheme://host[:port] or scheme://host:* (no path, no wildcard host)."""
        exact: set[str] = set()
        any_port: set[str] = set()
        for entry in [*text.split(","), *extra]:
            origin = _normalized(entry)
            if not origin:
                continue
            if origin.endswith(":*"):
                any_port.add(origin[:-2])
                origin = origin[:-2]
            else:
                exact.add(origin)
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or "*" in origin or (
                    parts.path or parts.query or parts.fragment):
                raise ValueError(f"allowed origins: {entry.strip()!r} is not scheme://host[:port] "
                                 "or scheme://host:*")
        return cls(frozenset(exact), frozenset(any_port))

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        """Embedded mode always admits the gateway's own origin: it serves the demo shop."""
        own = (settings.gateway_url,) if settings.embedded else ()
        return cls.parse(settings.allowed_origins, *own)

    def allows(self, origin: str) -> bool:
        """Browsers send origins in ASCII (IDNA); anything else is not a browser's origin."""
        origin = _normalized(origin)
        if not origin.isascii():
            return False
        if origin in self.exact or origin in self.any_port:
            return True
        base, separator, port = origin.rpartition(":")
        return bool(separator) and port.isdigit() and base in self.any_port

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """Headers for an answer to `origin`: it may read the answer only when listed."""
        if origin is None or not self.allows(origin):
            return {"vary": "origin"}
        return {"access-control-allow-origin": origin.strip(), "vary": "origin"}

    def preflight_headers(self, origin: str) -> dict[str, str]:
        return {**self.response_headers(origin), "access-control-allow-methods": ALLOWED_METHODS,
                "access-control-allow-headers": ALLOWED_HEADERS,
                "access-control-max-age": PREFLIGHT_MAX_AGE}
