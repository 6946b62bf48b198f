-- Every valid click event exactly once, partitioned by event_date (UTC).
-- Athena reads a Delta table's columns and its partitions (event_date) from the Delta log, so
-- none are declared here: a column the pipeline adds is queryable at once. Replace
-- ${lake_uri} with the lake's S3 location (the Terraform output lake_bucket, as s3://<bucket>).
CREATE EXTERNAL TABLE IF NOT EXISTS bronze_events
LOCATION '${lake_uri}/bronze/events'
TBLPROPERTIES ('table_type' = 'DELTA')
