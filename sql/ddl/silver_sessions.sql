-- One row per visit, partitioned by session_date.
-- Athena reads a Delta table's columns and its partitions (session_date) from the Delta log, so
-- none are declared here: a column the pipeline adds is queryable at once. Replace
-- ${lake_uri} with the lake's S3 location (the Terraform output lake_bucket, as s3://<bucket>).
CREATE EXTERNAL TABLE IF NOT EXISTS silver_sessions
LOCATION '${lake_uri}/silver/sessions'
TBLPROPERTIES ('table_type' = 'DELTA')
