output "aws_region" {
  description = "Region of the stack (aws_region), for the release's scripts that read the outputs."
  value       = var.aws_region
}

output "api_url" {
  description = "Base URL of the HTTP API."
  value       = module.api.endpoint
}

output "events_url" {
  description = "URL the tracker posts events to; with ?writeKey=<a site's key> appended it is the value for __CLICKSTREAM_API_URL__ in website/index.template.html."
  value       = "${module.api.endpoint}${local.events_path}"
}

output "stream_name" {
  description = "Name of the Kinesis stream (CLICKSTREAM_STREAM_NAME)."
  value       = module.kinesis.name
}

output "stream_retention_hours" {
  description = "Hours the stream keeps records (kinesis_retention_hours): how long the job may be down, or a bad job version rolled back, before events are lost."
  value       = module.kinesis.retention_hours
}

output "lake_bucket" {
  description = "Bucket of the Delta tables (CLICKSTREAM_LAKE_URI is s3://<lake_bucket>)."
  value       = module.storage.bucket_names["lake"]
}

output "checkpoint_bucket" {
  description = "Bucket of the stream job's checkpoints (CLICKSTREAM_CHECKPOINT_URI)."
  value       = module.storage.bucket_names["checkpoints"]
}

output "scripts_bucket" {
  description = "Bucket of the Glue job script and package."
  value       = module.storage.bucket_names["scripts"]
}

output "athena_results_bucket" {
  description = "Bucket of Athena query results."
  value       = module.storage.bucket_names["athena"]
}

output "glue_job_name" {
  description = "Name of the Glue streaming job (start it with aws glue start-job-run)."
  value       = module.glue_job.job_name
}

output "model_job_name" {
  description = "Name of the model-build Glue job (silver and gold days, run by Dagster through Pipes: CLICKSTREAM_MODEL_JOB_NAME)."
  value       = module.glue_job.models_job_name
}

output "access_log_bucket" {
  description = "Bucket of the data buckets' S3 server access logs."
  value       = module.storage.access_log_bucket_name
}

output "glue_database" {
  description = "Glue Data Catalog database of the Delta tables."
  value       = module.catalog.database_name
}

output "glue_tables" {
  description = "Delta tables registered in the Glue database."
  value       = module.catalog.table_names
}

output "athena_workgroup" {
  description = "Athena workgroup to query the lake with."
  value       = module.athena.workgroup_name
}

output "lambda_function_name" {
  description = "Name of the ingestion Lambda."
  value       = module.lambda.function_name
}

output "alarm_topic_arn" {
  description = "SNS topic of all alarms; subscribe more endpoints to it."
  value       = module.monitoring.alarm_topic_arn
}

output "alarm_names" {
  description = "CloudWatch alarms of the pipeline."
  value       = module.monitoring.alarm_names
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = module.monitoring.dashboard_name
}

output "ip_hash_salt_secret_arn" {
  description = "Secrets Manager secret holding the ip_hash salt."
  value       = aws_secretsmanager_secret.ip_hash_salt.arn
}

output "subject_hash_salt_secret_arn" {
  description = "Secrets Manager secret holding the salt of erased people's id hashes (the suppression list and the audit trail)."
  value       = aws_secretsmanager_secret.subject_hash_salt.arn
}

output "write_keys_secret_arn" {
  description = "Secrets Manager secret of the sites' write keys (CLICKSTREAM_WRITE_KEYS_SECRET); the operator puts its value."
  value       = aws_secretsmanager_secret.write_keys.arn
}

output "dagster_ecr_repository_url" {
  description = "ECR repository of the Dagster image (infra/dagster/Dockerfile), pushed as <url>:<dagster_image_tag>; null with dagster_enabled = false."
  value       = try(module.dagster[0].ecr_repository_url, null)
}

output "dagster_ui_url" {
  description = "The Dagster UI on the internal load balancer, reachable only from dagster_ui_allowed_cidrs (a VPN or an SSM port forwarding session); null with dagster_enabled = false."
  value       = try(module.dagster[0].ui_url, null)
}

output "dagster_cluster_name" {
  description = "ECS cluster of the Dagster services and runs; null with dagster_enabled = false."
  value       = try(module.dagster[0].cluster_name, null)
}

output "lambda_alias_name" {
  description = "Alias of the ingestion function that the API invokes and CodeDeploy shifts."
  value       = module.lambda.alias_name
}

output "lambda_version" {
  description = "The ingestion function's latest published version: what infra/deploy_lambda.py shifts the alias to."
  value       = module.lambda.version
}

output "codedeploy_app_name" {
  description = "CodeDeploy application of the ingestion function."
  value       = module.canary.app_name
}

output "codedeploy_deployment_group" {
  description = "CodeDeploy deployment group that shifts the alias (canary, rollback on alarm)."
  value       = module.canary.deployment_group_name
}

output "replica_buckets" {
  description = "Replicas of the lake and scripts buckets in dr_region by role; {} with dr_replication_enabled = false."
  value       = try(module.dr[0].replica_buckets, {})
}

output "replica_key_arn" {
  description = "KMS key of the replicas in dr_region; null with dr_replication_enabled = false."
  value       = try(module.dr[0].replica_key_arn, null)
}

output "audit_trail_arn" {
  description = "CloudTrail trail of the lake's S3 data events; null with audit_trail_enabled = false."
  value       = try(module.audit[0].trail_arn, null)
}

output "audit_trail_bucket" {
  description = "Bucket of the trail's log files; null with audit_trail_enabled = false."
  value       = try(module.audit[0].trail_bucket, null)
}
