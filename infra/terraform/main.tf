# The clickstream lakehouse on AWS: browser tracker -> HTTP API -> Lambda (streaming.ingest.handler)
# -> Kinesis -> Glue 6.0 streaming job (streaming/stream/job.py) -> Delta tables on S3 -> Glue Data
# Catalog -> Athena, with alarms, a dashboard, a private VPC and customer-managed KMS keys.
# The Lambda and Glue artifacts come from `python infra/package_artifacts.py` (see infra/README.md).

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

# The disaster-recovery region (dr_region): the replicas of the lake and scripts buckets and
# their key (modules/dr). Configured in every environment, used only with replication on.
provider "aws" {
  alias  = "replica"
  region = var.dr_region
  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name        = "${var.project}-${var.environment}"
  lambda_name = "${local.name}-ingest"
  # The alias behind the API; CodeDeploy moves it between published versions (modules/canary).
  lambda_alias = "live"
  glue_job     = "${local.name}-stream-job"
  # Silver and gold days, one Glue run each, launched by Dagster through Pipes; Pipes' context
  # and messages live under pipes_prefix in the scripts bucket. A day of sessions takes
  # minutes; a run still going after two hours is stuck, not slow.
  model_job                   = "${local.name}-model-builds"
  pipes_prefix                = "pipes"
  model_build_timeout_minutes = 120
  # Pipes' context objects are deleted after each run, its messages (pipes/messages/) never:
  # kept two weeks for a look at a failed run, then expired.
  pipes_message_expiration_days = 14
  # The handler's route table (streaming/ingest/handler.py): events.py's EVENTS_PATH and the
  # Segment tracking API's paths (segment.py's PATHS, which tests/unit/test_terraform.py holds
  # this list to); the API routes exactly these to the function, and the events_url output
  # uses events_path.
  events_path = "/v1/events"
  segment_paths = [
    "/v1/track", "/v1/page", "/v1/screen", "/v1/identify", "/v1/group", "/v1/alias", "/v1/batch",
    "/v1/t", "/v1/p", "/v1/s", "/v1/i", "/v1/g", "/v1/a", "/v1/b",
  ]
  repo_root = "${path.root}/../.."
  build_dir = "${path.root}/.build"
  lambda_log_group_arn = join(":", [
    "arn", data.aws_partition.current.partition, "logs", var.aws_region,
    data.aws_caller_identity.current.account_id, "log-group", "/aws/lambda/${local.lambda_name}",
  ])
  # The bronze tables the stream job writes (streaming/settings.py: bronze_uri, quarantine_uri);
  # silver and gold tables join this map as their Dagster assets land.
  delta_tables = {
    bronze_events     = "bronze/events"
    bronze_quarantine = "bronze/quarantine"
  }
  dagster_endpoints = ["ecr.api", "ecr.dkr", "ecs", "athena", "ssmmessages"]
  # The settings of AWS mode (streaming/settings.py) the Dagster code location and its runs
  # read: the same stack the Glue job writes.
  dagster_settings = {
    AWS_REGION                   = var.aws_region
    CLICKSTREAM_MODE             = "aws"
    CLICKSTREAM_HOME             = "/tmp/clickstream"
    CLICKSTREAM_LAKE_URI         = "s3://${module.storage.bucket_names["lake"]}"
    CLICKSTREAM_CHECKPOINT_URI   = "s3://${module.storage.bucket_names["checkpoints"]}"
    CLICKSTREAM_STREAM_NAME      = module.kinesis.name
    CLICKSTREAM_GLUE_JOB_NAME    = module.glue_job.job_name
    CLICKSTREAM_MODEL_JOB_NAME   = module.glue_job.models_job_name
    CLICKSTREAM_PIPES_URI        = "s3://${module.storage.bucket_names["scripts"]}/${local.pipes_prefix}"
    CLICKSTREAM_GLUE_DATABASE    = module.catalog.database_name
    CLICKSTREAM_ATHENA_WORKGROUP = module.athena.workgroup_name
    # forget and export-subject hash ids with it (the secret's ARN, not the salt)
    CLICKSTREAM_SUBJECT_HASH_SALT_SECRET = aws_secretsmanager_secret.subject_hash_salt.arn
  }
}

module "kms" {
  source               = "./modules/kms"
  name                 = local.name
  deletion_window_days = var.kms_deletion_window_days
}

module "network" {
  source             = "./modules/network"
  name               = local.name
  cidr               = var.vpc_cidr
  availability_zones = var.availability_zones
  log_retention_days = var.log_retention_days
  logs_key_arn       = module.kms.observability_key_arn
  # What Dagster's tasks call with no internet path: ECR (image), ECS (the daemon's RunTask),
  # Athena (checks and reports) and SSM's session channels (ECS Exec, the way to the UI).
  extra_interface_services = var.dagster_enabled ? local.dagster_endpoints : []
}

module "storage" {
  source                             = "./modules/storage"
  name                               = local.name
  data_key_arn                       = module.kms.data_key_arn
  force_destroy                      = var.force_destroy_buckets
  lake_ia_transition_days            = var.lake_ia_transition_days
  lake_glacier_ir_transition_days    = var.lake_glacier_ir_transition_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  athena_results_expiration_days     = var.athena_results_expiration_days
  access_log_expiration_days         = var.log_retention_days
  expiring_prefixes                  = { scripts = { "${local.pipes_prefix}/messages/" = local.pipes_message_expiration_days } }
  log_source_bucket_arns             = [for trail in module.audit : "arn:${data.aws_partition.current.partition}:s3:::${trail.trail_bucket}"]
}

module "kinesis" {
  source          = "./modules/kinesis"
  name            = "${local.name}-events"
  stream_mode     = var.kinesis_stream_mode
  shard_count     = var.kinesis_shard_count
  retention_hours = var.kinesis_retention_hours
  data_key_arn    = module.kms.data_key_arn
}

module "catalog" {
  source                    = "./modules/catalog"
  database_name             = replace(local.name, "-", "_")
  lake_bucket               = module.storage.bucket_names["lake"]
  delta_tables              = local.delta_tables
  manage_catalog_encryption = var.manage_catalog_encryption
  data_key_arn              = module.kms.data_key_arn
}

module "iam" {
  source               = "./modules/iam"
  name                 = local.name
  stream_arn           = module.kinesis.arn
  data_key_arn         = module.kms.data_key_arn
  bucket_arns          = module.storage.bucket_arns
  lambda_log_group_arn = local.lambda_log_group_arn
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.lambda.security_group_id, module.glue_job.security_group_id]
  glue_database_name   = module.catalog.database_name
  glue_connection_name = "${local.glue_job}-network"
  pipes_prefix         = local.pipes_prefix
  # GetSecretValue on this one secret only (streaming/ingest/auth.py reads it once per container).
  write_keys_secret_arn = aws_secretsmanager_secret.write_keys.arn
  # GetSecretValue on the salt of erased people's hashes, for the stream job and the handler.
  subject_hash_salt_secret_arn = aws_secretsmanager_secret.subject_hash_salt.arn
}

# The salt of ip_hash. Secrets Manager keeps the value of record (an operator can read it to
# hash a known address during an abuse investigation); the Lambda gets it through its
# KMS-encrypted environment, since streaming/settings.py reads CLICKSTREAM_IP_HASH_SALT.
# Secrets Manager generates it (GetRandomPassword): the aws provider is the only one the
# deployment needs. A data source is read anew on every plan, so the version ignores later
# values and keeps the first; everything reads the salt from the version, never the data source.
data "aws_secretsmanager_random_password" "ip_hash_salt" {
  password_length     = 48
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret" "ip_hash_salt" {
  #checkov:skip=CKV2_AWS_57:A new salt changes every ip_hash from then on; rotation is a deliberate `terraform apply -replace=aws_secretsmanager_secret_version.ip_hash_salt`, not a schedule.
  name        = "${local.name}/ip-hash-salt"
  description = "Salt of ip_hash in clickstream events (CLICKSTREAM_IP_HASH_SALT)"
  kms_key_id  = module.kms.data_key_arn
}

resource "aws_secretsmanager_secret_version" "ip_hash_salt" {
  secret_id     = aws_secretsmanager_secret.ip_hash_salt.id
  secret_string = data.aws_secretsmanager_random_password.ip_hash_salt.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# The sites' write keys (streaming/ingest/auth.py): a JSON object {"site": "key"} or
# {"site": ["key", "next-key"]}. Terraform creates the secret only, never a value: the operator
# puts the first value (infra/README.md, "Write keys"), so keys stay out of tfvars, plans and
# Terraform state, and rotating them needs no apply. Until a value exists the Lambda refuses to
# start (GetSecretValue finds no AWSCURRENT version), so the API answers 5xx: fail closed.
# The salt of the erased people's hashes (the suppression list and the audit trail,
# streaming/lake/suppression.py): the stream job and Dagster's runs read it from here at first
# use (CLICKSTREAM_SUBJECT_HASH_SALT_SECRET), so it sits in no job argument or task definition.
# Never rotated: a new salt would let every erased person's events through again.
data "aws_secretsmanager_random_password" "subject_hash_salt" {
  password_length     = 48
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret" "subject_hash_salt" {
  #checkov:skip=CKV2_AWS_57:A new salt would forget every erasure (the suppression list holds hashes under this salt); it is never rotated.
  name        = "${local.name}/subject-hash-salt"
  description = "Salt of the erased people's id hashes (CLICKSTREAM_SUBJECT_HASH_SALT_SECRET)"
  kms_key_id  = module.kms.data_key_arn
}

resource "aws_secretsmanager_secret_version" "subject_hash_salt" {
  secret_id     = aws_secretsmanager_secret.subject_hash_salt.id
  secret_string = data.aws_secretsmanager_random_password.subject_hash_salt.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "write_keys" {
  #checkov:skip=CKV2_AWS_57:Write keys are rotated by the operator adding the new key next to the old one, republishing the pages, then removing the old key; a rotation Lambda cannot update the pages that embed the key.
  name        = "${local.name}/write-keys"
  description = "Write keys of the sites that may send events: JSON {\"site\": \"key\"} or {\"site\": [\"key\", \"next-key\"]} (CLICKSTREAM_WRITE_KEYS_SECRET)"
  kms_key_id  = module.kms.data_key_arn
}

module "lambda" {
  source               = "./modules/lambda"
  function_name        = local.lambda_name
  role_arn             = module.iam.lambda_role_arn
  alias_name           = local.lambda_alias
  zip_path             = "${local.build_dir}/lambda-${var.lambda_architecture}.zip"
  architecture         = var.lambda_architecture
  memory_mb            = var.lambda_memory_mb
  timeout_seconds      = var.lambda_timeout_seconds
  reserved_concurrency = var.lambda_reserved_concurrency
  subnet_ids           = module.network.private_subnet_ids
  vpc_id               = module.network.vpc_id
  vpc_cidr             = module.network.cidr
  data_key_arn         = module.kms.data_key_arn
  logs_key_arn         = module.kms.observability_key_arn
  log_retention_days   = var.log_retention_days
  # No CLICKSTREAM_RATE_LIMIT_*: that limiter is the local gateway's; on AWS the API stage
  # throttles (api_throttle_rate_limit, api_throttle_burst_limit).
  environment = {
    CLICKSTREAM_MODE              = "aws"
    CLICKSTREAM_STREAM_NAME       = module.kinesis.name
    CLICKSTREAM_IP_HASH_SALT      = aws_secretsmanager_secret_version.ip_hash_salt.secret_string
    CLICKSTREAM_WRITE_KEYS_SECRET = aws_secretsmanager_secret.write_keys.arn
    CLICKSTREAM_ALLOWED_ORIGINS   = join(",", var.allowed_origins)
    # Where the list of erased people is published (streaming/erased.py), and its salt.
    CLICKSTREAM_LAKE_URI                 = "s3://${module.storage.bucket_names["lake"]}"
    CLICKSTREAM_SUBJECT_HASH_SALT_SECRET = aws_secretsmanager_secret.subject_hash_salt.arn
  }
}

module "api" {
  source               = "./modules/api"
  name                 = local.name
  paths                = concat([local.events_path], local.segment_paths)
  lambda_function_name = module.lambda.function_name
  lambda_invoke_arn    = module.lambda.invoke_arn
  lambda_alias_name    = module.lambda.alias_name
  throttle_rate_limit  = var.api_throttle_rate_limit
  throttle_burst_limit = var.api_throttle_burst_limit
  # The same list as the handler's CLICKSTREAM_ALLOWED_ORIGINS: API Gateway answers preflights
  # and sets the CORS headers, the handler refuses a POST from any other origin (403).
  cors_allowed_origins = var.allowed_origins
  logs_key_arn         = module.kms.observability_key_arn
  log_retention_days   = var.log_retention_days
}

module "glue_job" {
  source                     = "./modules/glue_job"
  name                       = local.glue_job
  connection_name            = "${local.glue_job}-network"
  role_arn                   = module.iam.glue_role_arn
  script_path                = "${local.repo_root}/streaming/stream/job.py"
  package_zip_path           = "${local.build_dir}/streaming-glue.zip"
  wheels_dir                 = "${local.build_dir}/glue-wheels"
  scripts_bucket             = module.storage.bucket_names["scripts"]
  worker_type                = var.glue_worker_type
  number_of_workers          = var.glue_number_of_workers
  maintenance_window         = var.glue_maintenance_window
  subnet_id                  = module.network.glue_subnet_id
  availability_zone          = module.network.glue_availability_zone
  vpc_id                     = module.network.vpc_id
  vpc_cidr                   = module.network.cidr
  s3_prefix_list_id          = module.network.s3_prefix_list_id
  data_key_arn               = module.kms.data_key_arn
  logs_key_arn               = module.kms.observability_key_arn
  models_name                = local.model_job
  models_role_arn            = module.iam.glue_models_role_arn
  models_script_path         = "${local.repo_root}/streaming/lake/build_job.py"
  models_worker_type         = var.model_build_worker_type
  models_number_of_workers   = var.model_build_workers
  models_max_concurrent_runs = var.model_build_max_concurrent_runs
  models_timeout_minutes     = local.model_build_timeout_minutes
  # The lake it reads and writes; the table and the day come with each run.
  models_settings = {
    AWS_REGION           = var.aws_region
    CLICKSTREAM_MODE     = "aws"
    CLICKSTREAM_HOME     = "/tmp/clickstream"
    CLICKSTREAM_LAKE_URI = "s3://${module.storage.bucket_names["lake"]}"
  }
  # The job reads these like environment variables (streaming/settings.py). AWS_REGION: the
  # job's region is the stack's, whatever Glue's environment holds (AWS mode has no default
  # region). No salt: the job never hashes addresses. No CLICKSTREAM_KINESIS_ENDPOINT: unset
  # means the regional endpoint, which private DNS resolves to the VPC's Kinesis endpoint.
  job_settings = {
    AWS_REGION                 = var.aws_region
    CLICKSTREAM_MODE           = "aws"
    CLICKSTREAM_HOME           = "/tmp/clickstream"
    CLICKSTREAM_LAKE_URI       = "s3://${module.storage.bucket_names["lake"]}"
    CLICKSTREAM_CHECKPOINT_URI = "s3://${module.storage.bucket_names["checkpoints"]}"
    CLICKSTREAM_STREAM_NAME    = module.kinesis.name
    CLICKSTREAM_DEDUP_WINDOW   = var.dedup_window
    # The suppression list's salt, read from Secrets Manager by the job (the ARN, not the salt)
    CLICKSTREAM_SUBJECT_HASH_SALT_SECRET = aws_secretsmanager_secret.subject_hash_salt.arn
  }
}

module "athena" {
  source               = "./modules/athena"
  name                 = local.name
  results_bucket       = module.storage.bucket_names["athena"]
  bytes_scanned_cutoff = var.athena_bytes_scanned_cutoff
  data_key_arn         = module.kms.data_key_arn
}

module "monitoring" {
  source                    = "./modules/monitoring"
  name                      = local.name
  stream_name               = module.kinesis.name
  lambda_function_name      = module.lambda.function_name
  api_id                    = module.api.api_id
  api_stage                 = module.api.stage_name
  glue_job_name             = module.glue_job.job_name
  iterator_age_threshold_ms = var.iterator_age_alarm_ms
  alarm_email               = var.alarm_email
  logs_key_arn              = module.kms.observability_key_arn
}

# Releases of the ingestion function: CodeDeploy shifts the alias to each new version in steps
# (lambda_deployment_config) and rolls back when the function's error or throttle alarm fires.
module "canary" {
  source            = "./modules/canary"
  name              = local.lambda_name
  function_arn      = module.lambda.arn
  alias_name        = module.lambda.alias_name
  alarms            = module.monitoring.lambda_alarms
  deployment_config = var.lambda_deployment_config
}

# Disaster recovery (docs/disaster-recovery.md): the lake and the job's code replicated to
# dr_region under a key of that region, where dr_replication_enabled.
module "dr" {
  source = "./modules/dr"
  count  = var.dr_replication_enabled ? 1 : 0
  providers = {
    aws         = aws
    aws.replica = aws.replica
  }
  name           = local.name
  replica_region = var.dr_region
  source_buckets = {
    for role in ["lake", "scripts"] :
    role => { name = module.storage.bucket_names[role], arn = module.storage.bucket_arns[role] }
  }
  source_key_arn                     = module.kms.data_key_arn
  kms_deletion_window_days           = var.kms_deletion_window_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  force_destroy                      = var.force_destroy_buckets
  # S3 accepts a replication rule only on a versioned source bucket.
  depends_on = [module.storage]
}

# The audit of data access: every read, write and delete of a lake object, in a trail.
module "audit" {
  source                             = "./modules/audit"
  count                              = var.audit_trail_enabled ? 1 : 0
  name                               = local.name
  lake_bucket_arn                    = module.storage.bucket_arns["lake"]
  logs_key_arn                       = module.kms.observability_key_arn
  access_log_bucket                  = module.storage.access_log_bucket_name
  retention_days                     = var.log_retention_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  force_destroy                      = var.force_destroy_buckets
}

# Dagster itself (issue 20): webserver, daemon and code location on ECS Fargate, a task per run,
# storage on RDS PostgreSQL, the UI on an internal load balancer only (infra/README.md, "Dagster
# on AWS"). Off (dagster_enabled = false) where Dagster runs elsewhere.
module "dagster" {
  source                = "./modules/dagster"
  count                 = var.dagster_enabled ? 1 : 0
  name                  = local.name
  vpc_id                = module.network.vpc_id
  vpc_cidr              = module.network.cidr
  subnet_ids            = module.network.private_subnet_ids
  s3_prefix_list_id     = module.network.s3_prefix_list_id
  ui_allowed_cidrs      = var.dagster_ui_allowed_cidrs
  image_tag             = var.dagster_image_tag
  run_cpu               = var.dagster_run_cpu
  run_memory_mb         = var.dagster_run_memory_mb
  db_instance_class     = var.dagster_db_instance_class
  data_key_arn          = module.kms.data_key_arn
  logs_key_arn          = module.kms.observability_key_arn
  log_retention_days    = var.log_retention_days
  settings              = local.dagster_settings
  stream_arn            = module.kinesis.arn
  glue_job_name         = module.glue_job.job_name
  model_job_name        = module.glue_job.models_job_name
  pipes_prefix          = local.pipes_prefix
  glue_database_name    = module.catalog.database_name
  athena_workgroup_name = module.athena.workgroup_name
  bucket_arns           = module.storage.bucket_arns
  compute_logs_bucket   = module.storage.bucket_names["scripts"]
  # GetSecretValue on the salt of erased people's hashes, for the runs (forget, export-subject).
  subject_hash_salt_secret_arn = aws_secretsmanager_secret.subject_hash_salt.arn
}
