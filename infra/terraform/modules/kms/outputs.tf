output "data_key_arn" {
  description = "ARN of the key that encrypts event data."
  value       = aws_kms_key.data.arn
}

output "observability_key_arn" {
  description = "ARN of the key that encrypts logs and the alarm topic."
  value       = aws_kms_key.observability.arn
}
