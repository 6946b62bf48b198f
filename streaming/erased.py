"""Who was erased, as hashes, for the parts that must not store them again: ingestion first.

The suppression list of record is a Delta table (`streaming.lake.suppression`), which the
stream job reads before each micro-batch. The ingestion handler runs in a Lambda without
Delta or Arrow, so each erasure also publishes the whole list as a text file beside the
table (`hash_list_uri`: one salted hash a line, rewritten on every change, never the raw
ids), and the handler drops the events of listed people before they reach the stream
(`ErasedIds`). It rereads the file at most every `LIST_TTL_SECONDS`: an event sent in the
first minute after an erasure may still reach the stream, where the job drops it.

The hash is SHA-256 of the salt, a separator and the id. Standard library only, and boto3
when the list or the salt is on AWS: the Lambda imports this module.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from streaming.settings import Settings

SEPARATOR = "\x1f"
HASH_LIST = "privacy/suppressed-hashes.txt"
LIST_TTL_SECONDS = 60.0
ID_FIELDS = ("anonymous_id", "user_id")


def subject_salt(settings: Settings) -> str:
    """The salt, which an erasure cannot do without: unsalted, the hashes could be reversed by
    hashing candidate ids. From the setting, else from the Secrets Manager secret it names."""
    if settings.subject_hash_salt:
        return settings.subject_hash_salt
    if settings.subject_hash_salt_secret:
        return _secret(settings.subject_hash_salt_secret, settings.region)
    raise ValueError("no subject hash salt: set CLICKSTREAM_SUBJECT_HASH_SALT or "
                     "CLICKSTREAM_SUBJECT_HASH_SALT_SECRET (a secret, the same for the stream "
                     "job, the ingestion handler and every erasure)")


@functools.cache
def _secret(secret_id: str, region: str) -> str:
    """One read per process: the salt does not change while a job or a run lives."""
    import boto3

    client = boto3.client("secretsmanager", region_name=region)
    return client.get_secret_value(SecretId=secret_id)["SecretString"]


def subject_hash(value: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}{SEPARATOR}{value}".encode()).hexdigest()


def hash_list_uri(settings: Settings) -> str:
    return f"{settings.lake_uri}/{HASH_LIST}"


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def publish(settings: Settings, hashes: Iterable[str]) -> None:
    """Writes the whole list (sorted, one hash a line); readers never see a partial file."""
    text = "".join(f"{h}\n" for h in sorted(hashes))
    uri = hash_list_uri(settings)
    if uri.startswith(("s3://", "s3a://")):
        import boto3

        bucket, key = _s3_parts(uri)
        boto3.client("s3", region_name=settings.region).put_object(
            Bucket=bucket, Key=key, Body=text.encode(), ContentType="text/plain")
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)


def read_hash_list(settings: Settings) -> frozenset[str]:
    """The published hashes; none before the first erasure."""
    uri = hash_list_uri(settings)
    if uri.startswith(("s3://", "s3a://")):
        import boto3

        bucket, key = _s3_parts(uri)
        client = boto3.client("s3", region_name=settings.region)
        try:
            text = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except client.exceptions.NoSuchKey:
            return frozenset()
    else:
        try:
            text = Path(uri).read_text()
        except FileNotFoundError:
            return frozenset()
    return frozenset(line for line in text.splitlines() if line)


class ErasedIds:
    """`listed(event)`: whether the event is of an erased person (its anonymous_id or
    user_id hashes into the published list), the list reread every `ttl` seconds. The salt
    is read only once the list holds a hash: a deployment with no erasure never needs it."""

    def __init__(self, settings: Settings, ttl: float = LIST_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.ttl, self.clock = settings, ttl, clock
        self._hashes: frozenset[str] = frozenset()
        self._read_at: float | None = None

    def hashes(self) -> frozenset[str]:
        now = self.clock()
        if self._read_at is None or now - self._read_at >= self.ttl:
            self._hashes, self._read_at = read_hash_list(self.settings), now
        return self._hashes

    def listed(self, event: dict[str, Any]) -> bool:
        hashes = self.hashes()
        if not hashes:
            return False
        salt = subject_salt(self.settings)
        return any(isinstance(value := event.get(name), str) and subject_hash(value, salt) in hashes
                   for name in ID_FIELDS)
