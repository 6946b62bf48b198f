variable "name" {
  description = "Name of the Glue job (and prefix of its connection and security configuration)."
  type        = string
}

variable "connection_name" {
  description = "Name of the job's Glue NETWORK connection (the job role may read only this one)."
  type        = string
}

variable "role_arn" {
  description = "ARN of the job's role (modules/iam)."
  type        = string
}

variable "script_path" {
  description = "Local path of the job script (streaming/stream/job.py), uploaded as the Glue script."
  type        = string
}

variable "package_zip_path" {
  description = "Local path of the `streaming` package zip (infra/package_artifacts.py), passed as --extra-py-files."
  type        = string
}

variable "wheels_dir" {
  description = "Local directory of the wheels the job pip-installs from S3: deltalake and its dependencies for Glue 6.0 (infra/package_artifacts.py)."
  type        = string
}

variable "scripts_bucket" {
  description = "Bucket for the script, the package, Glue's temporary files and Spark event logs."
  type        = string
}

variable "worker_type" {
  description = "Glue worker type: G.1X, G.2X, G.4X or G.8X."
  type        = string
}

variable "maintenance_window" {
  description = "Day and hour (UTC) from which Glue may restart the streaming job for maintenance, e.g. \"Sun:3\"."
  type        = string
}

variable "number_of_workers" {
  description = "Workers, the driver included."
  type        = number
}

variable "job_settings" {
  description = "CLICKSTREAM_* settings of the job, passed as --NAME value arguments."
  type        = map(string)
}

variable "subnet_id" {
  description = "Private subnet the job's workers run in."
  type        = string
}

variable "availability_zone" {
  description = "Availability zone of subnet_id."
  type        = string
}


variable "data_key_arn" {
  description = "KMS key ARN for the uploaded objects, Glue's S3 writes and its bookmarks."
  type        = string
}

variable "logs_key_arn" {
  description = "KMS key ARN for the job's CloudWatch logs."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the private subnets."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC, where the interface endpoints listen."
  type        = string
}

variable "s3_prefix_list_id" {
  description = "Prefix list of S3 behind the VPC's gateway endpoint."
  type        = string
}

variable "models_name" {
  description = "Name of the model-build Glue job (silver and gold days, launched by Dagster through Pipes)."
  type        = string
}

variable "models_role_arn" {
  description = "ARN of the model-build job's role (modules/iam)."
  type        = string
}

variable "models_script_path" {
  description = "Local path of the model-build script (streaming/lake/build_job.py), uploaded as its Glue script."
  type        = string
}

variable "models_worker_type" {
  description = "Glue worker type of the model-build job: G.1X, G.2X, G.4X or G.8X."
  type        = string
}

variable "models_number_of_workers" {
  description = "Workers of a model-build run, the driver included."
  type        = number
}

variable "models_max_concurrent_runs" {
  description = "Model-build runs at once (a backfill's days)."
  type        = number
}

variable "models_timeout_minutes" {
  description = "Minutes after which Glue stops a model-build run."
  type        = number
}

variable "models_settings" {
  description = "CLICKSTREAM_* settings of the model-build job, passed as --NAME value arguments."
  type        = map(string)
}
