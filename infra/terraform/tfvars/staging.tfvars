# staging: prod's shape at a smaller size, with fixed shards so load tests are repeatable.
project     = "clickstream"
environment = "staging"

aws_region         = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b"]
vpc_cidr           = "10.41.0.0/16"

kinesis_stream_mode     = "PROVISIONED"
kinesis_shard_count     = 2
kinesis_retention_hours = 48

lambda_architecture         = "arm64"
lambda_memory_mb            = 512
lambda_timeout_seconds      = 10
lambda_reserved_concurrency = 50

api_throttle_rate_limit  = 200
api_throttle_burst_limit = 400
allowed_origins          = ["https://staging.shop.example.com"]

glue_worker_type        = "G.1X"
glue_number_of_workers  = 2
glue_maintenance_window = "Sun:3"
dedup_window            = "10 minutes"

model_build_worker_type         = "G.1X"
model_build_workers             = 2
model_build_max_concurrent_runs = 4

lake_ia_transition_days            = 30
lake_glacier_ir_transition_days    = 90
noncurrent_version_expiration_days = 14
athena_results_expiration_days     = 14
athena_bytes_scanned_cutoff        = 107374182400

iterator_age_alarm_ms = 120000
alarm_email           = ""
log_retention_days    = 365

force_destroy_buckets     = false
manage_catalog_encryption = true
kms_deletion_window_days  = 30

# Dagster on AWS: the UI from inside the VPC only (Client VPN or a host in the VPC; or SSM port
# forwarding to the webserver task); add a routed VPN's client range if there is one
dagster_enabled           = true
dagster_image_tag         = "0.1.0"
dagster_ui_allowed_cidrs  = ["10.41.0.0/16"]
dagster_run_cpu           = 1024
dagster_run_memory_mb     = 4096
dagster_db_instance_class = "db.t4g.micro"

# Releases: how CodeDeploy shifts the ingestion function's alias to a new version
lambda_deployment_config = "CodeDeployDefault.LambdaCanary10Percent5Minutes"

# Disaster recovery (docs/disaster-recovery.md): replicas in dr_region, the lake's data access audit
dr_replication_enabled = false
dr_region              = "eu-central-1"
audit_trail_enabled    = true
