"""The engines that answer SQL: DuckDB over the Delta tables (embedded) and Athena (AWS).

Both take the same Trino SQL and return Arrow tables, so the CLI, the Dagster resource, the
checks and the dashboard never know which one ran. The embedded engine registers each Delta
table as a view over an Arrow dataset from delta-rs: DuckDB pushes column selection and
partition filters (`event_date = ...`) into the dataset, so a query reads only the files it
needs. DuckDB's own delta extension would be a download at run time; this needs nothing but
the pinned wheels.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import boto3
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable

from streaming.lake.read import open_table
from streaming.lakesql.catalog import (
    Catalog,
    Column,
    TableEntry,
    ViewEntry,
    catalog_uri,
    discover_tables,
    load_catalog,
    save_catalog,
    type_name,
)
from streaming.lakesql.views import SqlError, View, load_views, parse_statement, to_duckdb
from streaming.settings import Settings

ColumnDocs = Mapping[str, Mapping[str, tuple[str | None, tuple[str, ...]]]]
MISSING_TABLE = re.compile(r"Table with name (\w+) does not exist")


def delta_dataset(table: DeltaTable) -> ds.Dataset:
    """The table's current snapshot as an Arrow dataset whose files are known only by their
    partition values.

    delta-rs also turns each file's column statistics into the fragment's guarantee; for a
    column added after a file was written it records `column >= null`, and pyarrow then
    simplifies `column IS NOT NULL` to true (and `IS NULL` to false) for that file, so old rows
    come back with the wrong answer. Partition values are exact, and they are what prunes
    a day's query to a day's files.
    """
    dataset = table.to_pyarrow_dataset()
    partitions = table.metadata().partition_columns
    actions = pa.table(table.get_add_actions(flatten=True))
    fragments = []
    for index, path in enumerate(actions.column("path").to_pylist()):
        guarantee = pc.scalar(True)
        for column in partitions:
            value = actions.column(f"partition.{column}")[index]
            field = ds.field(column)
            guarantee &= field.is_null() if not value.is_valid else field == value
        fragments.append(dataset.format.make_fragment(path, filesystem=dataset.filesystem,
                                                      partition_expression=guarantee))
    return ds.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)


@dataclass(frozen=True)
class RegisteredTable:
    location: str
    schema: pa.Schema
    partition_columns: tuple[str, ...]
    version: int


class EmbeddedEngine:
    """DuckDB in memory over the lake's Delta tables, with the business views created on top.

    A view whose tables do not exist yet (gold before its first build) is left out and
    explained in `unavailable`; a view DuckDB rejects is a bug and is kept in `broken`.
    """

    def __init__(self, tables: Mapping[str, str], views: Sequence[View]) -> None:
        self.tables: dict[str, RegisteredTable] = {}
        self.views: list[View] = []
        self.unavailable: dict[str, str] = {}
        self.broken: dict[str, str] = {}
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone = 'UTC'")
        for name, location in tables.items():
            self._register(name, location)
        self._create_views(views)

    @classmethod
    def open(cls, lake_uri: str) -> EmbeddedEngine:
        """The engine over the catalog the catalog asset published; before the first catalog
        run, over the tables found in the lake and the view files."""
        catalog = load_catalog(lake_uri)
        if catalog is None:
            return cls(discover_tables(lake_uri), load_views())
        return cls({t.name: t.location for t in catalog.tables},
                   [View.from_sql(v.name, v.sql) for v in catalog.views])

    def __enter__(self) -> EmbeddedEngine:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def _register(self, name: str, location: str) -> None:
        table = open_table(location)
        if table is None:
            self.unavailable[name] = f"the catalog lists {name}, but there is no Delta table at {location}"
            return
        dataset = delta_dataset(table)
        self._con.register(name, dataset)
        self.tables[name] = RegisteredTable(location, dataset.schema,
                                            tuple(table.metadata().partition_columns),
                                            table.version())

    def _create_views(self, views: Sequence[View]) -> None:
        """Creates views in dependency order (a view may read another view)."""
        pending = list(views)
        while pending:
            waiting = {v.name for v in pending}
            ready = [v for v in pending if not (set(v.reads) - {v.name}) & waiting]
            if not ready:
                for view in pending:
                    self.broken[view.name] = "reads a view that reads it back (a cycle)"
                return
            for view in ready:
                pending.remove(view)
                known = set(self.tables) | {v.name for v in self.views}
                missing = [name for name in view.reads if name not in known]
                if missing:
                    self.unavailable[view.name] = "; ".join(
                        self.unavailable.get(name, f"reads {name}, which is not in the lake yet")
                        for name in missing)
                    continue
                try:
                    self._con.execute(view.duckdb_sql())
                except (duckdb.Error, SqlError) as error:
                    self.broken[view.name] = _first_part(str(error))
                    continue
                self.views.append(view)

    def query(self, sql: str) -> pa.Table:
        """Runs one Trino statement; any error comes back as a SqlError with a plain message."""
        statement = to_duckdb(parse_statement(sql))
        try:
            relation = self._con.sql(statement)
            return trino_types(relation.to_arrow_table()) if relation is not None else pa.table({})
        except duckdb.Error as error:
            raise SqlError(self._explain(str(error))) from None

    def _explain(self, message: str) -> str:
        missing = MISSING_TABLE.search(message)
        if missing is None:
            return _first_part(message)
        name = missing.group(1)
        if name in self.unavailable:
            return f"{name} is not available: {self.unavailable[name]}"
        if name in self.broken:
            return f"view {name} could not be created: {self.broken[name]}"
        known = sorted([*self.tables, *(v.name for v in self.views)])
        close = difflib.get_close_matches(name, known, n=1)
        return (f"no table or view named {name}" + (f" (did you mean {close[0]}?)" if close else "")
                + f"; there are: {', '.join(known) or 'none yet'}")

    def schema_of(self, name: str) -> pa.Schema:
        return trino_types(self._con.sql(f'SELECT * FROM "{name}" LIMIT 0').to_arrow_table()).schema

    def describe(self, docs: ColumnDocs | None = None) -> Catalog:
        """The catalog of what this engine serves: every table with its columns (types from the
        Delta log; descriptions and lineage from `docs`), every view with its columns and the
        table columns each one is computed from."""
        docs = docs or {}
        tables = tuple(
            TableEntry(name, table.location, tuple(
                Column(f.name, type_name(f.type), *docs.get(name, {}).get(f.name, (None, ())))
                for f in table.schema), table.partition_columns, table.version)
            for name, table in self.tables.items())
        schemas = {name: {f.name: type_name(f.type) for f in table.schema}
                   for name, table in self.tables.items()}
        views = []
        for view in self.views:
            lineage = view.column_lineage(schemas)
            output = self.schema_of(view.name)
            views.append(ViewEntry(view.name, view.sql, view.description, view.reads, tuple(
                Column(f.name, type_name(f.type), None, tuple(lineage.get(f.name, ())))
                for f in output)))
            schemas[view.name] = {f.name: type_name(f.type) for f in output}
        return Catalog(tables, tuple(views))

    @staticmethod
    def publish(lake_uri: str, catalog: Catalog) -> list[str]:
        """Stores the catalog under the lake, where `open` finds it; returns what changed."""
        changes = catalog.changes_from(load_catalog(lake_uri))
        save_catalog(lake_uri, catalog)
        return changes


def trino_types(table: pa.Table) -> pa.Table:
    """DuckDB sums and counts integers into HUGEINT, which reaches Arrow as decimal(38,0);
    Trino (Athena) answers bigint, so that is what the embedded engine returns too."""
    huge = pa.decimal128(38, 0)
    if not any(f.type == huge for f in table.schema):
        return table
    return table.cast(pa.schema([f.with_type(pa.int64()) if f.type == huge else f
                                 for f in table.schema]))


def _first_part(message: str) -> str:
    """DuckDB's message without the echo of the translated statement that follows it."""
    return message.split("\n\nLINE ")[0].strip()


ATHENA_TYPES: dict[str, tuple[pa.DataType, object]] = {
    "boolean": (pa.bool_(), lambda v: v == "true"),
    "tinyint": (pa.int64(), int), "smallint": (pa.int64(), int),
    "integer": (pa.int64(), int), "bigint": (pa.int64(), int),
    "double": (pa.float64(), float), "float": (pa.float64(), float), "real": (pa.float64(), float),
    "decimal": (pa.float64(), float),
    "date": (pa.date32(), date.fromisoformat),
    "timestamp": (pa.timestamp("us", tz="UTC"),
                  lambda v: datetime.fromisoformat(v.removesuffix(" UTC")).replace(tzinfo=UTC)),
}


class AthenaEngine:
    """Athena over the Glue Data Catalog (AWS mode), through boto3's Athena and Glue clients.

    Queries run in `database` and `workgroup`; the workgroup decides where results go and how
    many bytes a query may scan. Syntax is checked locally first, so a typo costs no query.
    """

    def __init__(self, athena, glue, database: str, workgroup: str = "primary",
                 poll_seconds: float = 1.0, max_polls: int = 600) -> None:
        self.athena, self.glue = athena, glue
        self.database, self.workgroup = database, workgroup
        self.poll_seconds, self.max_polls = poll_seconds, max_polls

    def __enter__(self) -> AthenaEngine:
        return self

    def __exit__(self, *_) -> None:
        """Nothing to release: boto3 clients hold no session state."""

    def query(self, sql: str) -> pa.Table:
        parse_statement(sql)
        execution_id, statement_type = self._execute(sql)
        return self._results(execution_id, skip_header=statement_type == "DML")

    def _execute(self, sql: str) -> tuple[str, str]:
        execution_id = self.athena.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup)["QueryExecutionId"]
        for _ in range(self.max_polls):
            execution = self.athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            state = execution["Status"]["State"]
            if state == "SUCCEEDED":
                return execution_id, execution.get("StatementType", "DML")
            if state in ("FAILED", "CANCELLED"):
                reason = execution["Status"].get("StateChangeReason", state.lower())
                raise SqlError(f"Athena: {reason}")
            time.sleep(self.poll_seconds)
        raise SqlError(f"Athena query {execution_id} still running after "
                       f"{self.poll_seconds * self.max_polls:.0f}s")

    def _results(self, execution_id: str, skip_header: bool) -> pa.Table:
        columns: list[dict] = []
        rows: list[list[str | None]] = []
        pages = self.athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id)
        for page in pages:
            result = page["ResultSet"]
            if not columns:
                columns = result["ResultSetMetadata"]["ColumnInfo"]
                page_rows = result["Rows"][1:] if skip_header else result["Rows"]
            else:
                page_rows = result["Rows"]
            rows += [[cell.get("VarCharValue") for cell in row["Data"]] for row in page_rows]
        arrays = {}
        for index, column in enumerate(columns):
            arrow_type, convert = ATHENA_TYPES.get(column["Type"].split("(")[0],
                                                   (pa.string(), str))
            values = [None if row[index] is None else convert(row[index]) for row in rows]
            arrays[column["Name"]] = pa.array(values, arrow_type)
        return pa.table(arrays)

    def publish(self, catalog: Catalog) -> list[str]:
        """Creates or updates every table in Glue (Delta, by location, with column comments and
        lineage), then (re)creates every view with its Athena statement; returns what changed."""
        changes = []
        for table in catalog.tables:
            current = self._glue_table(table.name)
            if current is None:
                self.glue.create_table(DatabaseName=self.database, TableInput=glue_table_input(table))
                changes.append(f"new table {table.name}")
                continue
            known = {c["Name"] for c in current.get("StorageDescriptor", {}).get("Columns", [])}
            changes += [f"new column {table.name}.{c.name}" for c in table.columns if c.name not in known]
            self.glue.update_table(DatabaseName=self.database, TableInput=glue_table_input(table))
        for view in catalog.views:
            if self._glue_table(view.name) is None:
                changes.append(f"new view {view.name}")
            self._execute(view.sql)
        return changes

    def _glue_table(self, name: str) -> dict | None:
        try:
            return self.glue.get_table(DatabaseName=self.database, Name=name)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            return None


def glue_table_input(table: TableEntry) -> dict:
    """A Delta table registered by location, as the Terraform catalog module registers them;
    the columns are for people browsing the catalog (Athena reads them from the Delta log)."""
    return {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"table_type": "DELTA", "EXTERNAL": "TRUE",
                       "spark.sql.sources.provider": "delta"},
        "StorageDescriptor": {
            "Location": table.location,
            "Columns": [{"Name": c.name, "Type": c.type,
                         **({"Comment": c.description[:255]} if c.description else {}),
                         **({"Parameters": {"lineage": ", ".join(c.lineage)}} if c.lineage else {})}
                        for c in table.columns],
        },
    }


def open_engine(settings: Settings) -> EmbeddedEngine | AthenaEngine:
    """The engine for the configured mode, for the `sql` command and Dagster alike.

    AWS mode needs the Glue database (Terraform output `glue_database`) in
    CLICKSTREAM_GLUE_DATABASE and takes the workgroup from CLICKSTREAM_ATHENA_WORKGROUP.
    """
    if settings.embedded:
        return EmbeddedEngine.open(settings.lake_uri)
    return AthenaEngine(boto3.client("athena", region_name=settings.region),
                        boto3.client("glue", region_name=settings.region),
                        _glue_database(settings), settings.athena_workgroup)


def publish_catalog(settings: Settings, catalog: Catalog) -> tuple[list[str], str]:
    """Registers `catalog` where this mode's engine reads it: a file under the lake, or the
    Glue Data Catalog with the views created in Athena. Returns what changed and where."""
    if settings.embedded:
        return EmbeddedEngine.publish(settings.lake_uri, catalog), catalog_uri(settings.lake_uri)
    with open_engine(settings) as engine:
        return engine.publish(catalog), f"Glue database {settings.glue_database}"


def _glue_database(settings: Settings) -> str:
    if not settings.glue_database:
        raise SqlError("AWS mode needs CLICKSTREAM_GLUE_DATABASE: the Glue database of the "
                       "lake's tables (Terraform output glue_database)")
    return settings.glue_database
