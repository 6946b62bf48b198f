output "lambda_role_arn" {
  description = "ARN of the ingestion Lambda's execution role."
  value       = aws_iam_role.lambda.arn
}

output "glue_role_arn" {
  description = "ARN of the Glue streaming job's role."
  value       = aws_iam_role.glue.arn
}

