# Each role's ARN is handed out only once its policy exists: the Lambda and the Glue job take
# their role from here, so they are created after the policy (a function or job created between
# the role and its policy would meet missing permissions, e.g. Lambda's VPC check).
output "lambda_role_arn" {
  description = "ARN of the ingestion Lambda's execution role, once its policy is attached."
  value       = aws_iam_role.lambda.arn
  depends_on  = [aws_iam_role_policy.lambda]
}

output "glue_role_arn" {
  description = "ARN of the Glue streaming job's role, once its policy is attached."
  value       = aws_iam_role.glue.arn
  depends_on  = [aws_iam_role_policy.glue]
}

output "glue_models_role_arn" {
  description = "ARN of the Glue model-build job's role, once its policy is attached."
  value       = aws_iam_role.glue_models.arn
  depends_on  = [aws_iam_role_policy.glue_models]
}
