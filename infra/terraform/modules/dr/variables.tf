variable "name" {
  description = "Name prefix of the replica key, its alias and the replication role."
  type        = string
}

variable "replica_region" {
  description = "Region of the replica buckets and key (the aws.replica provider's region)."
  type        = string
}

variable "source_buckets" {
  description = "Buckets to replicate by role (lake, scripts): their names and ARNs; each must be versioned."
  type        = map(object({ name = string, arn = string }))
}

variable "source_key_arn" {
  description = "KMS key ARN that encrypts the source buckets (replication decrypts with it)."
  type        = string
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled deletion of the replica key waits."
  type        = number
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted version is kept in the replica (as in the source)."
  type        = number
}

variable "force_destroy" {
  description = "Whether destroy may delete replica buckets that still hold objects."
  type        = bool
}
