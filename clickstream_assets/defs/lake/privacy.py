"""Privacy requests in Dagster: `forget_job`, launched from the UI with the person's id as
run config, and the check that every completed erasure still holds.

The job materializes `privacy_requests`, the audit trail, by running one erasure
(streaming/lake/erasure.py, the same code as `clickstream forget`); the check runs after it
in the same run, and on demand: for each completed request it reads every version of every
table that holds people's rows, by the ids' salted hashes (the raw ids are not kept), and
fails if any returns a row of the person, e.g. after someone restored an old version.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    define_asset_job,
)
from pydantic import Field

from clickstream_assets.constants import MAINTENANCE, OWNER, PRIVACY_REQUESTS
from clickstream_assets.resources import LakeResource, SparkResource
from streaming import erased
from streaming.lake import audit, suppression
from streaming.lake.erasure import Subject, forget, verify
from streaming.lake.rebuild import rebuild_gold


class ForgetConfig(Config):
    user_id: str | None = Field(default=None, description="the person's user id")
    anonymous_id: str | None = Field(default=None, description="or their anonymous id")
    requested_by: str = Field(description="who asked: a ticket, an e-mail (audit trail)")


@asset(
    key=PRIVACY_REQUESTS, group_name=MAINTENANCE, owners=[OWNER], kinds={"deltalake", "delta"},
    description="The audit trail of erasure requests (append-only): each run erases one "
                "person given by run config (ids resolved through identity links, rows "
                "deleted from bronze, quarantine and silver, gold days rebuilt, files purged, "
                "every version verified) and records each step with the subject's salted hash.",
)
def privacy_requests(context: AssetExecutionContext, config: ForgetConfig, lake: LakeResource,
                     spark: SparkResource) -> MaterializeResult:
    settings = lake.config.settings()
    outcome = forget(settings, Subject(config.user_id, config.anonymous_id), config.requested_by,
                     lambda days: rebuild_gold(spark.session(), settings, days))
    context.log.info(f"request {outcome.request_id}: removed {outcome.rows_removed}")
    return MaterializeResult(metadata={
        "request_id": outcome.request_id, "resumed": outcome.resumed,
        "ids_resolved": outcome.ids_resolved, "rows_removed": MetadataValue.json(outcome.rows_removed),
        "gold_rebuilt": MetadataValue.json(outcome.gold_rebuilt),
        "files_purged": MetadataValue.json(outcome.files_purged),
        "seconds": MetadataValue.json(outcome.seconds)})


@asset_check(asset=PRIVACY_REQUESTS, name="erasures_hold",
             description="For every completed request: no row of the person in any version "
                         "of bronze, quarantine, silver sessions or identities still readable.")
def erasures_hold(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    settings = lake.config.settings()
    salt = erased.subject_salt(settings)
    list_target = suppression.suppression_target(settings)
    failing = {}
    completed = audit.audit_trail(settings).completed()
    for request in completed:
        hashes = suppression.request_hashes(list_target, request["request_id"])
        found = {name: scan.rows for name, scan in
                 verify(settings, hashes | {request["subject_hash"]}, salt).items() if scan.rows}
        if found:
            failing[request["request_id"]] = found
    return AssetCheckResult(passed=not failing, metadata={
        "requests_checked": len(completed), "failures": len(failing),
        "rows_found": MetadataValue.json(failing)})


forget_job = define_asset_job(
    "forget_job", selection=[PRIVACY_REQUESTS],
    description="Erases one person (run config: ops.privacy_requests.config.user_id or "
                "anonymous_id, and requested_by) and verifies every completed erasure.")
