# Every variable is set in each of tfvars/dev.tfvars, staging.tfvars and prod.tfvars (the tests
# check both directions), so an environment's whole configuration is readable in one file.

variable "project" {
  description = "Name prefix of every resource; lower case, at most 12 characters (bucket names)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.project))
    error_message = "project: 2-12 characters, lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment: dev, staging or prod."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "aws_region" {
  description = "AWS region of the whole stack, e.g. eu-west-1."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones (of aws_region) with a private subnet; at least two."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "Use at least two availability zones."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC, e.g. 10.40.0.0/16; subnets are /20s of a /16."
  type        = string
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a CIDR block."
  }
}

variable "kinesis_stream_mode" {
  description = "ON_DEMAND (capacity follows traffic) or PROVISIONED (kinesis_shard_count shards)."
  type        = string
  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.kinesis_stream_mode)
    error_message = "kinesis_stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "kinesis_shard_count" {
  description = "Shards of a PROVISIONED stream (1 MB/s or 1,000 records/s of writes each)."
  type        = number
  validation {
    condition     = var.kinesis_shard_count >= 1
    error_message = "kinesis_shard_count must be at least 1."
  }
}

variable "kinesis_retention_hours" {
  description = "Hours records stay in the stream (24-8760): how long the job may be down without loss."
  type        = number
  validation {
    condition     = var.kinesis_retention_hours >= 24 && var.kinesis_retention_hours <= 8760
    error_message = "kinesis_retention_hours must be between 24 and 8760."
  }
}

variable "lambda_architecture" {
  description = "CPU architecture of the ingestion Lambda: arm64 or x86_64 (the package is built to match)."
  type        = string
  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of the ingestion Lambda in MB; CPU share grows with it."
  type        = number
}

variable "lambda_timeout_seconds" {
  description = "Longest an ingestion request may run (API Gateway gives up at 29 s)."
  type        = number
  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 29
    error_message = "lambda_timeout_seconds must be between 1 and 29."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Concurrent executions reserved for, and the cap of, the ingestion Lambda."
  type        = number
}

variable "api_throttle_rate_limit" {
  description = "Requests per second the HTTP API accepts before answering 429."
  type        = number
}

variable "api_throttle_burst_limit" {
  description = "Requests the HTTP API accepts in a burst above the rate."
  type        = number
}

variable "allowed_origins" {
  description = "Exact origins (scheme://host[:port], lower case) whose pages may post events: the API's CORS origins and the handler's CLICKSTREAM_ALLOWED_ORIGINS; [] admits no browser."
  type        = list(string)
  # No wildcards: API Gateway cannot express the handler's host:* form, and "*" is refused by
  # streaming/ingest/cors.py; list every origin (and port) that embeds the tracker.
  validation {
    condition     = alltrue([for origin in var.allowed_origins : can(regex("^https?://[a-z0-9.-]+(:[0-9]{1,5})?$", origin))])
    error_message = "allowed_origins: exact origins only, scheme://host[:port] in lower case, without path, trailing slash or wildcard."
  }
}

variable "glue_worker_type" {
  description = "Glue worker type of the stream job: G.1X, G.2X, G.4X or G.8X (the types Glue documents for Glue 6.0 streaming; G.025X is documented for Glue 3.0 streaming only)."
  type        = string
  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.glue_worker_type)
    error_message = "glue_worker_type must be one of G.1X, G.2X, G.4X, G.8X."
  }
}

variable "glue_maintenance_window" {
  description = "Day and hour (UTC) from which Glue may restart the stream job for maintenance, as Glue writes it: \"Sun:3\"."
  type        = string
  validation {
    condition     = can(regex("^(Sun|Mon|Tue|Wed|Thu|Fri|Sat):([01]?[0-9]|2[0-3])$", var.glue_maintenance_window))
    error_message = "glue_maintenance_window must be <Sun|Mon|...|Sat>:<hour 0-23>, e.g. \"Sun:3\"."
  }
}

variable "glue_number_of_workers" {
  description = "Workers of the stream job, the driver included (at least 2)."
  type        = number
  validation {
    condition     = var.glue_number_of_workers >= 2
    error_message = "glue_number_of_workers must be at least 2."
  }
}

variable "model_build_worker_type" {
  description = "Glue worker type of the model-build job (silver and gold days): G.1X, G.2X, G.4X or G.8X."
  type        = string
  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.model_build_worker_type)
    error_message = "model_build_worker_type must be one of G.1X, G.2X, G.4X, G.8X."
  }
}

variable "model_build_workers" {
  description = "Workers of a model-build run, the driver included (at least 2)."
  type        = number
  validation {
    condition     = var.model_build_workers >= 2
    error_message = "model_build_workers must be at least 2."
  }
}

variable "model_build_max_concurrent_runs" {
  description = "Model-build Glue runs at once: the days of a backfill that build side by side (at least 1)."
  type        = number
  validation {
    condition     = var.model_build_max_concurrent_runs >= 1
    error_message = "model_build_max_concurrent_runs must be at least 1."
  }
}

variable "dedup_window" {
  description = "How long the job remembers event_ids to drop duplicates (CLICKSTREAM_DEDUP_WINDOW), e.g. \"10 minutes\"."
  type        = string
}

variable "lake_ia_transition_days" {
  description = "Days after which lake files move to S3 Standard-IA (at least 30)."
  type        = number
  validation {
    condition     = var.lake_ia_transition_days >= 30
    error_message = "S3 accepts Standard-IA transitions after 30 days at the earliest."
  }
}

variable "lake_glacier_ir_transition_days" {
  description = "Days after which lake files move to S3 Glacier Instant Retrieval (still queryable)."
  type        = number
  validation {
    condition     = var.lake_glacier_ir_transition_days >= var.lake_ia_transition_days + 30
    error_message = "lake_glacier_ir_transition_days must be at least lake_ia_transition_days + 30."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept (the undo window for deletes, VACUUM included)."
  type        = number
}

variable "athena_results_expiration_days" {
  description = "Days Athena query results are kept."
  type        = number
}

variable "athena_bytes_scanned_cutoff" {
  description = "Bytes one Athena query may scan before it is cancelled (at least 10485760)."
  type        = number
  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10 MB (10485760)."
  }
}

variable "iterator_age_alarm_ms" {
  description = "Iterator age (ms) of the stream above which the stream-job-behind alarm fires."
  type        = number
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (confirm the mail AWS sends); \"\" for none."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of every log group and of S3 access logs, in days: a CloudWatch value of at least 365."
  type        = number
  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "Keep logs for at least a year: 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days."
  }
}

variable "force_destroy_buckets" {
  description = "Whether destroy may delete buckets that still hold data (true only where data is disposable)."
  type        = bool
}

variable "manage_catalog_encryption" {
  description = "Whether this stack owns the account's Glue Data Catalog encryption settings (one stack per account and region)."
  type        = bool
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled KMS key deletion waits (7-30); data under a deleted key is lost."
  type        = number
  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "dagster_enabled" {
  description = "Whether Dagster runs on AWS in this stack (modules/dagster): ECS services, RDS storage, an internal UI."
  type        = bool
}

variable "dagster_image_tag" {
  description = "Tag of the Dagster image in the stack's ECR repository (infra/dagster/Dockerfile); tags are immutable, so a new build gets a new tag, e.g. the git commit."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.dagster_image_tag))
    error_message = "dagster_image_tag must be a Docker tag: letters, digits, _ . -, at most 128 characters, not starting with . or -."
  }
}

variable "dagster_ui_allowed_cidrs" {
  description = "Private CIDR blocks that may open the Dagster UI on its internal load balancer: the VPC (hosts in it, and AWS Client VPN, which source-NATs into it) and a routed VPN's client range; never a public range."
  type        = list(string)
  # RFC 1918 only: the UI has no login of its own and can launch runs.
  validation {
    condition     = alltrue([for cidr in var.dagster_ui_allowed_cidrs : can(regex("^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.)[0-9.]+/(8|9|[12][0-9]|3[0-2])$", cidr))])
    error_message = "dagster_ui_allowed_cidrs: private (RFC 1918) CIDR blocks only, e.g. 10.40.0.0/16; the UI must never be open to the internet."
  }
}

variable "dagster_run_cpu" {
  description = "CPU units of each Dagster run's Fargate task (1024 = 1 vCPU); Spark runs in it."
  type        = number
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.dagster_run_cpu)
    error_message = "dagster_run_cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "dagster_run_memory_mb" {
  description = "Memory (MiB) of each Dagster run's task, a size Fargate pairs with dagster_run_cpu (1 vCPU: 2048-8192)."
  type        = number
  validation {
    condition     = var.dagster_run_memory_mb >= 512 && var.dagster_run_memory_mb <= 122880
    error_message = "dagster_run_memory_mb must be between 512 and 122880."
  }
}

variable "dagster_db_instance_class" {
  description = "RDS instance class of Dagster's PostgreSQL storage, e.g. db.t4g.micro."
  type        = string
  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.dagster_db_instance_class))
    error_message = "dagster_db_instance_class must be an RDS instance class such as db.t4g.micro."
  }
}

variable "lambda_deployment_config" {
  description = "How CodeDeploy shifts the ingestion function's alias to a new version: a predefined Lambda config (LambdaCanary10Percent5Minutes: 10% for 5 minutes, then all); it rolls back when the error or throttle alarm fires."
  type        = string
  default     = "CodeDeployDefault.LambdaCanary10Percent5Minutes"
  validation {
    condition = contains([
      "CodeDeployDefault.LambdaAllAtOnce",
      "CodeDeployDefault.LambdaCanary10Percent5Minutes", "CodeDeployDefault.LambdaCanary10Percent10Minutes",
      "CodeDeployDefault.LambdaCanary10Percent15Minutes", "CodeDeployDefault.LambdaCanary10Percent30Minutes",
      "CodeDeployDefault.LambdaLinear10PercentEvery1Minute", "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
      "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes", "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
    ], var.lambda_deployment_config)
    error_message = "lambda_deployment_config must be one of CodeDeploy's predefined Lambda deployment configurations."
  }
}

variable "dr_replication_enabled" {
  description = "Whether the lake and scripts buckets are replicated to dr_region under a key of that region (modules/dr); off by default, since it doubles storage and adds transfer."
  type        = bool
  default     = false
}

variable "dr_region" {
  description = "Region of the replicas (the aws.replica provider); another region than aws_region."
  type        = string
  default     = "eu-central-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.dr_region))
    error_message = "dr_region must be an AWS region name such as eu-central-1."
  }
  validation {
    condition     = var.dr_region != var.aws_region
    error_message = "dr_region must be another region than aws_region: a replica in the same region survives no region loss."
  }
}

variable "audit_trail_enabled" {
  description = "Whether a CloudTrail trail records the S3 data events (reads, writes, deletes) of the lake bucket (modules/audit); on by default."
  type        = bool
  default     = true
}
