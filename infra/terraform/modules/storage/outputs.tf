output "bucket_names" {
  description = "Names of the data buckets by role: lake, checkpoints, scripts, athena."
  value       = { for role, bucket in aws_s3_bucket.data : role => bucket.id }
}

output "bucket_arns" {
  description = "ARNs of the data buckets by role: lake, checkpoints, scripts, athena."
  value       = { for role, bucket in aws_s3_bucket.data : role => bucket.arn }
}

output "access_log_bucket_name" {
  description = "Name of the bucket that receives the data buckets' server access logs."
  value       = aws_s3_bucket.access_logs.id
}
