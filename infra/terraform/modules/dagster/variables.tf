variable "name" {
  description = "Name prefix of the control plane's resources, e.g. clickstream-dev (resources add -dagster)."
  type        = string
}

variable "vpc_id" {
  description = "VPC the tasks, the load balancer and the database run in (modules/network)."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC, where the interface endpoints listen."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks, the internal load balancer and the database (at least two zones)."
  type        = list(string)
}

variable "s3_prefix_list_id" {
  description = "Prefix list of S3 behind the VPC's gateway endpoint (image layers, lake, compute logs)."
  type        = string
}

variable "ui_allowed_cidrs" {
  description = "Private CIDR blocks (the VPC, a VPN's client range) that may open the UI on the internal load balancer."
  type        = list(string)
}

variable "image_tag" {
  description = "Tag of the code location's image in the ECR repository (infra/dagster/Dockerfile), the same for every task."
  type        = string
}

variable "run_cpu" {
  description = "CPU units (1024 = 1 vCPU) of each run's task; Spark runs in it."
  type        = number
}

variable "run_memory_mb" {
  description = "Memory (MiB) of each run's task; must be a size Fargate allows with run_cpu."
  type        = number
}

variable "db_instance_class" {
  description = "RDS instance class of Dagster's PostgreSQL storage, e.g. db.t4g.micro."
  type        = string
}

variable "data_key_arn" {
  description = "KMS key ARN of the data: the database, its password secret, the image repository, the lake."
  type        = string
}

variable "logs_key_arn" {
  description = "KMS key ARN of the log groups (tasks, ECS Exec sessions, PostgreSQL logs)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the control plane's log groups, in days."
  type        = number
}

variable "settings" {
  description = "The CLICKSTREAM_* settings and AWS_REGION every Dagster task gets (streaming/settings.py)."
  type        = map(string)
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream the lag sensor and the stream assets read."
  type        = string
}

variable "glue_job_name" {
  description = "Name of the Glue streaming job the sensor keeps running and catch-ups start."
  type        = string
}

variable "model_job_name" {
  description = "Name of the model-build Glue job the silver and gold assets run through Dagster Pipes."
  type        = string
}

variable "pipes_prefix" {
  description = "Key prefix in the scripts bucket of Dagster Pipes' context (<prefix>/context/) and messages (<prefix>/messages/)."
  type        = string
}

variable "glue_database_name" {
  description = "Glue Data Catalog database the catalog assets register tables and views in."
  type        = string
}

variable "athena_workgroup_name" {
  description = "Athena workgroup the checks and reports query."
  type        = string
}

variable "bucket_arns" {
  description = "ARNs of the data buckets by role: lake, checkpoints, scripts (compute logs under dagster/), athena."
  type        = map(string)
}

variable "compute_logs_bucket" {
  description = "Name of the bucket whose dagster/compute-logs/ prefix holds the runs' stdout and stderr."
  type        = string
}

variable "subject_hash_salt_secret_arn" {
  description = "Secrets Manager secret holding the salt of erased people's id hashes (CLICKSTREAM_SUBJECT_HASH_SALT_SECRET)."
  type        = string
}
