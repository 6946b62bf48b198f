variable "name" {
  description = "Name prefix of the network resources."
  type        = string
}

variable "cidr" {
  description = "CIDR block of the VPC; private subnets are carved from it as /20s (with a /16)."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones with a private subnet and an interface of every endpoint."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Retention of the VPC flow log group, in days."
  type        = number
}

variable "logs_key_arn" {
  description = "KMS key ARN that encrypts the flow log group."
  type        = string
}

variable "extra_interface_services" {
  description = "Further services with an interface endpoint, by endpoint name (e.g. ecr.api, ecs)."
  type        = list(string)
}
