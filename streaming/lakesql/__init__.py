"""SQL over the lakehouse: the BI views and DDL under `sql/`, the catalog, and two engines.

The views are written once in Athena's dialect (Trino). In AWS mode Athena runs them over
the Delta tables in the Glue Data Catalog; in embedded mode DuckDB runs the same text,
translated by sqlglot, over the same Delta tables read as Arrow datasets by delta-rs.
"""
