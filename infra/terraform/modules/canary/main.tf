# CodeDeploy for the ingestion Lambda: a release publishes a version, then infra/deploy_lambda.py
# asks this deployment group to shift the alias from the live version to it. The deployment
# config decides the steps (LambdaCanary10Percent5Minutes: 10% for 5 minutes, then all); if the
# function's error or throttle alarm fires meanwhile, CodeDeploy stops and points the alias back
# at the old version, and the release fails.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
  }
}

# What AWSCodeDeployRoleForLambdaLimited allows, scoped to this function and its two alarms; no
# hooks (lambda:InvokeFunction), no S3 revisions and no SNS triggers are used.
data "aws_iam_policy_document" "codedeploy" {
  statement {
    sid       = "ShiftTheAlias"
    actions   = ["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig"]
    resources = [var.function_arn, "${var.function_arn}:*"]
  }
  statement {
    sid       = "WatchTheRollbackAlarms"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = values(var.alarms)
  }
}

resource "aws_iam_role" "codedeploy" {
  name               = "${var.name}-codedeploy"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "codedeploy" {
  name   = "shift-the-ingest-alias"
  role   = aws_iam_role.codedeploy.id
  policy = data.aws_iam_policy_document.codedeploy.json
}

resource "aws_codedeploy_app" "this" {
  name             = var.name
  compute_platform = "Lambda"
}

resource "aws_codedeploy_deployment_group" "this" {
  app_name               = aws_codedeploy_app.this.name
  deployment_group_name  = "${var.name}-${var.alias_name}"
  service_role_arn       = aws_iam_role.codedeploy.arn
  deployment_config_name = var.deployment_config

  deployment_style {
    deployment_type   = "BLUE_GREEN"
    deployment_option = "WITH_TRAFFIC_CONTROL"
  }

  alarm_configuration {
    enabled = true
    alarms  = keys(var.alarms)
    # An alarm CodeDeploy cannot read stops the deployment: no shift without the safety net.
    ignore_poll_alarm_failure = false
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }

  # The role must be able to act before the first deployment starts.
  depends_on = [aws_iam_role_policy.codedeploy]
}
