output "job_name" {
  description = "Name of the Glue streaming job."
  value       = aws_glue_job.this.name
}

output "models_job_name" {
  description = "Name of the model-build Glue job."
  value       = aws_glue_job.models.name
}

output "security_group_id" {
  description = "Security group of the network interfaces."
  value       = aws_security_group.this.id
}
