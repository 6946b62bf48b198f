variable "name" {
  description = "Name prefix of the alarms, the topic and the dashboard."
  type        = string
}

variable "stream_name" {
  description = "Name of the event stream."
  type        = string
}

variable "lambda_function_name" {
  description = "Name of the ingestion function."
  type        = string
}

variable "api_id" {
  description = "ID of the HTTP API."
  type        = string
}

variable "api_stage" {
  description = "Stage name of the HTTP API."
  type        = string
}

variable "glue_job_name" {
  description = "Name of the Glue streaming job."
  type        = string
}

variable "iterator_age_threshold_ms" {
  description = "Age of the oldest unread record (ms) above which the stream job counts as behind."
  type        = number
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic; empty for none."
  type        = string
}

variable "logs_key_arn" {
  description = "KMS key ARN that encrypts the alarm topic."
  type        = string
}
