# prod: capacity follows traffic, a week of stream retention to recover a stopped job, data
# kept (no force destroy), the longest key deletion window.
project     = "clickstream"
environment = "prod"

aws_region         = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
vpc_cidr           = "10.42.0.0/16"

kinesis_stream_mode     = "ON_DEMAND"
kinesis_shard_count     = 4
kinesis_retention_hours = 168

lambda_architecture         = "arm64"
lambda_memory_mb            = 1024
lambda_timeout_seconds      = 10
lambda_reserved_concurrency = 200

api_throttle_rate_limit  = 2000
api_throttle_burst_limit = 4000
allowed_origins          = ["https://shop.example.com"]

glue_worker_type        = "G.2X"
glue_number_of_workers  = 3
glue_maintenance_window = "Sun:3"
dedup_window            = "10 minutes"

model_build_worker_type         = "G.1X"
model_build_workers             = 4
model_build_max_concurrent_runs = 8

lake_ia_transition_days            = 60
lake_glacier_ir_transition_days    = 180
noncurrent_version_expiration_days = 30
athena_results_expiration_days     = 30
athena_bytes_scanned_cutoff        = 1099511627776

iterator_age_alarm_ms = 60000
alarm_email           = ""
log_retention_days    = 731

force_destroy_buckets     = false
manage_catalog_encryption = true
kms_deletion_window_days  = 30

# Dagster on AWS: the UI from inside the VPC only (Client VPN or a host in the VPC; or SSM port
# forwarding to the webserver task); add a routed VPN's client range if there is one
dagster_enabled           = true
dagster_image_tag         = "0.1.0"
dagster_ui_allowed_cidrs  = ["10.42.0.0/16"]
dagster_run_cpu           = 2048
dagster_run_memory_mb     = 8192
dagster_db_instance_class = "db.t4g.small"

# Releases: how CodeDeploy shifts the ingestion function's alias to a new version
lambda_deployment_config = "CodeDeployDefault.LambdaCanary10Percent5Minutes"

# Disaster recovery (docs/disaster-recovery.md): replicas in dr_region, the lake's data access audit
dr_replication_enabled = true
dr_region              = "eu-central-1"
audit_trail_enabled    = true
