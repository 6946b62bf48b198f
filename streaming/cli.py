"""Command line of the project: `clickstream demo | job | gateway | stack`."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from streaming.settings import load_settings


def _demo(args: argparse.Namespace) -> int:
    from streaming.demo import run_demo

    if args.events < 1:
        raise SystemExit("--events must be at least 1")
    return run_demo(load_settings(), args.events, args.visitors, args.bad_share,
                    args.concurrency, args.ui)


def _stack(_: argparse.Namespace) -> int:
    from streaming.local_stack import LocalStack

    with LocalStack(load_settings()) as stack:
        stack.start()
        print("stack running; Ctrl-C stops it", flush=True)
        try:
            while all(p.poll() is None for p in stack.processes.values()):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


def _job(args: argparse.Namespace) -> int:
    from streaming.job import main as job_main

    return job_main(["--trigger", args.trigger])


def _gateway(_: argparse.Namespace) -> int:
    from streaming.gateway import serve

    serve()
    return 0


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
