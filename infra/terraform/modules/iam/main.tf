# Least-privilege roles of the data plane. Every Allow names its actions one by one (no "*" in
# any action) and its resources by ARN; the only resource "*" statements hold actions that AWS
# cannot scope to a resource (EC2 Describe*, X-Ray, CloudWatch PutMetricData) or asks for on
# every resource (the Lambda's network interfaces in the VPC).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  arn_tail  = "${local.region}:${local.account}"

  eni_resources = concat(
    ["arn:${local.partition}:ec2:${local.arn_tail}:network-interface/*"],
    [for id in var.subnet_ids : "arn:${local.partition}:ec2:${local.arn_tail}:subnet/${id}"],
    [for id in var.security_group_ids : "arn:${local.partition}:ec2:${local.arn_tail}:security-group/${id}"],
  )
  glue_log_groups = "arn:${local.partition}:logs:${local.arn_tail}:log-group:/aws-glue/*"
}

# --- ingestion Lambda -------------------------------------------------------------------------

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "lambda" {
  #checkov:skip=CKV_AWS_111:The Lambda's network interface actions on "*" are what AWS's Lambda guide requires of a function in a VPC (AWSLambdaVPCAccessExecutionRole); Lambda checks them at creation.
  #checkov:skip=CKV_AWS_356:Resource "*" only for the VPC network interface actions AWS's Lambda guide requires on every resource, and X-Ray, which has no resource ARNs.
  statement {
    sid       = "PutEventsOnTheStream"
    actions   = ["kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [var.stream_arn]
  }

  statement {
    sid = "EncryptRecordsAndReadTheEncryptedEnvironmentAndWriteKeys"
    # Kinesis SSE asks the producer's role for a data key; Lambda decrypts its environment
    # (which carries the salt) with the function's role, and Secrets Manager decrypts the
    # write keys secret with the caller's kms:Decrypt on the key that encrypts it.
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.data_key_arn]
  }

  statement {
    sid       = "ReadTheWriteKeys"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.write_keys_secret_arn]
  }

  statement {
    sid = "ReadTheErasedPeopleAndTheirSalt"
    # streaming/erased.py: the handler drops the events of erased people, listed as salted
    # hashes in one object beside the lake, and needs the salt to hash the ids it receives.
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.subject_hash_salt_secret_arn]
  }

  statement {
    sid       = "ReadTheErasedPeopleList"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arns["lake"]}/privacy/suppressed-hashes.txt"]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.lambda_log_group_arn}:*"]
  }

  statement {
    sid = "ManageNetworkInterfacesInTheVpc"
    # What AWS's Lambda guide ("Giving Lambda functions access to resources in an Amazon VPC")
    # lists for a function in a VPC, on every resource: Lambda checks these when the function
    # is created or updated, before any interface exists, so ARNs of subnets and groups fail.
    actions = [
      "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "UnscopableTracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-ingest-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "lambda" {
  name   = "ingest"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

# --- Glue streaming job -----------------------------------------------------------------------

data "aws_iam_policy_document" "glue_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

# What every Glue job of the stack needs to run in the VPC, whatever it reads and writes:
# its network connection, its logs, its network interfaces and Glue's metrics.
data "aws_iam_policy_document" "glue_runtime" {
  statement {
    sid     = "UseTheNetworkConnection"
    actions = ["glue:GetConnection"]
    resources = [
      "arn:${local.partition}:glue:${local.arn_tail}:catalog",
      "arn:${local.partition}:glue:${local.arn_tail}:connection/${var.glue_connection_name}",
    ]
  }

  statement {
    sid       = "WriteGlueLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = [local.glue_log_groups, "${local.glue_log_groups}:log-stream:*"]
  }

  statement {
    sid       = "ManageOwnNetworkInterfaces"
    actions   = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:CreateTags", "ec2:DeleteTags"]
    resources = local.eni_resources
  }

  statement {
    sid = "UnscopableDescribe"
    actions = [
      "ec2:DescribeNetworkInterfaces", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets", "ec2:DescribeVpcEndpoints",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "DescribeTheVpc"
    actions   = ["ec2:DescribeVpcAttribute"]
    resources = ["arn:${local.partition}:ec2:${local.arn_tail}:vpc/${var.vpc_id}"]
  }

  statement {
    sid       = "PublishGlueMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }
}

data "aws_iam_policy_document" "glue" {
  source_policy_documents = [data.aws_iam_policy_document.glue_runtime.json]

  statement {
    sid       = "ReadTheSuppressionListSalt"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.subject_hash_salt_secret_arn]
  }

  statement {
    sid       = "ReadTheEventStream"
    actions   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords"]
    resources = [var.stream_arn]
  }

  statement {
    sid       = "ListLakeCheckpointAndScriptBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["lake"], var.bucket_arns["checkpoints"], var.bucket_arns["scripts"]]
  }

  statement {
    sid     = "ReadWriteLakeCheckpointsAndGlueTempFiles"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [
      "${var.bucket_arns["lake"]}/*",
      "${var.bucket_arns["checkpoints"]}/*",
      "${var.bucket_arns["scripts"]}/glue-temp/*",
      "${var.bucket_arns["scripts"]}/spark-events/*",
    ]
  }

  statement {
    sid       = "ReadJobScriptAndPackage"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arns["scripts"]}/glue/*"]
  }

  statement {
    sid       = "UseTheDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.data_key_arn]
  }

  statement {
    sid     = "ReadCatalogDefinitions"
    actions = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"]
    resources = [
      "arn:${local.partition}:glue:${local.arn_tail}:catalog",
      "arn:${local.partition}:glue:${local.arn_tail}:database/${var.glue_database_name}",
      "arn:${local.partition}:glue:${local.arn_tail}:table/${var.glue_database_name}/*",
    ]
  }
}

resource "aws_iam_role" "glue" {
  name               = "${var.name}-glue-stream-job"
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
}

resource "aws_iam_role_policy" "glue" {
  name   = "stream-job"
  role   = aws_iam_role.glue.id
  policy = data.aws_iam_policy_document.glue.json
}

# --- Glue model-build job -----------------------------------------------------------------------
# Reads the lake, replaces days of silver and gold, reads its Pipes context and writes its
# Pipes messages (streaming/lake/build_job.py); no stream, checkpoint or secret.

data "aws_iam_policy_document" "glue_models" {
  source_policy_documents = [data.aws_iam_policy_document.glue_runtime.json]

  statement {
    sid       = "ListLakeAndScriptBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["lake"], var.bucket_arns["scripts"]]
  }

  statement {
    sid       = "ReadTheLake"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arns["lake"]}/*"]
  }

  statement {
    sid     = "WriteSilverGoldAndGlueTempFiles"
    actions = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [
      "${var.bucket_arns["lake"]}/silver/*",
      "${var.bucket_arns["lake"]}/gold/*",
      "${var.bucket_arns["scripts"]}/glue-temp/*",
      "${var.bucket_arns["scripts"]}/spark-events/*",
    ]
  }

  statement {
    sid       = "ReadJobScriptPackageAndPipesContext"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arns["scripts"]}/glue/*", "${var.bucket_arns["scripts"]}/${var.pipes_prefix}/context/*"]
  }

  statement {
    sid       = "WritePipesMessages"
    actions   = ["s3:PutObject"]
    resources = ["${var.bucket_arns["scripts"]}/${var.pipes_prefix}/messages/*"]
  }

  statement {
    sid       = "UseTheDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.data_key_arn]
  }
}

resource "aws_iam_role" "glue_models" {
  name               = "${var.name}-glue-model-builds"
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
}

resource "aws_iam_role_policy" "glue_models" {
  name   = "model-builds"
  role   = aws_iam_role.glue_models.id
  policy = data.aws_iam_policy_document.glue_models.json
}
