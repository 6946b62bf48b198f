variable "name" {
  description = "Name of the CodeDeploy application and prefix of its role and deployment group."
  type        = string
}

variable "function_arn" {
  description = "Unqualified ARN of the ingestion function whose alias the deployments shift."
  type        = string
}

variable "alias_name" {
  description = "Alias the deployments shift (the one the API invokes)."
  type        = string
}

variable "alarms" {
  description = "Alarms (name => ARN) that stop a deployment and roll it back: the function's errors and throttles."
  type        = map(string)
}

variable "deployment_config" {
  description = "A predefined CodeDeploy Lambda deployment configuration, e.g. CodeDeployDefault.LambdaCanary10Percent5Minutes."
  type        = string
}
