"""Builds the artifacts infra/terraform uploads, into infra/terraform/.build/:

  lambda-<arch>.zip    the Lambda's entry point (streaming.ingest.handler) and the modules it
                       imports, plus its runtime dependencies (orjson, ua-parser and isal, at
                       their pyproject.toml pins) as wheels for the Lambda runtime (CPython 3.13,
                       manylinux, arm64 or x86_64); boto3 comes with the runtime
  streaming-glue.zip   the Glue jobs' scripts (streaming.stream.job, the stream job, and
                       streaming.lake.build_job, the model builds) and the modules they import,
                       for their --extra-py-files (Glue 6.0 brings pyspark, pyarrow,
                       delta-spark and boto3)
  glue-wheels/*.whl    `deltalake`, `dagster-pipes` (the model builds' side of Dagster
                       Pipes), `orjson` (the stream job's record parsing) and `isal` (its
                       records' inflating) at their
                       pyproject.toml pins and every distribution they need
                       (arro3-core, deprecated, wrapt, typing-extensions), as wheels for
                       Glue 6.0 (CPython 3.13, manylinux x86_64). The job's VPC reaches no
                       package index, so Terraform uploads them and Glue's pip installs them
                       from S3 (--additional-python-modules, pip option --no-index). Wheels
                       already here are reused without touching the network when they still
                       resolve the pin offline; wheels no longer needed are removed.

Which modules go in a zip is read from the import graph (infra/import_graph.py), so the zips
never ship the stand-ins for AWS, the tooling or the Dagster code, and a module the entry
point starts to import is shipped without a change here.

Archives are deterministic (sorted entries, fixed timestamps and modes), so an unchanged
package keeps its hash and `terraform plan` shows no change.

    python infra/package_artifacts.py [--arch arm64|x86_64]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from import_graph import ROOT, closure, import_graph, module_files

LAMBDA_ENTRY = "streaming.ingest.handler"
GLUE_ENTRY = "streaming.stream.job"
# The model-build Glue job (silver and gold days, launched by Dagster through Pipes); it
# shares the stream job's zip and wheels.
MODEL_BUILD_ENTRY = "streaming.lake.build_job"
BUILD_DIR = ROOT / "infra" / "terraform" / ".build"
LAMBDA_PYTHON = "3.13"
# isal: the handler deflates aggregates with it (streaming/record_codec.py).
LAMBDA_DEPENDENCIES = ("orjson", "ua-parser", "isal")
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# The Glue job's pip-installed dependencies (infra/terraform/modules/glue_job): Glue 6.0 runs
# CPython 3.13 on x86_64 workers.
GLUE_PYTHON = "3.13"
GLUE_MACHINE = "x86_64"
# deltalake: the commit path; dagster-pipes: the model builds' side of Pipes; orjson: the stream
# job parses records with it (streaming/stream/transforms.py, streaming/records.py); isal: it
# inflates them (streaming/record_codec.py).
GLUE_DEPENDENCIES = ("deltalake", "dagster-pipes", "orjson", "isal")
GLUE_WHEELS_DIR = "glue-wheels"
# Glue 6.0's own: a wheel of one of these would replace the version Glue's Spark runs with.
GLUE_PROVIDED = frozenset({"pyspark", "pyarrow", "py4j", "boto3", "botocore", "s3transfer",
                           "numpy", "pandas", "delta-spark"})


class PackagingError(RuntimeError):
    """A build step failed; the message says which and why."""


def pinned_requirements(names: Iterable[str], pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The project's own pins (with extras) of the named distributions, in the given order."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    by_name = {}
    for requirement in dependencies:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        if name:
            by_name[name.group(0).lower().replace("_", "-")] = requirement
    missing = [name for name in names if name not in by_name]
    if missing:
        raise ValueError(f"not pinned in {pyproject}: {', '.join(missing)}")
    return [by_name[name] for name in names]


def module_sources(entry: str) -> list[tuple[Path, str]]:
    """(file, archive name) of the module `entry`, its packages and every first-party module
    they import, transitively."""
    files = module_files()
    return sorted((files[module], files[module].relative_to(ROOT).as_posix())
                  for module in closure(import_graph(), entry))


def tree_files(directory: Path) -> list[tuple[Path, str]]:
    """(file, archive name) of every file under `directory`, without bytecode caches."""
    return [
        (path, path.relative_to(directory).as_posix())
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]


def write_zip(zip_path: Path, entries: Iterable[tuple[Path, str]]) -> Path:
    """A zip whose bytes depend only on the entries' names and contents."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for source, name in sorted(entries, key=lambda entry: entry[1]):
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes())
    return zip_path


def platform_options(python: str, machine: str) -> list[str]:
    """pip options selecting binary wheels for CPython `python` on manylinux `machine`, not for
    this machine."""
    return ["--implementation", "cp", "--python-version", python, "--only-binary=:all:",
            "--platform", f"manylinux2014_{machine}", "--platform", f"manylinux_2_28_{machine}"]


def run_pip(arguments: Sequence[str], what: str) -> str:
    """Runs this interpreter's pip; its stdout, or a PackagingError naming `what` failed, the
    command and pip's own last words."""
    command = [sys.executable, "-m", "pip", *arguments]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise PackagingError(f"{what} failed (pip exited {result.returncode}):\n"
                             f"  {' '.join(command)}\n{tail}")
    return result.stdout


def install_wheels(requirements: list[str], target: Path, arch: str) -> None:
    """pip-installs binary wheels for the Lambda runtime (not this machine) into `target`."""
    run_pip(["install", "--quiet", "--no-compile", "--target", str(target),
             *platform_options(LAMBDA_PYTHON, MACHINES[arch]), *requirements],
            f"installing {', '.join(requirements)} for the Lambda ({arch})")


def resolve_offline(requirements: list[str], wheel_dir: Path, python: str = GLUE_PYTHON,
                    machine: str = GLUE_MACHINE) -> list[Path]:
    """The wheels in `wheel_dir` that pip installs for `requirements` on the target with no
    package index, as Glue's pip does with --no-index; a PackagingError if they cannot."""
    report = run_pip(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
                      "--no-index", "--find-links", str(wheel_dir),
                      *platform_options(python, machine), *requirements],
                     f"installing {', '.join(requirements)} from {wheel_dir} alone")
    return sorted(wheel_dir / Path(unquote(urlparse(item["download_info"]["url"]).path)).name
                  for item in json.loads(report)["install"])


def download_wheels(requirements: list[str], wheel_dir: Path, python: str = GLUE_PYTHON,
                    machine: str = GLUE_MACHINE) -> None:
    """Downloads `requirements` and their dependencies from the package index as binary wheels
    for the target into `wheel_dir` (files already there are kept)."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    run_pip(["download", "--quiet", "--dest", str(wheel_dir), *platform_options(python, machine),
             *requirements],
            f"downloading {', '.join(requirements)} for CPython {python} manylinux {machine}")


def build_glue_wheels(build_dir: Path = BUILD_DIR,
                      log: Callable[[str], object] = print) -> list[Path]:
    """The wheels the Glue jobs install: GLUE_DEPENDENCIES at the project's pins and what they
    need, for Glue 6.0, in <build_dir>/glue-wheels and nothing else there."""
    wheel_dir = build_dir / GLUE_WHEELS_DIR
    requirements = pinned_requirements(GLUE_DEPENDENCIES)
    target = f"CPython {GLUE_PYTHON} manylinux {GLUE_MACHINE}"
    try:
        wheels = resolve_offline(requirements, wheel_dir) if wheel_dir.is_dir() else None
    except PackagingError:
        wheels = None
    if wheels is None:
        log(f"glue wheels: downloading {', '.join(requirements)} and their dependencies "
            f"for {target} into {shown(wheel_dir)}")
        download_wheels(requirements, wheel_dir)
        wheels = resolve_offline(requirements, wheel_dir)
    else:
        log(f"glue wheels: {', '.join(requirements)} and their dependencies already downloaded")
    provided = sorted(wheel.name for wheel in wheels
                      if wheel_name(wheel) in GLUE_PROVIDED)
    if provided:
        raise PackagingError(f"{', '.join(requirements)} pulls in what Glue 6.0 provides "
                             f"itself: {', '.join(provided)}")
    for stale in sorted(set(wheel_dir.glob("*.whl")) - set(wheels)):
        log(f"glue wheels: removing {stale.name} (no longer needed)")
        stale.unlink()
    return wheels


def shown(path: Path) -> Path:
    """`path` relative to the repository, for messages."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def wheel_name(wheel: Path) -> str:
    """The normalized distribution name of a wheel file (PEP 503)."""
    return re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()


def build_lambda(arch: str, build_dir: Path = BUILD_DIR) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        install_wheels(pinned_requirements(LAMBDA_DEPENDENCIES), site, arch)
        return write_zip(build_dir / f"lambda-{arch}.zip",
                         [*tree_files(site), *module_sources(LAMBDA_ENTRY)])


def build_glue(build_dir: Path = BUILD_DIR) -> Path:
    """One zip for both Glue jobs: what either script imports."""
    entries = set(module_sources(GLUE_ENTRY)) | set(module_sources(MODEL_BUILD_ENTRY))
    return write_zip(build_dir / "streaming-glue.zip", sorted(entries))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(MACHINES), default="arm64",
                        help="Lambda architecture (the tfvars' lambda_architecture)")
    args = parser.parse_args(argv)
    try:
        artifacts = [build_lambda(args.arch), build_glue(), *build_glue_wheels()]
    except PackagingError as error:
        print(f"package_artifacts: {error}", file=sys.stderr)
        return 1
    for artifact in artifacts:
        print(f"{shown(artifact)}  {artifact.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
