"""The tracker's own unit tests (queue, batching, retry, session, consent) run in node.

They live beside tracker.js in website/tests and use node's built-in test runner; this
wrapper makes the project's single pytest command run them too, and fail when they fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_TESTS = ROOT / "website" / "tests"


def test_tracker_node_suite_passes() -> None:
    node = shutil.which("node")
    assert node, "node is required: it runs the tracker tests and the local Kinesis endpoint"
    files = sorted(str(path) for path in NODE_TESTS.glob("*.test.js"))
    assert files, f"no *.test.js in {NODE_TESTS}"
    result = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True,
                            text=True, timeout=180, check=False)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) >= len(files), report
    assert re.search(r"^# fail 0$", result.stdout, re.MULTILINE), report
