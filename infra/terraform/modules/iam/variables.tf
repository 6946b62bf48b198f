variable "name" {
  description = "Name prefix of the roles."
  type        = string
}

variable "stream_arn" {
  description = "ARN of the event stream."
  type        = string
}

variable "data_key_arn" {
  description = "ARN of the KMS key that encrypts the stream, the buckets and the Lambda environment."
  type        = string
}

variable "bucket_arns" {
  description = "ARNs of the data buckets by role (lake, checkpoints, scripts, athena)."
  type        = map(string)
}

variable "lambda_log_group_arn" {
  description = "ARN of the ingestion Lambda's log group."
  type        = string
}

variable "vpc_id" {
  description = "VPC the Glue job runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the Lambda and the Glue job place their network interfaces in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups the Lambda and the Glue job attach to their network interfaces."
  type        = list(string)
}

variable "glue_database_name" {
  description = "Glue Data Catalog database the job may read table definitions from."
  type        = string
}

variable "glue_connection_name" {
  description = "Name of the Glue NETWORK connection the job runs in."
  type        = string
}

variable "write_keys_secret_arn" {
  description = "ARN of the Secrets Manager secret of the write keys, the only secret the Lambda may read."
  type        = string
}

variable "subject_hash_salt_secret_arn" {
  description = "Secrets Manager secret holding the salt of erased people's id hashes (CLICKSTREAM_SUBJECT_HASH_SALT_SECRET)."
  type        = string
}

variable "pipes_prefix" {
  description = "Key prefix in the scripts bucket where Dagster Pipes hands the model-build job its context (<prefix>/context/) and reads its messages (<prefix>/messages/)."
  type        = string
}
