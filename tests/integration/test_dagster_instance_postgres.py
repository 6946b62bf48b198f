"""The storage section of AWS mode's instance (infra/dagster/dagster.yaml), as it is, opened
against a real PostgreSQL server: the DAGSTER_PG_* variables that ECS sets on AWS are set here
to the local server's values, and a run is materialized through that instance. Only the storage
is loaded (the ECS run launcher and S3 compute logs need AWS); the local server trusts loopback,
so the password variable is set but not checked, where RDS checks it and requires TLS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import yaml
from dagster import DagsterInstance, asset, materialize

from streaming.dagster_instance import CREATE_LOCK
from streaming.local.postgres import DATABASE, HOST, SUPERUSER, LocalPostgres
from streaming.tools.common import wait_until

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_YAML = ROOT / "infra" / "dagster" / "dagster.yaml"

pytestmark = pytest.mark.slow


@asset
def probe() -> int:
    """A one-step asset: enough for a run, its events and a materialization in storage."""
    return 1


def test_the_aws_storage_section_runs_dagster_on_postgresql(
        tmp_path: Path, postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = yaml.safe_load(INSTANCE_YAML.read_text())["storage"]
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(
        {"storage": storage, "telemetry": {"enabled": False}}))
    for name, value in {"DAGSTER_PG_HOST": HOST, "DAGSTER_PG_PORT": str(postgres.port),
                        "DAGSTER_PG_DB": DATABASE, "DAGSTER_PG_USERNAME": SUPERUSER,
                        "DAGSTER_PG_PASSWORD": "not-checked-on-loopback"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        result = materialize([probe], instance=instance)
        assert result.success
        run_id = result.run_id
        assert instance.get_latest_materialization_event(probe.key).run_id == run_id

    # Written to the server, not somewhere local: read back with a plain connection.
    with psycopg2.connect(host=HOST, port=postgres.port, user=SUPERUSER, dbname=DATABASE) as conn, \
            conn.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        assert cursor.fetchone() == ("SUCCESS",)
        cursor.execute("SELECT count(*) FROM event_logs WHERE run_id = %s "
                       "AND dagster_event_type = 'ASSET_MATERIALIZATION'", (run_id,))
        assert cursor.fetchone() == (1,)


def test_a_prepared_instance_has_its_tables_before_any_dagster_process_starts(
        tmp_path: Path, postgres: LocalPostgres) -> None:
    """Processes started together on an empty database (a backfill's runs, `dagster dev`'s
    webserver and daemon) would each create Dagster's tables, and all but one fail: the
    instance is prepared with them in place."""
    from streaming.local.dagster_ui import prepare_instance

    url = postgres.create_database("prepared")
    prepare_instance(tmp_path, url)
    with psycopg2.connect(host=HOST, port=postgres.port, user=SUPERUSER, dbname="prepared") as conn, \
            conn.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables "
                       "WHERE table_schema = 'public'")
        tables = {name for (name,) in cursor.fetchall()}
    assert {"alembic_version", "runs", "event_logs", "jobs"} <= tables
    prepare_instance(tmp_path, url)  # again, on an instance that has them: nothing to do


def test_containers_started_together_on_an_empty_database_all_start(
        tmp_path: Path, postgres: LocalPostgres) -> None:
    """A first deploy on AWS starts the webserver, daemon and code location together on an
    empty RDS database; each container runs the image's entry point (infra/dagster/Dockerfile)
    with the AWS instance's storage section. Every one prepares the instance and then runs
    its command, none dies on the tables another is creating.

    So that the race does not depend on timing, the test holds the entry point's lock while
    the four start: all four must wait for it, with no table made, before any goes on."""
    storage = yaml.safe_load(INSTANCE_YAML.read_text())["storage"]
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(
        {"storage": storage, "telemetry": {"enabled": False}}))
    postgres.create_database("first_deploy")
    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DAGSTER_PG_HOST": HOST,
                   "DAGSTER_PG_PORT": str(postgres.port), "DAGSTER_PG_DB": "first_deploy",
                   "DAGSTER_PG_USERNAME": SUPERUSER, "DAGSTER_PG_PASSWORD": "not-checked-on-loopback",
                   "PYTHONPATH": str(ROOT)}
    names = ("webserver", "daemon", "code-server", "run")
    entry_point = [sys.executable, "-m", "streaming.dagster_instance"]
    holder = psycopg2.connect(host=HOST, port=postgres.port, user=SUPERUSER, dbname="first_deploy")
    holder.autocommit = True
    cursor = holder.cursor()
    cursor.execute("SELECT pg_advisory_lock(%s)", (CREATE_LOCK,))
    containers = [subprocess.Popen([*entry_point, sys.executable, "-c", f"print('{name} started')"],
                                   env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
                  for name in names]

    def waiting() -> int:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0]

    assert wait_until(lambda: waiting() == len(names) or any(c.poll() is not None for c in containers),
                      timeout=120, every=0.2)
    assert waiting() == len(names), [c.communicate() for c in containers if c.poll() is not None]
    cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
    assert cursor.fetchone() == (0,)
    holder.close()  # the lock goes with the session

    outcomes = [container.communicate(timeout=300) for container in containers]
    for name, container, (out, err) in zip(names, containers, outcomes, strict=True):
        assert container.returncode == 0, err
        assert out.strip() == f"{name} started"
    with psycopg2.connect(host=HOST, port=postgres.port, user=SUPERUSER, dbname="first_deploy") as conn, \
            conn.cursor() as check:
        check.execute("SELECT count(*) FROM alembic_version")
        assert check.fetchone() == (1,)


def test_an_instance_that_reads_an_unset_variable_says_which(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streaming.dagster_instance import create_tables

    storage = yaml.safe_load(INSTANCE_YAML.read_text())["storage"]
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage}))
    for name in ("DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB",
                 "DAGSTER_PG_PORT"):
        monkeypatch.setenv(name, "x")
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(RuntimeError, match="reads DAGSTER_PG_HOST from the environment"):
        create_tables(tmp_path)
