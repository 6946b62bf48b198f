variable "name" {
  description = "Name prefix of the trail and its bucket."
  type        = string
}

variable "lake_bucket_arn" {
  description = "ARN of the lake bucket whose object reads and writes the trail records."
  type        = string
}

variable "logs_key_arn" {
  description = "KMS key ARN that encrypts the trail's log files (its policy lets CloudTrail use it)."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket that receives the trail bucket's own S3 server access logs."
  type        = string
}

variable "retention_days" {
  description = "Days the trail's log files are kept."
  type        = number
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted log file version is kept."
  type        = number
}

variable "force_destroy" {
  description = "Whether destroy may delete the trail bucket while it holds logs."
  type        = bool
}
