variable "name" {
  description = "Name of the HTTP API."
  type        = string
}

variable "events_route_key" {
  description = "Route of the tracker's POST, e.g. \"POST /v1/events\" (the handler's EVENTS_PATH)."
  type        = string
}

variable "lambda_function_name" {
  description = "Name of the ingestion function."
  type        = string
}

variable "lambda_invoke_arn" {
  description = "Invoke ARN of the ingestion function."
  type        = string
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second the stage accepts before answering 429."
  type        = number
}

variable "throttle_burst_limit" {
  description = "Requests the stage accepts in a burst above the rate limit."
  type        = number
}

variable "cors_allowed_origins" {
  description = "Exact origins whose pages may post events (the handler's CLICKSTREAM_ALLOWED_ORIGINS)."
  type        = list(string)
}

variable "logs_key_arn" {
  description = "KMS key ARN that encrypts the access log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
}
