# Alarms where the pipeline breaks (API and Lambda errors and throttles, stream write throttles,
# a stream nobody reads fast enough, a failed Glue run), one topic for all, and a dashboard.
# Every alarm's dimensions are a map(string), so the alarm objects share one type.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name
  alarms = {
    iterator-age = {
      description        = "The stream job is behind or down: the oldest unread record is older than the threshold (no reads at all count as breaching)."
      namespace          = "AWS/Kinesis"
      metric             = "GetRecords.IteratorAgeMilliseconds"
      dimensions         = tomap({ StreamName = var.stream_name })
      statistic          = "Maximum"
      threshold          = var.iterator_age_threshold_ms
      evaluation_periods = 5
      treat_missing_data = "breaching"
    }
    stream-write-throttles = {
      description        = "PutRecords hit the stream's write limit; the handler answers 503 for the throttled events."
      namespace          = "AWS/Kinesis"
      metric             = "WriteProvisionedThroughputExceeded"
      dimensions         = tomap({ StreamName = var.stream_name })
      statistic          = "Sum"
      threshold          = 0
      evaluation_periods = 3
      treat_missing_data = "notBreaching"
    }
    lambda-errors = {
      description        = "The ingestion function raised (requests got a 5xx from API Gateway)."
      namespace          = "AWS/Lambda"
      metric             = "Errors"
      dimensions         = tomap({ FunctionName = var.lambda_function_name })
      statistic          = "Sum"
      threshold          = 0
      evaluation_periods = 3
      treat_missing_data = "notBreaching"
    }
    lambda-throttles = {
      description        = "The ingestion function hit its reserved concurrency; requests were refused."
      namespace          = "AWS/Lambda"
      metric             = "Throttles"
      dimensions         = tomap({ FunctionName = var.lambda_function_name })
      statistic          = "Sum"
      threshold          = 0
      evaluation_periods = 3
      treat_missing_data = "notBreaching"
    }
    api-5xx = {
      description        = "The HTTP API answered 5xx (integration failures, timeouts, handler 503s)."
      namespace          = "AWS/ApiGateway"
      metric             = "5xx"
      dimensions         = tomap({ ApiId = var.api_id, Stage = var.api_stage })
      statistic          = "Sum"
      threshold          = 0
      evaluation_periods = 3
      treat_missing_data = "notBreaching"
    }
    glue-job-failures = {
      description        = "A run of the Glue stream job failed, timed out or was stopped."
      namespace          = "AWS/Events"
      metric             = "TriggeredRules"
      dimensions         = tomap({ RuleName = aws_cloudwatch_event_rule.glue_job_failed.name })
      statistic          = "Sum"
      threshold          = 0
      evaluation_periods = 1
      treat_missing_data = "notBreaching"
    }
  }
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.logs_key_arn
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "AlarmsAndEventsOfThisAccountPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_event_rule" "glue_job_failed" {
  name        = "${var.name}-glue-job-failed"
  description = "A run of ${var.glue_job_name} ended in FAILED, TIMEOUT, ERROR or STOPPED"
  event_pattern = jsonencode({
    source        = ["aws.glue"]
    "detail-type" = ["Glue Job State Change"]
    detail = {
      jobName = [var.glue_job_name]
      state   = ["FAILED", "TIMEOUT", "ERROR", "STOPPED"]
    }
  })
}

resource "aws_cloudwatch_event_target" "glue_job_failed" {
  rule = aws_cloudwatch_event_rule.glue_job_failed.name
  arn  = aws_sns_topic.alarms.arn
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = each.value.treat_missing_data
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "alarm", x = 0, y = 0, width = 24, height = 3
        properties = {
          title  = "Pipeline alarms"
          alarms = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.arn]
        }
      },
      {
        type = "metric", x = 0, y = 3, width = 12, height = 6
        properties = {
          title  = "HTTP API: requests and errors"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/ApiGateway", "Count", "ApiId", var.api_id, "Stage", var.api_stage],
            ["AWS/ApiGateway", "4xx", "ApiId", var.api_id, "Stage", var.api_stage],
            ["AWS/ApiGateway", "5xx", "ApiId", var.api_id, "Stage", var.api_stage],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 3, width = 12, height = 6
        properties = {
          title  = "Ingestion Lambda: invocations, errors, throttles"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", var.lambda_function_name],
            ["AWS/Lambda", "Errors", "FunctionName", var.lambda_function_name],
            ["AWS/Lambda", "Throttles", "FunctionName", var.lambda_function_name],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 9, width = 12, height = 6
        properties = {
          title  = "Kinesis: records in and write throttles"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/Kinesis", "IncomingRecords", "StreamName", var.stream_name],
            ["AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", var.stream_name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 9, width = 12, height = 6
        properties = {
          title  = "Stream job lag: iterator age (ms)"
          region = local.region
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", var.stream_name],
          ]
          annotations = {
            horizontal = [{ label = "alarm", value = var.iterator_age_threshold_ms }]
          }
        }
      },
    ]
  })
}
