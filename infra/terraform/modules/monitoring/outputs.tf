output "alarm_topic_arn" {
  description = "ARN of the SNS topic every alarm and Glue failure notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value       = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name]
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "lambda_alarms" {
  description = "The ingestion function's error and throttle alarms (name => ARN): a canary deployment rolls back when one fires."
  value = {
    for key in ["lambda-errors", "lambda-throttles"] :
    aws_cloudwatch_metric_alarm.this[key].alarm_name => aws_cloudwatch_metric_alarm.this[key].arn
  }
}
