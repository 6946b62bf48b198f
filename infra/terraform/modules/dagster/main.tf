# Dagster's control plane on ECS Fargate, in the private subnets: the webserver (UI), the daemon
# (sensors, schedules, the run queue) and the code location (`dagster code-server start`,
# serving clickstream_assets over gRPC) as services; each run its own task (EcsRunLauncher,
# infra/dagster/dagster.yaml), started by the daemon from the run task definition below.
# Storage is PostgreSQL on RDS (database.tf), compute logs go to S3, the image to ECR.
#
# The UI has no login and can launch runs, so it is reached only from inside the VPC: an
# internal load balancer (no public address, and the VPC has no internet gateway) that accepts
# ui_allowed_cidrs alone, for a VPN; or an SSM port forwarding session to the webserver's task
# (ECS Exec, authorized by IAM); infra/README.md says why this and not a Cognito/OIDC login.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name      = "${var.name}-dagster"
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  arn_tail  = "${local.region}:${local.account}"
  image     = "${aws_ecr_repository.this.repository_url}:${var.image_tag}"

  # The code location's address, as the webserver and the daemon dial it (Cloud Map DNS).
  code_server_host = "${aws_service_discovery_service.code_server.name}.${aws_service_discovery_private_dns_namespace.this.name}"
  code_server_port = 4000
  webserver_port   = 3000
  run_family       = "${local.name}-run"
  # Where S3ComputeLogManager keeps the runs' stdout and stderr (the scripts bucket's prefix).
  compute_logs_prefix = "dagster/compute-logs"

  # What infra/dagster/dagster.yaml reads, for every task: the same instance everywhere (a run
  # worker opens the instance the daemon hands it, so it needs the storage settings too).
  environment = merge(var.settings, {
    DAGSTER_HOME                = "/opt/dagster/dagster_home"
    DAGSTER_PG_HOST             = aws_db_instance.this.address
    DAGSTER_PG_PORT             = tostring(aws_db_instance.this.port)
    DAGSTER_PG_DB               = aws_db_instance.this.db_name
    DAGSTER_PG_USERNAME         = aws_db_instance.this.username
    DAGSTER_COMPUTE_LOGS_BUCKET = var.compute_logs_bucket
    DAGSTER_COMPUTE_LOGS_PREFIX = local.compute_logs_prefix
    DAGSTER_RUN_TASK_DEFINITION = local.run_family
  })
  container_environment = [for key in sort(keys(local.environment)) : { name = key, value = local.environment[key] }]
  container_secrets     = [{ name = "DAGSTER_PG_PASSWORD", valueFrom = aws_secretsmanager_secret.db_password.arn }]

  # The long-running services. Run tasks are sized by run_cpu and run_memory_mb instead.
  services = {
    webserver = {
      cpu     = 512
      memory  = 1024
      port    = local.webserver_port
      command = ["dagster-webserver", "-h", "0.0.0.0", "-p", tostring(local.webserver_port), "--grpc-host", local.code_server_host, "--grpc-port", tostring(local.code_server_port)]
    }
    daemon = {
      cpu     = 256
      memory  = 1024
      port    = null
      command = ["dagster-daemon", "run", "--grpc-host", local.code_server_host, "--grpc-port", tostring(local.code_server_port)]
    }
    code-server = {
      cpu     = 1024
      memory  = 2048
      port    = local.code_server_port
      command = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", tostring(local.code_server_port), "-m", "clickstream_assets.definitions"]
    }
  }
  task_roles = {
    webserver     = aws_iam_role.webserver.arn
    daemon        = aws_iam_role.daemon.arn
    "code-server" = aws_iam_role.code_server.arn
  }
  security_groups = {
    webserver     = aws_security_group.webserver.id
    daemon        = aws_security_group.daemon_and_runs.id
    "code-server" = aws_security_group.code_server.id
  }
}

# --- image, logs, cluster ----------------------------------------------------------------------

resource "aws_ecr_repository" "this" {
  name = local.name
  # A tag names one image for good: a task definition's image cannot change under it.
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.data_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 20 newest images (rollback targets); older ones go"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 20 }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_cloudwatch_log_group" "tasks" {
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_key_arn
}

resource "aws_cloudwatch_log_group" "exec" {
  name              = "/ecs/${local.name}/exec-sessions"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_key_arn
}

resource "aws_ecs_cluster" "this" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # ECS Exec (the SSM port forwarding session to the UI): encrypted with the data key, every
  # session logged.
  configuration {
    execute_command_configuration {
      kms_key_id = var.data_key_arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]
}

# --- task definitions and services --------------------------------------------------------------

resource "aws_ecs_task_definition" "service" {
  for_each                 = local.services
  family                   = "${local.name}-${each.key}"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = local.task_roles[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name         = each.key
    image        = local.image
    essential    = true
    command      = each.value.command
    environment  = local.container_environment
    secrets      = local.container_secrets
    portMappings = each.value.port == null ? [] : [{ containerPort = each.value.port, protocol = "tcp" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.tasks.name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

# The task every run gets: EcsRunLauncher starts it (task_definition in dagster.yaml, from
# DAGSTER_RUN_TASK_DEFINITION) with the run's command in the container named "run", in the
# daemon's subnets and security group (use_current_ecs_task_config), and registers nothing.
resource "aws_ecs_task_definition" "run" {
  #checkov:skip=CKV_AWS_336:A run writes under DAGSTER_HOME, Spark its shuffle files and Ivy's resolution files under /tmp and the cache; the image's files are root-owned and the process runs as an unprivileged user.
  family                   = local.run_family
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = tostring(var.run_cpu)
  memory                   = tostring(var.run_memory_mb)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.run.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name        = "run"
    image       = local.image
    essential   = true
    environment = local.container_environment
    secrets     = local.container_secrets
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.tasks.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "run"
      }
    }
  }])
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = "${local.name}.internal"
  description = "Names of the Dagster services inside the VPC"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "code_server" {
  name = "code-server"
  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"
    dns_records {
      ttl  = 10
      type = "A"
    }
  }
  health_check_custom_config {
    failure_threshold = 1
  }
}

resource "aws_ecs_service" "this" {
  for_each        = local.services
  name            = each.key
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.service[each.key].arn
  # One daemon only: Dagster runs a single daemon per instance.
  desired_count    = 1
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  # The webserver's task is where an SSM port forwarding session to the UI starts.
  enable_execute_command = each.key == "webserver"
  propagate_tags         = "SERVICE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [local.security_groups[each.key]]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = each.key == "webserver" ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.ui.arn
      container_name   = "webserver"
      container_port   = local.webserver_port
    }
  }

  dynamic "service_registries" {
    for_each = each.key == "code-server" ? [1] : []
    content {
      registry_arn = aws_service_discovery_service.code_server.arn
    }
  }

  # A task starts only once its roles may do what it calls.
  depends_on = [
    aws_lb_listener.ui, aws_iam_role_policy.execution, aws_iam_role_policy.webserver,
    aws_iam_role_policy.daemon, aws_iam_role_policy.code_server, aws_iam_role_policy.run,
  ]
}

# --- the UI: an internal load balancer ---------------------------------------------------------

resource "aws_lb" "ui" {
  #checkov:skip=CKV_AWS_91:Access logs need a bucket policy for the region's ELB account; the UI is internal, and the VPC flow logs and the webserver's log record who connects.
  #checkov:skip=CKV_AWS_150:The load balancer holds no data; dev stacks are destroyed with it, and it is recreated in a minute.
  #checkov:skip=CKV2_AWS_20:No TLS listener to redirect to: the internal listener has no public name for an ACM certificate (see aws_lb_listener.ui).
  name                       = substr(local.name, 0, 32)
  internal                   = true
  load_balancer_type         = "application"
  subnets                    = var.subnet_ids
  security_groups            = [aws_security_group.ui.id]
  drop_invalid_header_fields = true
}

resource "aws_lb_target_group" "ui" {
  #checkov:skip=CKV_AWS_378:The webserver speaks HTTP inside the VPC; the hop from the load balancer is within the private subnets.
  name        = substr("${local.name}-ui", 0, 32)
  port        = local.webserver_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path    = "/server_info"
    matcher = "200"
  }
}

resource "aws_lb_listener" "ui" {
  #checkov:skip=CKV_AWS_2:Internal listener with no public name for an ACM certificate; a VPN or the SSM session (TLS to AWS) carries the traffic up to the VPC.
  #checkov:skip=CKV_AWS_103:No TLS listener (see CKV_AWS_2): the UI is reached only from inside the VPC.
  load_balancer_arn = aws_lb.ui.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.ui.arn
  }
}

# --- security groups ---------------------------------------------------------------------------
# Rules are separate resources: the groups refer to one another.

resource "aws_security_group" "ui" {
  name        = "${local.name}-ui"
  description = "Internal load balancer of the Dagster UI: HTTP from ui_allowed_cidrs only"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "webserver" {
  #checkov:skip=CKV2_AWS_5:Attached to the webserver service (aws_ecs_service.this, through local.security_groups, which this check does not follow).
  name        = "${local.name}-webserver"
  description = "Dagster webserver: HTTP from the UI load balancer"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "daemon_and_runs" {
  #checkov:skip=CKV2_AWS_5:Attached to the daemon service and, through use_current_ecs_task_config, every run task (aws_ecs_service.this, through local.security_groups, which this check does not follow).
  name        = "${local.name}-daemon-and-runs"
  description = "Dagster daemon and the run tasks it starts (they inherit its network configuration)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "code_server" {
  #checkov:skip=CKV2_AWS_5:Attached to the code location service (aws_ecs_service.this, through local.security_groups, which this check does not follow).
  name        = "${local.name}-code-server"
  description = "Dagster code location: gRPC from the webserver and the daemon"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "Dagster storage on PostgreSQL: from the Dagster tasks only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "ui_from_allowed" {
  for_each          = toset(var.ui_allowed_cidrs)
  security_group_id = aws_security_group.ui.id
  description       = "HTTP to the UI from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "ui_to_webserver" {
  security_group_id            = aws_security_group.ui.id
  description                  = "To the webserver tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.webserver_port
  to_port                      = local.webserver_port
  referenced_security_group_id = aws_security_group.webserver.id
}

resource "aws_vpc_security_group_ingress_rule" "webserver_from_ui" {
  security_group_id            = aws_security_group.webserver.id
  description                  = "HTTP from the UI load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.webserver_port
  to_port                      = local.webserver_port
  referenced_security_group_id = aws_security_group.ui.id
}

locals {
  # Every task's way out: the interface endpoints, S3, the database; and gRPC to the code
  # location from the webserver and the daemon (a run loads the code from its own image).
  task_groups = {
    webserver       = aws_security_group.webserver.id
    daemon_and_runs = aws_security_group.daemon_and_runs.id
    code_server     = aws_security_group.code_server.id
  }
}

resource "aws_vpc_security_group_egress_rule" "endpoints" {
  for_each          = local.task_groups
  security_group_id = each.value
  description       = "HTTPS to the interface endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  for_each          = local.task_groups
  security_group_id = each.value
  description       = "HTTPS to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "db" {
  for_each                     = local.task_groups
  security_group_id            = each.value
  description                  = "PostgreSQL: Dagster's storage"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

resource "aws_vpc_security_group_ingress_rule" "db" {
  for_each                     = local.task_groups
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "code_server" {
  for_each                     = { webserver = aws_security_group.webserver.id, daemon_and_runs = aws_security_group.daemon_and_runs.id }
  security_group_id            = each.value
  description                  = "gRPC to the code location"
  ip_protocol                  = "tcp"
  from_port                    = local.code_server_port
  to_port                      = local.code_server_port
  referenced_security_group_id = aws_security_group.code_server.id
}

resource "aws_vpc_security_group_ingress_rule" "code_server" {
  for_each                     = { webserver = aws_security_group.webserver.id, daemon_and_runs = aws_security_group.daemon_and_runs.id }
  security_group_id            = aws_security_group.code_server.id
  description                  = "gRPC from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = local.code_server_port
  to_port                      = local.code_server_port
  referenced_security_group_id = each.value
}
