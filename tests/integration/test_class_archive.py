"""The class archive `./clickstream` makes at install serves Spark's classes to every local
session's JVM (streaming/stream/class_archive.py): checked in the JVM's own class-loading log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streaming.stream import class_archive
from streaming.stream.spark import archive_dir

pytestmark = [pytest.mark.slow, pytest.mark.spark]
SESSION = """
import sys
from streaming.settings import load_settings
from streaming.stream.spark import session_builder
builder = session_builder(load_settings({}), "archive-test", delta=False)
options = dict(builder._options)["spark.driver.extraJavaOptions"]
session = builder.config("spark.driver.extraJavaOptions",
                         f"{options} -Xlog:class+load=info:file={sys.argv[1]}").getOrCreate()
session.range(3).count()
session.stop()
"""


def test_a_new_session_loads_sparks_classes_from_the_install_steps_archive(tmp_path: Path) -> None:
    archive = class_archive.archive_path(archive_dir())
    assert archive.is_file(), (
        f"no class archive at {archive}: ./clickstream makes it (python -m streaming.stream.spark)")
    log = tmp_path / "class-load.log"
    subprocess.run([sys.executable, "-c", SESSION, str(log)], check=True, timeout=300,
                   env={**os.environ, "PYSPARK_PYTHON": sys.executable}, capture_output=True)
    sources = {line.split()[1]: line.split(" source: ", 1)[1] for line in log.read_text().splitlines()
               if " source: " in line}
    for name in ("org.apache.spark.SparkContext", "org.apache.spark.sql.SparkSession"):
        assert sources[name] == "shared objects file (top)", (name, sources[name])
    # Lambdas are defined at run time, from the archive or not.
    spark_classes = [source for name, source in sources.items()
                     if name.startswith("org.apache.spark.") and "$$Lambda" not in name]
    archived = spark_classes.count("shared objects file (top)")
    assert archived > 0.9 * len(spark_classes), f"{archived} of {len(spark_classes)} from the archive"


def test_an_archive_cut_short_is_refused_not_put_in_place(tmp_path: Path) -> None:
    """A JVM that maps an archive cut short (a full disk during the dump) crashes: `create`
    checks what it wrote before it renames it into place."""
    archive = class_archive.archive_path(archive_dir())
    class_archive.check(archive, str(tmp_path))
    cut = tmp_path / "cut.partial"
    with archive.open("rb") as whole:
        cut.write_bytes(whole.read(archive.stat().st_size * 3 // 4))
    with pytest.raises(RuntimeError, match="could not map the class archive"):
        class_archive.check(cut, str(tmp_path))
    assert not cut.exists()
