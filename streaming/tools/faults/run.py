"""`clickstream faults`: the whole stack under load, with crashes, and the proof afterwards.

One run, on a private home (empty stream, empty tables, so every count is exact):
1. start kinesalite, the gateway, the stream job and `dagster dev` (sensors on);
2. start the client process (`streaming.tools.faults.client`) and, while it sends, work through
   a shuffled schedule: SIGKILL + restart of the job (timed to a bronze commit, to a running
   batch, or at random), of kinesalite (once while the job is down, so a backlog has to
   survive on disk), of the gateway and of Dagster; broken records and copies of recent
   records written straight to the stream;
3. recovery without a person: once the job has drained the load, kill it, send a burst
   while it is down, and do nothing until Dagster's lag sensor has launched catch-up runs
   that brought everything into bronze; then restart the continuous job and check that a
   probe flows through it;
4. verify bronze, quarantine and the stream (`streaming.tools.faults.verify`) and write a report.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

import httpx

from streaming.lake import tables
from streaming.lake.read import latest_version
from streaming.local.dagster_ui import start_dagster
from streaming.local.stack import LocalStack, log_tail, stop_process
from streaming.settings import Settings
from streaming.tools.common import free_port
from streaming.tools.faults.inject import (
    JOB_KILL_MODES,
    BadRecord,
    backlog_records,
    bad_records,
    batch_state,
    duplicate_recent,
    inject,
    kill_job,
    restart_job,
)
from streaming.tools.faults.verify import Sent, verify, wait_for_bronze, wait_for_quarantine

Say = Callable[[str], None]
CATCH_UP_JOB = "bronze_catch_up_job"
RUNS_QUERY = """query Runs($job: String!) { runsOrError(filter: {pipelineName: $job}) {
  ... on Runs { results { runId status creationTime startTime endTime
                          tags { key value } } } } }"""


@dataclass(frozen=True)
class Plan:
    """How much load and which faults; the CI test and the long run differ only here."""

    events: int = 200_000
    rate: float = 800.0
    concurrency: int = 16
    job_kills: int = 5
    kinesis_kills: int = 2
    gateway_kills: int = 2
    dagster_kills: int = 1
    bad_record_rounds: int = 3
    duplicate_rounds: int = 2
    burst_events: int = 5_000
    probe_events: int = 500
    bad_share: float = 0.01
    seed: int = 11
    give_up_after: float = 300.0

    def client_deadline(self, events: int) -> float:
        """Seconds a client may take for `events`: its schedule, then the longest a flush
        may retry, twice over; past that the run fails with what the client saw."""
        return events / self.rate + 2 * self.give_up_after

    def schedule(self, rng: random.Random) -> list[tuple[float, str, str]]:
        """(share of the load sent, fault, mode), spread over the load in a random order.

        Job kills cycle through the kill modes so a short plan still kills mid-commit. The
        first kinesalite kill happens while the job is down after a kill of its own, so a
        backlog has to survive on disk; it is one entry, and counts as both faults.
        """
        faults = [("job", JOB_KILL_MODES[i % len(JOB_KILL_MODES)]) for i in range(self.job_kills)]
        kinesis = [("kinesis", "")] * self.kinesis_kills
        if faults and kinesis:
            faults[0] = ("job+kinesis", faults[0][1])
            kinesis.pop()
        faults += kinesis + [("gateway", "")] * self.gateway_kills
        faults += [("dagster", "")] * self.dagster_kills + [("bad_records", "")] * self.bad_record_rounds
        faults += [("duplicates", "")] * self.duplicate_rounds
        rng.shuffle(faults)
        slot = 0.85 / max(1, len(faults))
        return [(0.05 + slot * (i + rng.uniform(0.0, 0.7)), kind, mode)
                for i, (kind, mode) in enumerate(faults)]


@dataclass
class FaultRun:
    """One fault run on `settings` (a private home); `run()` returns the report, `stop()`
    ends every process the run started."""

    settings: Settings
    plan: Plan
    say: Say
    stack: LocalStack = field(init=False)
    rng: random.Random = field(init=False)
    dagster_port: int = field(init=False)
    faults: list[dict] = field(default_factory=list)
    clients: dict[str, subprocess.Popen] = field(default_factory=dict)
    bad: list[BadRecord] = field(default_factory=list)
    started: float = 0.0

    def __post_init__(self) -> None:
        self.stack = LocalStack(self.settings)
        self.rng = random.Random(self.plan.seed)
        self.dagster_port = free_port()

    @property
    def out(self) -> Path:
        return self.settings.home / "faults"

    def _elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def _client(self, name: str, events: int, seed: int, gated: bool = False) -> subprocess.Popen:
        out = self.out / name
        out.mkdir(parents=True, exist_ok=True)
        self.stack.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.stack.log_dir / f"client-{name}.log", "ab")  # noqa: SIM115 - the child's
        gate = ["--gate", str(self._gate)] if gated else []
        self.clients[name] = subprocess.Popen(
            [sys.executable, "-m", "streaming.tools.faults.client", "--url",
             f"{self.settings.gateway_url}/v1/events", "--events", str(events), "--rate",
             str(self.plan.rate), "--concurrency", str(self.plan.concurrency), "--bad-share",
             str(self.plan.bad_share), "--seed", str(seed), "--give-up-after",
             str(self.plan.give_up_after), "--out", str(out), *gate],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self.clients[name]

    def _finish(self, name: str, events: int) -> None:
        """Waits for client `name` at most its deadline from now. A client that fails or
        overruns fails the run with what it and the gateway saw, so a stuck client shows its
        cause instead of holding the run until an outer timeout."""
        client = self.clients[name]
        try:
            code = client.wait(timeout=self.plan.client_deadline(events))
        except subprocess.TimeoutExpired:
            stop_process(client, timeout=5)
            code = None
        if code == 0:
            return
        try:
            progress = (self.out / name / "progress.json").read_text()
        except FileNotFoundError:
            progress = "(none written)"
        what = "failed" if code is not None else \
            f"did not finish in {self.plan.client_deadline(events):.0f}s"
        logs = "".join(log_tail(self.stack.log_dir / f"{part}.log")
                       for part in (f"client-{name}", "gateway", "kinesis"))
        raise RuntimeError(f"the {name} client {what}; its progress: {progress}{logs}")

    @property
    def _gate(self) -> Path:
        return self.out / "load.gate"

    def _open_gate(self, events: int) -> None:
        """Lets the load client send up to `events` events in all."""
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self._gate.with_suffix(".tmp")
        tmp.write_text(str(events))
        tmp.replace(self._gate)

    def _sent(self, name: str) -> int:
        try:
            return json.loads((self.out / name / "progress.json").read_text())["sent"]
        except (FileNotFoundError, json.JSONDecodeError):
            return 0

    def catch_up_runs(self) -> list[dict] | None:
        """The catch-up runs Dagster knows of (None while Dagster is not answering)."""
        try:
            response = httpx.post(f"http://127.0.0.1:{self.dagster_port}/graphql", timeout=30,
                                  json={"query": RUNS_QUERY, "variables": {"job": CATCH_UP_JOB}})
            return response.json()["data"]["runsOrError"]["results"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            return None

    def _record(self, kind: str, at: float, progress: int, **detail) -> None:
        entry = {"fault": kind, "at_s": at, "events_sent_before": progress, **detail}
        self.faults.append(entry)
        self.say(f"  fault {len(self.faults)}: {kind} "
                 + " ".join(f"{k}={v}" for k, v in detail.items() if k != "state"))

    def _job_fault(self, mode: str, progress: int, with_kinesis: bool) -> None:
        """Kills the job; with `with_kinesis`, kills kinesalite too while the job is down and
        its backlog waits in the stream, then restarts both."""
        at = self._elapsed()
        detail = kill_job(self.stack, mode, self.rng)
        if with_kinesis:
            time.sleep(self.rng.uniform(2, 5))
            detail["kinesis"] = {"backlog_at_kill": backlog_records(self.settings),
                                 **self._kinesis_outage()}
        self._record("job_kill", at, progress, **detail, **restart_job(self.stack))

    def _kinesis_outage(self) -> dict:
        self.stack.kill("kinesis")
        outage = self.rng.uniform(2, 8)
        time.sleep(outage)
        mark = time.monotonic()
        self.stack.start_kinesis()
        return {"outage_s": round(outage, 1), "restart_s": round(time.monotonic() - mark, 1)}

    def _kinesis_fault(self, progress: int) -> None:
        """kinesalite dies under a running job: the job's reads must ride out the restart,
        and it must commit a new batch after it, with no restart of its own."""
        at = self._elapsed()
        before = batch_state(self.settings).committed
        detail = self._kinesis_outage()
        back = time.monotonic()
        job = self.stack.processes["job"]
        while time.monotonic() - back < 300 and job.poll() is None and \
                batch_state(self.settings).committed == before:
            time.sleep(0.5)
        detail["job_survived"] = job.poll() is None
        detail["committed_after_restart"] = batch_state(self.settings).committed != before
        detail["next_commit_after_restart_s"] = round(time.monotonic() - back, 1)
        if not detail["job_survived"]:
            self.stack.processes.pop("job", None)
            detail["job_restart"] = restart_job(self.stack)
        self._record("kinesis_kill", at, progress, **detail)

    def _gateway_fault(self, progress: int) -> None:
        at = self._elapsed()
        self.stack.kill("gateway")
        outage = self.rng.uniform(1, 5)
        time.sleep(outage)
        mark = time.monotonic()
        self.stack.start_gateway()
        self._record("gateway_kill", at, progress, outage_s=round(outage, 1),
                     restart_s=round(time.monotonic() - mark, 1))

    def _dagster_fault(self, progress: int) -> None:
        """Dagster dies and stays away a while: the data path must not notice."""
        at = self._elapsed()
        before = latest_version(tables.BRONZE.uri(self.settings))
        self.stack.kill("dagster")
        time.sleep(self.rng.uniform(5, 15))
        mark = time.monotonic()
        start_dagster(self.stack, self.dagster_port)
        self._record("dagster_kill", at, progress, restart_s=round(time.monotonic() - mark, 1),
                     events_sent_while_down=self._sent("load") - progress,
                     bronze_commits_while_down=latest_version(tables.BRONZE.uri(self.settings)) - before)

    def _bad_records_fault(self, progress: int) -> None:
        at = self._elapsed()
        records = bad_records(self.rng)
        inject(self.settings, records)
        self.bad += records
        self._record("bad_records", at, progress, records=len(records))

    def _duplicates_fault(self, progress: int) -> None:
        at = self._elapsed()
        self._record("duplicate_records", at, progress, records=duplicate_recent(self.settings))

    def _faults_under_load(self) -> None:
        """Each fault waits for its share of the load to be sent; while it runs, the client may
        send on up to the next fault's share, so every fault meets traffic."""
        schedule = self.plan.schedule(self.rng)
        marks = [math.ceil(share * self.plan.events) for share, _, _ in schedule]
        client = self._client("load", self.plan.events, self.plan.seed, gated=True)
        for (_, kind, mode), mark, following in zip(schedule, marks, [*marks[1:], self.plan.events],
                                                    strict=True):
            self._open_gate(mark)
            while self._sent("load") < mark and client.poll() is None:
                time.sleep(0.2)
            progress = self._sent("load")
            self._open_gate(following)
            if kind in ("job", "job+kinesis"):
                self._job_fault(mode, progress, with_kinesis=kind == "job+kinesis")
            elif kind == "kinesis":
                self._kinesis_fault(progress)
            elif kind == "gateway":
                self._gateway_fault(progress)
            elif kind == "dagster":
                self._dagster_fault(progress)
            elif kind == "duplicates":
                self._duplicates_fault(progress)
            else:
                self._bad_records_fault(progress)
        self._open_gate(self.plan.events)

    def _unattended_recovery(self, acknowledged: set[str]) -> dict:
        """With the job caught up: kill it, send a burst, touch nothing: Dagster's sensor
        must bring bronze up to date on its own. Then restart the continuous job and run a
        probe through it."""
        known = {r["runId"] for r in self.catch_up_runs() or []}
        self.say("recovery without a person: killing the stream job, sending a burst ...")
        killed_at = time.time()
        state = batch_state(self.settings)
        self.stack.kill("job")
        self._client("burst", self.plan.burst_events, self.plan.seed + 1)
        self._finish("burst", self.plan.burst_events)
        wanted = acknowledged | set(Sent.read(self.out / "burst").acknowledged)
        caught_up_at = wait_for_bronze(self.settings, wanted, timeout=1800, progress=self.say)
        self.say(f"  caught up {caught_up_at - killed_at:.0f}s after the kill" if caught_up_at
                 else "  NOT caught up after 1800s")
        deadline = time.monotonic() + 300
        while True:
            runs = [r for r in self.catch_up_runs() or [] if r["runId"] not in known]
            if runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(2)
        launched = min((r["creationTime"] for r in runs), default=None)
        self.say(f"  {len(runs)} catch-up run(s): {[r['status'] for r in runs]}; restarting the "
                 "continuous job and sending a probe through it ...")
        restart = restart_job(self.stack)
        self._client("probe", self.plan.probe_events, self.plan.seed + 2)
        self._finish("probe", self.plan.probe_events)
        probe_sent = time.time()
        probe_ids = set(Sent.read(self.out / "probe").acknowledged)
        probe_in_bronze = wait_for_bronze(self.settings, probe_ids, timeout=300)
        return {
            "killed": state.moment, "burst_acknowledged": len(wanted) - len(acknowledged),
            "catch_up_runs": [{"status": r["status"], "reason": next(
                (t["value"] for t in r["tags"] if t["key"] == "clickstream/reason"), None),
                "launched_after_kill_s": round(r["creationTime"] - killed_at, 1),
                "seconds": round((r["endTime"] or 0) - (r["startTime"] or 0), 1)} for r in runs],
            "kill_to_catch_up_launched_s": round(launched - killed_at, 1) if launched else None,
            "kill_to_caught_up_s": round(caught_up_at - killed_at, 1) if caught_up_at else None,
            "continuous_job_restart": restart,
            "probe_events": len(probe_ids),
            "probe_to_bronze_s": round(probe_in_bronze - probe_sent, 1) if probe_in_bronze else None,
        }

    def run(self) -> dict:
        self.say(f"fault run under {self.settings.home}")
        self.stack.start(progress=self.say)
        self.say("starting dagster dev (sensors on) ...")
        start_dagster(self.stack, self.dagster_port)
        self.say(f"  Dagster at http://127.0.0.1:{self.dagster_port}")
        self.started = time.monotonic()
        self.say(f"sending {self.plan.events:,} events at {self.plan.rate:,.0f}/s while "
                 "injecting faults ...")
        self._faults_under_load()
        self._finish("load", self.plan.events)
        sent = Sent.read(self.out / "load")
        self.say(f"load done after {self._elapsed():.0f}s: {len(sent.acknowledged):,} "
                 f"acknowledged, {len(sent.rejected):,} rejected; waiting for the job to drain ...")
        load_done = time.monotonic()
        drained = wait_for_bronze(self.settings, set(sent.acknowledged), timeout=3600,
                                  progress=self.say)
        drain_s = round(time.monotonic() - load_done, 1) if drained else None
        recovery = self._unattended_recovery(set(sent.acknowledged))
        self.say("waiting for bronze and quarantine, then verifying ...")
        everything = Sent.read(*(self.out / name for name in ("load", "burst", "probe")))
        wait_for_bronze(self.settings, set(everything.acknowledged), timeout=600)
        wait_for_quarantine(self.settings, {b.data for b in self.bad}, timeout=300)
        verdict = verify(self.settings, everything, self.bad)
        clients = {name: json.loads((self.out / name / "summary.json").read_text())
                   for name in ("load", "burst", "probe")}
        return {
            "plan": asdict(self.plan), "home": str(self.settings.home),
            "seconds": self._elapsed(),
            "faults_injected": sum(_by_kind(self.faults).values()),
            "faults_by_kind": _by_kind(self.faults),
            "faults": self.faults,
            "drain_after_load_s": drain_s,
            "recovery_without_a_person": recovery,
            "job_restart_s": [f["restart_s"] for f in self.faults if f["fault"] == "job_kill"],
            "job_replay_s": [f["replayed_s"] for f in self.faults if f["fault"] == "job_kill"],
            "catch_up_runs_by_status": dict(Counter(r["status"] for r in self.catch_up_runs() or [])),
            "clients": clients,
            "verdict": verdict,
        }

    def stop(self) -> None:
        """Stops the client processes that are still sending, then the stack."""
        for client in self.clients.values():
            stop_process(client, timeout=5)
        self.stack.stop()


def _by_kind(faults: list[dict]) -> dict[str, int]:
    kinds: Counter = Counter(f["fault"] for f in faults)
    kinds["kinesis_kill"] += sum(1 for f in faults if "kinesis" in f)
    kinds["job_kill_unattended"] += 1
    return dict(kinds)


def fault_settings(settings: Settings, stamp: str) -> Settings:
    """A private home per run, on its own ports: an empty stream and empty tables."""
    home = settings.home / "faults" / stamp
    return replace(settings, home=home, lake_uri=str(home / "lake"),
                   checkpoint_uri=str(home / "checkpoints"),
                   kinesis_endpoint_url=f"http://127.0.0.1:{free_port()}",
                   gateway_port=free_port())


def headline(report: dict) -> list[str]:
    v, r = report["verdict"], report["recovery_without_a_person"]
    return [
        f"faults injected {report['faults_injected']}: "
        + ", ".join(f"{k} x{n}" for k, n in report["faults_by_kind"].items()),
        f"acknowledged {v['acknowledged']:,}, in bronze {v['in_bronze']:,}, lost {v['lost']:,}, "
        f"doubled {v['doubled']:,}; rejected {v['rejected']:,} (in bronze: "
        f"{v['rejected_in_bronze']}); never acknowledged but in bronze "
        f"{v['in_bronze_never_acknowledged']}",
        f"stream records {v['stream_records']:,}; acknowledged events written to the stream "
        f"more than once {v['acknowledged_written_to_stream_more_than_once']:,} (each once in "
        f"bronze); batches committed twice {v['batches_committed_twice']}",
        f"quarantine: {v['quarantine_found_once']} of {v['quarantine_expected']} bad records "
        f"exactly once, unexpected rows {v['quarantine_unexpected_rows']}, wrong reasons "
        f"{len(v['quarantine_wrong_reason'])}",
        f"job kills: restart until running (s) {report['job_restart_s']}, then until the "
        f"interrupted batch was committed (s) {report['job_replay_s']}; kills caught "
        + ", ".join(f"{n}x {moment}" for moment, n in Counter(
            f["caught"] for f in report["faults"] if f["fault"] == "job_kill").items()),
        f"unattended: kill -> catch-up launched {r['kill_to_catch_up_launched_s']}s, "
        f"-> caught up {r['kill_to_caught_up_s']}s; probe through the restarted job "
        f"{r['probe_to_bronze_s']}s",
        "PASSED" if v["passed"] else "FAILED",
    ]


def run_faults(settings: Settings, plan: Plan, say: Say) -> tuple[dict, Path]:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run = FaultRun(fault_settings(settings, stamp), plan, say)
    try:
        report = run.run()
    finally:
        say("stopping the stack ...")
        run.stop()
    reports = settings.home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / f"faults-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    return report, path
