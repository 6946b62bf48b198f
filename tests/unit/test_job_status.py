"""The stream job's status file, written from Spark's listener thread and the main thread."""

import json
import threading

from streaming.stream.status import write_status


def test_concurrent_status_writes_neither_fail_nor_lose_a_field(tmp_path):
    """A stopping query reports from two threads at once; before the writes were serialized
    the second rename found no temporary file and the job exited 1 after its work was done."""
    path = tmp_path / "state" / "bronze_job.json"
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        start.wait()
        try:
            for i in range(50):
                write_status(path, **{f"writer_{n}": i})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    status = json.loads(path.read_text())
    assert {status[f"writer_{n}"] for n in range(8)} == {49}
