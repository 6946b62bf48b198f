output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "ARN of the function (unqualified); its versions and aliases are <arn>:<qualifier>."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN API Gateway invokes: the alias's, so traffic follows CodeDeploy's weights."
  value       = aws_lambda_alias.live.invoke_arn
}

output "alias_name" {
  description = "Name of the alias behind the API."
  value       = aws_lambda_alias.live.name
}

output "version" {
  description = "The latest published version: the target of the next canary deployment."
  value       = aws_lambda_function.this.version
}

output "security_group_id" {
  description = "Security group of the network interfaces."
  value       = aws_security_group.this.id
}
