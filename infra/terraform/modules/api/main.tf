# HTTP API (payload format 2.0, the event shape streaming/local/gateway.py reproduces locally) with one
# POST route per path the ingestion Lambda answers. Throttling is set on the stage; API Gateway
# answers CORS preflights itself, so only POSTs reach the function. With CORS configured, API
# Gateway ignores the CORS headers the function returns, so this block mirrors streaming/ingest/cors.py:
# the same methods and headers, and retry-after exposed (the handler exposes it on a 503).

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "Clickstream ingestion: browser tracker -> Lambda -> Kinesis"

  cors_configuration {
    allow_origins  = var.cors_allowed_origins
    allow_methods  = ["OPTIONS", "POST"]
    allow_headers  = ["authorization", "content-type"]
    expose_headers = ["retry-after"]
    max_age        = 600
  }
}

resource "aws_apigatewayv2_integration" "lambda" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = var.lambda_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

# One route per path the handler serves (its /v1/events and the Segment tracking API's paths),
# not `POST /v1/{proxy+}`: the handler answers any other path with 404 anyway, so API Gateway
# answers it instead, and a stray or hostile request never invokes the function, is never
# billed as an invocation and never takes a slot of its reserved concurrency. The routes share the API's CORS
# configuration, the stage's throttling and the integration, and none has an authorizer (the
# handler checks the write key), so every path behaves as /v1/events does.
resource "aws_apigatewayv2_route" "ingest" {
  #checkov:skip=CKV_AWS_309:A public, write-only beacon for browsers, which cannot keep a credential; abuse is bounded by stage throttling, the function's reserved concurrency and the handler's contract validation.
  for_each           = var.paths
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "POST ${each.value}"
  target             = "integrations/${aws_apigatewayv2_integration.lambda.id}"
  authorization_type = "NONE"
}

# The route of /v1/events predates the Segment paths: its state moves instead of the route
# being replaced (which would fail the live tracker's requests during the apply).
moved {
  from = aws_apigatewayv2_route.events
  to   = aws_apigatewayv2_route.ingest["/v1/events"]
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit    = var.throttle_rate_limit
    throttling_burst_limit   = var.throttle_burst_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationLatency = "$context.integrationLatency"
      responseLatency    = "$context.responseLatency"
      integrationError   = "$context.integrationErrorMessage"
    })
  }
}

resource "aws_lambda_permission" "api" {
  for_each = var.paths
  # "AllowInvokeFromHttpApiEventsRoute" for /v1/events, the id it had before the Segment paths,
  # so its statement stays in place (see the moved block below).
  statement_id  = "AllowInvokeFromHttpApi${title(basename(each.value))}Route"
  action        = "lambda:InvokeFunction"
  function_name = var.lambda_function_name
  qualifier     = var.lambda_alias_name
  principal     = "apigateway.amazonaws.com"
  # execute-api ARNs read <api>/<stage>/<METHOD>/<path>; only the routes above may invoke.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/POST${each.value}"

  # The permission lives in the alias's policy (the integration invokes the alias); a new one is
  # in place before the old one goes, so no request in between is refused.
  lifecycle {
    create_before_destroy = true
  }
}

moved {
  from = aws_lambda_permission.api
  to   = aws_lambda_permission.api["/v1/events"]
}
