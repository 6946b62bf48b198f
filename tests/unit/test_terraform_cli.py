"""The AWS deployment checked by Terraform itself: `init` from the provider mirror with the
committed lock file, `fmt`, `validate`, and `terraform test` (infra/terraform/tests/) with
each environment's tfvars, whose runs plan the stack and its modules against a mocked AWS
provider.

The public registry is unreachable here, so `init` installs hashicorp/aws from the filesystem
mirror named in infra/terraform/mirror.tfrc (a CLI configuration passed as TF_CLI_CONFIG_FILE).
Terraform works in a copy laid out like the repository (the job script is read through
`../../streaming`), with empty stand-ins for infra/package_artifacts.py's files, whose contents
a plan only hashes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
CLI_CONFIG = TERRAFORM / "mirror.tfrc"
PROVIDER = "registry.terraform.io/hashicorp/aws"


def mirror_path() -> Path:
    """The filesystem mirror mirror.tfrc points Terraform at."""
    return Path(re.search(r'path\s*=\s*"([^"]+)"', CLI_CONFIG.read_text()).group(1))


def locked_version() -> str:
    lock = (TERRAFORM / ".terraform.lock.hcl").read_text()
    return re.search(rf'provider "{PROVIDER}" {{\s*version\s*=\s*"([^"]+)"', lock).group(1)


def skip_reason() -> str | None:
    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    provider = mirror_path() / PROVIDER / locked_version()
    if not provider.is_dir():
        return f"no provider mirror at {provider} (mirror.tfrc's filesystem_mirror)"
    return None


pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def terraform(workdir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TF_CLI_CONFIG_FILE": str(CLI_CONFIG), "TF_IN_AUTOMATION": "1",
                   "CHECKPOINT_DISABLE": "1"}
    return subprocess.run(["terraform", f"-chdir={workdir}", *arguments, "-no-color"],
                          env=environment, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised copy of infra/terraform; `init` may not change the committed lock file."""
    repository = tmp_path_factory.mktemp("repository")
    copy = repository / "infra" / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".build", ".terraform"))
    (repository / "streaming").symlink_to(ROOT / "streaming")
    build = copy / ".build"
    (build / "glue-wheels").mkdir(parents=True)
    for stand_in in ("lambda-arm64.zip", "lambda-x86_64.zip", "streaming-glue.zip",
                     "glue-wheels/deltalake-0.0.0-py3-none-any.whl",
                     "glue-wheels/dagster_pipes-0.0.0-py3-none-any.whl"):
        (build / stand_in).write_bytes(b"")
    done = terraform(copy, "init", "-backend=false", "-input=false", "-lockfile=readonly")
    assert done.returncode == 0, done.stdout + done.stderr
    return copy


def test_init_installs_the_locked_provider_from_the_mirror(workdir: Path) -> None:
    version = locked_version()
    assert version == "5.100.0"
    installed = workdir / ".terraform" / "providers" / PROVIDER / version
    assert installed.is_dir(), f"{installed} missing"
    assert (workdir / ".terraform.lock.hcl").read_text() == (
        TERRAFORM / ".terraform.lock.hcl").read_text()


def test_code_is_formatted() -> None:
    done = terraform(TERRAFORM, "fmt", "-check", "-recursive")
    assert done.returncode == 0, f"terraform fmt would change: {done.stdout}{done.stderr}"


def test_configuration_is_valid_for_the_declared_provider(workdir: Path) -> None:
    done = terraform(workdir, "validate", "-json")
    report = json.loads(done.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["error_count"] == 0 and report["warning_count"] == 0, report["diagnostics"]


@pytest.mark.slow
@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_terraform_test_passes_on_the_planned_stack(workdir: Path, environment: str) -> None:
    """Once per environment: the run `release_and_recovery_per_environment` asserts what each
    one's tfvars must give (replication in prod only, the stream's retention, ...)."""
    done = terraform(workdir, "test", f"-var-file=tfvars/{environment}.tfvars")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = re.findall(r'run "(\w+)"\.\.\. (\w+)', done.stdout)
    assert runs and all(result == "pass" for _, result in runs), runs
    assert re.search(r"Success! (\d+) passed, 0 failed", done.stdout)
