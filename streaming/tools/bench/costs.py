"""A cost model of AWS mode at a given event rate, from list prices and measured figures.

Prices are us-east-1 list prices as assumed on 2026-11-25 (check the AWS pricing pages
before relying on them); every figure that depends on this project's behaviour (record
size, events per request, Spark rows per vCPU) is an input, taken from the benchmarks.

`dagster_monthly_cost` prices the control plane (infra/terraform/modules/dagster), which costs
the same whatever the event rate: on-demand us-east-1 list prices as of 2026-11-29 (Fargate
Linux/x86, RDS for PostgreSQL single-AZ, ALB, PrivateLink interface endpoints), not a quote.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


@dataclass(frozen=True)
class Prices:
    api_gateway_http_per_million_requests: float = 1.00
    lambda_per_million_requests: float = 0.20
    lambda_per_gb_second: float = 0.0000166667
    kinesis_shard_hour: float = 0.015
    kinesis_put_payload_units_per_million: float = 0.014
    glue_dpu_hour: float = 0.44
    s3_standard_gb_month: float = 0.023
    s3_put_per_thousand: float = 0.005
    athena_per_tb_scanned: float = 5.00


@dataclass(frozen=True)
class DagsterPrices:
    fargate_vcpu_hour: float = 0.04048
    fargate_gb_hour: float = 0.004445
    rds_instance_hour: dict = field(default_factory=lambda: {
        "db.t4g.micro": 0.016, "db.t4g.small": 0.032, "db.t4g.medium": 0.065})
    rds_gp3_gb_month: float = 0.115
    alb_hour: float = 0.0225
    alb_lcu_hour: float = 0.008
    interface_endpoint_az_hour: float = 0.01
    secret_month: float = 0.40
    hosted_zone_month: float = 0.50
    ecr_gb_month: float = 0.10
    logs_ingested_gb: float = 0.50


# The always-on services as modules/dagster sizes them: (vCPU, GB).
DAGSTER_SERVICES = {"webserver": (0.5, 1.0), "daemon": (0.25, 1.0), "code-server": (1.0, 2.0)}
# The interface endpoints the stack adds for Dagster's tasks (main.tf's dagster_endpoints).
DAGSTER_ENDPOINTS = 5


@dataclass(frozen=True)
class DagsterWorkload:
    """What the control plane's bill depends on besides its fixed services: how long runs
    take in a month, their size, the database and the zones the endpoints span."""

    run_hours_per_month: float = 150.0
    run_vcpu: float = 1.0
    run_gb: float = 4.0
    db_instance_class: str = "db.t4g.micro"
    db_storage_gb: int = 20
    availability_zones: int = 2
    alb_lcus: float = 1.0
    image_gb_stored: float = 5.0
    logs_gb_per_month: float = 2.0


def dagster_monthly_cost(workload: DagsterWorkload = DagsterWorkload(),
                         prices: DagsterPrices = DagsterPrices()) -> dict:
    """Dollars per month of Dagster on AWS, by part; runs are billed only while they run."""
    def fargate(vcpu: float, gb: float, hours: float) -> float:
        return hours * (vcpu * prices.fargate_vcpu_hour + gb * prices.fargate_gb_hour)

    parts = {
        **{f"fargate_{name}": fargate(vcpu, gb, HOURS_PER_MONTH)
           for name, (vcpu, gb) in DAGSTER_SERVICES.items()},
        "fargate_runs": fargate(workload.run_vcpu, workload.run_gb, workload.run_hours_per_month),
        "rds": HOURS_PER_MONTH * prices.rds_instance_hour[workload.db_instance_class]
        + workload.db_storage_gb * prices.rds_gp3_gb_month,
        "alb": HOURS_PER_MONTH * (prices.alb_hour + workload.alb_lcus * prices.alb_lcu_hour),
        "vpc_endpoints": DAGSTER_ENDPOINTS * workload.availability_zones * HOURS_PER_MONTH
        * prices.interface_endpoint_az_hour,
        "secrets_and_dns": prices.secret_month + prices.hosted_zone_month,
        "ecr": workload.image_gb_stored * prices.ecr_gb_month,
        "logs": workload.logs_gb_per_month * prices.logs_ingested_gb,
    }
    return {
        "usd_per_month": {k: round(v, 2) for k, v in parts.items()},
        "usd_per_month_total": round(sum(parts.values()), 2),
        "assumptions": asdict(workload), "prices": asdict(prices),
    }


@dataclass(frozen=True)
class Workload:
    """What AWS bills for, at `events_per_second`. The handler writes one record per visitor
    per request (`records_per_request`; a tracker flush is one visitor's), holding its
    enriched events (`event_bytes` each as JSON) deflated by `compression_ratio`
    (streaming/record_codec.py; measured 10.8x on the benchmark's traffic)."""

    events_per_second: float
    event_bytes: int = 840
    compression_ratio: float = 10.0
    records_per_request: float = 1.0
    events_per_request: int = 20
    lambda_ms_per_request: float = 25.0
    lambda_memory_gb: float = 0.5
    spark_rows_per_vcpu_second: float = 5000.0
    stored_bytes_per_event: int = 150
    commits_per_minute: float = 60.0
    files_per_commit: int = 4
    bronze_retention_months: float = 3.0
    athena_tb_scanned_per_month: float = 0.05


def monthly_cost(workload: Workload, prices: Prices = Prices()) -> dict:
    """Dollars per month for each part, and the sizing behind them."""
    rate = workload.events_per_second
    requests = rate / workload.events_per_request * SECONDS_PER_MONTH
    records_per_second = rate / workload.events_per_request * workload.records_per_request
    record_bytes = (workload.events_per_request * workload.event_bytes
                    / workload.compression_ratio / workload.records_per_request)
    # A shard takes 1,000 records/s or 1 MB/s; PutRecords is billed per 25 KB of a record.
    shards = max(1, math.ceil(max(records_per_second / 1000,
                                  records_per_second * record_bytes / 1_000_000)))
    payload_units = records_per_second * math.ceil(record_bytes / 25_000) * SECONDS_PER_MONTH
    vcpus = rate / workload.spark_rows_per_vcpu_second
    workers = max(2, math.ceil(vcpus / 4))
    stored_gb = rate * workload.stored_bytes_per_event * SECONDS_PER_MONTH / 1e9
    parts = {
        "api_gateway": requests / 1e6 * prices.api_gateway_http_per_million_requests,
        "lambda": requests / 1e6 * prices.lambda_per_million_requests
        + requests * workload.lambda_ms_per_request / 1000 * workload.lambda_memory_gb
        * prices.lambda_per_gb_second,
        "kinesis": shards * HOURS_PER_MONTH * prices.kinesis_shard_hour
        + payload_units / 1e6 * prices.kinesis_put_payload_units_per_million,
        "glue_streaming": workers * HOURS_PER_MONTH * prices.glue_dpu_hour,
        "s3": stored_gb * workload.bronze_retention_months * prices.s3_standard_gb_month
        + workload.commits_per_minute * workload.files_per_commit * 60 * HOURS_PER_MONTH / 1000
        * prices.s3_put_per_thousand,
        "athena": workload.athena_tb_scanned_per_month * prices.athena_per_tb_scanned,
    }
    return {
        "events_per_second": rate,
        "sizing": {"kinesis_shards": shards, "glue_g1x_workers": workers,
                   "stream_records_per_second": round(records_per_second, 1),
                   "stream_record_bytes": round(record_bytes),
                   "requests_per_month_millions": round(requests / 1e6, 1),
                   "bronze_gb_per_month": round(stored_gb, 1)},
        "usd_per_month": {k: round(v, 2) for k, v in parts.items()},
        "usd_per_month_total": round(sum(parts.values()), 2),
        "usd_per_million_events": round(sum(parts.values()) / (rate * SECONDS_PER_MONTH / 1e6), 4),
        "assumptions": asdict(workload), "prices": asdict(prices),
    }


def cost_table(rates: tuple[float, ...] = (1_000, 10_000, 100_000), **measured) -> list[dict]:
    return [monthly_cost(Workload(events_per_second=rate, **measured)) for rate in rates]
