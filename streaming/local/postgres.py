"""A PostgreSQL server on loopback for Dagster's storage: the run, event-log and schedule
storage a deployment keeps on RDS, here in a data directory of the stack's own.

Why PostgreSQL rather than Dagster's default SQLite: the write pools that keep two runs from
committing to one silver or gold table at once (clickstream_assets/defs/lake/assets.py) are
Dagster concurrency slots, and SQLite storage cannot hand a slot out atomically: two run
processes claiming the one free slot at the same moment can both get it (seen in CI, two
backfill runs writing silver_sessions together). PostgreSQL claims it under a row lock.

The server programs come from Debian's `postgresql` package (`./clickstream` installs it when
they are missing). PostgreSQL refuses to run as root, so under root the server runs as the
package's `postgres` user, which then owns the data directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
SUPERUSER = "dagster"
DATABASE = "dagster"
# Where Debian's postgresql package puts the server programs (not on PATH by default).
DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
SERVICE_USER = "postgres"


def server_program(name: str) -> str:
    """The path of a PostgreSQL server program (initdb, pg_ctl), newest version first."""
    found = shutil.which(name)
    if found:
        return found
    for bin_dir in sorted(glob.glob(DEBIAN_BIN_DIRS), reverse=True):
        candidate = Path(bin_dir) / name
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError(
        f"PostgreSQL's {name} is not installed: install Debian's postgresql package "
        "(./clickstream does it on first use) or put its bin directory on PATH")


@dataclass(frozen=True)
class LocalPostgres:
    """One server: its data directory (created on first start, kept between starts) and port."""

    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        """What Dagster's `storage: postgres: postgres_url` takes. The driver is named:
        SQLAlchemy 2.1 reads a bare `postgresql://` as psycopg 3, and dagster-postgres brings
        psycopg2."""
        return self.database_url(DATABASE)

    def database_url(self, database: str) -> str:
        return f"postgresql+psycopg2://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def create_database(self, database: str) -> str:
        """A database of its own (an instance that must not see another's runs); its URL."""
        self._create_database(database)
        return self.database_url(database)

    @property
    def log(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout: float = 60.0) -> None:
        """Initialises the data directory if it is new, starts the server and creates the
        database; returns once the database answers."""
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._own(self.data_dir)
            self._run(server_program("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                      "--auth=trust", "--encoding=UTF8", "--no-sync")
        # The socket goes in the data directory: /var/run/postgresql may not exist or be ours.
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses={HOST} -c fsync=off"
        self._run(server_program("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log),
                  "-o", options, "-t", str(int(timeout)), "-w", "start")
        self._create_database(DATABASE)

    def stop(self) -> None:
        """A fast shutdown (open sessions are ended); nothing to do when it is not running."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run(server_program("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def _create_database(self, database: str) -> None:
        import psycopg2

        connection = psycopg2.connect(host=HOST, port=self.port, user=SUPERUSER, dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{database}"')
        finally:
            connection.close()

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", SERVICE_USER, "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        if result.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed with code {result.returncode}: "
                               f"{result.stderr.strip()}\n{log}")

    @staticmethod
    def _own(directory: Path) -> None:
        """Under root, hands the data directory to the service user, and checks that user can
        reach it (a directory under a private one, such as root's pytest temp dir, cannot)."""
        if os.geteuid() != 0:
            return
        user = pwd.getpwnam(SERVICE_USER)
        os.chown(directory, user.pw_uid, user.pw_gid)
        os.chmod(directory, 0o700)
        for parent in directory.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise PermissionError(
                    f"{parent} is not searchable by others, so the {SERVICE_USER} user that runs "
                    f"PostgreSQL under root cannot reach {directory}: choose a data directory "
                    "under a public one")
