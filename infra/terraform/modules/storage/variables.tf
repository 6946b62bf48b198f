variable "name" {
  description = "Name prefix of the buckets, e.g. clickstream-dev."
  type        = string
}

variable "data_key_arn" {
  description = "KMS key ARN that encrypts every data bucket (SSE-KMS with bucket keys)."
  type        = string
}

variable "force_destroy" {
  description = "Whether `terraform destroy` may delete buckets that still hold objects."
  type        = bool
}

variable "lake_ia_transition_days" {
  description = "Days after which lake objects over 128 KiB move to S3 Standard-IA."
  type        = number
}

variable "lake_glacier_ir_transition_days" {
  description = "Days after which lake objects over 128 KiB move to S3 Glacier Instant Retrieval."
  type        = number
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept before it expires."
  type        = number
}

variable "athena_results_expiration_days" {
  description = "Days Athena query results are kept."
  type        = number
}

variable "expiring_prefixes" {
  description = "Per data bucket (lake, checkpoints, scripts, athena), key prefixes whose objects expire after the given number of days: hand-offs nothing reads after their run."
  type        = map(map(number))
  default     = {}
}

variable "access_log_expiration_days" {
  description = "Days S3 server access logs are kept."
  type        = number
}

variable "log_source_bucket_arns" {
  description = "ARNs of the stack's other buckets (the CloudTrail bucket) whose server access logs this module's access-log bucket accepts."
  type        = list(string)
}
