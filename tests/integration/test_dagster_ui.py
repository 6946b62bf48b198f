"""`dagster dev` on workspace.yaml, read over its GraphQL API as the UI reads it."""

import httpx
import psycopg2
import pytest

from streaming.local.dagster_ui import start_dagster
from streaming.local.stack import LocalStack, stop_process
from streaming.tools.common import free_port
from tests.conftest import isolated_settings

pytestmark = pytest.mark.slow

QUERY = """
{ assetNodes { assetKey { path } groupName description kinds
    owners { ... on TeamAssetOwner { team } }
    dependencyKeys { path } } }
"""


def test_dagster_dev_serves_the_graph_from_stream_to_gold(tmp_path, postgres):
    """With its storage on PostgreSQL (CLICKSTREAM_DAGSTER_POSTGRES_URL), as deployed."""
    url = postgres.create_database("dagster_dev")
    stack = LocalStack(isolated_settings(tmp_path, dagster_postgres_url=url))
    port = free_port()
    process = start_dagster(stack, port=port)
    try:
        response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY},
                              timeout=120)
    finally:
        stop_process(process)
    assert process.poll() is not None
    nodes = {"/".join(n["assetKey"]["path"]): n for n in response.json()["data"]["assetNodes"]}
    assert {"kinesis_stream", "bronze_events", "bronze_quarantine", "silver_sessions",
            "gold_page_kpis", "gold_funnel", "bronze_optimize", "bronze_vacuum"} <= set(nodes)
    deps = {key: {"/".join(d["path"]) for d in node["dependencyKeys"]}
            for key, node in nodes.items()}
    assert deps["bronze_events"] == {"kinesis_stream"}
    assert deps["silver_sessions"] == {"bronze_events", "silver_identities"}
    assert deps["gold_funnel"] == {"silver_sessions"}
    assert nodes["gold_funnel"]["groupName"] == "gold"
    assert nodes["bronze_events"]["owners"] == [{"team": "clickstream"}]
    assert set(nodes["bronze_events"]["kinds"]) == {"spark", "delta"}
    with psycopg2.connect(url.replace("+psycopg2", "")) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'")
        assert cursor.fetchone() == (1,), "dagster dev keeps its runs in PostgreSQL"
