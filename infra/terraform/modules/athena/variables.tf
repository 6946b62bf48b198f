variable "name" {
  description = "Name of the Athena workgroup."
  type        = string
}

variable "results_bucket" {
  description = "Bucket for query results."
  type        = string
}

variable "bytes_scanned_cutoff" {
  description = "Bytes one query may scan before Athena cancels it (at least 10 MB)."
  type        = number
}

variable "data_key_arn" {
  description = "KMS key ARN that encrypts query results."
  type        = string
}
