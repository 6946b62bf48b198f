"""Jobs of the stream stage: observe the stream, catch bronze up, check bronze, start the
continuous stream job."""

from dagster import AssetSelection, OpExecutionContext, Output, define_asset_job, job, op

from clickstream_assets.constants import BRONZE, QUARANTINE, REASON_TAG, STREAM
from clickstream_assets.resources import StreamJobResource

catch_up_job = define_asset_job(
    "bronze_catch_up_job",
    selection=AssetSelection.assets(BRONZE, QUARANTINE),
    description="Drains the stream's backlog into bronze with an available-now trigger.",
)
observe_stream_job = define_asset_job(
    "observe_stream_job", selection=AssetSelection.assets(STREAM),
    description="Observes the Kinesis stream: new records, backlog, lag.",
)
bronze_quality_job = define_asset_job(
    "bronze_quality_job", selection=AssetSelection.checks_for_assets(BRONZE, QUARANTINE),
    description="Runs the bronze and quarantine checks and writes their report page.")


@op(description="Starts a continuous run of the Glue stream job; the run's tags say why.")
def start_continuous_run(context: OpExecutionContext, stream_job: StreamJobResource) -> Output:
    reason = context.run.tags.get(REASON_TAG, "launched by hand")
    context.log.info(f"starting the continuous stream job: {reason}")
    run_id = stream_job.start_continuous(context.log.info)
    return Output(run_id, metadata={"reason": reason, "glue_run_id": run_id or "",
                                    "started": run_id is not None})


@job(description="Starts the continuous Glue stream job (AWS mode; embedded, `clickstream "
                 "stack` supervises the job).")
def stream_job_start_job() -> None:
    start_continuous_run()
