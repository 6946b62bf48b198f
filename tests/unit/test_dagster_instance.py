"""Dagster's instance in AWS mode (infra/dagster/dagster.yaml), checked the way Dagster reads
it: the instance schema first, then each pluggable class's own config schema (the run launcher,
the run coordinator, the compute log manager, the PostgreSQL storage), which Dagster only
applies when it builds the instance in a task, too late to catch a typo. The variables the file
reads are held to what Terraform puts in the tasks (modules/dagster)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import validate_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_YAML = ROOT / "infra" / "dagster" / "dagster.yaml"
DAGSTER_MODULE = ROOT / "infra" / "terraform" / "modules" / "dagster"
# Each pluggable section of the file and the class it must name.
SECTIONS = {
    "run_launcher": ("dagster_aws.ecs", "EcsRunLauncher"),
    "run_coordinator": ("dagster", "QueuedRunCoordinator"),
    "compute_logs": ("dagster_aws.s3.compute_log_manager", "S3ComputeLogManager"),
}


def load(config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The instance config as Dagster validates it from DAGSTER_HOME/dagster.yaml."""
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    validated, _ = dagster_instance_config(str(tmp_path))
    return dict(validated)


def class_errors(config: dict[str, Any]) -> list[str]:
    """What each configured class's own schema says of its config section."""
    from dagster_postgres import DagsterPostgresStorage

    errors = []
    for section, (module, name) in SECTIONS.items():
        entry = config[section]
        assert (entry["module"], entry["class"]) == (module, name), section
        # Imported as Dagster imports it when it builds the instance.
        configured = class_from_code_pointer(module, name)
        result = validate_config(configured.config_type(), entry.get("config", {}))
        errors += [f"{section}: {error.message}" for error in result.errors or []]
    result = validate_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    errors += [f"storage: {error.message}" for error in result.errors or []]
    return errors


def env_names(value: Any) -> set[str]:
    """The environment variables a config reads ({env: NAME} anywhere in it)."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return {value["env"]}
        return set().union(*(env_names(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(env_names(item) for item in value))
    return set()


@pytest.fixture
def config() -> dict[str, Any]:
    return yaml.safe_load(INSTANCE_YAML.read_text())


def test_the_instance_config_passes_dagsters_schemas(config: dict, tmp_path: Path) -> None:
    shutil.copy(INSTANCE_YAML, tmp_path / "dagster.yaml")
    validated, _ = dagster_instance_config(str(tmp_path))
    assert set(validated["storage"]) == {"postgres"}
    assert validated["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert class_errors(config) == []


def test_a_misspelt_section_or_option_is_refused(config: dict, tmp_path: Path) -> None:
    misspelt = {**config, "run_launchr": config["run_launcher"]}
    with pytest.raises(DagsterInvalidConfigError, match="run_launchr"):
        load(misspelt, tmp_path)
    launcher = config["run_launcher"]
    options = dict(launcher["config"])
    options["task_defintion"] = options.pop("task_definition")
    errors = class_errors({**config, "run_launcher": {**launcher, "config": options}})
    assert any("task_defintion" in error for error in errors), errors
    storage = {"postgres": {"postgres_db": {**config["storage"]["postgres"]["postgres_db"],
                                            "hostnme": "db"}}}
    assert any("hostnme" in error for error in class_errors({**config, "storage": storage}))


def test_the_run_launcher_uses_terraforms_run_task_and_no_tagged_secrets(config: dict) -> None:
    """Runs get the task definition Terraform registers (roles, size, image fixed there), so
    the daemon never registers one; and no ListSecrets call looks for secrets by tag."""
    launcher = config["run_launcher"]["config"]
    assert launcher["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}
    assert launcher["container_name"] == "run"
    assert launcher["secrets_tag"] is None
    assert config["telemetry"] == {"enabled": False}


def test_every_variable_the_instance_reads_is_set_on_the_tasks(config: dict) -> None:
    text = "".join(path.read_text() for path in sorted(DAGSTER_MODULE.glob("*.tf")))
    environment = set(re.findall(r"^\s*(DAGSTER_[A-Z_]+)\s*=", text, re.M))
    secrets = set(re.findall(r'name = "(DAGSTER_[A-Z_]+)", valueFrom', text))
    assert secrets == {"DAGSTER_PG_PASSWORD"}
    assert env_names(config) == (environment | secrets) - {"DAGSTER_HOME"}
