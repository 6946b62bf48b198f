"""Delta table maintenance on bronze: OPTIMIZE (compaction + Z-order) and VACUUM.

The stream job commits a few small files per micro-batch; compaction keeps reads fast and
VACUUM removes files no snapshot inside the retention window needs. Both are safe beside
the running stream: OPTIMIZE only rewrites files (dataChange=false) and Delta's conflict
checks let appends commit alongside it; VACUUM keeps everything younger than the retention
(default 7 days), far longer than any in-flight write.
"""

from dagster import AssetExecutionContext, AssetKey, Config, Failure, MaterializeResult, asset
from pyarrow import fs

from clickstream_assets.assets.ingestion import BRONZE, OWNER
from clickstream_assets.resources import LakeResource, SparkResource
from streaming.lake import open_table

ZORDER_COLUMN = "anonymous_id"
DEFAULT_RETENTION_HOURS = 7 * 24


def snapshot_files(uri: str) -> tuple[int, int]:
    """Files and bytes of the current snapshot (what a query reads)."""
    table = open_table(uri)
    if table is None:
        raise Failure(f"no Delta table at {uri} yet: nothing to maintain until the stream "
                      "job has written")
    actions = table.get_add_actions(flatten=True)
    sizes = actions.column("size_bytes").to_pylist()
    return len(sizes), sum(sizes)


def stored_files(uri: str) -> tuple[int, int]:
    """Data files and bytes on storage, including those only old snapshots reference."""
    filesystem, path = fs.FileSystem.from_uri(uri if "://" in uri else f"file://{uri}")
    infos = filesystem.get_file_info(fs.FileSelector(path, recursive=True))
    data = [i for i in infos if i.type == fs.FileType.File and i.base_name.endswith(".parquet")
            and "/_delta_log/" not in i.path]
    return len(data), sum(i.size for i in data)


class VacuumConfig(Config):
    retention_hours: float = DEFAULT_RETENTION_HOURS


@asset(
    deps=[BRONZE], group_name="maintenance", owners=[OWNER], kinds={"spark", "delta"},
    description=f"OPTIMIZE of bronze: compacts the stream's small files and Z-orders them by "
                f"{ZORDER_COLUMN} (per-visitor reads: sessionization, erasure requests). "
                "Records files and bytes before and after.",
)
def bronze_optimize(context: AssetExecutionContext, lake: LakeResource,
                    spark: SparkResource) -> MaterializeResult:
    uri = lake.bronze_uri
    files_before, bytes_before = snapshot_files(uri)
    result = spark.session().sql(f"OPTIMIZE delta.`{uri}` ZORDER BY ({ZORDER_COLUMN})").first()
    files_after, bytes_after = snapshot_files(uri)
    metrics = result["metrics"] if result else None
    context.log.info(f"OPTIMIZE {uri}: {files_before} -> {files_after} files")
    return MaterializeResult(metadata={
        "files_before": files_before, "files_after": files_after,
        "bytes_before": bytes_before, "bytes_after": bytes_after,
        "files_removed": metrics["numFilesRemoved"] if metrics else 0,
        "files_added": metrics["numFilesAdded"] if metrics else 0,
        "zorder_by": ZORDER_COLUMN})


@asset(
    deps=[AssetKey("bronze_optimize")], group_name="maintenance", owners=[OWNER],
    kinds={"spark", "delta"},
    description="VACUUM of bronze: deletes data files no snapshot within the retention needs "
                "(default 7 days, configurable). Records files and bytes on storage before "
                "and after.",
)
def bronze_vacuum(context: AssetExecutionContext, config: VacuumConfig, lake: LakeResource,
                  spark: SparkResource) -> MaterializeResult:
    uri = lake.bronze_uri
    session = spark.session()
    below_default = config.retention_hours < DEFAULT_RETENTION_HOURS
    session.conf.set("spark.databricks.delta.retentionDurationCheck.enabled",
                     str(not below_default).lower())
    files_before, bytes_before = stored_files(uri)
    session.sql(f"VACUUM delta.`{uri}` RETAIN {config.retention_hours} HOURS").collect()
    files_after, bytes_after = stored_files(uri)
    context.log.info(f"VACUUM {uri}: {files_before} -> {files_after} files on storage")
    return MaterializeResult(metadata={
        "files_before": files_before, "files_after": files_after,
        "bytes_before": bytes_before, "bytes_after": bytes_after,
        "retention_hours": config.retention_hours})
