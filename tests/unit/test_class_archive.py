"""The JVM's class archive is named for the JVM and the jars it serves, and a session maps it
only when there is one (streaming/stream/class_archive.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming.settings import load_settings
from streaming.stream import class_archive, spark


@pytest.fixture
def jvm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A JAVA_HOME and a jars folder of this test's own."""
    home, jars = tmp_path / "jdk", tmp_path / "jars"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("java")
    jars.mkdir()
    (jars / "spark-core.jar").write_bytes(b"classes")
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setattr(class_archive, "spark_jars", lambda: jars)
    return tmp_path


def test_an_archive_is_named_for_its_jvm_and_its_jars(jvm: Path, monkeypatch) -> None:
    folder = jvm / "archives"
    first = class_archive.archive_path(folder)
    assert first.parent == folder and first.suffix == ".jsa"
    assert class_archive.archive_path(folder) == first
    (jvm / "jars" / "spark-core.jar").write_bytes(b"other classes")
    after_new_jars = class_archive.archive_path(folder)
    assert after_new_jars != first
    (jvm / "jdk" / "bin" / "java").write_text("another java")
    assert class_archive.archive_path(folder) not in (first, after_new_jars)
    assert class_archive.java_options(folder) == {}
    class_archive.archive_path(folder).parent.mkdir()
    class_archive.archive_path(folder).write_bytes(b"")
    assert class_archive.java_options(folder)
    monkeypatch.setenv("JAVA_HOME", str(jvm / "no-jdk"))  # Spark's start will say what is wrong
    assert class_archive.java_options(folder) == {}


def test_a_session_maps_the_archive_only_when_there_is_one(jvm: Path, monkeypatch) -> None:
    monkeypatch.setattr(spark, "archive_dir", lambda: jvm / "archives")
    settings = load_settings({})
    assert "spark.driver.extraJavaOptions" not in dict(spark.session_builder(settings, "t")._options)
    archive = class_archive.archive_path(jvm / "archives")
    archive.parent.mkdir()
    archive.write_bytes(b"")
    for delta in (True, False):
        options = dict(spark.session_builder(settings, "t", delta=delta)._options)
        assert options["spark.driver.extraJavaOptions"] == f"-XX:SharedArchiveFile={archive}"
