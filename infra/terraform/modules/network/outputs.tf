output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "cidr" {
  description = "CIDR block of the VPC (the interface endpoints accept HTTPS from it)."
  value       = aws_vpc.this.cidr_block
}

output "s3_prefix_list_id" {
  description = "Prefix list of S3 behind the gateway endpoint, for security group egress rules."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone."
  value       = aws_subnet.private[*].id
}

output "glue_subnet_id" {
  description = "Subnet the Glue job's network connection places its workers in."
  value       = aws_subnet.private[0].id
}

output "glue_availability_zone" {
  description = "Availability zone of glue_subnet_id."
  value       = aws_subnet.private[0].availability_zone
}
