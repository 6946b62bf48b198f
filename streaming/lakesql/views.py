"""The business views under `sql/views` and the user's queries, parsed as Trino with sqlglot.

Each view file holds one `CREATE OR REPLACE VIEW <file name> AS ...` statement, exactly what
Athena runs; leading `--` lines describe the view. Parsing happens here once, so a syntax
error in a view or in a user's query comes back as a message with a line and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.lineage import lineage

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
VIEWS_DIR = SQL_DIR / "views"
SOURCE_DIALECT = "trino"


class SqlError(ValueError):
    """A query that cannot run, with a message meant for the person who wrote it."""


def parse_statement(sql: str) -> exp.Expression:
    """One Trino statement as a sqlglot tree; syntax errors point at the line and column."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=SOURCE_DIALECT) if s is not None]
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        near = f"{detail.get('start_context', '')}{detail.get('highlight', '')}".strip()
        raise SqlError(f"syntax error at line {detail.get('line', '?')}, column "
                       f"{detail.get('col', '?')}: {detail.get('description', error)}"
                       + (f" (near '{near}')" if near else "")) from None
    except TokenError as error:
        raise SqlError(f"syntax error: {error}") from None
    if not statements:
        raise SqlError("empty query")
    if len(statements) > 1:
        raise SqlError(f"one statement at a time, got {len(statements)}")
    return statements[0]


def to_duckdb(statement: exp.Expression) -> str:
    """The statement in DuckDB's dialect; Trino features with no DuckDB equivalent are refused
    by name rather than translated into something that means another thing."""
    try:
        return statement.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise SqlError(f"not supported by the embedded engine: {error}") from None


def read_tables(query: exp.Expression) -> tuple[str, ...]:
    """Tables and views a statement reads (names of its own CTEs excluded), in first-use order."""
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    names = [table.name for table in query.find_all(exp.Table) if table.name not in ctes]
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class View:
    """A business view: its name, the Athena statement that creates it, and what it is for."""

    name: str
    sql: str
    description: str
    statement: exp.Create = field(repr=False, compare=False)

    @classmethod
    def from_sql(cls, name: str, sql: str) -> View:
        """Parses now, so a broken view fails where it is loaded, naming the view."""
        statement = parse_statement(sql)
        if not (isinstance(statement, exp.Create) and statement.kind == "VIEW"):
            raise SqlError(f"{name}: expected CREATE OR REPLACE VIEW {name} AS ...")
        if statement.this.name != name:
            raise SqlError(f"{name}: the statement creates {statement.this.name!r}; a view "
                           "file must create the view it is named after")
        return cls(name, sql, description_of(sql), statement)

    @property
    def query(self) -> exp.Query:
        return self.statement.expression

    @property
    def reads(self) -> tuple[str, ...]:
        return read_tables(self.query)

    @property
    def columns(self) -> list[str]:
        return list(self.query.named_selects)

    def duckdb_sql(self) -> str:
        return to_duckdb(self.statement)

    def column_lineage(self, schemas: Mapping[str, Mapping[str, str]]) -> dict[str, list[str]]:
        """Per output column, the `table.column`s it is computed from (empty for constants and
        count(*)). `schemas` maps each table read to its columns and types."""
        known = {table: dict(columns) for table, columns in schemas.items() if table in self.reads}
        found: dict[str, list[str]] = {}
        for column in self.columns:
            node = lineage(column, self.query, schema=known, dialect=SOURCE_DIALECT)
            sources = {f"{n.expression.name}.{n.name.split('.')[-1]}" for n in node.walk()
                       if isinstance(n.expression, exp.Table)}
            found[column] = sorted(sources)
        return found


def description_of(text: str) -> str:
    """The leading `--` comment block of a SQL file, as one paragraph."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        lines.append(stripped[2:].strip())
    return " ".join(line for line in lines if line)


def load_views(directory: Path = VIEWS_DIR) -> list[View]:
    """Every view file, parsed."""
    return [View.from_sql(path.stem, path.read_text()) for path in sorted(directory.glob("*.sql"))]
