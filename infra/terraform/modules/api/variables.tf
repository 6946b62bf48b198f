variable "name" {
  description = "Name of the HTTP API."
  type        = string
}

variable "paths" {
  description = "Paths the handler answers POSTs on (streaming/ingest/events.py's EVENTS_PATH and streaming/ingest/segment.py's PATHS); each gets a route and a Lambda permission."
  type        = set(string)

  validation {
    # The last segment names the path's permission statement, so it must be unique and fit a statement id.
    condition = alltrue([for path in var.paths : can(regex("^(/[a-z0-9]+)+$", path))]) && (
      length(distinct([for path in var.paths : basename(path)])) == length(var.paths)
    )
    error_message = "Each path is /-separated lower-case letters and digits, with a last segment no other path has."
  }
}

variable "lambda_function_name" {
  description = "Name of the ingestion function."
  type        = string
}

variable "lambda_invoke_arn" {
  description = "Invoke ARN of the ingestion function's alias (modules/lambda)."
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

variable "lambda_alias_name" {
  description = "Alias of the function the integration invokes; the invoke permissions are on it."
  type        = string
}
