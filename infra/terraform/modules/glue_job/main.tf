# The stream job as an AWS Glue 6.0 streaming job (Spark 4.1.1, Delta 4.2.0, Python 3.13): the
# versions the project pins locally (pyproject.toml), so streaming/stream/job.py runs on the same
# Spark and Delta it is tested with. Beside it, the model-build job (streaming/lake/build_job.py):
# a Glue 6.0 batch job that builds one day of a silver or gold table per run, launched by
# Dagster through Pipes; it shares the package, the wheels, the network connection and the
# security configuration.

locals {
  glue_version = "6.0"
  vcpus        = { "G.1X" = 4, "G.2X" = 8, "G.4X" = 16, "G.8X" = 32 }
  # The longest run Glue allows a streaming job (7 days). Left unset, a Glue 5.0+ job stops
  # after 480 minutes; either way a run ends some day, and the control plane's
  # stream_job_sensor (clickstream_assets/defs/stream/sensors.py) starts the next one.
  timeout_minutes = 10080
  # The settings streaming/stream/spark.py gives a local session, minus the local-only ones
  # (master, driver address and memory). Shuffle partitions follow a job's executor cores; a
  # streaming query keeps the count its checkpoint started with.
  stream_conf = {
    "spark.sql.session.timeZone"   = "UTC"
    "spark.sql.shuffle.partitions" = tostring(max(2, (var.number_of_workers - 1) * local.vcpus[var.worker_type]))
  }
  # Delta's settings (DELTA_CONF there), only in the model builds' session: the stream job
  # commits through delta-rs, and its session has no Delta, on Glue as outside it.
  delta_conf = {
    "spark.sql.extensions"                                             = "io.delta.sql.DeltaSparkSessionExtension"
    "spark.sql.catalog.spark_catalog"                                  = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    "spark.databricks.delta.snapshotPartitions"                        = "1"
    "spark.databricks.delta.properties.defaults.enableDeletionVectors" = "false"
  }
  models_conf = merge(local.stream_conf, local.delta_conf, {
    "spark.sql.shuffle.partitions" = tostring(max(2, (var.models_number_of_workers - 1) * local.vcpus[var.models_worker_type]))
  })
  scripts_uri = "s3://${var.scripts_bucket}"
  # deltalake (the job's commit path, streaming/lake/delta.py) and what it needs, as wheels
  # for Glue 6.0's CPython 3.13 on x86_64 (infra/package_artifacts.py). The job's VPC reaches
  # no package index: Glue's pip installs exactly these files from S3, --no-index keeping it
  # from looking for anything else.
  wheels = sort(tolist(fileset(var.wheels_dir, "*.whl")))
  glue_arguments = {
    "--job-language"                     = "python"
    "--job-bookmark-option"              = "job-bookmark-disable"
    "--extra-py-files"                   = "s3://${var.scripts_bucket}/${aws_s3_object.package.key}"
    "--additional-python-modules"        = join(",", [for name in local.wheels : "s3://${var.scripts_bucket}/${aws_s3_object.wheel[name].key}"])
    "--python-modules-installer-option"  = "--no-index"
    "--TempDir"                          = "${local.scripts_uri}/glue-temp/"
    "--enable-metrics"                   = "true"
    "--enable-observability-metrics"     = "true"
    "--enable-continuous-cloudwatch-log" = "true"
    "--enable-spark-ui"                  = "true"
    "--spark-event-logs-path"            = "${local.scripts_uri}/spark-events/"
  }
  # Glue accepts a single --conf argument; further settings ride in its value as " --conf k=v".
  stream_arguments = merge(local.glue_arguments, {
    "--conf" = join(" --conf ", [for key, value in local.stream_conf : "${key}=${value}"])
  })
  # Glue puts Delta's jars in the model builds' session (silver and gold are built on Spark).
  models_arguments = merge(local.glue_arguments, {
    "--datalake-formats" = "delta"
    "--conf"             = join(" --conf ", [for key, value in local.models_conf : "${key}=${value}"])
  })
}

resource "aws_s3_object" "script" {
  bucket                 = var.scripts_bucket
  key                    = "glue/job.py"
  source                 = var.script_path
  source_hash            = filemd5(var.script_path)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.data_key_arn
}

resource "aws_s3_object" "build_script" {
  bucket                 = var.scripts_bucket
  key                    = "glue/build_job.py"
  source                 = var.models_script_path
  source_hash            = filemd5(var.models_script_path)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.data_key_arn
}

resource "aws_s3_object" "package" {
  bucket                 = var.scripts_bucket
  key                    = "glue/streaming.zip"
  source                 = var.package_zip_path
  source_hash            = filemd5(var.package_zip_path)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.data_key_arn
}

resource "aws_s3_object" "wheel" {
  for_each               = toset(local.wheels)
  bucket                 = var.scripts_bucket
  key                    = "glue/wheels/${each.value}"
  source                 = "${var.wheels_dir}/${each.value}"
  source_hash            = filemd5("${var.wheels_dir}/${each.value}")
  server_side_encryption = "aws:kms"
  kms_key_id             = var.data_key_arn
}

resource "aws_glue_connection" "network" {
  name            = var.connection_name
  connection_type = "NETWORK"
  description     = "Runs the stream job's workers in the private subnets (VPC endpoints only)"

  physical_connection_requirements {
    availability_zone      = var.availability_zone
    subnet_id              = var.subnet_id
    security_group_id_list = [aws_security_group.this.id]
  }
}

resource "aws_glue_security_configuration" "this" {
  name = var.name

  encryption_configuration {
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.data_key_arn
    }
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.logs_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.data_key_arn
    }
  }
}

resource "aws_glue_job" "this" {
  name                   = var.name
  description            = "Kinesis -> parse/validate -> dedup -> Delta bronze and quarantine"
  role_arn               = var.role_arn
  glue_version           = local.glue_version
  worker_type            = var.worker_type
  number_of_workers      = var.number_of_workers
  connections            = [aws_glue_connection.network.name]
  security_configuration = aws_glue_security_configuration.this.name
  timeout                = local.timeout_minutes
  # When Glue may restart the streaming job for its own maintenance ("Sun:3" = Sundays from
  # 03:00 UTC); without a window it restarts it whenever it needs to.
  maintenance_window = var.maintenance_window

  command {
    name            = "gluestreaming"
    script_location = "s3://${aws_s3_object.script.bucket}/${aws_s3_object.script.key}"
    python_version  = "3"
  }

  # One run at a time: two runs on one checkpoint would race for the same batches.
  execution_property {
    max_concurrent_runs = 1
  }

  # Glue passes every argument to the script as `--name value`; the job's own settings follow
  # the same form (--CLICKSTREAM_...).
  default_arguments = merge(local.stream_arguments, { for name, value in var.job_settings : "--${name}" => value })

  lifecycle {
    precondition {
      condition     = length([for name in local.wheels : name if startswith(name, "deltalake-")]) == 1
      error_message = "The job needs exactly one deltalake wheel in wheels_dir: run python infra/package_artifacts.py first."
    }
  }
}

# One day of one silver or gold table per run (--table, --day), with the Pipes bootstrap
# arguments Dagster's PipesGlueClient adds; Dagster waits for the run and reads its report.
resource "aws_glue_job" "models" {
  name                   = var.models_name
  description            = "One day of a silver or gold table, built on Spark and committed by delta-rs (Dagster Pipes)"
  role_arn               = var.models_role_arn
  glue_version           = local.glue_version
  worker_type            = var.models_worker_type
  number_of_workers      = var.models_number_of_workers
  connections            = [aws_glue_connection.network.name]
  security_configuration = aws_glue_security_configuration.this.name
  timeout                = var.models_timeout_minutes

  command {
    name            = "glueetl"
    script_location = "s3://${aws_s3_object.build_script.bucket}/${aws_s3_object.build_script.key}"
    python_version  = "3"
  }

  # A backfill's days run side by side: delta-rs commits each day's partition replacement
  # safely beside the others (streaming/lake/delta.py).
  execution_property {
    max_concurrent_runs = var.models_max_concurrent_runs
  }

  # The stream job's Glue arguments with Delta (the package and wheels, logs: Pipes reports
  # what the script says, CloudWatch keeps what Spark says, e.g. an import error before Pipes
  # opens).
  default_arguments = merge(local.models_arguments, { for name, value in var.models_settings : "--${name}" => value })

  lifecycle {
    precondition {
      condition     = length([for name in local.wheels : name if startswith(name, "dagster_pipes-")]) == 1
      error_message = "The model-build job needs exactly one dagster_pipes wheel in wheels_dir: run python infra/package_artifacts.py first."
    }
  }
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached to the Glue NETWORK connection above (aws_glue_connection), a resource type this check does not know.
  name        = var.name
  description = "Glue jobs: Spark traffic among their workers, HTTPS to the endpoints"
  vpc_id      = var.vpc_id

  ingress {
    description = "Spark driver and executors talk to each other (Glue requires a self rule)"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }

  egress {
    description = "Spark driver and executors talk to each other"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }

  egress {
    description = "HTTPS to the interface endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description     = "HTTPS to S3 through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [var.s3_prefix_list_id]
  }
}
