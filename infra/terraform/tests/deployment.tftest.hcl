# `terraform test` of the deployment's plan against a mocked AWS provider (no account, no
# network): what a first apply would create, asserted before AWS ever sees it. Run by
# tests/unit/test_terraform_cli.py with -var-file=tfvars/dev.tfvars, after
# infra/package_artifacts.py's files exist under .build/ (the test puts stand-ins there).

mock_provider "aws" {
  # Computed values are random strings under a mock; resources that parse a policy need JSON.
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

run "whole_stack_plans" {
  command = plan

  assert {
    condition     = aws_secretsmanager_secret.write_keys.name == "${var.project}-${var.environment}/write-keys"
    error_message = "The write keys' secret is named for the stack."
  }
}

run "glue_6_streaming_refuses_g025x" {
  command = plan
  variables {
    glue_worker_type = "G.025X"
  }
  expect_failures = [var.glue_worker_type]
}

run "maintenance_window_is_glues_day_and_hour" {
  command = plan
  variables {
    glue_maintenance_window = "Sunday 03:00"
  }
  expect_failures = [var.glue_maintenance_window]
}

run "api_routes_each_handler_path_to_the_function" {
  command = plan
  module {
    source = "./modules/api"
  }
  variables {
    name                 = "clickstream-test"
    paths                = ["/v1/events", "/v1/batch", "/v1/t"]
    lambda_function_name = "clickstream-test-ingest"
    lambda_invoke_arn    = "arn:aws:apigateway:eu-central-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-central-1:123456789012:function:clickstream-test-ingest/invocations"
    throttle_rate_limit  = 50
    throttle_burst_limit = 100
    cors_allowed_origins = ["https://shop.example.com"]
    logs_key_arn         = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    log_retention_days   = 365
  }

  assert {
    condition     = toset([for route in aws_apigatewayv2_route.ingest : route.route_key]) == toset(["POST /v1/events", "POST /v1/batch", "POST /v1/t"])
    error_message = "Exactly one POST route per handler path."
  }
  assert {
    condition     = alltrue([for route in aws_apigatewayv2_route.ingest : route.authorization_type == "NONE"])
    error_message = "The handler checks the write key; the routes have no authorizer."
  }
  assert {
    condition     = keys(aws_lambda_permission.api) == keys(aws_apigatewayv2_route.ingest)
    error_message = "Every route, and no other, may invoke the function."
  }
  assert {
    condition     = aws_lambda_permission.api["/v1/events"].statement_id == "AllowInvokeFromHttpApiEventsRoute"
    error_message = "The /v1/events permission keeps the statement id it was created with."
  }
  assert {
    condition     = aws_apigatewayv2_stage.default.default_route_settings[0].throttling_rate_limit == 50
    error_message = "The stage throttles at throttle_rate_limit."
  }
}

run "lambda_may_manage_its_vpc_interfaces_as_aws_asks" {
  command = plan
  module {
    source = "./modules/iam"
  }
  variables {
    name                  = "clickstream-test"
    stream_arn            = "arn:aws:kinesis:eu-central-1:123456789012:stream/clickstream-test-events"
    data_key_arn          = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    bucket_arns           = { lake = "arn:aws:s3:::lake", checkpoints = "arn:aws:s3:::checkpoints", scripts = "arn:aws:s3:::scripts", athena = "arn:aws:s3:::athena" }
    lambda_log_group_arn  = "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/clickstream-test-ingest"
    vpc_id                = "vpc-0123456789abcdef0"
    subnet_ids            = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    security_group_ids    = ["sg-0123456789abcdef0", "sg-0123456789abcdef1"]
    glue_database_name    = "clickstream_test"
    glue_connection_name  = "clickstream-test-stream-job-network"
    write_keys_secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:clickstream-test/write-keys-AbCdEf"
  }

  # AWS's Lambda guide: these five on every resource (or AWSLambdaVPCAccessExecutionRole).
  assert {
    condition = length([
      for statement in data.aws_iam_policy_document.lambda.statement : statement
      if statement.effect != "Deny" && toset(statement.resources) == toset(["*"]) && length(setintersection(statement.actions, [
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
      ])) == 5
    ]) == 1
    error_message = "The Lambda's role must allow the VPC network interface actions on resource \"*\"."
  }
  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.lambda.statement :
      toset(statement.resources) == toset(["*"])
      if length(setintersection(statement.actions, ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"])) > 0
    ])
    error_message = "No statement scopes the Lambda's network interface actions to ARNs (function creation checks them on \"*\")."
  }
}

run "glue_job_runs_in_the_stacks_region_with_a_timeout_and_a_maintenance_window" {
  command = plan
  module {
    source = "./modules/glue_job"
  }
  variables {
    name               = "clickstream-test-stream-job"
    connection_name    = "clickstream-test-stream-job-network"
    role_arn           = "arn:aws:iam::123456789012:role/clickstream-test-glue-stream-job"
    script_path        = "../../streaming/stream/job.py"
    package_zip_path   = ".build/streaming-glue.zip"
    wheels_dir         = ".build/glue-wheels"
    scripts_bucket     = "clickstream-test-scripts"
    worker_type        = "G.1X"
    number_of_workers  = 2
    maintenance_window = "Sun:3"
    subnet_id          = "subnet-0123456789abcdef0"
    availability_zone  = "eu-central-1a"
    vpc_id             = "vpc-0123456789abcdef0"
    vpc_cidr           = "10.40.0.0/16"
    s3_prefix_list_id  = "pl-0123456789abcdef0"
    data_key_arn       = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    logs_key_arn       = "arn:aws:kms:eu-central-1:123456789012:key/66666666-2222-3333-4444-555555555555"
    job_settings = {
      AWS_REGION       = "eu-central-1"
      CLICKSTREAM_MODE = "aws"
    }
  }

  assert {
    condition     = aws_glue_job.this.timeout == 10080
    error_message = "The streaming job's timeout is explicit (Glue 5.0+ stops a job without one after 480 minutes)."
  }
  assert {
    condition     = aws_glue_job.this.maintenance_window == "Sun:3"
    error_message = "The job has the maintenance window it is given."
  }
  assert {
    condition     = aws_glue_job.this.default_arguments["--AWS_REGION"] == "eu-central-1"
    error_message = "The job gets the stack's region as an argument."
  }
  assert {
    condition     = aws_glue_job.this.default_arguments["--CLICKSTREAM_MODE"] == "aws"
    error_message = "The job's settings become --NAME value arguments."
  }
  assert {
    condition     = aws_glue_job.this.glue_version == "6.0" && aws_glue_job.this.command[0].name == "gluestreaming"
    error_message = "A Glue 6.0 streaming job."
  }
  assert {
    condition     = aws_glue_job.this.worker_type == "G.1X"
    error_message = "The worker type is the one given."
  }
}
