# One role per task, each with what its process calls and nothing more. Every action is named
# (no "*"), every resource an ARN, except the actions AWS cannot scope to one: ECR's
# GetAuthorizationToken, ECS's DescribeTaskDefinition, EC2 Describe*, CloudWatch Logs'
# DescribeLogGroups and the SSM session channels of ECS Exec.

locals {
  cluster_tasks       = "arn:${local.partition}:ecs:${local.arn_tail}:task/${local.name}/*"
  run_task_definition = "arn:${local.partition}:ecs:${local.arn_tail}:task-definition/${local.run_family}:*"
  compute_logs        = "${var.bucket_arns["scripts"]}/${local.compute_logs_prefix}/*"
  glue_job            = "arn:${local.partition}:glue:${local.arn_tail}:job/${var.glue_job_name}"
  model_job           = "arn:${local.partition}:glue:${local.arn_tail}:job/${var.model_job_name}"
  pipes               = "${var.bucket_arns["scripts"]}/${var.pipes_prefix}"
  catalog = [
    "arn:${local.partition}:glue:${local.arn_tail}:catalog",
    "arn:${local.partition}:glue:${local.arn_tail}:database/${var.glue_database_name}",
    "arn:${local.partition}:glue:${local.arn_tail}:table/${var.glue_database_name}/*",
  ]
  kinesis_read = ["kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords"]
  glue_runs    = ["glue:GetJobRuns", "glue:GetJobRun", "glue:StartJobRun"]
  ecs_exec     = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

# --- execution role: ECS pulls the image, writes the logs, reads the password -------------------

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "UnscopableRegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullTheImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.this.arn]
  }

  statement {
    sid       = "WriteTaskLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.tasks.arn}:*"]
  }

  statement {
    sid       = "ReadTheDatabasePassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.db_password.arn]
  }

  statement {
    sid       = "DecryptThePasswordAndTheImage"
    actions   = ["kms:Decrypt"]
    resources = [var.data_key_arn]
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- webserver: reads compute logs, stops runs, hosts the SSM session ---------------------------
# With the QueuedRunCoordinator the webserver only enqueues runs (the daemon launches them), so
# it needs no ecs:RunTask and no iam:PassRole; terminating a run is StopTask.

data "aws_iam_policy_document" "webserver" {
  statement {
    sid       = "UnscopableRunLauncherStartup"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "WatchAndStopRunTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.cluster_tasks]
  }

  statement {
    sid       = "ReadComputeLogs"
    actions   = ["s3:GetObject"]
    resources = [local.compute_logs]
  }

  statement {
    sid       = "ListComputeLogs"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arns["scripts"]]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.compute_logs_prefix}/*"]
    }
  }

  statement {
    sid       = "DecryptComputeLogsAndExecSessions"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.data_key_arn]
  }

  statement {
    sid       = "UnscopableEcsExecChannels"
    actions   = local.ecs_exec
    resources = ["*"]
  }

  statement {
    sid       = "UnscopableEcsExecLogCheck"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }

  statement {
    sid       = "LogEcsExecSessions"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.exec.arn}:*"]
  }
}

resource "aws_iam_role" "webserver" {
  name               = "${local.name}-webserver"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "webserver" {
  name   = "webserver"
  role   = aws_iam_role.webserver.id
  policy = data.aws_iam_policy_document.webserver.json
}

# --- daemon: launches each run as a task of the run task definition ----------------------------

data "aws_iam_policy_document" "daemon" {
  statement {
    sid       = "UnscopableRunLauncherStartup"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "StartRunTasksInThisCluster"
    actions   = ["ecs:RunTask"]
    resources = [local.run_task_definition]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }

  statement {
    sid       = "TagRunTasksAtLaunch"
    actions   = ["ecs:TagResource"]
    resources = [local.cluster_tasks]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  statement {
    sid       = "WatchAndStopRunTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.cluster_tasks]
  }

  statement {
    sid       = "PassTheRunTasksRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.run.arn, aws_iam_role.execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    # use_current_ecs_task_config: the run gets the daemon's subnets and security groups,
    # read from its own task's network interface.
    sid       = "UnscopableOwnNetworkInterface"
    actions   = ["ec2:DescribeNetworkInterfaces"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "daemon" {
  name               = "${local.name}-daemon"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "daemon" {
  name   = "run-launcher"
  role   = aws_iam_role.daemon.id
  policy = data.aws_iam_policy_document.daemon.json
}

# --- code location: sensors are evaluated here -------------------------------------------------
# stream_job_sensor (Glue job runs), the lag sensor (Kinesis, read-only) and the committed
# positions in the checkpoint it compares them with.

data "aws_iam_policy_document" "code_server" {
  statement {
    sid       = "WatchAndStartTheStreamJob"
    actions   = local.glue_runs
    resources = [local.glue_job]
  }

  statement {
    sid       = "MeasureTheStreamsBacklog"
    actions   = local.kinesis_read
    resources = [var.stream_arn]
  }

  statement {
    sid       = "ListTheCheckpoints"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arns["checkpoints"]]
  }

  statement {
    sid       = "ReadTheCommittedOffsets"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arns["checkpoints"]}/*"]
  }

  statement {
    sid       = "DecryptTheStreamAndCheckpoints"
    actions   = ["kms:Decrypt"]
    resources = [var.data_key_arn]
  }
}

resource "aws_iam_role" "code_server" {
  name               = "${local.name}-code-server"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "code_server" {
  name   = "sensors"
  role   = aws_iam_role.code_server.id
  policy = data.aws_iam_policy_document.code_server.json
}

# --- run task: what the assets, checks and catalog registration call ---------------------------

data "aws_iam_policy_document" "run" {
  statement {
    sid       = "ReadTheSuppressionListSalt"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.subject_hash_salt_secret_arn]
  }

  statement {
    sid       = "StreamJobRunsAndCatchUps"
    actions   = local.glue_runs
    resources = [local.glue_job]
  }

  statement {
    sid       = "ReadTheStream"
    actions   = local.kinesis_read
    resources = [var.stream_arn]
  }

  # Silver and gold days run as model-build Glue runs through Dagster Pipes
  # (clickstream_assets/model_builds.py): start, watch, stop on a run's termination.
  statement {
    sid       = "ModelBuildRuns"
    actions   = ["glue:StartJobRun", "glue:GetJobRun", "glue:BatchStopJobRun"]
    resources = [local.model_job]
  }

  statement {
    sid       = "HandPipesContextToModelBuilds"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.pipes}/context/*"]
  }

  statement {
    sid       = "ReadPipesMessagesOfModelBuilds"
    actions   = ["s3:GetObject"]
    resources = ["${local.pipes}/messages/*"]
  }

  statement {
    sid       = "RegisterTablesAndViews"
    actions   = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions", "glue:CreateTable", "glue:UpdateTable"]
    resources = local.catalog
  }

  statement {
    sid       = "QueryWithAthena"
    actions   = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup"]
    resources = ["arn:${local.partition}:athena:${local.arn_tail}:workgroup/${var.athena_workgroup_name}"]
  }

  statement {
    sid       = "ListLakeCheckpointsAndResults"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["lake"], var.bucket_arns["checkpoints"], var.bucket_arns["athena"]]
  }

  statement {
    sid       = "ReadWriteTheLakeAndAthenaResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${var.bucket_arns["lake"]}/*", "${var.bucket_arns["athena"]}/*"]
  }

  statement {
    sid       = "ReadTheCommittedOffsets"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arns["checkpoints"]}/*"]
  }

  statement {
    sid       = "WriteComputeLogs"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = [local.compute_logs]
  }

  statement {
    sid       = "UseTheDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.data_key_arn]
  }
}

resource "aws_iam_role" "run" {
  name               = "${local.name}-run"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "run" {
  name   = "assets"
  role   = aws_iam_role.run.id
  policy = data.aws_iam_policy_document.run.json
}
