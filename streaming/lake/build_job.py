"""The model-build Glue job: builds one day of one silver or gold table where Spark is.

In AWS mode Dagster's silver and gold assets do not start Spark in their ECS task: each run
launches this script as a Glue job run through Dagster Pipes (`PipesGlueClient`,
clickstream_assets/model_builds.py) and waits for it. The script runs the same `build_day`
the embedded assets run (streaming/lake/rebuild.py) and reports back over Pipes: its log lines
and the materialization's metadata (rows, Delta version, bronze version), which Dagster
records on the asset's materialization as if the asset had built the day itself.

Pipes context and messages travel through S3 (`PipesS3ContextLoader`, `PipesS3MessageWriter`)
under the stack's Pipes prefix: S3 is what both the Dagster task and the Glue job already
reach through the VPC's gateway endpoint, and messages arrive while the run is going.

Glue passes everything as `--NAME value`: Glue's own arguments, the settings Terraform gives
the job (`--CLICKSTREAM_*`, `--AWS_REGION`), the day to build (`--table`, `--day`) and the
Pipes bootstrap (`--dagster-pipes-context`, `--dagster-pipes-messages`). Started by hand
(without Pipes) it builds the day all the same and reports nothing.

    python -m streaming.lake.build_job --table silver_sessions --day 2026-11-20 [--CLICKSTREAM_...]
"""

from __future__ import annotations

import argparse
import logging
import sys

import boto3
from dagster_pipes import (
    PipesCliArgsParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    open_dagster_pipes,
)

from streaming.lake import tables
from streaming.lake.rebuild import MODELS, build_day
from streaming.settings import glue_arguments_to_env, load_settings
from streaming.stream.spark import build_spark

# How often the job uploads its buffered Pipes messages (log lines) to S3 while it runs.
MESSAGE_UPLOAD_SECONDS = 5.0


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", choices=sorted(MODELS), required=True)
    parser.add_argument("--day", required=True, help="the partition, YYYY-MM-DD (UTC)")
    args, _glue_and_pipes_own = parser.parse_known_args(glue_arguments_to_env(argv))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s build %(levelname)s %(message)s")
    settings = load_settings()
    table = tables.TABLES[args.table]
    s3 = boto3.client("s3", region_name=settings.region)
    with open_dagster_pipes(params_loader=PipesCliArgsParamsLoader(),
                            context_loader=PipesS3ContextLoader(s3),
                            message_writer=PipesS3MessageWriter(
                                s3, interval=MESSAGE_UPLOAD_SECONDS)) as pipes:
        pipes.log.info(f"building {table.name} of {args.day} from {settings.lake_uri}")
        spark = build_spark(settings, f"clickstream-build-{table.name}")
        built = build_day(spark, settings, table, args.day)
        pipes.log.info(f"{table.name} of {args.day}: {built.rows} rows committed as Delta "
                       f"version {built.version}")
        pipes.report_asset_materialization(metadata=built.metadata())
    return 0


if __name__ == "__main__":
    sys.exit(main())
