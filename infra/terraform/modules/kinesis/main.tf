# The event stream. Records are keyed by anonymous_id (the handler's partition key), so one
# visitor's events stay ordered within a shard.
resource "aws_kinesis_stream" "this" {
  name             = var.name
  shard_count      = var.stream_mode == "PROVISIONED" ? var.shard_count : null
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = var.data_key_arn

  stream_mode_details {
    stream_mode = var.stream_mode
  }
}
