output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "endpoint" {
  description = "Base URL of the API (its $default stage), without a trailing slash."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "stage_name" {
  description = "Name of the stage (for CloudWatch dimensions)."
  value       = aws_apigatewayv2_stage.default.name
}
