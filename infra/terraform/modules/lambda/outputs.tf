output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "invoke_arn" {
  description = "ARN API Gateway invokes."
  value       = aws_lambda_function.this.invoke_arn
}

output "security_group_id" {
  description = "Security group of the network interfaces."
  value       = aws_security_group.this.id
}
