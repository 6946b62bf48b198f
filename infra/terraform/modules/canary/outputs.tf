output "app_name" {
  description = "CodeDeploy application of the ingestion function."
  value       = aws_codedeploy_app.this.name
}

output "deployment_group_name" {
  description = "Deployment group infra/deploy_lambda.py deploys new versions through."
  value       = aws_codedeploy_deployment_group.this.deployment_group_name
}
