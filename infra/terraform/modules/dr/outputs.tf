output "replica_buckets" {
  description = "Replica bucket names by role (lake, scripts), in replica_region."
  value       = { for role, bucket in aws_s3_bucket.replica : role => bucket.id }
}

output "replica_key_arn" {
  description = "KMS key of the replicas, in replica_region."
  value       = aws_kms_key.replica.arn
}
