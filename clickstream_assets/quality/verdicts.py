"""What every check produces: a verdict that becomes both Dagster's check result and a line
of the data-quality report, so the two can never disagree.

Each check op (one per layer) computes its verdicts, writes the run's report page, then
returns results whose metadata links to that page. Every result carries `failures`, the
count the check is about, which is what the report's history chart follows across runs.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
)
from pandera.pandas import DataFrameModel

from clickstream_assets.constants import OWNER
from clickstream_assets.quality.pii import scan
from clickstream_assets.quality.validation import frame_of, validate
from clickstream_assets.resources import ReportsResource
from streaming.reports.quality import CheckRun, PastRun, quality_page
from streaming.reports.volume import HourScore

HISTORY_LIMIT = 30
WARN, ERROR = AssetCheckSeverity.WARN, AssetCheckSeverity.ERROR


def spec(asset: AssetKey, name: str, description: str, group: str, kinds: str,
         blocking: bool = False, **extra) -> AssetCheckSpec:
    """A check spec with the owner, group and kinds Dagster has no fields for on checks."""
    return AssetCheckSpec(name, asset=asset, description=description, blocking=blocking,
                          metadata={"owner": OWNER, "group": group, "kinds": kinds,
                                    "severity": "ERROR (blocking)" if blocking else "WARN"},
                          **extra)


@dataclass(frozen=True)
class Verdict:
    asset_key: AssetKey
    check: str
    passed: bool
    severity: AssetCheckSeverity
    summary: str
    failures: int
    metadata: dict = field(default_factory=dict)
    rules: tuple[tuple[str, int, str], ...] = ()
    sample: tuple[dict, ...] = ()

    def report_line(self) -> CheckRun:
        return CheckRun(self.asset_key.to_user_string(), self.check, self.passed,
                        self.severity.value, self.summary, self.failures, self.rules, self.sample)

    def result(self, report_url: str) -> AssetCheckResult:
        return AssetCheckResult(
            passed=self.passed, asset_key=self.asset_key, check_name=self.check,
            severity=self.severity, description=self.summary,
            metadata={**self.metadata, "failures": self.failures,
                      "report": MetadataValue.url(report_url)})


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "none"
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def schema_verdict(asset_key: AssetKey, model: type[DataFrameModel], data: pa.Table,
                   keys: list[str], severity: AssetCheckSeverity, partition: str) -> Verdict:
    """The pandera model on the partition: failing rows per rule and a sample of them."""
    outcome = validate(model, frame_of(data), keys)
    if not outcome.rows:
        summary = "no rows in the partition"
    elif outcome.passed:
        summary = f"{plural(outcome.rows, 'row')}: every rule of {model.__name__} holds"
    else:
        summary = (f"{outcome.failing_rows:,} of {plural(outcome.rows, 'row')} break "
                   f"{plural(len(outcome.rules), 'rule')} of {model.__name__}")
    rules_table = MetadataValue.table(
        records=[TableRecord({"rule": r.rule, "failing_rows": r.failing_rows, "example": r.example})
                 for r in outcome.rules],
        schema=TableSchema(columns=[TableColumn("rule", "string"),
                                    TableColumn("failing_rows", "int"),
                                    TableColumn("example", "string")]))
    return Verdict(asset_key, "schema", outcome.passed, severity, summary, outcome.failing_rows, {
        "partition": partition, "model": model.__name__, "rows_checked": outcome.rows,
        "failing_rows": outcome.failing_rows, "failures_by_rule": rules_table,
        "sample_failing_rows": MetadataValue.md(markdown_table(list(outcome.sample))),
    }, tuple((r.rule, r.failing_rows, r.example) for r in outcome.rules), outcome.sample)


def pii_verdict(asset_key: AssetKey, data: pa.Table, key: str, severity: AssetCheckSeverity,
                partition: str) -> Verdict:
    """Raw IPs, e-mail addresses and card numbers in any stored string of the partition."""
    outcome = scan(data, key)
    by_kind = [{"column": column, "kind": kind, "values": n}
               for (column, kind), n in sorted(outcome.counts.items())]
    sample = tuple({key: f.key, "column": f.column, "kind": f.kind, "masked": f.masked}
                   for f in outcome.sample)
    passed = outcome.findings == 0
    summary = (f"no personal data in {plural(outcome.values_scanned, 'stored string')}" if passed
               else f"{plural(outcome.findings, 'personal data value')} in "
                    f"{', '.join(sorted({c for c, _ in outcome.counts}))}")
    return Verdict(asset_key, "no_personal_data", passed, severity, summary, outcome.findings, {
        "partition": partition, "strings_scanned": outcome.values_scanned,
        "findings": outcome.findings, "findings_by_column": MetadataValue.json(by_kind),
        "sample_findings_masked": MetadataValue.md(markdown_table(list(sample))),
    }, tuple((f"{row['column']}: {row['kind']}", row["values"], "") for row in by_kind), sample)


def history(context: AssetCheckExecutionContext, verdicts: list[Verdict]) -> list[PastRun]:
    """Earlier evaluations of these checks, as the instance recorded them."""
    past = []
    storage = context.instance.event_log_storage
    for verdict in verdicts:
        key = AssetCheckKey(verdict.asset_key, verdict.check)
        for record in storage.get_asset_check_execution_history(key, limit=HISTORY_LIMIT):
            event = record.event.dagster_event if record.event else None
            evaluation = event.event_specific_data if event else None
            if not isinstance(evaluation, AssetCheckEvaluation):
                continue
            failures = evaluation.metadata.get("failures")
            partition = evaluation.metadata.get("partition")
            past.append(PastRun(f"{verdict.asset_key.to_user_string()}/{verdict.check}",
                                record.run_id, datetime.fromtimestamp(record.event.timestamp, UTC),
                                evaluation.passed, failures.value if failures else None,
                                partition.value if partition else record.partition))
    return past


def report(context: AssetCheckExecutionContext, reports: ReportsResource, layer: str,
           partition: str, verdicts: list[Verdict], scores: list[HourScore]) -> list[AssetCheckResult]:
    """Writes this run's report page and returns the check results that link to it."""
    now = datetime.now(UTC)
    current = [PastRun(f"{v.asset_key.to_user_string()}/{v.check}", context.run.run_id, now,
                       v.passed, v.failures, v.metadata.get("partition", partition))
               for v in verdicts]
    page = quality_page(
        f"Data quality: {layer}", f"run {context.run.run_id} · {partition} · "
                                  f"{now:%Y-%m-%d %H:%M} UTC",
        [v.report_line() for v in verdicts], history(context, verdicts) + current, scores)
    url = reports.publish(f"quality/{context.run.run_id}-{layer}.html", page)
    context.log.info(f"data-quality report: {url}")
    return [v.result(url) for v in verdicts]
