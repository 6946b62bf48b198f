# The data buckets (lake, checkpoints, scripts, athena results) share one hardened shape:
# SSE-KMS with the data key, versioning, all public access blocked, ACLs disabled, TLS-only
# bucket policy, server access logs, and lifecycle rules. A fifth bucket receives the access
# logs (S3 log delivery supports SSE-S3 only, so that bucket cannot use the KMS key).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  suffix = "${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  buckets = {
    lake        = "Delta tables: bronze, quarantine, silver, gold"
    checkpoints = "Spark Structured Streaming checkpoints (offsets, state)"
    scripts     = "Glue job script, its Python package and Glue's temporary files"
    athena      = "Athena query results"
  }
  lake_tiers = [
    { days = var.lake_ia_transition_days, storage_class = "STANDARD_IA" },
    { days = var.lake_glacier_ir_transition_days, storage_class = "GLACIER_IR" },
  ]
}

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_144:The lake and scripts buckets are replicated by modules/dr (separate replication resources, which this check does not follow) where dr_replication_enabled; checkpoints (sequence numbers of this region's stream) and Athena results are not worth a copy.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events: the Delta log is the change feed and Dagster polls it.
  for_each      = local.buckets
  bucket        = "${var.name}-${each.key}-${local.suffix}"
  force_destroy = var.force_destroy
  tags          = { Purpose = each.value }
}

resource "aws_s3_bucket_versioning" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.data_key_arn
    }
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  for_each                = local.buckets
  bucket                  = aws_s3_bucket.data[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each      = local.buckets
  bucket        = aws_s3_bucket.data[each.key].id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.key}/"
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.buckets
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.data[each.key].arn, "${aws_s3_bucket.data[each.key].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id
  policy   = data.aws_iam_policy_document.tls_only[each.key].json
  # The policy must follow the public access block, or S3 may evaluate it as public first.
  depends_on = [aws_s3_bucket_public_access_block.data]
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.data[each.key].id
  # Objects under 128 KiB (Delta's log and checkpoint files) never change class: a transition
  # of a small object costs more than it saves.
  transition_default_minimum_object_size = "all_storage_classes_128K"
  # Lifecycle rules act on versions, so they wait for versioning.
  depends_on = [aws_s3_bucket_versioning.data]

  rule {
    id     = "tiers-and-expiry"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    dynamic "transition" {
      for_each = each.key == "lake" ? local.lake_tiers : []
      content {
        days          = transition.value.days
        storage_class = transition.value.storage_class
      }
    }
    expiration {
      # Athena results are disposable; elsewhere only orphaned delete markers go.
      days                         = each.key == "athena" ? var.athena_results_expiration_days : null
      expired_object_delete_marker = each.key == "athena" ? null : true
    }
  }

  # Hand-offs read only while their run lasts (Dagster Pipes' messages): written once per
  # run and deleted by no one, so they expire; replaced versions then go with the rule above.
  dynamic "rule" {
    for_each = lookup(var.expiring_prefixes, each.key, {})
    content {
      id     = "expire-${trimsuffix(replace(rule.key, "/", "-"), "-")}"
      status = "Enabled"
      filter {
        prefix = rule.key
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
      expiration {
        days = rule.value
      }
    }
  }
}

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_145:S3 server access log delivery only writes to buckets encrypted with SSE-S3, not SSE-KMS.
  #checkov:skip=CKV_AWS_144:Access logs are an audit trail of this region's buckets; replicating them is left with the data buckets' DR choice.
  #checkov:skip=CKV2_AWS_62:Nothing consumes log object events.
  bucket        = "${var.name}-access-logs-${local.suffix}"
  force_destroy = var.force_destroy
  tags          = { Purpose = "S3 server access logs of the data buckets" }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "S3LogDeliveryFromTheDataBuckets"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = concat([for bucket in aws_s3_bucket.data : bucket.arn], var.log_source_bucket_arns)
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket     = aws_s3_bucket.access_logs.id
  policy     = data.aws_iam_policy_document.access_logs.json
  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket     = aws_s3_bucket.access_logs.id
  depends_on = [aws_s3_bucket_versioning.access_logs]

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    expiration {
      days = var.access_log_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }
}
