"""The catalog asset on real Delta tables, and the AWS path (Glue + Athena) on stubbed clients.

Embedded: materializing `lakehouse_catalog` registers every table and view with columns and
lineage; a column the pipeline adds is queryable at once, a new table after the next catalog
run, with no manual step. AWS: Athena and Glue cannot run here, so their calls are checked
against botocore's Stubber, which validates every request against the service model.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import boto3
import pyarrow as pa
import pytest
from botocore.stub import Stubber
from dagster import AssetKey, DagsterInstance, materialize
from deltalake import write_deltalake

from clickstream_assets.constants import CATALOG
from clickstream_assets.defs.lakesql.assets import VIEW_KEYS, sql_catalog
from clickstream_assets.resources import SqlResource, build_resources
from streaming.lakesql.catalog import Catalog, Column, TableEntry, ViewEntry, load_catalog
from streaming.lakesql.engine import AthenaEngine, EmbeddedEngine
from streaming.lakesql.views import SqlError
from streaming.settings import load_settings
from tests.integration.test_sql_views import known_funnel, write_known_lake


@pytest.fixture
def settings(tmp_path):
    home = tmp_path / "home"
    return replace(load_settings(), mode="embedded", home=home, lake_uri=str(home / "lake"))


def materialized(result, key: AssetKey) -> dict:
    [event] = [m for m in result.asset_materializations_for_node("sql_catalog")
               if m.asset_key == key]
    return {k: v.value for k, v in event.metadata.items()}


def test_catalog_registers_tables_views_columns_and_lineage(settings):
    write_known_lake(settings.lake_uri)
    with DagsterInstance.ephemeral() as instance:
        result = materialize([sql_catalog], instance=instance, resources=build_resources(settings))
    assert result.success
    catalog_meta = materialized(result, CATALOG)
    assert (catalog_meta["tables"], catalog_meta["views"]) == (5, 7)
    assert catalog_meta["catalog"] == f"{settings.lake_uri}/_catalog/catalog.json"
    assert "- new table gold_funnel" in catalog_meta["changes"]

    stored = load_catalog(settings.lake_uri)
    sessions = stored.table("silver_sessions")
    by_name = {c.name: c for c in sessions.columns}
    assert by_name["session_start"].type == "timestamp"
    assert by_name["session_start"].lineage == ("bronze_events.event_time",)
    assert by_name["session_key"].description.startswith("hash of anonymous_id")
    assert sessions.partition_columns == ("session_date",)
    assert stored.table("bronze_events").columns[17] == Column(
        "element", "struct<id:string,text:string,selector:string>")
    funnel_view = next(v for v in stored.views if v.name == "shop_funnel")
    assert funnel_view.reads == ("gold_funnel",)
    columns = {c.name: c for c in funnel_view.columns}
    assert (columns["sessions"].type, columns["step"].type) == ("bigint", "string")
    assert columns["rate_from_previous"].lineage == (
        "gold_funnel.add_to_cart_rate", "gold_funnel.checkout_rate", "gold_funnel.purchase_rate")

    view_meta = materialized(result, VIEW_KEYS["daily_kpis"])
    schema = {c.name: c.type for c in view_meta["dagster/column_schema"].columns}
    assert schema["conversions"] == "bigint" and schema["event_date"] == "date"
    lineage = view_meta["dagster/column_lineage"].deps_by_column
    assert [(d.asset_key, d.column_name) for d in lineage["conversions"]] == [
        (AssetKey("silver_sessions"), "converted")]


def test_new_columns_show_at_once_and_new_tables_after_the_next_catalog_run(settings):
    write_known_lake(settings.lake_uri)
    resources = build_resources(settings)
    with DagsterInstance.ephemeral() as instance:
        assert materialize([sql_catalog], instance=instance, resources=resources).success

        wider = pa.Table.from_pylist([{**known_funnel()[1], "event_date": date(2026, 11, 22),
                                       "refunds": 2}])
        write_deltalake(f"{settings.lake_uri}/gold/funnel", wider, mode="append",
                        schema_mode="merge", partition_by=["event_date"])
        added = pa.table({"campaign": ["black-friday"], "budget": [1000.0]})
        write_deltalake(f"{settings.lake_uri}/gold/campaigns", added)

        with EmbeddedEngine.open(settings.lake_uri) as engine:
            refunds = engine.query("SELECT refunds FROM gold_funnel WHERE refunds IS NOT NULL")
            assert refunds.to_pylist() == [{"refunds": 2}]
            with pytest.raises(SqlError, match="no table or view named gold_campaigns"):
                engine.query("SELECT * FROM gold_campaigns")

        result = materialize([sql_catalog], instance=instance, resources=resources)
    changes = materialized(result, CATALOG)["changes"]
    assert changes.splitlines() == ["- new table gold_campaigns", "- new column gold_funnel.refunds"]
    with EmbeddedEngine.open(settings.lake_uri) as engine:
        assert engine.query("SELECT budget FROM gold_campaigns").to_pylist() == [{"budget": 1000.0}]


def athena_engine(athena, glue) -> AthenaEngine:
    return AthenaEngine(athena, glue, "clickstream_dev", "clickstream-dev", poll_seconds=0)


def expect_query(stub: Stubber, sql: str, execution_id: str, states: list[str],
                 statement_type: str = "DML", reason: str = "") -> None:
    stub.add_response("start_query_execution", {"QueryExecutionId": execution_id}, {
        "QueryString": sql, "QueryExecutionContext": {"Database": "clickstream_dev"},
        "WorkGroup": "clickstream-dev"})
    for state in states:
        status = {"State": state, **({"StateChangeReason": reason} if reason else {})}
        stub.add_response("get_query_execution", {"QueryExecution": {
            "QueryExecutionId": execution_id, "Status": status, "StatementType": statement_type}},
            {"QueryExecutionId": execution_id})


def test_athena_query_results_come_back_typed():
    athena = boto3.client("athena", region_name="us-east-1")
    sql = "SELECT event_date, sessions, conversion_rate, step, at FROM shop_funnel"
    with Stubber(athena) as stub:
        expect_query(stub, sql, "q-1", ["QUEUED", "RUNNING", "SUCCEEDED"])
        columns = [{"Name": "event_date", "Type": "date"}, {"Name": "sessions", "Type": "bigint"},
                   {"Name": "conversion_rate", "Type": "double"},
                   {"Name": "step", "Type": "varchar"},
                   {"Name": "at", "Type": "timestamp(3) with time zone"}]

        def row(*values):
            return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}

        stub.add_response("get_query_results", {
            "ResultSet": {"ResultSetMetadata": {"ColumnInfo": columns}, "Rows": [
                row("event_date", "sessions", "conversion_rate", "step", "at"),
                row("2026-11-20", "5", "0.2", "page_view", "2026-11-20 10:00:00.000 UTC")]},
            "NextToken": "page-2"}, {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_results", {
            "ResultSet": {"ResultSetMetadata": {"ColumnInfo": columns}, "Rows": [
                row("2026-11-21", "1", None, "purchase", None)]}},
            {"QueryExecutionId": "q-1", "NextToken": "page-2"})
        result = athena_engine(athena, None).query(sql)
    assert result.schema.field("sessions").type == pa.int64()
    assert result.to_pylist() == [
        {"event_date": date(2026, 11, 20), "sessions": 5, "conversion_rate": 0.2, "step": "page_view",
         "at": datetime(2026, 11, 20, 10, tzinfo=UTC)},
        {"event_date": date(2026, 11, 21), "sessions": 1, "conversion_rate": None, "step": "purchase",
         "at": None},
    ]


def test_athena_errors_are_messages_and_syntax_is_checked_before_any_call():
    athena = boto3.client("athena", region_name="us-east-1")
    with Stubber(athena) as stub:
        with pytest.raises(SqlError, match="syntax error at line 1"):
            athena_engine(athena, None).query("SELEC 1")
        expect_query(stub, "SELECT * FROM nope", "q-2", ["FAILED"],
                     reason="TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.clickstream_dev.nope' "
                            "does not exist")
        with pytest.raises(SqlError, match=r"^Athena: TABLE_NOT_FOUND: .* does not exist$"):
            athena_engine(athena, None).query("SELECT * FROM nope")
        stub.assert_no_pending_responses()


def test_publishing_to_glue_and_athena():
    athena = boto3.client("athena", region_name="us-east-1")
    glue = boto3.client("glue", region_name="us-east-1")
    new = TableEntry("gold_campaigns", "s3://lake/gold/campaigns",
                     (Column("campaign", "string", "the UTM campaign", ("silver_sessions.utm_campaign",)),))
    known = TableEntry("gold_funnel", "s3://lake/gold/funnel",
                       (Column("event_date", "date"), Column("refunds", "bigint")), ("event_date",))
    view_sql = "CREATE OR REPLACE VIEW shop_funnel AS SELECT event_date FROM gold_funnel"
    catalog = Catalog((new, known), (ViewEntry("shop_funnel", view_sql, "", ("gold_funnel",),
                                               (Column("event_date", "date"),)),))
    with Stubber(glue) as glue_stub, Stubber(athena) as athena_stub:
        glue_stub.add_client_error("get_table", "EntityNotFoundException",
                                   expected_params={"DatabaseName": "clickstream_dev",
                                                    "Name": "gold_campaigns"})
        glue_stub.add_response("create_table", {}, {"DatabaseName": "clickstream_dev", "TableInput": {
            "Name": "gold_campaigns", "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "DELTA", "EXTERNAL": "TRUE",
                           "spark.sql.sources.provider": "delta"},
            "StorageDescriptor": {"Location": "s3://lake/gold/campaigns", "Columns": [
                {"Name": "campaign", "Type": "string", "Comment": "the UTM campaign",
                 "Parameters": {"lineage": "silver_sessions.utm_campaign"}}]}}})
        glue_stub.add_response("get_table", {"Table": {"Name": "gold_funnel", "StorageDescriptor": {
            "Columns": [{"Name": "event_date", "Type": "date"}]}}},
            {"DatabaseName": "clickstream_dev", "Name": "gold_funnel"})
        glue_stub.add_response("update_table", {}, {"DatabaseName": "clickstream_dev", "TableInput": {
            "Name": "gold_funnel", "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "DELTA", "EXTERNAL": "TRUE",
                           "spark.sql.sources.provider": "delta"},
            "StorageDescriptor": {"Location": "s3://lake/gold/funnel", "Columns": [
                {"Name": "event_date", "Type": "date"}, {"Name": "refunds", "Type": "bigint"}]}}})
        glue_stub.add_client_error("get_table", "EntityNotFoundException",
                                   expected_params={"DatabaseName": "clickstream_dev",
                                                    "Name": "shop_funnel"})
        expect_query(athena_stub, view_sql, "q-3", ["SUCCEEDED"], statement_type="DDL")
        changes = athena_engine(athena, glue).publish(catalog)
        glue_stub.assert_no_pending_responses()
        athena_stub.assert_no_pending_responses()
    assert changes == ["new table gold_campaigns", "new column gold_funnel.refunds",
                       "new view shop_funnel"]


def test_the_sql_resource_runs_on_athena_in_aws_mode():
    aws = load_settings({"CLICKSTREAM_MODE": "aws", "CLICKSTREAM_GLUE_DATABASE": "clickstream_dev",
                         "CLICKSTREAM_ATHENA_WORKGROUP": "clickstream-dev",
                         "CLICKSTREAM_LAKE_URI": f"s3://lake-{uuid.uuid4().hex[:6]}",
                         "AWS_DEFAULT_REGION": "eu-west-1"})
    resource: SqlResource = build_resources(aws)["sql"]
    with resource.engine() as engine:
        assert isinstance(engine, AthenaEngine)
        assert (engine.database, engine.workgroup) == ("clickstream_dev", "clickstream-dev")
        assert engine.athena.meta.service_model.service_name == "athena"
