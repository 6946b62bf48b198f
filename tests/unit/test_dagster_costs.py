"""The cost model of Dagster on AWS (streaming/tools/bench/costs.py) prices what Terraform
deploys: the services' sizes and the endpoints are read from modules/dagster and main.tf, so a
resized service or a new endpoint makes this fail until the model follows."""

from __future__ import annotations

from pathlib import Path

import hcl2
import pytest
from hcl2 import SerializationOptions

from streaming.tools.bench.costs import (
    DAGSTER_ENDPOINTS,
    DAGSTER_SERVICES,
    HOURS_PER_MONTH,
    DagsterWorkload,
    dagster_monthly_cost,
)

TERRAFORM = Path(__file__).resolve().parents[2] / "infra" / "terraform"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def locals_of(path: Path) -> dict:
    with path.open() as handle:
        parsed = hcl2.load(handle, serialization_options=OPTIONS)
    return {key: value for block in parsed.get("locals", []) for key, value in block.items()}


def test_the_model_prices_the_services_and_endpoints_terraform_deploys() -> None:
    services = locals_of(TERRAFORM / "modules" / "dagster" / "main.tf")["services"]
    sized = {name: (spec["cpu"] / 1024, spec["memory"] / 1024) for name, spec in services.items()}
    assert sized == DAGSTER_SERVICES
    assert len(locals_of(TERRAFORM / "main.tf")["dagster_endpoints"]) == DAGSTER_ENDPOINTS


def test_the_monthly_figures_follow_the_list_prices() -> None:
    cost = dagster_monthly_cost()
    parts = cost["usd_per_month"]
    # 0.5 vCPU and 1 GB around the clock: 730 h x (0.5 x 0.04048 + 0.004445).
    assert parts["fargate_webserver"] == pytest.approx(18.02)
    # Five endpoints in two zones at 0.01 per zone-hour.
    assert parts["vpc_endpoints"] == pytest.approx(5 * 2 * HOURS_PER_MONTH * 0.01)
    assert parts["rds"] == pytest.approx(730 * 0.016 + 20 * 0.115, abs=0.01)
    assert cost["usd_per_month_total"] == pytest.approx(sum(parts.values()), abs=0.05)


def test_runs_cost_only_while_they_run_and_zones_multiply_the_endpoints() -> None:
    idle = dagster_monthly_cost(DagsterWorkload(run_hours_per_month=0))["usd_per_month"]
    busy = dagster_monthly_cost(DagsterWorkload(run_hours_per_month=300))["usd_per_month"]
    assert idle["fargate_runs"] == 0 and busy["fargate_runs"] == pytest.approx(2 * 8.74, abs=0.01)
    three = dagster_monthly_cost(DagsterWorkload(availability_zones=3))["usd_per_month"]
    assert three["vpc_endpoints"] == pytest.approx(idle["vpc_endpoints"] * 1.5)
