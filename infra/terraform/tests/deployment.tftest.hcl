# `terraform test` of the deployment's plan against a mocked AWS provider (no account, no
# network): what a first apply would create, asserted before AWS ever sees it. Run by
# tests/unit/test_terraform_cli.py once per environment (-var-file=tfvars/<env>.tfvars), after
# infra/package_artifacts.py's files exist under .build/ (the test puts stand-ins there).

mock_provider "aws" {
  # Computed values are random strings under a mock; resources that parse a policy need JSON.
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

# The disaster-recovery region's provider (modules/dr), mocked alike.
mock_provider "aws" {
  alias = "replica"
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
    lambda_alias_name    = "live"
    lambda_invoke_arn    = "arn:aws:apigateway:eu-central-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-central-1:123456789012:function:clickstream-test-ingest:live/invocations"
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
    condition     = alltrue([for permission in aws_lambda_permission.api : permission.qualifier == "live"])
    error_message = "The API may invoke the alias it integrates with (CodeDeploy's weights apply there)."
  }
  assert {
    condition     = aws_apigatewayv2_integration.lambda.integration_uri == var.lambda_invoke_arn
    error_message = "The integration invokes the alias's ARN."
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
    name                         = "clickstream-test"
    stream_arn                   = "arn:aws:kinesis:eu-central-1:123456789012:stream/clickstream-test-events"
    data_key_arn                 = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    bucket_arns                  = { lake = "arn:aws:s3:::lake", checkpoints = "arn:aws:s3:::checkpoints", scripts = "arn:aws:s3:::scripts", athena = "arn:aws:s3:::athena" }
    lambda_log_group_arn         = "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/clickstream-test-ingest"
    vpc_id                       = "vpc-0123456789abcdef0"
    subnet_ids                   = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    security_group_ids           = ["sg-0123456789abcdef0", "sg-0123456789abcdef1"]
    glue_database_name           = "clickstream_test"
    glue_connection_name         = "clickstream-test-stream-job-network"
    pipes_prefix                 = "pipes"
    write_keys_secret_arn        = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:clickstream-test/write-keys-AbCdEf"
    subject_hash_salt_secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:clickstream-test/subject-hash-salt-AbCdEf"
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
    models_name                = "clickstream-test-model-builds"
    models_role_arn            = "arn:aws:iam::123456789012:role/clickstream-test-glue-model-builds"
    models_script_path         = "../../streaming/lake/build_job.py"
    models_worker_type         = "G.1X"
    models_number_of_workers   = 2
    models_max_concurrent_runs = 4
    models_timeout_minutes     = 120
    models_settings = {
      AWS_REGION           = "eu-central-1"
      CLICKSTREAM_MODE     = "aws"
      CLICKSTREAM_LAKE_URI = "s3://clickstream-test-lake"
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

  # The model-build job: a Glue 6.0 batch job running streaming/lake/build_job.py with the
  # stream job's package and wheels, its own role, several runs at once, a bounded run time.
  assert {
    condition     = aws_glue_job.models.glue_version == "6.0" && aws_glue_job.models.command[0].name == "glueetl"
    error_message = "The model builds are a Glue 6.0 batch (glueetl) job."
  }
  assert {
    condition     = aws_glue_job.models.command[0].script_location == "s3://clickstream-test-scripts/glue/build_job.py"
    error_message = "The model-build job runs the build script."
  }
  assert {
    condition     = aws_glue_job.models.role_arn == "arn:aws:iam::123456789012:role/clickstream-test-glue-model-builds"
    error_message = "The model-build job has its own role."
  }
  assert {
    condition     = aws_glue_job.models.default_arguments["--extra-py-files"] == aws_glue_job.this.default_arguments["--extra-py-files"] && aws_glue_job.models.default_arguments["--additional-python-modules"] == aws_glue_job.this.default_arguments["--additional-python-modules"]
    error_message = "Both jobs run the same package and wheels."
  }
  assert {
    condition     = aws_glue_job.models.default_arguments["--CLICKSTREAM_LAKE_URI"] == "s3://clickstream-test-lake" && aws_glue_job.models.timeout == 120
    error_message = "The model-build job gets its settings as arguments and a timeout."
  }
  assert {
    condition     = !contains(keys(aws_glue_job.this.default_arguments), "--datalake-formats") && !strcontains(aws_glue_job.this.default_arguments["--conf"], "delta")
    error_message = "The stream job's session has no Delta: it commits through delta-rs."
  }
  assert {
    condition     = aws_glue_job.models.default_arguments["--datalake-formats"] == "delta" && strcontains(aws_glue_job.models.default_arguments["--conf"], "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension")
    error_message = "The model builds' session has Delta: silver and gold are built on Spark."
  }
  assert {
    condition     = aws_glue_job.models.execution_property[0].max_concurrent_runs == 4
    error_message = "A backfill's days may build side by side."
  }
}

# --- Dagster on AWS (modules/dagster) ----------------------------------------------------------

run "dagster_ui_refuses_a_public_range" {
  command = plan
  variables {
    dagster_ui_allowed_cidrs = ["10.40.0.0/16", "0.0.0.0/0"]
  }
  expect_failures = [var.dagster_ui_allowed_cidrs]
}

run "dagster_is_on_with_the_stacks_settings" {
  command = plan

  assert {
    condition     = length(module.dagster) == 1
    error_message = "Dagster runs on AWS in every environment's stack (dagster_enabled)."
  }
}

run "dagster_control_plane" {
  command = plan
  module {
    source = "./modules/dagster"
  }
  variables {
    name                         = "clickstream-test"
    vpc_id                       = "vpc-0123456789abcdef0"
    vpc_cidr                     = "10.40.0.0/16"
    subnet_ids                   = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    s3_prefix_list_id            = "pl-0123456789abcdef0"
    ui_allowed_cidrs             = ["10.40.0.0/16", "10.99.0.0/22"]
    image_tag                    = "0.1.0"
    run_cpu                      = 1024
    run_memory_mb                = 4096
    db_instance_class            = "db.t4g.micro"
    data_key_arn                 = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    logs_key_arn                 = "arn:aws:kms:eu-central-1:123456789012:key/66666666-2222-3333-4444-555555555555"
    log_retention_days           = 365
    settings                     = { AWS_REGION = "eu-central-1", CLICKSTREAM_MODE = "aws" }
    stream_arn                   = "arn:aws:kinesis:eu-central-1:123456789012:stream/clickstream-test-events"
    glue_job_name                = "clickstream-test-stream-job"
    model_job_name               = "clickstream-test-model-builds"
    pipes_prefix                 = "pipes"
    glue_database_name           = "clickstream_test"
    athena_workgroup_name        = "clickstream-test"
    bucket_arns                  = { lake = "arn:aws:s3:::lake", checkpoints = "arn:aws:s3:::checkpoints", scripts = "arn:aws:s3:::scripts", athena = "arn:aws:s3:::athena" }
    compute_logs_bucket          = "scripts"
    subject_hash_salt_secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:clickstream-test/subject-hash-salt-AbCdEf"
  }

  # Known values where the policies' ARNs are built, so the plan can be asserted on.
  override_data {
    target = data.aws_partition.current
    values = { partition = "aws" }
  }
  override_data {
    target = data.aws_region.current
    values = { name = "eu-central-1" }
  }
  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "123456789012" }
  }
  override_resource {
    target          = aws_ecs_cluster.this
    override_during = plan
    values          = { arn = "arn:aws:ecs:eu-central-1:123456789012:cluster/clickstream-test-dagster" }
  }
  override_resource {
    target          = aws_ecr_repository.this
    override_during = plan
    values          = { repository_url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/clickstream-test-dagster" }
  }
  override_resource {
    target          = aws_db_instance.this
    override_during = plan
    values          = { address = "clickstream-test-dagster.abc.eu-central-1.rds.amazonaws.com", port = 5432 }
  }
  override_resource {
    target          = aws_secretsmanager_secret.db_password
    override_during = plan
    values          = { arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:clickstream-test-dagster/db-password-AbCdEf" }
  }
  override_resource {
    target          = aws_iam_role.run
    override_during = plan
    values          = { arn = "arn:aws:iam::123456789012:role/clickstream-test-dagster-run" }
  }
  override_resource {
    target          = aws_iam_role.execution
    override_during = plan
    values          = { arn = "arn:aws:iam::123456789012:role/clickstream-test-dagster-execution" }
  }

  # The UI: no login of its own, and it can launch runs.
  assert {
    condition     = aws_lb.ui.internal
    error_message = "The UI's load balancer is internal (no public address)."
  }
  assert {
    condition = alltrue([
      for rule in aws_vpc_security_group_ingress_rule.ui_from_allowed :
      rule.cidr_ipv4 != "0.0.0.0/0" && rule.cidr_ipv6 == null && rule.prefix_list_id == null
    ])
    error_message = "No rule opens the UI to 0.0.0.0/0 (or any IPv6 range)."
  }
  assert {
    condition     = toset([for rule in aws_vpc_security_group_ingress_rule.ui_from_allowed : rule.cidr_ipv4]) == toset(["10.40.0.0/16", "10.99.0.0/22"])
    error_message = "The UI accepts exactly ui_allowed_cidrs."
  }
  assert {
    condition     = aws_lb_listener.ui.default_action[0].type == "forward" && aws_lb.ui.internal
    error_message = "A listener that forwards without authentication must sit on an internal load balancer."
  }
  assert {
    condition = alltrue([
      for rule in concat(values(aws_vpc_security_group_ingress_rule.db), values(aws_vpc_security_group_ingress_rule.code_server), [aws_vpc_security_group_ingress_rule.webserver_from_ui]) :
      rule.cidr_ipv4 == null && rule.cidr_ipv6 == null && rule.prefix_list_id == null
    ])
    error_message = "The webserver, the code location and the database accept only the Dagster security groups."
  }
  assert {
    condition     = alltrue([for service in aws_ecs_service.this : !service.network_configuration[0].assign_public_ip])
    error_message = "No Dagster task has a public address."
  }

  # Storage.
  assert {
    condition     = !aws_db_instance.this.publicly_accessible
    error_message = "Dagster's database is not publicly accessible."
  }
  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.kms_key_id == var.data_key_arn
    error_message = "Dagster's database is encrypted with the stack's data key."
  }
  assert {
    condition     = aws_db_subnet_group.this.subnet_ids == toset(var.subnet_ids)
    error_message = "Dagster's database lives in the private subnets."
  }
  assert {
    condition     = contains([for parameter in aws_db_parameter_group.this.parameter : "${parameter.name}=${parameter.value}"], "rds.force_ssl=1")
    error_message = "Connections to Dagster's database must use TLS."
  }
  assert {
    condition     = aws_secretsmanager_secret.db_password.kms_key_id == var.data_key_arn
    error_message = "The database password's secret is encrypted with the data key."
  }

  # The run launcher: each run is a task of the run task definition, started by the daemon.
  assert {
    condition     = [for container in jsondecode(aws_ecs_task_definition.run.container_definitions) : container.name] == ["run"]
    error_message = "The run task's container is the one EcsRunLauncher overrides (container_name \"run\")."
  }
  assert {
    condition     = aws_ecs_task_definition.run.task_role_arn == "arn:aws:iam::123456789012:role/clickstream-test-dagster-run"
    error_message = "Runs get the run role, not the daemon's or the webserver's."
  }
  assert {
    condition = alltrue([
      for name, definition in aws_ecs_task_definition.service :
      [for variable in jsondecode(definition.container_definitions)[0].environment : variable.value if variable.name == "DAGSTER_RUN_TASK_DEFINITION"] == ["clickstream-test-dagster-run"]
      && [for secret in jsondecode(definition.container_definitions)[0].secrets : secret.name] == ["DAGSTER_PG_PASSWORD"]
    ])
    error_message = "Every service finds the run task definition and gets the database password from Secrets Manager, not its environment."
  }
  assert {
    condition = length([
      for statement in data.aws_iam_policy_document.daemon.statement : statement
      if statement.actions == toset(["ecs:RunTask"])
      && statement.resources == toset(["arn:aws:ecs:eu-central-1:123456789012:task-definition/clickstream-test-dagster-run:*"])
      && [for condition in statement.condition : "${condition.variable}=${join(",", condition.values)}"] == ["ecs:cluster=arn:aws:ecs:eu-central-1:123456789012:cluster/clickstream-test-dagster"]
    ]) == 1
    error_message = "The daemon may run the run task definition only, in this cluster only."
  }
  assert {
    condition = length([
      for statement in data.aws_iam_policy_document.daemon.statement : statement
      if contains(statement.actions, "iam:PassRole")
      && statement.resources == toset(["arn:aws:iam::123456789012:role/clickstream-test-dagster-run", "arn:aws:iam::123456789012:role/clickstream-test-dagster-execution"])
      && [for condition in statement.condition : "${condition.variable}=${join(",", condition.values)}"] == ["iam:PassedToService=ecs-tasks.amazonaws.com"]
    ]) == 1
    error_message = "The daemon passes the run task's two roles, to ECS tasks only."
  }
  assert {
    condition = alltrue(flatten([
      for statement in data.aws_iam_policy_document.run.statement : [
        for action in statement.actions : !strcontains(action, "*")
      ]
    ])) && !contains(flatten([for statement in data.aws_iam_policy_document.run.statement : tolist(statement.resources)]), "*")
    error_message = "The run task's role names every action and every resource (no \"*\")."
  }
  assert {
    condition = toset(flatten([for statement in data.aws_iam_policy_document.run.statement : tolist(statement.actions)])) == toset([
      "glue:GetJobRuns", "glue:GetJobRun", "glue:StartJobRun", "glue:BatchStopJobRun",
      "kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords",
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions", "glue:CreateTable", "glue:UpdateTable",
      "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup",
      "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
      "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey",
      "secretsmanager:GetSecretValue",
    ])
    error_message = "The run task's role holds what the assets call: Glue job runs and catalog, Athena, S3, Kinesis reads, the data key, the erasure salt (its secret alone)."
  }

  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.run.statement :
      toset(statement.resources) == toset([var.subject_hash_salt_secret_arn])
      if contains(statement.actions, "secretsmanager:GetSecretValue")
    ])
    error_message = "The run task reads one secret: the erasure salt."
  }
  assert {
    condition = toset(flatten([
      for statement in data.aws_iam_policy_document.run.statement : tolist(statement.resources)
      if contains(statement.actions, "glue:StartJobRun") || contains(statement.actions, "glue:BatchStopJobRun")
      ])) == toset([
      "arn:aws:glue:eu-central-1:123456789012:job/clickstream-test-stream-job",
      "arn:aws:glue:eu-central-1:123456789012:job/clickstream-test-model-builds",
    ])
    error_message = "Runs may start the stack's Glue jobs only: the stream job (catch-ups) and the model builds."
  }
  assert {
    condition = toset(flatten([
      for statement in data.aws_iam_policy_document.run.statement : tolist(statement.resources)
      if contains(statement.actions, "glue:BatchStopJobRun")
    ])) == toset(["arn:aws:glue:eu-central-1:123456789012:job/clickstream-test-model-builds"])
    error_message = "Runs may stop model-build runs only (Pipes forwards a run's termination)."
  }
  assert {
    condition = toset(flatten([
      for statement in data.aws_iam_policy_document.run.statement : tolist(statement.resources)
      if strcontains(join(",", tolist(statement.resources)), "scripts/pipes")
    ])) == toset(["arn:aws:s3:::scripts/pipes/context/*", "arn:aws:s3:::scripts/pipes/messages/*"])
    error_message = "Pipes' objects are reachable under the Pipes prefix only."
  }
  assert {
    condition     = !contains(flatten([for statement in data.aws_iam_policy_document.webserver.statement : tolist(statement.actions)]), "ecs:RunTask")
    error_message = "The webserver enqueues runs (QueuedRunCoordinator); only the daemon launches them."
  }
}

# Per environment (the -var-file decides which): the release and recovery promises of issue 22.
run "release_and_recovery_per_environment" {
  command = plan

  assert {
    condition     = module.lambda.alias_name == "live"
    error_message = "The API invokes the function through the alias `live`."
  }
  assert {
    condition     = module.canary.deployment_group_name == "${var.project}-${var.environment}-ingest-live"
    error_message = "A CodeDeploy deployment group shifts the alias in every environment."
  }
  assert {
    condition = toset(keys(module.monitoring.lambda_alarms)) == toset([
      "${var.project}-${var.environment}-lambda-errors", "${var.project}-${var.environment}-lambda-throttles",
    ])
    error_message = "The function's error and throttle alarms are the ones a deployment rolls back on."
  }
  assert {
    condition     = length(module.dr) == (var.environment == "prod" ? 1 : 0)
    error_message = "Cross-region replication is on in prod and off in dev and staging."
  }
  assert {
    condition     = var.environment != "prod" || try(toset(keys(module.dr[0].replica_buckets)) == toset(["lake", "scripts"]), false)
    error_message = "prod replicates the lake and the scripts buckets."
  }
  assert {
    condition     = length(module.audit) == 1
    error_message = "Every environment has the CloudTrail trail of the lake's data access."
  }
  assert {
    condition     = module.kinesis.retention_hours == { dev = 24, staging = 48, prod = 168 }[var.environment]
    error_message = "Stream retention (the recovery point of a stopped job): a day in dev, two in staging, a week in prod."
  }
}

run "dr_region_must_be_another_region" {
  command = plan
  variables {
    dr_replication_enabled = true
    dr_region              = "eu-west-1"
  }
  expect_failures = [var.dr_region]
}

run "lambda_publishes_versions_behind_an_alias_terraform_never_moves" {
  command = plan
  module {
    source = "./modules/lambda"
  }
  variables {
    function_name        = "clickstream-test-ingest"
    role_arn             = "arn:aws:iam::123456789012:role/clickstream-test-ingest"
    alias_name           = "live"
    zip_path             = ".build/lambda-arm64.zip"
    architecture         = "arm64"
    memory_mb            = 512
    timeout_seconds      = 10
    reserved_concurrency = 10
    environment          = { CLICKSTREAM_MODE = "aws" }
    subnet_ids           = ["subnet-0123456789abcdef0"]
    vpc_id               = "vpc-0123456789abcdef0"
    vpc_cidr             = "10.40.0.0/16"
    data_key_arn         = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    logs_key_arn         = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    log_retention_days   = 365
  }

  assert {
    condition     = aws_lambda_function.this.publish
    error_message = "Every change publishes a version, the unit a canary deploys."
  }
  assert {
    condition     = aws_lambda_alias.live.name == "live" && aws_lambda_alias.live.function_name == "clickstream-test-ingest"
    error_message = "The alias `live` belongs to the function."
  }
}

run "canary_rolls_back_when_the_functions_alarms_fire" {
  command = plan
  module {
    source = "./modules/canary"
  }
  variables {
    name         = "clickstream-test-ingest"
    function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:clickstream-test-ingest"
    alias_name   = "live"
    alarms = {
      clickstream-test-lambda-errors    = "arn:aws:cloudwatch:eu-central-1:123456789012:alarm:clickstream-test-lambda-errors"
      clickstream-test-lambda-throttles = "arn:aws:cloudwatch:eu-central-1:123456789012:alarm:clickstream-test-lambda-throttles"
    }
    deployment_config = "CodeDeployDefault.LambdaCanary10Percent5Minutes"
  }

  assert {
    condition     = aws_codedeploy_app.this.compute_platform == "Lambda"
    error_message = "A CodeDeploy application of the Lambda compute platform."
  }
  assert {
    condition = (
      aws_codedeploy_deployment_group.this.deployment_config_name == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
      && aws_codedeploy_deployment_group.this.deployment_style[0].deployment_type == "BLUE_GREEN"
      && aws_codedeploy_deployment_group.this.deployment_style[0].deployment_option == "WITH_TRAFFIC_CONTROL"
    )
    error_message = "Traffic shifts in steps between versions (blue/green with traffic control)."
  }
  assert {
    condition = (
      aws_codedeploy_deployment_group.this.alarm_configuration[0].enabled
      && toset(aws_codedeploy_deployment_group.this.alarm_configuration[0].alarms) == toset(["clickstream-test-lambda-errors", "clickstream-test-lambda-throttles"])
      && !aws_codedeploy_deployment_group.this.alarm_configuration[0].ignore_poll_alarm_failure
    )
    error_message = "The error and throttle alarms stop a deployment, and an unreadable alarm stops it too."
  }
  assert {
    condition = (
      aws_codedeploy_deployment_group.this.auto_rollback_configuration[0].enabled
      && toset(aws_codedeploy_deployment_group.this.auto_rollback_configuration[0].events) == toset(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"])
    )
    error_message = "A failed or alarm-stopped deployment rolls the alias back."
  }
}

# modules/dr has no run of its own: `terraform validate` (1.11) of a run whose module needs a
# provider alias (aws.replica) reports the alias as missing, though `terraform test` runs it;
# tests/unit/test_terraform.py asserts the module's replication rules instead.

run "audit_trail_records_every_object_access_of_the_lake" {
  command = plan
  module {
    source = "./modules/audit"
  }
  variables {
    name                               = "clickstream-test"
    lake_bucket_arn                    = "arn:aws:s3:::clickstream-test-lake"
    logs_key_arn                       = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    access_log_bucket                  = "clickstream-test-access-logs"
    retention_days                     = 365
    noncurrent_version_expiration_days = 30
    force_destroy                      = false
  }

  assert {
    condition = (
      aws_cloudtrail.lake.event_selector[0].read_write_type == "All"
      && aws_cloudtrail.lake.event_selector[0].data_resource[0].type == "AWS::S3::Object"
      && toset(aws_cloudtrail.lake.event_selector[0].data_resource[0].values) == toset(["arn:aws:s3:::clickstream-test-lake/"])
    )
    error_message = "The trail records reads and writes of every object in the lake bucket."
  }
  assert {
    condition     = aws_cloudtrail.lake.enable_log_file_validation && aws_cloudtrail.lake.kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    error_message = "The trail's files are encrypted and their integrity can be validated."
  }
}
