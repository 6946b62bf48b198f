"""Builds the artifacts infra/terraform uploads, into infra/terraform/.build/:

  lambda-<arch>.zip    the `streaming` package plus its runtime dependencies (orjson and
                       ua-parser, at their pyproject.toml pins) as wheels for the Lambda
                       runtime (CPython 3.13, manylinux, arm64 or x86_64); boto3 comes with
                       the runtime
  streaming-glue.zip   the `streaming` package alone, for the Glue job's --extra-py-files
                       (Glue 6.0 brings pyspark, delta and boto3)

Archives are deterministic (sorted entries, fixed timestamps and modes), so an unchanged
package keeps its hash and `terraform plan` shows no change.

    python infra/package_artifacts.py [--arch arm64|x86_64]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "streaming"
BUILD_DIR = ROOT / "infra" / "terraform" / ".build"
LAMBDA_PYTHON = "3.13"
LAMBDA_DEPENDENCIES = ("orjson", "ua-parser")
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


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


def package_sources(package_dir: Path = PACKAGE_DIR) -> list[tuple[Path, str]]:
    """(file, archive name) of every module of the package; no caches, no node_modules."""
    return [
        (path, f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}")
        for path in sorted(package_dir.rglob("*.py"))
        if not {"__pycache__", "kinesalite"} & set(path.relative_to(package_dir).parts)
    ]


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


def install_wheels(requirements: list[str], target: Path, arch: str) -> None:
    """pip-installs binary wheels for the Lambda runtime (not this machine) into `target`."""
    machine = MACHINES[arch]
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
        "--target", str(target), "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON, "--only-binary=:all:",
        "--platform", f"manylinux2014_{machine}", "--platform", f"manylinux_2_28_{machine}",
        *requirements,
    ]
    subprocess.run(command, check=True)


def build_lambda(arch: str, build_dir: Path = BUILD_DIR) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        install_wheels(pinned_requirements(LAMBDA_DEPENDENCIES), site, arch)
        return write_zip(build_dir / f"lambda-{arch}.zip", [*tree_files(site), *package_sources()])


def build_glue(build_dir: Path = BUILD_DIR) -> Path:
    return write_zip(build_dir / "streaming-glue.zip", package_sources())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(MACHINES), default="arm64",
                        help="Lambda architecture (the tfvars' lambda_architecture)")
    args = parser.parse_args(argv)
    for artifact in (build_lambda(args.arch), build_glue()):
        print(f"{artifact.relative_to(ROOT)}  {artifact.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
