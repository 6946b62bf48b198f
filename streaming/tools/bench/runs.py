"""The three benchmark modes, each measured on the real embedded stack.

sustained  the load generator (own process) posts tracker-sized batches at a fixed rate to
           the gateway for a fixed time; loss, duplicates and latency come from bronze and
           its Delta log against the ids the gateway acknowledged.
catch-up   a backlog is written straight to the local Kinesis endpoint; a bare GetRecords
           loop reads it (the endpoint's own ceiling), the same loop hands it to the job's
           sink in one process (the job's own work, without Spark), then the job drains it
           available-now.
limit      the same events parsed, validated, enriched and written to Delta in one process
           with no network hop: what this machine can do for the same work.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from deltalake import write_deltalake

from streaming.contract import rfc3339, validate_event
from streaming.ingest.enrich import enrich, request_fields
from streaming.kinesis import kinesis_client, list_shard_ids, put_records
from streaming.lake import tables
from streaming.lake.read import Arrivals, latencies_per_commit, latest_version, read_columns
from streaming.local.stack import LocalStack
from streaming.records import aggregate
from streaming.settings import Settings
from streaming.stream.job import BatchWriter, ensure_tables
from streaming.stream.source import GET_RECORDS_LIMIT, record_batch
from streaming.stream.status import PROGRESS_LOG
from streaming.tools.bench.measure import (
    MemorySampler,
    delta_timeline,
    job_stage_costs,
    summary,
)
from streaming.tools.common import wait_until
from streaming.tools.traffic import flushes, send

Say = Callable[[str], None]


def run_sustained(settings: Settings, rate: float, duration: float, visitors: int,
                  out_dir: Path, say: Say) -> dict:
    stack = LocalStack(settings)
    try:
        stack.start(progress=say)
        warm_up(settings, say)
        since = datetime.now(UTC)
        version = latest_version(tables.BRONZE.uri(settings))
        load_out = out_dir / f"load-{since:%Y%m%d-%H%M%S}.json"
        say(f"load: {rate:,.0f} events/s for {duration:.0f}s from {visitors:,} visitors ...")
        loadgen = subprocess.Popen(
            [sys.executable, "-m", "streaming.tools.bench.loadgen", "--url",
             f"{settings.gateway_url}/v1/events", "--rate", str(rate), "--duration",
             str(duration), "--visitors", str(visitors), "--out", str(load_out)],
            start_new_session=True, stdout=subprocess.DEVNULL)
        groups = {name: p.pid for name, p in stack.processes.items()} | {"loadgen": loadgen.pid}
        with MemorySampler(groups) as memory:
            if loadgen.wait() != 0:
                raise RuntimeError(f"load generator failed with exit code {loadgen.returncode}")
            load = orjson.loads(load_out.read_bytes())
            acknowledged = set(load_out.with_suffix(".ids").read_text().split())
            say(f"load done: {load['sent']:,} sent, {len(acknowledged):,} acknowledged; "
                "waiting for bronze ...")
            found = [0, 0]
            arrivals = Arrivals(tables.BRONZE.uri(settings), version, acknowledged)

            def complete() -> bool:
                found[:] = arrivals.poll()
                return found[0] >= len(acknowledged)

            wait_until(complete, timeout=120 + duration, every=2,
                       progress=lambda: say(f"  bronze holds {found[0]:,} of "
                                            f"{len(acknowledged):,}"))
        per_commit = latencies_per_commit(tables.BRONZE.uri(settings), version, acknowledged)
        latencies = [x for _, values in per_commit for x in values]
        return {
            "mode": "sustained", "target_rate": rate, "duration_s": duration,
            "load": {k: v for k, v in load.items() if k != "timeline"},
            "acknowledged": len(acknowledged), "in_bronze": found[0],
            "lost": len(acknowledged) - found[0], "doubled": found[1],
            "latency_s": summary(latencies),
            "memory": memory.report(),
            "job_stages": job_stage_costs(settings.state_dir / PROGRESS_LOG, since.timestamp()),
            "series": {
                "accepted_per_second": load["timeline"]["accepted_per_second"],
                "http_p50_ms_per_second": load["timeline"]["http_p50_ms_per_second"],
                "committed_per_second": delta_timeline(tables.BRONZE.uri(settings), version,
                                                       load["started"]),
                "commit_latency_p50": [
                    (round(at - load["started"], 2), sorted(v)[len(v) // 2])
                    for at, v in per_commit if v],
            },
        }
    finally:
        say("stopping the stack ...")
        stack.stop()


def warm_up(settings: Settings, say: Say, events: int = 2000, rounds: int = 4) -> None:
    """Micro-batches through the whole path before measuring, one round of `events` at a time
    (each waits for bronze): the job's first batches pay for JIT compilation and table setup,
    which a long-running stream pays once. One round left the job cold: the demo's first
    burst batch took 2-4 s where a warm one takes ~0.5 s (p50 5.2 s, warm 3.8 s)."""
    say(f"warm-up: {rounds} rounds of {events:,} events through the pipeline ...")
    for round_ in range(rounds):
        version = latest_version(tables.BRONZE.uri(settings))
        result = send(f"{settings.gateway_url}/v1/events",
                      flushes(events, 100, 0.0, 3 + round_), concurrency=4)
        wanted = set(result.accepted_ids)
        arrivals = Arrivals(tables.BRONZE.uri(settings), version, wanted)

        def arrived(arrivals: Arrivals = arrivals, wanted: set[str] = wanted) -> bool:
            return arrivals.poll()[0] >= len(wanted)

        if not wait_until(arrived, 300, 0.2):
            raise RuntimeError("warm-up events did not reach bronze within 5 minutes")


def enriched_records(events: int, settings: Settings) -> list[tuple[str, bytes]]:
    """Stream records exactly as the handler writes them (per tracker request, one aggregate
    per visitor), holding `events` events, for backlogs and the limit run."""
    received = rfc3339(datetime.now(UTC))
    records = []
    for flush in flushes(events, max(100, events // 20), 0.0, seed=5):
        shared = request_fields(received_at=received, ingest_id="bench", source_ip="192.0.2.7",
                                user_agent=flush.user_agent, salt=settings.ip_hash_salt)
        enriched = [(event["anonymous_id"], orjson.dumps(enrich(event, shared, settings.ip_hash_salt)))
                    for event in flush.events]
        records += [(record.partition_key, record.data) for record in aggregate(enriched)]
    return records


def _put_all(settings: Settings, records: list[tuple[str, bytes]], threads: int = 4) -> float:
    client = kinesis_client(settings)
    chunks = [records[i:i + 500] for i in range(0, len(records), 500)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(lambda c: put_records(client, settings.stream_name, c), chunks))
    failed = sum(o.failed for o in outcomes)
    if failed:
        raise RuntimeError(f"{failed} records could not be written to the local endpoint")
    return time.perf_counter() - started


def shard_reads(settings: Settings, limit: int) -> Iterator[tuple[str, list[dict]]]:
    """Every shard's records from the start, a GetRecords call (at most `limit`) at a time."""
    client = kinesis_client(settings)
    for shard in sorted(list_shard_ids(client, settings.stream_name)):
        iterator = client.get_shard_iterator(StreamName=settings.stream_name, ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            response = client.get_records(ShardIterator=iterator, Limit=limit)
            if not response["Records"]:
                break
            yield shard, response["Records"]
            iterator = response.get("NextShardIterator")


def bare_read_rate(settings: Settings) -> tuple[int, float]:
    """Records and seconds for a plain GetRecords loop over every shard from the start."""
    total, started = 0, time.perf_counter()
    for _, records in shard_reads(settings, GET_RECORDS_LIMIT):
        total += len(records)
    return total, time.perf_counter() - started


def sink_read_rate(settings: Settings) -> tuple[int, float]:
    """Events and seconds for the same loop handing the job's batches (as many records) to
    the job's own sink (`BatchWriter.write`: inflate, parse, check, dedup, the bronze and
    quarantine commits) in this process, into a lake of its own: the job's work with no
    Spark around it, and nothing overlapped."""
    scratch = replace(settings, lake_uri=str(settings.home / "bench-sink-only" / "lake"))
    ensure_tables(scratch)
    writer = BatchWriter(scratch)
    started = time.perf_counter()
    for batch_id, (shard, records) in enumerate(
            shard_reads(settings, settings.catch_up_records_per_shard)):
        writer.write(pa.Table.from_batches([record_batch(shard, records)]), "bench-sink-only",
                     batch_id)
    seconds = time.perf_counter() - started
    return read_columns(tables.BRONZE.uri(scratch), ["event_id"]).num_rows, seconds


def run_catch_up(settings: Settings, events: int, say: Say) -> dict:
    stack = LocalStack(settings)
    try:
        stack.start_kinesis()
        records = enriched_records(events, settings)
        say(f"writing a backlog of {events:,} events in {len(records):,} records to the local "
            "Kinesis endpoint ...")
        put_seconds = _put_all(settings, records)
        say(f"  backlog written in {put_seconds:.1f}s; bare GetRecords read ...")
        read, read_seconds = bare_read_rate(settings)
        say(f"  bare read: {read:,} records in {read_seconds:.1f}s; the same into the job's "
            "sink, without Spark ...")
        sunk, sink_seconds = sink_read_rate(settings)
        say(f"  sink only: {sunk:,} events in {sink_seconds:.1f}s; draining with the job ...")
        since = time.time()
        with MemorySampler({"kinesis": stack.processes["kinesis"].pid}) as memory:
            job = stack.start_job(trigger="available-now")
            memory.groups["job"] = job.pid
            job.wait()
        wall = time.time() - since
        in_bronze = read_columns(tables.BRONZE.uri(settings), ["event_id"]).num_rows
        stages = job_stage_costs(settings.state_dir / PROGRESS_LOG, since)
        processing = stages.get("stage_ms_total", {}).get("triggerExecution", 0) / 1000
        # The bare loop reads records; in events, it reads what they hold.
        bare_rate = read / read_seconds * events / len(records)
        job_rate = in_bronze / processing if processing else 0.0
        return {
            "mode": "catch-up", "backlog": events, "backlog_records": len(records),
            "put_seconds": round(put_seconds, 1),
            "bare_read": {"records": read, "seconds": round(read_seconds, 2),
                          "records_per_s": round(read / read_seconds),
                          "events_per_s": round(bare_rate)},
            "job": {"rows_in_bronze": in_bronze, "exit_code": job.returncode,
                    "wall_seconds_incl_start": round(wall, 1),
                    "processing_seconds": round(processing, 1),
                    "rows_per_s": round(job_rate), "rows_per_s_incl_start": round(in_bronze / wall)},
            "sink_only": {"events": sunk, "seconds": round(sink_seconds, 2),
                          "events_per_s": round(sunk / sink_seconds)},
            "ratio_to_bare_read": round(job_rate / bare_rate, 3),
            "ratio_to_sink_only": round(job_rate * sink_seconds / sunk, 3),
            "memory": memory.report(), "job_stages": stages,
        }
    finally:
        stack.stop()


def run_limit(settings: Settings, events: int, say: Say) -> dict:
    """Handler work + Delta write in one process; also the cost of a Kinesis put per event."""
    batches = [(f.user_agent, orjson.dumps({"events": f.events}))
               for f in flushes(events, max(100, events // 20), 0.0, seed=5)]
    table_uri = str(settings.home / "bench-limit" / f"events-{time.time_ns()}")
    costs = dict.fromkeys(("parse", "validate", "enrich_serialize", "to_arrow", "delta_write"), 0.0)
    pending: list[bytes] = []
    started = time.perf_counter()

    def flush_to_delta() -> None:
        mark = time.perf_counter()
        table = pj.read_json(BytesIO(b"\n".join(pending)))
        table = table.append_column("event_date", pc.utf8_slice_codeunits(
            table["event_time"], 0, 10).cast(pa.date32()))
        costs["to_arrow"] += time.perf_counter() - mark
        mark = time.perf_counter()
        write_deltalake(table_uri, table, mode="append", partition_by=["event_date"],
                        schema_mode="merge")
        costs["delta_write"] += time.perf_counter() - mark
        pending.clear()

    now = datetime.now(UTC)
    for user_agent, body in batches:
        mark = time.perf_counter()
        parsed = orjson.loads(body)["events"]
        costs["parse"] += time.perf_counter() - mark
        mark = time.perf_counter()
        valid = [e for e in parsed if not validate_event(e, now)]
        costs["validate"] += time.perf_counter() - mark
        mark = time.perf_counter()
        shared = request_fields(
            received_at=rfc3339(now),
            ingest_id="limit", source_ip="192.0.2.7", user_agent=user_agent,
            salt=settings.ip_hash_salt)
        pending.extend(orjson.dumps(enrich(e, shared, settings.ip_hash_salt)) for e in valid)
        costs["enrich_serialize"] += time.perf_counter() - mark
        if len(pending) >= 50_000:
            flush_to_delta()
    if pending:
        flush_to_delta()
    total = time.perf_counter() - started
    put_cost = _kinesis_put_cost(settings, min(events, 50_000), say)
    return {
        "mode": "limit", "events": events, "seconds": round(total, 2),
        "events_per_s": round(events / total),
        "stage_us_per_event": {k: round(v * 1e6 / events, 1) for k, v in costs.items()},
        "kinesis_put_us_per_event": put_cost,
    }


def _kinesis_put_cost(settings: Settings, events: int, say: Say) -> float:
    """One thread's PutRecords of 500 handler-shaped records to the local endpoint, per event."""
    stack = LocalStack(settings)
    try:
        stack.start_kinesis()
        records = enriched_records(events, settings)
        client = kinesis_client(settings)
        started = time.perf_counter()
        put_records(client, settings.stream_name, records)
        seconds = time.perf_counter() - started
        say(f"  Kinesis put: {events:,} events in {len(records):,} records in {seconds:.1f}s "
            "on one thread")
        return round(seconds * 1e6 / events, 1)
    finally:
        stack.stop()
