"""One settings object for both modes, read from the environment.

Embedded mode (the default) points every part at this machine: a loopback Kinesis endpoint,
local Spark and a lakehouse folder. AWS mode leaves the endpoint to boto3's defaults and
expects S3 URIs; the code paths are the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEV_SALT = "embedded-dev-salt-change-me"
# The embedded stack's one site and its write key: the demo traffic and the shop page send it,
# so `./clickstream demo` needs no configuration. AWS mode has no default key.
DEV_SITE = "demo"
DEV_WRITE_KEY = "embedded-dev-write-key-change-me"
# Browsers on this machine: the gateway serves the shop itself, and a developer may serve a
# page from any local port. The gateway's own origin is always added in embedded mode.
DEV_ALLOWED_ORIGINS = "http://localhost:*,http://127.0.0.1:*,http://[::1]:*"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Where every part of the pipeline lives; derived paths keep the layout in one place."""

    mode: str = "embedded"
    home: Path = field(default_factory=lambda: Path.cwd() / "var")
    lake_uri: str = ""
    checkpoint_uri: str = ""
    stream_name: str = "clickstream-events"
    shard_count: int = 2
    region: str = "us-east-1"
    kinesis_endpoint_url: str | None = "http://127.0.0.1:4567"
    s3_endpoint_url: str | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    ip_hash_salt: str = DEV_SALT
    spark_master: str = "local[2]"
    dedup_window: str = "10 minutes"
    max_records_per_shard: int = 10000
    catch_up_records_per_shard: int = 50000
    write_keys: str = f"{DEV_SITE}:{DEV_WRITE_KEY}"
    write_keys_file: str = ""
    write_keys_secret: str = ""
    allowed_origins: str = DEV_ALLOWED_ORIGINS
    rate_limit_rps: float = 2000.0
    rate_limit_burst: int = 4000

    @property
    def embedded(self) -> bool:
        return self.mode == "embedded"

    @property
    def kinesis_port(self) -> int:
        return int((self.kinesis_endpoint_url or "http://x:4567").rsplit(":", 1)[1].split("/")[0])

    @property
    def bronze_uri(self) -> str:
        return f"{self.lake_uri}/bronze/events"

    @property
    def quarantine_uri(self) -> str:
        return f"{self.lake_uri}/bronze/quarantine"

    @property
    def silver_uri(self) -> str:
        return f"{self.lake_uri}/silver"

    @property
    def gold_uri(self) -> str:
        return f"{self.lake_uri}/gold"

    @property
    def bronze_checkpoint_uri(self) -> str:
        return f"{self.checkpoint_uri}/bronze"

    @property
    def state_dir(self) -> Path:
        """Local status files (job progress, pids); in AWS mode they stay on the driver."""
        return self.home / "state"

    @property
    def kinesis_data_dir(self) -> Path:
        return self.home / "kinesis"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}"


def load_settings() -> Settings:
    """Reads CLICKSTREAM_* variables; anything unset gets the embedded default."""
    mode = _env("CLICKSTREAM_MODE", "embedded")
    if mode not in ("embedded", "aws"):
        raise ValueError(f"CLICKSTREAM_MODE must be 'embedded' or 'aws', not {mode!r}")
    home = Path(_env("CLICKSTREAM_HOME", str(Path.cwd() / "var"))).resolve()
    lake_uri = _env("CLICKSTREAM_LAKE_URI", str(home / "lake"))
    checkpoint_uri = _env("CLICKSTREAM_CHECKPOINT_URI", str(home / "checkpoints"))
    endpoint_default = "http://127.0.0.1:4567" if mode == "embedded" else ""
    salt = _env("CLICKSTREAM_IP_HASH_SALT", DEV_SALT if mode == "embedded" else "")
    write_keys_file = _env("CLICKSTREAM_WRITE_KEYS_FILE", "")
    write_keys_secret = _env("CLICKSTREAM_WRITE_KEYS_SECRET", "")
    dev_keys = mode == "embedded" and not (write_keys_file or write_keys_secret)
    rate_limit_rps = float(_env("CLICKSTREAM_RATE_LIMIT_RPS", "2000"))
    return Settings(
        mode=mode,
        home=home,
        lake_uri=lake_uri.rstrip("/"),
        checkpoint_uri=checkpoint_uri.rstrip("/"),
        stream_name=_env("CLICKSTREAM_STREAM_NAME", "clickstream-events"),
        shard_count=int(_env("CLICKSTREAM_SHARD_COUNT", "2")),
        region=_env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1")),
        kinesis_endpoint_url=_env("CLICKSTREAM_KINESIS_ENDPOINT", endpoint_default) or None,
        s3_endpoint_url=_env("CLICKSTREAM_S3_ENDPOINT", "") or None,
        gateway_host=_env("CLICKSTREAM_GATEWAY_HOST", "127.0.0.1"),
        gateway_port=int(_env("CLICKSTREAM_GATEWAY_PORT", "8080")),
        ip_hash_salt=salt,
        spark_master=_env("CLICKSTREAM_SPARK_MASTER", "local[2]"),
        dedup_window=_env("CLICKSTREAM_DEDUP_WINDOW", "10 minutes"),
        max_records_per_shard=int(_env("CLICKSTREAM_MAX_RECORDS_PER_SHARD", "10000")),
        catch_up_records_per_shard=int(_env("CLICKSTREAM_CATCH_UP_RECORDS_PER_SHARD", "50000")),
        write_keys=_env("CLICKSTREAM_WRITE_KEYS", f"{DEV_SITE}:{DEV_WRITE_KEY}" if dev_keys else ""),
        write_keys_file=write_keys_file,
        write_keys_secret=write_keys_secret,
        allowed_origins=_env("CLICKSTREAM_ALLOWED_ORIGINS",
                             DEV_ALLOWED_ORIGINS if mode == "embedded" else ""),
        rate_limit_rps=rate_limit_rps,
        rate_limit_burst=int(_env("CLICKSTREAM_RATE_LIMIT_BURST", str(int(rate_limit_rps * 2)))),
    )
