output "name" {
  description = "Name of the stream."
  value       = aws_kinesis_stream.this.name
}

output "arn" {
  description = "ARN of the stream."
  value       = aws_kinesis_stream.this.arn
}

output "retention_hours" {
  description = "Hours records stay readable: the recovery point of a stopped or rolled-back job."
  value       = aws_kinesis_stream.this.retention_period
}
