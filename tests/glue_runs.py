"""A Glue endpoint on loopback whose job runs run: moto's Glue API with the scripts executed here.

moto keeps Glue jobs and records StartJobRun, but executes no script: a run's JobRunState
follows moto's state manager (moto/moto_api/_internal/managed_state_model.py, model
`glue::job_run`, transitions STARTING -> RUNNING -> SUCCEEDED). Its default progression is
"immediate", so the first GetJobRun already answers SUCCEEDED; the other progressions
("manual": after N reads, "time": after N seconds) count reads or seconds too, never the
work, and none can end FAILED. A Pipes client waiting on moto alone would see a run succeed
before its script had started.

So this server stands in front of moto, for the tests of code that launches Glue runs (the
model builds through Dagster Pipes): every request is forwarded to moto unchanged; after a
StartJobRun it does what Glue does with the run: reads the job and the run back from moto
(the job's default arguments merged with the run's, as Glue passes them), downloads the
script from the job's ScriptLocation and its `--extra-py-files` from S3 (moto's), and runs
the script with Python as `script --JOB_ID .. --JOB_RUN_ID .. --JOB_NAME .. --NAME value ...`
with the extra files on PYTHONPATH. GetJobRun answers for such a run carry the script's
state instead of moto's: RUNNING while it runs, then SUCCEEDED, or FAILED with the end of its
output as ErrorMessage. Clients reach it as they would reach Glue, through boto3's endpoint
configuration (AWS_ENDPOINT_URL_GLUE): nothing in the code under test knows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import httpx

# Variables a Glue worker does not inherit from this process: the code's settings come from
# the job's arguments only, as on Glue.
NOT_INHERITED = ("CLICKSTREAM_", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_GLUE")
FORWARDED_HEADERS = ("authorization", "content-type", "x-amz-date", "x-amz-target",
                     "x-amz-security-token", "x-amz-content-sha256")


@dataclass
class JobRun:
    """A run this server executes: the script's process, its command and its output."""

    job_name: str
    run_id: str
    arguments: dict[str, str]
    command: list[str]
    log: Path
    process: subprocess.Popen

    def state(self) -> tuple[str, str | None]:
        """Glue's JobRunState of the run and, when it failed, why."""
        code = self.process.poll()
        if code is None:
            return "RUNNING", None
        if code == 0:
            return "SUCCEEDED", None
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        return "FAILED", f"the script exited with {code}:\n{tail}"


@dataclass
class GlueRunner:
    """The server: forwards to `moto_url` (moto's Glue and S3), runs job runs under `work`."""

    moto_url: str
    region: str
    work: Path
    runs: dict[str, JobRun] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> GlueRunner:
        runner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, payload = runner.forward(self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("content-type", "application/x-amz-json-1.1")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for run in self.runs.values():
            if run.process.poll() is None:
                run.process.kill()
            run.process.wait()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def forward(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """moto's answer to the request, with the state of the runs executed here."""
        sent = {name: value for name, value in headers.items()
                if name.lower() in FORWARDED_HEADERS}
        answer = httpx.post(f"{self.moto_url}{path}", content=body, headers=sent, timeout=60)
        target = headers.get("X-Amz-Target") or headers.get("x-amz-target") or ""
        if answer.status_code != 200:
            return answer.status_code, answer.content
        request = json.loads(body or b"{}")
        if target == "AWSGlue.StartJobRun":
            self.launch(request["JobName"], answer.json()["JobRunId"])
        elif target == "AWSGlue.GetJobRun" and request["RunId"] in self.runs:
            reply = answer.json()
            state, error = self.runs[request["RunId"]].state()
            reply["JobRun"]["JobRunState"] = state
            if error:
                reply["JobRun"]["ErrorMessage"] = error
            return 200, json.dumps(reply).encode()
        return answer.status_code, answer.content

    def launch(self, job_name: str, run_id: str) -> None:
        """Runs the job's script for the run, as a Glue worker would."""
        glue = boto3.client("glue", endpoint_url=self.moto_url, region_name=self.region)
        s3 = boto3.client("s3", endpoint_url=self.moto_url, region_name=self.region)
        job = glue.get_job(JobName=job_name)["Job"]
        arguments = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]["Arguments"]
        folder = self.work / run_id
        folder.mkdir(parents=True)
        script = download(s3, job["Command"]["ScriptLocation"], folder)
        extra = [download(s3, location, folder)
                 for location in filter(None, arguments.get("--extra-py-files", "").split(","))]
        command = [sys.executable, str(script), "--JOB_ID", f"j_{run_id}", "--JOB_RUN_ID", run_id,
                   "--JOB_NAME", job_name,
                   *(item for name, value in arguments.items() for item in (name, value))]
        environment = {name: value for name, value in os.environ.items()
                       if not name.startswith(NOT_INHERITED)}
        environment["PYTHONPATH"] = os.pathsep.join(map(str, extra))
        log = folder / "output.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=folder, env=environment, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.runs[run_id] = JobRun(job_name, run_id, arguments, command, log, process)


def download(s3, location: str, folder: Path) -> Path:
    """The s3:// object at `location`, saved in `folder` under its own name."""
    bucket, _, key = location.removeprefix("s3://").partition("/")
    path = folder / Path(key).name
    s3.download_file(bucket, key, str(path))
    return path
