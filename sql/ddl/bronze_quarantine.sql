-- Stream records that are not valid v1 events, with the raw record and the broken rules.
-- Athena reads a Delta table's columns and its partitions (quarantine_date) from the Delta log, so
-- none are declared here: a column the pipeline adds is queryable at once. Replace
-- ${lake_uri} with the lake's S3 location (the Terraform output lake_bucket, as s3://<bucket>).
CREATE EXTERNAL TABLE IF NOT EXISTS bronze_quarantine
LOCATION '${lake_uri}/bronze/quarantine'
TBLPROPERTIES ('table_type' = 'DELTA')
