output "ecr_repository_url" {
  description = "Repository the code location's image is pushed to (tagged image_tag)."
  value       = aws_ecr_repository.this.repository_url
}

output "ui_url" {
  description = "URL of the Dagster UI on the internal load balancer: reachable from ui_allowed_cidrs inside the VPC only."
  value       = "http://${aws_lb.ui.dns_name}"
}

output "cluster_name" {
  description = "ECS cluster of the Dagster services and runs (the target of an SSM port forwarding session)."
  value       = aws_ecs_cluster.this.name
}
