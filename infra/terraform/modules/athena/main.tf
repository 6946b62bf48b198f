# The workgroup BI tools and analysts use: results land encrypted in the results bucket, the
# workgroup's settings override the client's, and a runaway query is cut off by bytes scanned.
data "aws_caller_identity" "current" {}

resource "aws_athena_workgroup" "this" {
  name        = var.name
  description = "Clickstream lakehouse SQL (Delta tables in the Glue Data Catalog)"
  # The workgroup holds saved queries and history only; results live in the results bucket.
  force_destroy = true

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${var.results_bucket}/results/"
      expected_bucket_owner = data.aws_caller_identity.current.account_id

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.data_key_arn
      }
    }
  }
}
