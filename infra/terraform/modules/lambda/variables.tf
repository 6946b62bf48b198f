variable "function_name" {
  description = "Name of the ingestion function."
  type        = string
}

variable "role_arn" {
  description = "Execution role ARN (modules/iam)."
  type        = string
}

variable "zip_path" {
  description = "Path of the deployment package built by infra/package_artifacts.py."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64; the package must be built for the same one."
  type        = string
}

variable "memory_mb" {
  description = "Memory of the function in MB (CPU scales with it)."
  type        = number
}

variable "timeout_seconds" {
  description = "Longest a request may take, including PutRecords retries."
  type        = number
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for (and capped at) this function."
  type        = number
}

variable "environment" {
  description = "Environment variables: the CLICKSTREAM_* settings streaming/settings.py reads."
  type        = map(string)
  sensitive   = true
}

variable "subnet_ids" {
  description = "Private subnets of the function's network interfaces."
  type        = list(string)
}


variable "data_key_arn" {
  description = "KMS key ARN that encrypts the environment variables (they carry the salt)."
  type        = string
}

variable "logs_key_arn" {
  description = "KMS key ARN that encrypts the log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
}

variable "vpc_id" {
  description = "VPC of the private subnets."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC, where the interface endpoints listen."
  type        = string
}

variable "alias_name" {
  description = "Alias the API invokes and CodeDeploy shifts between published versions."
  type        = string
}
