"""One settings object for both modes, read from the environment.

Embedded mode (the default) points every part at this machine: a loopback Kinesis endpoint,
local Spark and a lakehouse folder. AWS mode leaves the endpoint to boto3's defaults and
expects S3 URIs and a region (no default: a wrong region would read another region's
resources, or none); the code paths are the same.

Every CLICKSTREAM_* variable is read here and nowhere else: each field names its variable
once (`env`), `load_settings` reads them all and `Settings.to_env` writes them back, so a
child process, the Dagster resources and the Glue job's arguments carry the same settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEV_SALT = "embedded-dev-salt-change-me"
DEV_SUBJECT_SALT = "embedded-dev-subject-salt-change-me"
# The embedded stack's one site and its write key: the demo traffic and the shop page send it,
# so `./clickstream demo` needs no configuration. AWS mode has no default key.
DEV_SITE = "demo"
DEV_WRITE_KEY = "embedded-dev-write-key-change-me"
# Browsers on this machine: the gateway serves the shop itself, and a developer may serve a
# page from any local port. The gateway's own origin is always added in embedded mode.
DEV_ALLOWED_ORIGINS = "http://localhost:*,http://127.0.0.1:*,http://[::1]:*"
DEV_KINESIS_ENDPOINT = "http://127.0.0.1:4567"


def setting(variable: str, default: Any = None) -> Any:
    """A field read from the environment variable `variable`, with the default of a Settings
    built in code; `load_settings` derives some defaults from the mode or another setting."""
    return field(default=default, metadata={"env": variable})


@dataclass(frozen=True)
class Settings:
    """Where every part of the pipeline lives; derived paths keep the layout in one place."""

    mode: str = setting("CLICKSTREAM_MODE", "embedded")
    home: Path = field(default_factory=lambda: Path.cwd() / "var", metadata={"env": "CLICKSTREAM_HOME"})
    lake_uri: str = setting("CLICKSTREAM_LAKE_URI", "")
    checkpoint_uri: str = setting("CLICKSTREAM_CHECKPOINT_URI", "")
    stream_name: str = setting("CLICKSTREAM_STREAM_NAME", "clickstream-events")
    shard_count: int = setting("CLICKSTREAM_SHARD_COUNT", 2)
    region: str = setting("AWS_REGION", "us-east-1")
    kinesis_endpoint_url: str | None = setting("CLICKSTREAM_KINESIS_ENDPOINT", DEV_KINESIS_ENDPOINT)
    # An S3-compatible endpoint (MinIO, a loopback server); AWS mode also takes it from the
    # AWS SDKs' own variables, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, which boto3 and pyarrow
    # read by themselves but delta-rs's and Hadoop's S3 clients do not.
    s3_endpoint_url: str | None = setting("CLICKSTREAM_S3_ENDPOINT")
    gateway_host: str = setting("CLICKSTREAM_GATEWAY_HOST", "127.0.0.1")
    gateway_port: int = setting("CLICKSTREAM_GATEWAY_PORT", 8080)
    ip_hash_salt: str = setting("CLICKSTREAM_IP_HASH_SALT", DEV_SALT)
    # Hashes the ids of erased people in the suppression list and the audit trail
    # (streaming/lake/suppression.py); a salt of its own, so rotating the IP salt does not
    # forget who asked to be forgotten.
    subject_hash_salt: str = setting("CLICKSTREAM_SUBJECT_HASH_SALT", DEV_SUBJECT_SALT)
    # Or the Secrets Manager secret that holds it (AWS mode: the Glue job and Dagster's runs
    # read it at first use, so it never sits in a job's arguments or a task's definition).
    subject_hash_salt_secret: str = setting("CLICKSTREAM_SUBJECT_HASH_SALT_SECRET", "")
    # The write key `clickstream smoke` posts with after a deploy (a workflow keeps it out of
    # the command line); the embedded stack's development key when empty and embedded.
    smoke_write_key: str = setting("CLICKSTREAM_SMOKE_WRITE_KEY", "")
    spark_master: str = setting("CLICKSTREAM_SPARK_MASTER", "local[2]")
    dedup_window: str = setting("CLICKSTREAM_DEDUP_WINDOW", "10 minutes")
    max_records_per_shard: int = setting("CLICKSTREAM_MAX_RECORDS_PER_SHARD", 1000)
    catch_up_records_per_shard: int = setting("CLICKSTREAM_CATCH_UP_RECORDS_PER_SHARD", 1000)
    # And at most this many from all shards together: a batch is in the driver's memory at
    # once, so its size must not grow with the shard count (streaming.stream.source.shard_limit).
    # 1,000 drained a 1,000,000-event backlog about as fast as 2,000 and 4,000 did, in 2.1 GiB
    # instead of 2.5 and 3.0.
    max_records_per_batch: int = setting("CLICKSTREAM_MAX_RECORDS_PER_BATCH", 1000)
    # How long the job's reader waits before asking a caught-up shard again. AWS serves five
    # GetRecords a second per shard, shared by every consumer: 1,000 ms there leaves four of
    # them to the others (the polling default of Kinesis's own client library; 200 ms when the
    # job is the stream's only consumer). kinesalite has no such limit, and each poll's wait
    # is latency (p50 at 2,000 events/s: 0.58 s at 200 ms, 0.46 s at 50 ms;
    # docs/benchmarks.md): 50 ms in embedded mode.
    kinesis_poll_ms: int = setting("CLICKSTREAM_KINESIS_POLL_MS", 1000)
    write_keys: str = setting("CLICKSTREAM_WRITE_KEYS", f"{DEV_SITE}:{DEV_WRITE_KEY}")
    write_keys_file: str = setting("CLICKSTREAM_WRITE_KEYS_FILE", "")
    write_keys_secret: str = setting("CLICKSTREAM_WRITE_KEYS_SECRET", "")
    allowed_origins: str = setting("CLICKSTREAM_ALLOWED_ORIGINS", DEV_ALLOWED_ORIGINS)
    rate_limit_rps: float = setting("CLICKSTREAM_RATE_LIMIT_RPS", 2000.0)
    rate_limit_burst: int = setting("CLICKSTREAM_RATE_LIMIT_BURST", 4000)
    # The control plane's: the Glue job it observes and catches up with, the Athena database
    # and workgroup of the lake's tables, when a lagging job gets a catch-up run, and the
    # first day of silver and gold partitions.
    # Dagster's storage for the embedded UI (`clickstream demo --ui`): a PostgreSQL URL
    # (postgresql+psycopg2://...) as a deployment keeps it on RDS; unset, Dagster's SQLite files.
    dagster_postgres_url: str = setting("CLICKSTREAM_DAGSTER_POSTGRES_URL", "")
    glue_job_name: str = setting("CLICKSTREAM_GLUE_JOB_NAME", "")
    # AWS mode: the Glue job that builds a day of a silver or gold table (streaming/lake/
    # build_job.py), launched through Dagster Pipes, and the s3:// prefix where Pipes hands it
    # its context and reads its messages back. Unset, a run builds on its own Spark.
    model_job_name: str = setting("CLICKSTREAM_MODEL_JOB_NAME", "")
    pipes_uri: str = setting("CLICKSTREAM_PIPES_URI", "")
    glue_database: str = setting("CLICKSTREAM_GLUE_DATABASE", "")
    athena_workgroup: str = setting("CLICKSTREAM_ATHENA_WORKGROUP", "primary")
    lag_threshold_seconds: float = setting("CLICKSTREAM_LAG_THRESHOLD_SECONDS", 60.0)
    partitions_start: str = setting("CLICKSTREAM_PARTITIONS_START", "2026-11-01")

    @property
    def embedded(self) -> bool:
        return self.mode == "embedded"

    @property
    def builds_on_glue(self) -> bool:
        """Whether silver and gold days are built by the model-build Glue job (AWS mode, the
        job configured) rather than on the Dagster run's own Spark."""
        return not self.embedded and bool(self.model_job_name)

    @property
    def kinesis_port(self) -> int:
        return int((self.kinesis_endpoint_url or "http://x:4567").rsplit(":", 1)[1].split("/")[0])

    @property
    def bronze_checkpoint_uri(self) -> str:
        return f"{self.checkpoint_uri}/bronze"

    @property
    def state_dir(self) -> Path:
        """Local status files (job progress, pids); in AWS mode they stay on the driver."""
        return self.home / "state"

    @property
    def log_dir(self) -> Path:
        """Logs of the processes the embedded stack and catch-up runs start."""
        return self.home / "logs"

    @property
    def kinesis_data_dir(self) -> Path:
        return self.home / "kinesis"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}"

    def to_env(self) -> dict[str, str]:
        """The environment `load_settings` reads back as these settings (unset ones omitted)."""
        return {item.metadata["env"]: str(value) for item in fields(self)
                if (value := getattr(self, item.name)) is not None}


VARIABLES = {item.name: item.metadata["env"] for item in fields(Settings)}
PARSERS = {"int": int, "float": float, "Path": lambda text: Path(text).resolve()}


def sdk_endpoint(environ: Mapping[str, str], service: str) -> str | None:
    """The endpoint the AWS SDKs' shared configuration names for `service` (its
    AWS_ENDPOINT_URL_<SERVICE>, else the global AWS_ENDPOINT_URL), or None for AWS's own."""
    for variable in (f"AWS_ENDPOINT_URL_{service}", "AWS_ENDPOINT_URL"):
        if value := environ.get(variable, "").strip():
            return value
    return None


def glue_arguments_to_env(argv: list[str]) -> list[str]:
    """Glue passes job parameters as `--NAME value` next to its own (`--JOB_ID`, ...): the ones
    named like a setting's variable (`--CLICKSTREAM_*`, `--AWS_REGION`) become environment
    variables, the settings' only source, in every Glue job of the project (the stream job,
    the model builds). The other arguments come back for the job's own parser."""
    rest, items = [], iter(argv)
    for arg in items:
        name, eq, value = arg.removeprefix("--").partition("=")
        if arg.startswith("--") and name in VARIABLES.values():
            os.environ[name] = value if eq else next(items, "")
        else:
            rest.append(arg)
    return rest


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Reads the CLICKSTREAM_* variables (`os.environ` unless given); anything unset gets its
    default, which for some settings depends on the mode or on another setting."""
    environ = os.environ if environ is None else environ
    given = {name: text for name, variable in VARIABLES.items()
             if (text := environ.get(variable, "").strip())}
    mode = given.pop("mode", "embedded")
    if mode not in ("embedded", "aws"):
        raise ValueError(f"CLICKSTREAM_MODE must be 'embedded' or 'aws', not {mode!r}")
    types = {item.name: item.type for item in fields(Settings)}
    values: dict[str, Any] = {name: PARSERS.get(types[name], str)(text) for name, text in given.items()}
    embedded = mode == "embedded"
    region = values.get("region") or environ.get("AWS_DEFAULT_REGION", "").strip()
    if not region and not embedded:
        raise ValueError("AWS mode needs the stack's region: set AWS_REGION (or "
                         "AWS_DEFAULT_REGION); the Glue job gets it as --AWS_REGION from Terraform")
    home = values.setdefault("home", (Path.cwd() / "var").resolve())
    dev_keys = embedded and not (values.get("write_keys_file") or values.get("write_keys_secret"))
    derived = {
        "lake_uri": str(home / "lake"),
        "checkpoint_uri": str(home / "checkpoints"),
        # Embedded mode's endpoints are on loopback and ignore the region.
        "region": region or "us-east-1",
        "kinesis_endpoint_url": DEV_KINESIS_ENDPOINT if embedded else None,
        "s3_endpoint_url": None if embedded else sdk_endpoint(environ, "S3"),
        "ip_hash_salt": DEV_SALT if embedded else "",
        "subject_hash_salt": DEV_SUBJECT_SALT if embedded else "",
        "write_keys": f"{DEV_SITE}:{DEV_WRITE_KEY}" if dev_keys else "",
        "allowed_origins": DEV_ALLOWED_ORIGINS if embedded else "",
        "rate_limit_burst": int(float(values.get("rate_limit_rps", 2000.0)) * 2),
        "kinesis_poll_ms": 50 if embedded else 1000,
    }
    values = {**derived, **values}
    values["lake_uri"] = values["lake_uri"].rstrip("/")
    values["checkpoint_uri"] = values["checkpoint_uri"].rstrip("/")
    return Settings(mode=mode, **values)
