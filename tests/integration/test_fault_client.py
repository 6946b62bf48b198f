"""The fault run's clients end within their deadline and say why when they fail, instead of
holding the run until pytest's timeout."""

import json
from dataclasses import replace

import pytest

from streaming.tools.faults.run import FaultRun, Plan
from tests.conftest import isolated_settings


def test_a_client_that_cannot_deliver_fails_the_run_with_what_it_saw(tmp_path):
    plan = replace(Plan(), rate=1000, give_up_after=1.0)
    run = FaultRun(isolated_settings(tmp_path), plan, print)
    run._client("burst", 40, seed=1)
    try:
        with pytest.raises(RuntimeError, match="the burst client failed; its progress") as failure:
            run._finish("burst", 40)
    finally:
        run.stop()
    progress = json.loads(str(failure.value).split("its progress: ")[1].split(";")[0])
    assert progress["acknowledged"] == 0 and progress["network_errors"] > 0
    assert "client-burst.log" in str(failure.value)
