"""The lakehouse catalog: which tables and views exist, their columns, and column lineage.

Tables are found, not declared: every Delta table two levels under the lake
(`<layer>/<table>`) is registered as `<layer>_<table>` (bronze/events -> bronze_events), so a
table the pipeline starts writing is registered by the next catalog run with no manual step.
Columns come from the Delta log each time a table is opened, so a new column is visible at
once. In embedded mode the catalog is a JSON file under the lake, which the embedded engine
reads the way Athena reads the Glue Data Catalog; in AWS mode it is published to Glue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from pyarrow import fs

from streaming.lake.delta import lake_filesystem

CATALOG_FOLDER = "_catalog"
CATALOG_FILE = "catalog.json"


def table_name(layer: str, table: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", f"{layer}_{table}".lower())


def discover_tables(lake_uri: str) -> dict[str, str]:
    """`<layer>_<table>` -> location for every Delta table at `<lake>/<layer>/<table>`."""
    filesystem, root = lake_filesystem(lake_uri)
    found: dict[str, str] = {}
    if filesystem.get_file_info(root).type != fs.FileType.Directory:
        return found
    for layer in _folders(filesystem, root):
        for table in _folders(filesystem, layer.path):
            log = filesystem.get_file_info(f"{table.path}/_delta_log")
            if log.type == fs.FileType.Directory:
                found[table_name(layer.base_name, table.base_name)] = (
                    f"{lake_uri.rstrip('/')}/{layer.base_name}/{table.base_name}")
    return dict(sorted(found.items()))


def _folders(filesystem: fs.FileSystem, path: str) -> list[fs.FileInfo]:
    return sorted((info for info in filesystem.get_file_info(fs.FileSelector(path))
                   if info.type == fs.FileType.Directory
                   and not info.base_name.startswith(("_", "."))), key=lambda i: i.base_name)


def type_name(arrow_type: pa.DataType) -> str:
    """The Glue/Athena (Hive DDL) name of an Arrow type, the names the Glue catalog shows."""
    simple = {pa.string(): "string", pa.large_string(): "string", pa.int64(): "bigint",
              pa.int32(): "int", pa.int16(): "smallint", pa.int8(): "tinyint",
              pa.float64(): "double", pa.float32(): "float", pa.bool_(): "boolean",
              pa.date32(): "date", pa.binary(): "binary"}
    if arrow_type in simple:
        return simple[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_map(arrow_type):
        return f"map<{type_name(arrow_type.key_type)},{type_name(arrow_type.item_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ",".join(f"{f.name}:{type_name(f.type)}" for f in arrow_type)
        return f"struct<{fields}>"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"array<{type_name(arrow_type.value_type)}>"
    return str(arrow_type)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str | None = None
    lineage: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableEntry:
    name: str
    location: str
    columns: tuple[Column, ...]
    partition_columns: tuple[str, ...] = ()
    version: int = -1


@dataclass(frozen=True)
class ViewEntry:
    name: str
    sql: str
    description: str
    reads: tuple[str, ...]
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Catalog:
    tables: tuple[TableEntry, ...]
    views: tuple[ViewEntry, ...]
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def table(self, name: str) -> TableEntry | None:
        return next((t for t in self.tables if t.name == name), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        data = json.loads(text)

        def columns(items: Iterable[dict]) -> tuple[Column, ...]:
            return tuple(Column(c["name"], c["type"], c.get("description"),
                                tuple(c.get("lineage") or ())) for c in items)

        return cls(
            tables=tuple(TableEntry(t["name"], t["location"], columns(t["columns"]),
                                    tuple(t.get("partition_columns") or ()), t.get("version", -1))
                         for t in data["tables"]),
            views=tuple(ViewEntry(v["name"], v["sql"], v.get("description", ""),
                                  tuple(v.get("reads") or ()), columns(v["columns"]))
                        for v in data["views"]),
            generated_at=data.get("generated_at", ""),
        )

    def changes_from(self, previous: Catalog | None) -> list[str]:
        """What a reader of the catalog can newly query (or no longer query) since `previous`."""
        before_tables = {t.name: {c.name for c in t.columns} for t in previous.tables} if previous else {}
        before_views = {v.name for v in previous.views} if previous else set()
        changes = []
        for table in self.tables:
            if table.name not in before_tables:
                changes.append(f"new table {table.name}")
                continue
            changes += [f"new column {table.name}.{c.name}" for c in table.columns
                        if c.name not in before_tables[table.name]]
        changes += [f"table {name} is gone" for name in before_tables
                    if self.table(name) is None]
        changes += [f"new view {v.name}" for v in self.views if v.name not in before_views]
        changes += [f"view {name} is gone" for name in sorted(before_views - {v.name for v in self.views})]
        return changes


def catalog_uri(lake_uri: str) -> str:
    return f"{lake_uri.rstrip('/')}/{CATALOG_FOLDER}/{CATALOG_FILE}"


def load_catalog(lake_uri: str) -> Catalog | None:
    """The catalog the last catalog run stored under the lake, or None before the first run."""
    filesystem, path = lake_filesystem(catalog_uri(lake_uri))
    if filesystem.get_file_info(path).type != fs.FileType.File:
        return None
    with filesystem.open_input_stream(path) as stream:
        return Catalog.from_json(stream.read().decode())


def save_catalog(lake_uri: str, catalog: Catalog) -> str:
    """Writes the catalog next to the tables (write-then-rename, so readers never see half)."""
    uri = catalog_uri(lake_uri)
    filesystem, path = lake_filesystem(uri)
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    staging = f"{path}.tmp"
    with filesystem.open_output_stream(staging) as stream:
        stream.write(catalog.to_json().encode())
    filesystem.move(staging, path)
    return uri

