output "trail_arn" {
  description = "ARN of the trail of the lake's S3 data events."
  value       = aws_cloudtrail.lake.arn
}

output "trail_bucket" {
  description = "Bucket of the trail's log files."
  value       = aws_s3_bucket.trail.id
}
