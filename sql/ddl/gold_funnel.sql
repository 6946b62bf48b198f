-- The shop funnel per day: visits per step, step and overall conversion, revenue.
-- Athena reads a Delta table's columns and its partitions (event_date) from the Delta log, so
-- none are declared here: a column the pipeline adds is queryable at once. Replace
-- ${lake_uri} with the lake's S3 location (the Terraform output lake_bucket, as s3://<bucket>).
CREATE EXTERNAL TABLE IF NOT EXISTS gold_funnel
LOCATION '${lake_uri}/gold/funnel'
TBLPROPERTIES ('table_type' = 'DELTA')
