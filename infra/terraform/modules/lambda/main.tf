# The ingestion handler (streaming.ingest.handler.lambda_handler) behind the HTTP API. Every
# change of code or configuration publishes a new version; the API invokes the alias `live`,
# which only CodeDeploy moves (modules/canary): 10% of requests to the new version first, all
# of them once no alarm fired, back to the old one if one did (infra/deploy_lambda.py).

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_key_arn
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:API Gateway invokes the function synchronously; a DLQ only receives failed asynchronous invocations, and failed events go back to the caller as retryable.
  #checkov:skip=CKV_AWS_272:The package is built by CI from the reviewed repository and deployed by the same OIDC-authenticated workflow; AWS Signer is not part of this deployment.
  function_name                  = var.function_name
  role                           = var.role_arn
  runtime                        = "python3.13"
  handler                        = "streaming.ingest.handler.lambda_handler"
  architectures                  = [var.architecture]
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.data_key_arn
  publish                        = true

  environment {
    variables = var.environment
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.this.id]
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }
}

resource "aws_security_group" "this" {
  name        = var.function_name
  description = "Ingestion Lambda: HTTPS to the VPC endpoints only"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to the interface endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
}

# Created pointing at the first published version; afterwards CodeDeploy shifts it (weights in
# routing_config during a canary), so Terraform leaves both alone: an apply that moved the alias
# itself would send all traffic to an untried version in one step.
resource "aws_lambda_alias" "live" {
  name             = var.alias_name
  description      = "What the API invokes; moved by CodeDeploy deployments, not by Terraform"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}
