variable "name" {
  description = "Name prefix of the keys and their aliases, e.g. clickstream-dev."
  type        = string
}

variable "deletion_window_days" {
  description = "Days a scheduled key deletion waits before the key is gone for good (7-30)."
  type        = number
}
