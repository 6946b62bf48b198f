# The Glue Data Catalog database Athena queries, with the lake's Delta tables registered by
# location only: Athena reads their schema and partitions from each table's Delta log, so a
# column the job adds shows up without a catalog change.

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = "Clickstream lakehouse: bronze, quarantine, silver and gold Delta tables"
}

resource "aws_glue_catalog_table" "delta" {
  for_each      = var.delta_tables
  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "table_type"                 = "DELTA"
    "spark.sql.sources.provider" = "delta"
    "EXTERNAL"                   = "TRUE"
  }

  storage_descriptor {
    location = "s3://${var.lake_bucket}/${each.value}"
  }
}

# One per account and region: enable it in exactly one stack per account (see infra/README.md).
resource "aws_glue_data_catalog_encryption_settings" "this" {
  count = var.manage_catalog_encryption ? 1 : 0

  data_catalog_encryption_settings {
    encryption_at_rest {
      catalog_encryption_mode = "SSE-KMS"
      sse_aws_kms_key_id      = var.data_key_arn
    }
    connection_password_encryption {
      return_connection_password_encrypted = true
      aws_kms_key_id                       = var.data_key_arn
    }
  }
}
