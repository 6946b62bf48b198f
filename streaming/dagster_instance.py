"""Dagster's instance on PostgreSQL: its tables created once, before Dagster's processes open it.

Every Dagster process that opens an instance on an empty PostgreSQL database creates its
tables. Processes that start together race, and all but one die with "type alembic_version
already exists": the webserver, daemon and code location tasks of a first deploy on AWS
(ECS would start the losers again), `dagster dev`'s webserver and daemon, a backfill's runs.
Here the instance is opened under a PostgreSQL advisory lock, so the first process creates
the tables and the others find them.

The Dagster image's entry point (infra/dagster/Dockerfile) is

    python -m streaming.dagster_instance <command ...>

which prepares the instance in `DAGSTER_HOME`, then becomes the command, whatever ECS or
Dagster's run launcher asks the container to run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy
import yaml
from dagster import DagsterInstance
from dagster_postgres.utils import pg_url_from_config

# Any number, the same in every process of a deployment (pg_advisory_lock takes a bigint).
CREATE_LOCK = 0x636C69636B  # "click"


def postgres_storage(home: Path) -> Mapping[str, Any] | None:
    """The `storage.postgres` section of `home`'s dagster.yaml, its `env:` values read from
    the environment, or None when the instance is not on PostgreSQL."""
    config = home / "dagster.yaml"
    if not config.exists():
        return None
    section = ((yaml.safe_load(config.read_text()) or {}).get("storage") or {}).get("postgres")
    return None if section is None else _resolved(section)


def _resolved(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"env"}:
        name = value["env"]
        if name not in os.environ:
            raise RuntimeError(f"Dagster's dagster.yaml reads {name} from the environment, "
                               "which does not set it")
        return os.environ[name]
    if isinstance(value, dict):
        return {key: _resolved(item) for key, item in value.items()}
    return value


def create_tables(home: Path) -> None:
    """Opens the instance in `home` once under the advisory lock, which creates its tables on
    an empty database and finds them otherwise. Nothing to do off PostgreSQL."""
    storage = postgres_storage(home)
    if storage is None:
        return
    engine = sqlalchemy.create_engine(pg_url_from_config(storage), poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": CREATE_LOCK})
            try:
                with DagsterInstance.from_config(str(home)):
                    pass
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": CREATE_LOCK})
    finally:
        engine.dispose()


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m streaming.dagster_instance <command ...>: prepares "
                         "the instance in DAGSTER_HOME, then runs the command")
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise SystemExit("DAGSTER_HOME is not set: it names the folder of the instance's dagster.yaml")
    create_tables(Path(home))
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
