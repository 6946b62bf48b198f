# Disaster recovery of the lake: the lake and scripts buckets replicated to a second region
# (var.replica_region, provider aws.replica), each object re-encrypted there with a key of that
# region, so losing the primary region (or its data key) loses neither the Delta tables nor
# the job's code. Replication copies new writes and delete markers (a VACUUM'd file is gone in
# both, an older version stays in both for noncurrent_version_expiration_days); the
# checkpoints bucket is not copied: its Kinesis sequence numbers mean nothing to a stream in
# another region. docs/disaster-recovery.md says how a restore uses the replica.

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.replica]
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
  # Everything the account may delegate through IAM policies (as modules/kms lists it).
  account_actions = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt",
    "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation",
    "kms:EnableKey", "kms:EnableKeyRotation", "kms:Encrypt", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListKeyRotations", "kms:ListResourceTags",
    "kms:PutKeyPolicy", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant",
    "kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
  ]
}

data "aws_iam_policy_document" "replica_key" {
  #checkov:skip=CKV_AWS_111:Key policy: resource "*" is this key only; write actions go to this account's principals alone.
  #checkov:skip=CKV_AWS_356:Key policy: "*" is the key itself; the replication role's policy grants narrow use of it.
  statement {
    sid       = "AccountDelegatesThroughIam"
    actions   = local.account_actions
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }
}

resource "aws_kms_key" "replica" {
  provider                = aws.replica
  description             = "${var.name}: replica of the lake and scripts buckets in ${var.replica_region}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.replica_key.json
}

resource "aws_kms_alias" "replica" {
  provider      = aws.replica
  name          = "alias/${var.name}-replica"
  target_key_id = aws_kms_key.replica.key_id
}

resource "aws_s3_bucket" "replica" {
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events of the replica; it is read only in a recovery.
  #checkov:skip=CKV_AWS_18:Only S3 replication writes here and nothing reads it outside a recovery; access logs would need a log bucket of their own in the replica region.
  provider      = aws.replica
  for_each      = var.source_buckets
  bucket        = "${var.name}-${each.key}-${data.aws_caller_identity.current.account_id}-${var.replica_region}"
  force_destroy = var.force_destroy
  tags          = { Purpose = "Cross-region replica of ${each.value.name}" }
}

resource "aws_s3_bucket_versioning" "replica" {
  provider = aws.replica
  for_each = var.source_buckets
  bucket   = aws_s3_bucket.replica[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  provider = aws.replica
  for_each = var.source_buckets
  bucket   = aws_s3_bucket.replica[each.key].id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.replica.arn
    }
  }
}

resource "aws_s3_bucket_public_access_block" "replica" {
  provider                = aws.replica
  for_each                = var.source_buckets
  bucket                  = aws_s3_bucket.replica[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "replica" {
  provider = aws.replica
  for_each = var.source_buckets
  bucket   = aws_s3_bucket.replica[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = var.source_buckets
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.replica[each.key].arn, "${aws_s3_bucket.replica[each.key].arn}/*"]
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

resource "aws_s3_bucket_policy" "replica" {
  provider   = aws.replica
  for_each   = var.source_buckets
  bucket     = aws_s3_bucket.replica[each.key].id
  policy     = data.aws_iam_policy_document.tls_only[each.key].json
  depends_on = [aws_s3_bucket_public_access_block.replica]
}

resource "aws_s3_bucket_lifecycle_configuration" "replica" {
  provider   = aws.replica
  for_each   = var.source_buckets
  bucket     = aws_s3_bucket.replica[each.key].id
  depends_on = [aws_s3_bucket_versioning.replica]

  rule {
    id     = "replaced-versions"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

# What S3 replication needs, on these buckets and keys only.
data "aws_iam_policy_document" "replication" {
  statement {
    sid       = "ReadTheSourceBuckets"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [for bucket in var.source_buckets : bucket.arn]
  }
  statement {
    sid = "ReadTheSourceVersions"
    actions = [
      "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
    ]
    resources = [for bucket in var.source_buckets : "${bucket.arn}/*"]
  }
  statement {
    sid       = "WriteTheReplicas"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = [for bucket in aws_s3_bucket.replica : "${bucket.arn}/*"]
  }
  statement {
    sid       = "DecryptWithTheSourceKey"
    actions   = ["kms:Decrypt"]
    resources = [var.source_key_arn]
  }
  statement {
    sid       = "EncryptWithTheReplicaKey"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.replica.arn]
  }
}

resource "aws_iam_role" "replication" {
  name               = "${var.name}-s3-replication"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "replication" {
  name   = "replicate-lake-and-scripts"
  role   = aws_iam_role.replication.id
  policy = data.aws_iam_policy_document.replication.json
}

resource "aws_s3_bucket_replication_configuration" "this" {
  for_each = var.source_buckets
  bucket   = each.value.name
  role     = aws_iam_role.replication.arn
  # The replica must be versioned before S3 accepts it as a destination.
  depends_on = [aws_s3_bucket_versioning.replica, aws_iam_role_policy.replication]

  rule {
    id     = "to-${var.replica_region}"
    status = "Enabled"
    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    # Every object is SSE-KMS with the data key; without this S3 would skip them all.
    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }

    destination {
      bucket        = aws_s3_bucket.replica[each.key].arn
      storage_class = "STANDARD"
      encryption_configuration {
        replica_kms_key_id = aws_kms_key.replica.arn
      }
    }
  }
}
