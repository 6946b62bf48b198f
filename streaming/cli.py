"""Command line of the project: `clickstream demo | job | gateway | stack | sql | smoke | faults |
restore | forget | export-subject`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from streaming.settings import load_settings


def _demo(args: argparse.Namespace) -> int:
    from streaming.tools.demo import run_demo

    if args.events < 1:
        raise SystemExit("--events must be at least 1")
    return run_demo(load_settings(), args.events, args.visitors, args.bad_share,
                    args.concurrency, args.ui)


def _stack(_: argparse.Namespace) -> int:
    """Starts the stack, then supervises it: a part that exits is restarted (see
    `streaming.local.stack.Supervisor`); Ctrl-C or SIGTERM stops every part, the job first
    and Kinesis last, and exits 0; a part that keeps dying stops the stack and exits 1."""
    from streaming.local.stack import LocalStack, PartKeepsDying

    def say(message: str) -> None:
        print(message, flush=True)

    def interrupt(_signum, _frame) -> None:
        raise KeyboardInterrupt

    stop = threading.Event()

    def request_stop(_signum, _frame) -> None:
        stop.set()

    # While starting (blocking waits of up to minutes), SIGTERM interrupts like Ctrl-C.
    signal.signal(signal.SIGTERM, interrupt)
    stack = LocalStack(load_settings())
    code = 0
    try:
        stack.start(progress=say)
        # From here on a signal only asks the loop to stop, so it never lands in the middle
        # of a restart (a process spawned but not yet recorded would be left behind).
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        say(f"stack running; a part that exits is restarted (pids in {stack.stack_file}); "
            "Ctrl-C stops it")
        stack.supervise(stop, say)
    except KeyboardInterrupt:
        pass
    except PartKeepsDying as exc:
        print(f"clickstream: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        say("stopping the stack (stream job, gateway, Kinesis endpoint) ...")
        stack.stop()
        if stack.stack_file.exists():
            stack.write_stack_file(state="stopped")
        say("stack stopped")
    return code


def _job(args: argparse.Namespace) -> int:
    from streaming.stream.job import main as job_main

    return job_main(["--trigger", args.trigger])


def _gateway(_: argparse.Namespace) -> int:
    from streaming.local.gateway import serve

    serve()
    return 0


def _bench(args: argparse.Namespace) -> int:
    from streaming.tools.bench.command import headline, run_bench

    if args.rate <= 0 or args.duration <= 0 or args.events < 1 or args.rows < 1:
        raise SystemExit("--rate, --duration, --events and --rows must be positive")
    if args.batches < 4:
        raise SystemExit("--batches must be at least 4 (the first three are warm-up)")
    report, path = run_bench(load_settings(), args.mode, args.rate, args.duration, args.events,
                             args.visitors, args.rows, args.batches)
    print("\n".join(["", f"=== clickstream bench: {args.mode} ===", *headline(report),
                      f"report written to {path}"]), flush=True)
    return 1 if report.get("lost") or report.get("doubled") else 0


def _sql(args: argparse.Namespace) -> int:
    from streaming.lakesql.engine import open_engine
    from streaming.lakesql.output import render

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    with open_engine(load_settings()) as engine:
        print(render(engine.query(args.query), args.format))
    return 0


def _smoke(args: argparse.Namespace) -> int:
    """The deployed API, or the embedded gateway by default; the key from --write-key, else
    CLICKSTREAM_SMOKE_WRITE_KEY (so a workflow keeps it out of the command line), else the
    embedded stack's development key."""
    from streaming.settings import DEV_WRITE_KEY
    from streaming.tools.smoke import run_smoke

    settings = load_settings()
    api = args.api or (settings.gateway_url if settings.embedded else None)
    key = args.write_key or settings.smoke_write_key or (
        DEV_WRITE_KEY if settings.embedded else None)
    if not api or not key:
        raise SystemExit("clickstream smoke: AWS mode needs --api (Terraform output api_url) and "
                         "a write key (--write-key or CLICKSTREAM_SMOKE_WRITE_KEY)")
    run_smoke(settings, api, key, events=args.events, timeout=args.timeout,
              say=lambda m: print(m, flush=True))
    return 0


def _faults(args: argparse.Namespace) -> int:
    from streaming.tools.faults.run import Plan, headline, run_faults

    if args.events < 1 or args.rate <= 0:
        raise SystemExit("--events and --rate must be positive")
    plan = Plan(events=args.events, rate=args.rate, concurrency=args.concurrency,
                job_kills=args.job_kills, kinesis_kills=args.kinesis_kills,
                gateway_kills=args.gateway_kills, dagster_kills=args.dagster_kills,
                seed=args.seed)
    report, path = run_faults(load_settings(), plan, lambda m: print(m, flush=True))
    print("\n".join(["", "=== clickstream faults ===", *headline(report),
                      f"report written to {path}"]), flush=True)
    return 0 if report["verdict"]["passed"] else 1


def _restore(args: argparse.Namespace) -> int:
    from streaming.lake.restore import main as restore_main

    return restore_main(load_settings(), args)


def _subject(args: argparse.Namespace):
    from streaming.lake.erasure import Subject

    return Subject(user_id=args.user_id, anonymous_id=args.anonymous_id)


def _forget(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from streaming.lake.erasure import forget

    settings = load_settings()

    def rebuild_gold(days):
        """Spark starts only when there are gold days to rebuild."""
        from streaming.lake.rebuild import rebuild_gold
        from streaming.stream.spark import build_spark

        return rebuild_gold(build_spark(settings, "clickstream-forget"), settings, days)

    outcome = forget(settings, _subject(args), args.requested_by, rebuild_gold)
    print(json.dumps(asdict(outcome), indent=2, sort_keys=True))
    return 0


def _export_subject(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from streaming.lake.export import subject_lines

    with open(args.output, "w") if args.output else nullcontext(sys.stdout) as out:
        for line in subject_lines(load_settings(), _subject(args)):
            out.write(line + "\n")
    return 0


def _add_subject(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-id", help="the person's user id")
    who.add_argument("--anonymous-id", help="the person's anonymous (device) id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clickstream", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the embedded pipeline end to end and report")
    demo.add_argument("--events", type=int, default=50_000, help="events to send (50,000)")
    demo.add_argument("--visitors", type=int, default=3_000, help="simulated visitors (3,000)")
    demo.add_argument("--bad-share", type=float, default=0.01,
                      help="share of deliberately broken events (0.01)")
    demo.add_argument("--concurrency", type=int, default=8, help="requests in flight (8)")
    demo.add_argument("--ui", action="store_true",
                      help="keep the stack running with the Dagster UI until Ctrl-C")
    demo.set_defaults(func=_demo)
    sub.add_parser("stack", help="start the embedded stack and keep it running").set_defaults(
        func=_stack)
    job = sub.add_parser("job", help="run the stream job in the foreground")
    job.add_argument("--trigger", choices=("continuous", "available-now"), default="continuous")
    job.set_defaults(func=_job)
    sub.add_parser("gateway", help="run the local gateway in the foreground").set_defaults(
        func=_gateway)
    bench = sub.add_parser("bench", help="benchmark the embedded pipeline (see docs/benchmarks.md)")
    bench.add_argument("--mode", default="sustained",
                       choices=("sustained", "catch-up", "limit", "batch-floor", "gateway",
                                "erasure"))
    bench.add_argument("--rate", type=float, default=5_000, help="events/s, sustained (5,000)")
    bench.add_argument("--duration", type=float, default=60, help="seconds, sustained (60)")
    bench.add_argument("--events", type=int, default=1_000_000,
                       help="backlog (catch-up) or events (limit, gateway, erasure) (1,000,000)")
    bench.add_argument("--rows", type=int, default=2_000,
                       help="rows per micro-batch, batch-floor (2,000)")
    bench.add_argument("--batches", type=int, default=15,
                       help="micro-batches per sink and round, batch-floor (15)")
    bench.add_argument("--visitors", type=int, default=5_000, help="simulated visitors (5,000)")
    bench.set_defaults(func=_bench)
    sql = sub.add_parser("sql", help="run one SQL statement (Athena's dialect) on the lakehouse: "
                                     "DuckDB over the Delta tables embedded, Athena in AWS mode")
    sql.add_argument("query", help='e.g. "SELECT * FROM daily_kpis ORDER BY event_date"')
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table",
                     help="output format (table)")
    sql.set_defaults(func=_sql)
    smoke = sub.add_parser("smoke", help="post marked events to the API and wait until they are "
                                         "queryable in bronze_events (after every deploy)")
    smoke.add_argument("--api", help="base URL of the API (the embedded gateway by default)")
    smoke.add_argument("--write-key", help="a site's write key (else CLICKSTREAM_SMOKE_WRITE_KEY)")
    smoke.add_argument("--events", type=int, default=5, help="events to send (5)")
    smoke.add_argument("--timeout", type=float, default=600,
                       help="seconds to wait for them in bronze_events (600)")
    smoke.set_defaults(func=_smoke)
    faults = sub.add_parser("faults", help="crash every component under load and verify that "
                                           "nothing is lost or doubled (docs/reliability.md)")
    faults.add_argument("--events", type=int, default=200_000, help="events to send (200,000)")
    faults.add_argument("--rate", type=float, default=800, help="events/s offered (800)")
    faults.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
    faults.add_argument("--job-kills", type=int, default=5, help="stream job kills (5)")
    faults.add_argument("--kinesis-kills", type=int, default=2, help="kinesalite kills (2)")
    faults.add_argument("--gateway-kills", type=int, default=2, help="gateway kills (2)")
    faults.add_argument("--dagster-kills", type=int, default=1, help="dagster dev kills (1)")
    faults.add_argument("--seed", type=int, default=11, help="seed of the schedule (11)")
    faults.set_defaults(func=_faults)
    restore = sub.add_parser("restore", help="restore a Delta table to an earlier version or "
                                             "timestamp (time travel), e.g. after a bad deploy")
    restore.add_argument("--table", required=True,
                         help="bronze, quarantine, or a path under the lake (silver/sessions, ...)")
    target = restore.add_mutually_exclusive_group(required=True)
    target.add_argument("--version", type=int, help="the table version to restore")
    target.add_argument("--timestamp", help="ISO-8601 time: the last version committed by then")
    target.add_argument("--history", action="store_true",
                        help="list the table's recent versions instead of restoring")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.set_defaults(func=_restore)
    forget = sub.add_parser("forget", help="erase a person from every table (privacy request): "
                                           "their ids resolved through identity links, rows "
                                           "deleted, gold rebuilt, files purged, verified")
    _add_subject(forget)
    forget.add_argument("--requested-by", required=True,
                        help="who asked (recorded in the audit trail), e.g. a ticket or e-mail")
    forget.set_defaults(func=_forget)
    export = sub.add_parser("export-subject", help="every stored row about a person, as JSON "
                                                   "Lines, with the identity links between "
                                                   "their ids")
    _add_subject(export)
    export.add_argument("--output", help="file to write (standard output when not given)")
    export.set_defaults(func=_export_subject)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (RuntimeError, TimeoutError, ValueError) as exc:
        print(f"clickstream: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
