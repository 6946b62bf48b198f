variable "name" {
  description = "Name of the stream."
  type        = string
}

variable "stream_mode" {
  description = "ON_DEMAND (capacity follows traffic) or PROVISIONED (fixed shard_count)."
  type        = string
}

variable "shard_count" {
  description = "Shards of a PROVISIONED stream; ignored in ON_DEMAND mode."
  type        = number
}

variable "retention_hours" {
  description = "Hours records stay readable: the window in which a stopped job can catch up."
  type        = number
}

variable "data_key_arn" {
  description = "KMS key ARN that encrypts the stream."
  type        = string
}
