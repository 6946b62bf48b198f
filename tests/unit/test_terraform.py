"""The AWS deployment (infra/terraform), checked without an AWS account or a Terraform binary.

Every .tf and .tfvars file is parsed with python-hcl2, and the promises of the deployment are
asserted on the parsed code: encryption at rest everywhere, no public bucket, no wildcard IAM
action, alarms on the ways the pipeline breaks, and a Glue job, Lambda and API that match what
the `streaming` package expects. checkov then scans every environment's configuration and the
GitHub workflow: each finding is fixed or suppressed in the code with a reason, and every
suppression must still be needed.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import package_artifacts
import pytest
import yaml
from hcl2 import SerializationOptions

from streaming import erased

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "terraform.yml"
CHECKOV = ROOT / ".venv" / "tools" / "checkov" / "bin" / "checkov"
ENVIRONMENTS = ("dev", "staging", "prod")
PARSE_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z]+_\d+):(.*)")
# Actions AWS cannot scope to a resource ARN: with LAMBDA_VPC_ACTIONS, the only ones allowed
# with resource "*". The last row is the Dagster control plane's: the registry login, the run
# launcher's look at its task definition, and ECS Exec's session channels and log check.
UNSCOPABLE_ACTIONS = {
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets", "ec2:DescribeVpcEndpoints", "xray:PutTraceSegments",
    "xray:PutTelemetryRecords", "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition", "logs:DescribeLogGroups",
    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
}
# Meta-arguments of a module call, which are not the module's variables.
META_ARGUMENTS = {"source", "count", "for_each", "depends_on", "providers"}
# The services an ECS task in the private subnets calls without an internet path: the image
# (ECR), the daemon's RunTask (ECS), Athena, and ECS Exec's session channels.
DAGSTER_ENDPOINTS = {"ecr.api", "ecr.dkr", "ecs", "athena", "ssmmessages"}
# What AWS's Lambda guide asks a function in a VPC to have on resource "*" (the managed policy
# AWSLambdaVPCAccessExecutionRole): Lambda checks them when the function is created.
LAMBDA_VPC_ACTIONS = {
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
}
# Worker types AWS Glue documents for Glue 6.0 streaming jobs (G.025X: Glue 3.0 streaming only).
GLUE_6_STREAMING_WORKERS = {"G.1X", "G.2X", "G.4X", "G.8X"}



def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=PARSE_OPTIONS)


def ref(expression: str) -> str:
    """The expression inside "${...}", or the literal itself."""
    match = re.fullmatch(r"\$\{(.*)\}", expression, re.S)
    return match.group(1) if match else expression


@dataclass
class Module:
    """The blocks of one Terraform module directory, merged across its files."""

    path: Path
    resources: dict[str, dict[str, dict]] = field(default_factory=dict)
    data: dict[str, dict[str, dict]] = field(default_factory=dict)
    variables: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    calls: dict[str, dict] = field(default_factory=dict)
    terraform: list[dict] = field(default_factory=list)
    text: str = ""

    def resource(self, kind: str) -> dict[str, dict]:
        return self.resources.get(kind, {})

    def one(self, kind: str) -> dict:
        found = self.resource(kind)
        assert len(found) == 1, f"{self.path.name}: expected one {kind}, found {sorted(found)}"
        return next(iter(found.values()))

    def resolve(self, value: Any) -> Any:
        """`local.name` references resolved to the local's value; anything else unchanged."""
        if isinstance(value, str):
            local = re.fullmatch(r"local\.(\w+)", ref(value))
            if local and local.group(1) in self.locals:
                return self.locals[local.group(1)]
        return value


@cache
def load_module(path: Path) -> Module:
    module = Module(path)
    for tf in sorted(path.glob("*.tf")):
        module.text += tf.read_text()
        parsed = parse(tf)
        for section, target in (("resource", module.resources), ("data", module.data)):
            for entry in parsed.get(section, []):
                for kind, named in entry.items():
                    target.setdefault(kind, {}).update(named)
        for section, target in (("variable", module.variables), ("output", module.outputs),
                                ("module", module.calls)):
            for entry in parsed.get(section, []):
                target.update(entry)
        for entry in parsed.get("locals", []):
            module.locals.update(entry)
        module.terraform.extend(parsed.get("terraform", []))
    return module


def module_dirs() -> list[Path]:
    return [TERRAFORM, *sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())]


def all_modules() -> list[Module]:
    return [load_module(path) for path in module_dirs()]


def child(name: str) -> Module:
    return load_module(TERRAFORM / "modules" / name)


def root() -> Module:
    return load_module(TERRAFORM)


def settings_variables() -> set[str]:
    """The environment variables streaming/settings.py reads (CLICKSTREAM_* and AWS_REGION)."""
    return set(importlib.import_module("streaming.settings").VARIABLES.values())


def tfvars(environment: str) -> dict[str, Any]:
    return parse(TERRAFORM / "tfvars" / f"{environment}.tfvars")


def policy_statements(module: Module, document: dict) -> list[dict]:
    return [
        {**statement,
         "actions": module.resolve(statement.get("actions", [])),
         "resources": module.resolve(statement.get("resources", [])),
         "effect": statement.get("effect", "Allow")}
        for statement in document.get("statement", [])
    ]


# --- parsing and wiring (what `terraform validate` would catch) -------------------------------


@pytest.mark.parametrize(
    "path", sorted([*TERRAFORM.rglob("*.tf"), *TERRAFORM.rglob("*.tfvars")]),
    ids=lambda path: str(path.relative_to(TERRAFORM)),
)
def test_every_file_parses(path: Path) -> None:
    assert parse(path), f"{path} parsed to nothing"


def test_every_module_directory_is_called_from_the_root() -> None:
    called = {ref(call["source"]) for call in root().calls.values()}
    expected = {f"./modules/{path.name}" for path in module_dirs()[1:]}
    assert called == expected


@pytest.mark.parametrize("call", sorted(root().calls), ids=str)
def test_module_arguments_match_module_variables(call: str) -> None:
    arguments = dict(root().calls[call])
    module = load_module((TERRAFORM / ref(arguments["source"])).resolve())
    assert set(arguments) - META_ARGUMENTS == set(module.variables), f"module {call}"


@pytest.mark.parametrize("module", module_dirs(), ids=lambda path: path.name)
def test_referenced_variables_and_locals_are_declared(module: Path) -> None:
    parsed = load_module(module)
    assert set(re.findall(r"\bvar\.(\w+)", parsed.text)) <= set(parsed.variables)
    assert set(re.findall(r"\blocal\.(\w+)", parsed.text)) <= set(parsed.locals)
    used_modules = set(re.findall(r"\bmodule\.(\w+)\.", parsed.text))
    assert used_modules <= set(parsed.calls)


@pytest.mark.parametrize("module", module_dirs(), ids=lambda path: path.name)
def test_every_variable_and_output_is_described(module: Path) -> None:
    parsed = load_module(module)
    for name, block in {**parsed.variables, **parsed.outputs}.items():
        assert block.get("description", "").strip(), f"{module.name}: {name} has no description"


@pytest.mark.parametrize("module", module_dirs()[1:], ids=lambda path: path.name)
def test_every_module_output_is_used_by_the_root(module: Path) -> None:
    call = next(name for name, args in root().calls.items()
                if ref(args["source"]) == f"./modules/{module.name}")
    for output in load_module(module).outputs:
        # module.x.output, or module.x[0].output for a module with count.
        assert re.search(rf"module\.{call}(\[0\])?\.{output}\b", root().text), (
            f"{call}.{output} is never used")


def test_versions_and_remote_state_backend() -> None:
    terraform = {key: value for block in root().terraform for key, value in block.items()}
    assert re.fullmatch(r">= 1\.1\d\.\d+", terraform["required_version"])
    providers = terraform["required_providers"][0]
    assert providers["aws"]["source"] == "hashicorp/aws"
    # Only the aws provider: the machines that check the code install it from a mirror that
    # holds nothing else (mirror.tfrc); its lock file pins the version checked (5.100.0).
    assert set(providers) == {"aws"}
    assert providers["aws"]["version"] == "~> 5.100"
    lock = (TERRAFORM / ".terraform.lock.hcl").read_text()
    assert re.findall(r'provider "([^"]+)"', lock) == ["registry.terraform.io/hashicorp/aws"]
    assert 'version     = "5.100.0"' in lock and 'constraints = "~> 5.100"' in lock
    backend = terraform["backend"][0]["s3"]
    assert backend == {"encrypt": True, "use_lockfile": True}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_tfvars_set_exactly_the_declared_variables(environment: str) -> None:
    values = tfvars(environment)
    assert set(values) == set(root().variables)
    assert values["environment"] == environment
    assert all(zone.startswith(values["aws_region"]) for zone in values["availability_zones"])


def _bound(expression: str, values: dict[str, Any]) -> int:
    """A validation bound: a number, or `var.other + number`."""
    if expression.isdigit():
        return int(expression)
    match = re.fullmatch(r"var\.(\w+) \+ (\d+)", expression)
    assert match, f"unrecognised bound {expression!r}"
    return values[match.group(1)] + int(match.group(2))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_tfvars_pass_the_variables_validations(environment: str) -> None:
    """Evaluates the validation forms the root module uses (contains, regex, cidrhost, length
    and numeric bounds); a validation of any other form fails this test until it is taught."""
    values = tfvars(environment)
    for name, block in root().variables.items():
        value = values[name]
        for validation in block.get("validation", []):
            condition = ref(validation["condition"])
            if allowed := re.fullmatch(rf"contains\((\[.*\]), var\.{name}\)", condition):
                assert value in json.loads(allowed.group(1)), f"{environment}: {name}={value!r}"
            elif pattern := re.fullmatch(rf'can\(regex\(("[^"]*"), var\.{name}\)\)', condition):
                assert re.search(json.loads(pattern.group(1)), value), f"{environment}: {name}"
            elif each := re.fullmatch(rf'alltrue\(\[for (\w+) in var\.{name} : '
                                      r'can\(regex\(("[^"]*"), \1\)\)\]\)', condition):
                for item in value:
                    assert re.search(json.loads(each.group(2)), item), f"{environment}: {item}"
            elif other := re.fullmatch(rf"var\.{name} != var\.(\w+)", condition):
                assert value != values[other.group(1)], f"{environment}: {name}={value!r}"
            elif condition == f"can(cidrhost(var.{name}, 0))":
                ipaddress.ip_network(value)
            elif length := re.fullmatch(rf"length\(var\.{name}\) >= (\d+)", condition):
                assert len(value) >= int(length.group(1)), f"{environment}: {name}"
            elif bounds := re.findall(rf"var\.{name} (>=|<=) ([\w. +]+?)(?= &&|$)", condition):
                for operator, bound in bounds:
                    limit = _bound(bound, values)
                    assert value >= limit if operator == ">=" else value <= limit, (
                        f"{environment}: {name}={value} breaks {condition}")
            else:
                pytest.fail(f"unrecognised validation of {name}: {condition}")


# --- security properties ----------------------------------------------------------------------


def test_buckets_are_encrypted_versioned_private_and_tiered() -> None:
    storage = child("storage")
    buckets = storage.resource("aws_s3_bucket")
    assert set(buckets) == {"data", "access_logs"}
    assert set(storage.locals["buckets"]) == {"lake", "checkpoints", "scripts", "athena"}
    companions = ("aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
                  "aws_s3_bucket_public_access_block", "aws_s3_bucket_ownership_controls",
                  "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_policy")
    for name, bucket in buckets.items():
        for kind in companions:
            companion = storage.resource(kind)[name]
            assert companion.get("for_each") == bucket.get("for_each"), f"{kind}.{name}"
            assert ref(companion["bucket"]).startswith(f"aws_s3_bucket.{name}"), f"{kind}.{name}"
        assert storage.resource("aws_s3_bucket_versioning")[name][
            "versioning_configuration"][0]["status"] == "Enabled"
        block = storage.resource("aws_s3_bucket_public_access_block")[name]
        assert all(block[key] is True for key in (
            "block_public_acls", "block_public_policy", "ignore_public_acls",
            "restrict_public_buckets"))
        assert storage.resource("aws_s3_bucket_ownership_controls")[name][
            "rule"][0]["object_ownership"] == "BucketOwnerEnforced"
        rules = storage.resource("aws_s3_bucket_lifecycle_configuration")[name]["rule"]
        assert all(rule["abort_incomplete_multipart_upload"] for rule in rules)
    data_sse = storage.resource("aws_s3_bucket_server_side_encryption_configuration")["data"]
    default = data_sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${var.data_key_arn}"}
    logs_sse = storage.resource("aws_s3_bucket_server_side_encryption_configuration")[
        "access_logs"]
    assert logs_sse["rule"][0]["apply_server_side_encryption_by_default"][0][
        "sse_algorithm"] == "AES256"
    assert ref(storage.resource("aws_s3_bucket_logging")["data"]["target_bucket"]) == (
        "aws_s3_bucket.access_logs.id")
    lake_tiers = {tier["storage_class"] for tier in storage.locals["lake_tiers"]}
    assert lake_tiers == {"STANDARD_IA", "GLACIER_IR"}


def test_bucket_policies_deny_plain_http_and_grant_nothing_public() -> None:
    storage = child("storage")
    for name in ("tls_only", "access_logs"):
        statements = policy_statements(storage, storage.data["aws_iam_policy_document"][name])
        deny = [s for s in statements if s["effect"] == "Deny"]
        assert deny and deny[0]["condition"][0]["variable"] == "aws:SecureTransport"
        for statement in statements:
            if statement["effect"] == "Allow":
                principals = statement["principals"]
                assert all(p["type"] == "Service" for p in principals), f"{name} is public"
    for module in all_modules():
        assert not module.resource("aws_s3_bucket_acl"), module.path
        assert not module.resource("aws_s3_bucket_website_configuration"), module.path
        assert "public-read" not in module.text, module.path


def test_everything_at_rest_is_encrypted_with_customer_keys() -> None:
    for module in all_modules():
        for name, group in module.resource("aws_cloudwatch_log_group").items():
            assert ref(group["kms_key_id"]).startswith("var."), f"{module.path.name} {name}"
        for name, key in module.resource("aws_kms_key").items():
            assert key["enable_key_rotation"] is True, name
    stream = child("kinesis").one("aws_kinesis_stream")
    assert stream["encryption_type"] == "KMS" and ref(stream["kms_key_id"]) == "var.data_key_arn"
    assert ref(child("lambda").one("aws_lambda_function")["kms_key_arn"]) == "var.data_key_arn"
    assert child("monitoring").one("aws_sns_topic")["kms_master_key_id"]
    secrets = root().resource("aws_secretsmanager_secret")
    assert set(secrets) == {"ip_hash_salt", "subject_hash_salt", "write_keys"}
    for name, secret in secrets.items():
        assert secret["kms_key_id"] == "${module.kms.data_key_arn}", name
    athena = child("athena").one("aws_athena_workgroup")["configuration"][0]
    encryption = athena["result_configuration"][0]["encryption_configuration"][0]
    assert encryption["encryption_option"] == "SSE_KMS"
    security = child("glue_job").one("aws_glue_security_configuration")
    modes = security["encryption_configuration"][0]
    assert modes["s3_encryption"][0]["s3_encryption_mode"] == "SSE-KMS"
    assert modes["cloudwatch_encryption"][0]["cloudwatch_encryption_mode"] == "SSE-KMS"
    assert modes["job_bookmarks_encryption"][0]["job_bookmarks_encryption_mode"] == "CSE-KMS"
    for name, obj in child("glue_job").resource("aws_s3_object").items():
        assert obj["server_side_encryption"] == "aws:kms", name


def test_iam_grants_no_wildcard_action_and_no_wildcard_data_resource() -> None:
    documents = 0
    for module in all_modules():
        key_policies = {ref(key["policy"]) for key in module.resource("aws_kms_key").values()}
        for name, document in module.data.get("aws_iam_policy_document", {}).items():
            documents += 1
            is_key_policy = f"data.aws_iam_policy_document.{name}.json" in key_policies
            for statement in policy_statements(module, document):
                if statement["effect"] != "Allow":
                    continue
                actions, resources = statement["actions"], statement["resources"]
                assert isinstance(actions, list) and actions, f"{name}: unresolved actions"
                wildcards = [action for action in actions if "*" in action]
                assert not wildcards, f"{module.path.name}/{name}: {wildcards}"
                if isinstance(resources, str):  # an expression such as concat(...)
                    assert '"*"' not in resources, f"{module.path.name}/{name}: resource *"
                elif "*" in resources and not is_key_policy:
                    allowed = UNSCOPABLE_ACTIONS | (LAMBDA_VPC_ACTIONS if name == "lambda" else set())
                    assert resources == ["*"] and set(actions) <= allowed, (
                        f"{module.path.name}/{name}: {sorted(set(actions) - allowed)}"
                        " on resource *")
                if is_key_policy:
                    assert all(p["type"] != "*" and p["identifiers"] != ["*"]
                               for p in statement["principals"]), f"{name}: open key policy"
    assert documents >= 10


def test_every_policy_comes_from_a_policy_document_and_no_managed_policy_is_attached() -> None:
    policy_kinds = {"aws_iam_role": "assume_role_policy", "aws_iam_role_policy": "policy",
                    "aws_s3_bucket_policy": "policy", "aws_sns_topic_policy": "policy",
                    "aws_kms_key": "policy"}
    for module in all_modules():
        for kind, attribute in policy_kinds.items():
            for name, resource in module.resource(kind).items():
                assert re.fullmatch(r"data\.aws_iam_policy_document\.\w+(\[[^\]]+\])?\.json",
                                    ref(resource[attribute])), f"{kind}.{name}"
        assert not module.resource("aws_iam_role_policy_attachment"), module.path
        assert not module.resource("aws_iam_policy_attachment"), module.path
        assert "arn:aws:iam::aws:policy" not in module.text, module.path


def test_network_is_private_with_endpoints_for_s3_kinesis_and_glue() -> None:
    network = child("network")
    for module in all_modules():
        for kind in ("aws_internet_gateway", "aws_nat_gateway", "aws_eip"):
            assert not module.resource(kind), f"{module.path.name} has {kind}"
        for name, group in module.resource("aws_security_group").items():
            for rule in [*group.get("ingress", []), *group.get("egress", [])]:
                assert "0.0.0.0/0" not in rule.get("cidr_blocks", []), f"{name} is open"
                assert rule["description"], f"{name}: rule without description"
    assert network.one("aws_subnet")["map_public_ip_on_launch"] is False
    s3 = network.resource("aws_vpc_endpoint")["s3"]
    assert s3["vpc_endpoint_type"] == "Gateway" and s3["service_name"].endswith(".s3")
    interface = network.resource("aws_vpc_endpoint")["interface"]
    assert interface["private_dns_enabled"] is True
    services = set(re.findall(r'"([a-z-]+)"', network.locals["interface_services"]))
    assert {"kinesis-streams", "glue", "logs", "secretsmanager"} <= services
    assert network.one("aws_flow_log")["traffic_type"] == "ALL"
    assert network.one("aws_default_security_group").keys() == {"vpc_id", "tags"}


def test_alarms_and_dashboard_cover_the_failure_modes() -> None:
    monitoring = child("monitoring")
    alarms = monitoring.locals["alarms"]
    metrics = {(alarm["namespace"], alarm["metric"]) for alarm in alarms.values()}
    assert {("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"), ("AWS/Lambda", "Errors"),
            ("AWS/Lambda", "Throttles"), ("AWS/Events", "TriggeredRules")} <= metrics
    assert alarms["iterator-age"]["treat_missing_data"] == "breaching"
    alarm = monitoring.one("aws_cloudwatch_metric_alarm")
    assert ref(alarm["for_each"]) == "local.alarms"
    assert ref(alarm["alarm_actions"][0]) == "aws_sns_topic.alarms.arn"
    pattern = monitoring.one("aws_cloudwatch_event_rule")["event_pattern"]
    assert "Glue Job State Change" in pattern and '"FAILED"' in pattern
    assert ref(monitoring.one("aws_cloudwatch_event_target")["arn"]) == "aws_sns_topic.alarms.arn"
    body = monitoring.one("aws_cloudwatch_dashboard")["dashboard_body"]
    for metric in ("IteratorAgeMilliseconds", "Errors", "Throttles", "5xx"):
        assert metric in body, f"dashboard lacks {metric}"


# --- the deployment matches the code it deploys -----------------------------------------------


def test_lambda_runs_the_projects_handler_with_its_settings() -> None:
    function = child("lambda").one("aws_lambda_function")
    module_name, attribute = function["handler"].rsplit(".", 1)
    assert module_name == package_artifacts.LAMBDA_ENTRY
    handler = importlib.import_module(module_name)
    assert callable(getattr(handler, attribute))
    assert function["runtime"] == f"python{package_artifacts.LAMBDA_PYTHON}"
    assert function["tracing_config"][0]["mode"] == "Active"
    assert function["vpc_config"][0]["subnet_ids"]
    environment = root().calls["lambda"]["environment"]
    assert set(environment) <= settings_variables()
    assert environment["CLICKSTREAM_MODE"] == "aws"
    assert ref(environment["CLICKSTREAM_IP_HASH_SALT"]) == (
        "aws_secretsmanager_secret_version.ip_hash_salt.secret_string")
    assert ref(environment["CLICKSTREAM_WRITE_KEYS_SECRET"]) == (
        "aws_secretsmanager_secret.write_keys.arn")
    assert ref(environment["CLICKSTREAM_ALLOWED_ORIGINS"]) == 'join(",", var.allowed_origins)'
    assert ref(environment["CLICKSTREAM_SUBJECT_HASH_SALT_SECRET"]) == (
        "aws_secretsmanager_secret.subject_hash_salt.arn")
    assert environment["CLICKSTREAM_LAKE_URI"] == 's3://${module.storage.bucket_names["lake"]}'
    # Exactly one source of write keys (streaming/ingest/auth.py refuses two), and the rate limiter is
    # the local gateway's: the API stage throttles on AWS.
    assert not {"CLICKSTREAM_WRITE_KEYS", "CLICKSTREAM_WRITE_KEYS_FILE",
                "CLICKSTREAM_RATE_LIMIT_RPS", "CLICKSTREAM_RATE_LIMIT_BURST"} & set(environment)
    assert root().calls["lambda"]["zip_path"] == (
        "${local.build_dir}/lambda-${var.lambda_architecture}.zip")
    assert root().locals["build_dir"] == "${path.root}/.build"
    assert package_artifacts.BUILD_DIR == TERRAFORM / ".build"
    condition = root().variables["lambda_architecture"]["validation"][0]["condition"]
    allowed = json.loads(re.search(r"\[.*?\]", condition).group(0))
    assert set(package_artifacts.MACHINES) == set(allowed)


def test_api_routes_exactly_the_handlers_paths_to_the_lambda_with_throttling() -> None:
    """Every path the handler serves (/v1/events and streaming/ingest/segment.py's PATHS) has a POST
    route to the function and a permission to invoke it, and no other path has either."""
    events = importlib.import_module("streaming.ingest.events")
    segment = importlib.import_module("streaming.ingest.segment")
    assert root().locals["events_path"] == events.EVENTS_PATH
    segment_paths = root().locals["segment_paths"]
    assert len(segment_paths) == len(set(segment_paths))
    assert set(segment_paths) == segment.PATHS
    assert root().calls["api"]["paths"] == "${concat([local.events_path], local.segment_paths)}"
    api = child("api")
    assert api.one("aws_apigatewayv2_api")["protocol_type"] == "HTTP"
    integration = api.one("aws_apigatewayv2_integration")
    assert integration["payload_format_version"] == "2.0"
    assert ref(integration["integration_uri"]) == "var.lambda_invoke_arn"
    route = api.one("aws_apigatewayv2_route")
    assert ref(route["for_each"]) == "var.paths"
    assert route["route_key"] == "POST ${each.value}"
    assert route["target"] == "integrations/${aws_apigatewayv2_integration.lambda.id}"
    assert route["authorization_type"] == "NONE" and "authorizer_id" not in route
    permission = api.one("aws_lambda_permission")
    assert ref(permission["for_each"]) == "var.paths"
    assert ref(permission["function_name"]) == "var.lambda_function_name"
    assert permission["source_arn"] == "${aws_apigatewayv2_api.this.execution_arn}/*/POST${each.value}"
    settings = api.one("aws_apigatewayv2_stage")["default_route_settings"][0]
    assert ref(settings["throttling_rate_limit"]) == "var.throttle_rate_limit"
    assert ref(settings["throttling_burst_limit"]) == "var.throttle_burst_limit"
    assert api.one("aws_apigatewayv2_stage")["access_log_settings"]


def test_the_events_route_and_its_permission_keep_their_state() -> None:
    """The route and permission of /v1/events predate the Segment paths: `moved` blocks carry
    them over and the permission keeps its statement id, so an apply adds the Segment routes
    without replacing the live one. Statement ids (title(basename(path)), as Terraform computes
    them) must also be unique and of the characters Lambda allows."""
    events = importlib.import_module("streaming.ingest.events")
    segment = importlib.import_module("streaming.ingest.segment")
    api = child("api")
    moved = [(ref(block["from"]), ref(block["to"])) for block in parse(api.path / "main.tf")["moved"]]
    key = f'["{events.EVENTS_PATH}"]'
    assert moved == [("aws_apigatewayv2_route.events", f"aws_apigatewayv2_route.ingest{key}"),
                     ("aws_lambda_permission.api", f"aws_lambda_permission.api{key}")]
    template = api.one("aws_lambda_permission")["statement_id"]
    assert template == "AllowInvokeFromHttpApi${title(basename(each.value))}Route"
    ids = {path: f"AllowInvokeFromHttpApi{path.rsplit('/', 1)[1].title()}Route"
           for path in {events.EVENTS_PATH, *segment.PATHS}}
    assert ids[events.EVENTS_PATH] == "AllowInvokeFromHttpApiEventsRoute"
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,100}", statement) for statement in ids.values())


def test_write_keys_secret_is_kms_encrypted_and_its_value_never_passes_through_terraform() -> None:
    secret = root().resource("aws_secretsmanager_secret")["write_keys"]
    assert secret["kms_key_id"] == "${module.kms.data_key_arn}"
    assert root().calls["iam"]["data_key_arn"] == secret["kms_key_id"]
    assert secret["name"] == "${local.name}/write-keys"
    # The operator puts the value: no version here, so no key in tfvars, plans or state.
    versions = root().resource("aws_secretsmanager_secret_version")
    assert all("write_keys" not in ref(version["secret_id"]) for version in versions.values())
    assert not [name for name, block in root().variables.items()
                if "write_key" in name or block.get("sensitive")]


def test_lambda_may_read_exactly_the_write_keys_secret_and_decrypt_it() -> None:
    iam = child("iam")
    assert root().calls["iam"]["write_keys_secret_arn"] == (
        "${aws_secretsmanager_secret.write_keys.arn}")
    lambda_statements = policy_statements(iam, iam.data["aws_iam_policy_document"]["lambda"])
    secrets = [s for s in lambda_statements if any(a.startswith("secretsmanager:")
                                                   for a in s["actions"])]
    assert [(s["actions"], s["resources"]) for s in secrets] == [
        (["secretsmanager:GetSecretValue"], ["${var.write_keys_secret_arn}"]),
        (["secretsmanager:GetSecretValue"], ["${var.subject_hash_salt_secret_arn}"])]
    assert all("condition" not in s and s["effect"] == "Allow" for s in secrets)
    # The handler reads exactly one object of the lake: the published list of erased people.
    reads = [s for s in lambda_statements if any(a.startswith("s3:") for a in s["actions"])]
    assert [(s["actions"], s["resources"]) for s in reads] == [
        (["s3:GetObject"], ['${var.bucket_arns["lake"]}/' + erased.HASH_LIST])]
    assert any("kms:Decrypt" in s["actions"] and s["resources"] == ["${var.data_key_arn}"]
               for s in lambda_statements)
    # No other policy anywhere touches Secrets Manager, but for the Dagster tasks' execution
    # role, which ECS uses to read the database password (and that secret alone) at task start,
    # and the Glue job's and Dagster runs' roles, which read the erasure salt (and it alone).
    dagster = child("dagster")
    salt_readers = {(iam.path, "glue"), (dagster.path, "run")}
    for module in all_modules():
        for name, document in module.data.get("aws_iam_policy_document", {}).items():
            if module is iam and name == "lambda":
                continue
            for statement in policy_statements(module, document):
                actions = statement["actions"] if isinstance(statement["actions"], list) else []
                if module is dagster and name == "execution" and actions == [
                        "secretsmanager:GetSecretValue"]:
                    assert statement["resources"] == [
                        "${aws_secretsmanager_secret.db_password.arn}"]
                    continue
                if (module.path, name) in salt_readers and actions == [
                        "secretsmanager:GetSecretValue"]:
                    assert statement["resources"] == ["${var.subject_hash_salt_secret_arn}"]
                    continue
                assert not [a for a in actions if a.startswith("secretsmanager:")], name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_allowed_origins_are_exact_and_feed_both_the_api_and_the_handler(environment: str) -> None:
    cors = importlib.import_module("streaming.ingest.cors")
    origins = tfvars(environment)["allowed_origins"]
    assert isinstance(origins, list) and origins, environment
    # API Gateway knows exact origins (or "*"), the handler also host:*; only exact ones serve both.
    assert not [origin for origin in origins if "*" in origin], environment
    policy = cors.OriginPolicy.parse(",".join(origins))
    assert policy.exact == {origin.lower() for origin in origins} and not policy.any_port
    assert all(policy.allows(origin) for origin in origins)
    assert root().calls["api"]["cors_allowed_origins"] == "${var.allowed_origins}"
    configuration = child("api").one("aws_apigatewayv2_api")["cors_configuration"][0]
    assert ref(configuration["allow_origins"]) == "var.cors_allowed_origins"
    assert configuration["allow_methods"] == cors.ALLOWED_METHODS.split(", ")
    assert configuration["allow_headers"] == cors.ALLOWED_HEADERS.split(", ")
    assert configuration["max_age"] == int(cors.PREFLIGHT_MAX_AGE)
    assert configuration["expose_headers"] == ["retry-after"]


def test_outputs_feed_the_website_template_and_operators() -> None:
    outputs = root().outputs
    assert {"api_url", "events_url", "stream_name", "lake_bucket", "checkpoint_bucket",
            "scripts_bucket", "athena_results_bucket", "glue_job_name"} <= set(outputs)
    events_url = outputs["events_url"]
    assert events_url["value"] == "${module.api.endpoint}${local.events_path}"
    placeholder = importlib.import_module("streaming.local.site").API_URL_PLACEHOLDER
    assert placeholder in events_url["description"]
    query_parameter = importlib.import_module("streaming.ingest.auth").QUERY_PARAMETER
    assert f"?{query_parameter}=" in events_url["description"]
    assert ref(outputs["write_keys_secret_arn"]["value"]) == (
        "aws_secretsmanager_secret.write_keys.arn")


def test_glue_jobs_run_on_glue_6_and_only_the_model_builds_have_delta() -> None:
    glue = child("glue_job")
    job = glue.resource("aws_glue_job")["this"]
    assert glue.locals["glue_version"] == "6.0"
    assert ref(job["glue_version"]) == "local.glue_version"
    assert job["command"][0]["name"] == "gluestreaming"
    assert job["execution_property"][0]["max_concurrent_runs"] == 1
    assert ref(job["worker_type"]) == "var.worker_type"
    assert ref(job["number_of_workers"]) == "var.number_of_workers"
    assert job["default_arguments"] == (
        '${merge(local.stream_arguments, {for name, value in var.job_settings : "--${name}" => '
        "value})}")
    models = glue.resource("aws_glue_job")["models"]
    assert models["default_arguments"] == (
        '${merge(local.models_arguments, {for name, value in var.models_settings : "--${name}" => '
        "value})}")
    arguments = glue.locals["glue_arguments"]
    assert "--datalake-formats" not in arguments and "--conf" not in arguments
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
    session = importlib.import_module("streaming.stream.spark")
    # A local session's settings, no more (shuffle partitions follow each job's workers' cores).
    # The stream job commits through delta-rs: its session has no Delta, on Glue as outside it.
    stream_conf = glue.locals["stream_conf"]
    assert set(stream_conf) == {"spark.sql.session.timeZone", "spark.sql.shuffle.partitions"}
    assert stream_conf["spark.sql.session.timeZone"] == session.LOCAL_CONF["spark.sql.session.timeZone"]
    assert "var.worker_type" in stream_conf["spark.sql.shuffle.partitions"]
    assert glue.locals["delta_conf"] == session.DELTA_CONF
    assert ref(glue.locals["models_conf"]) == (
        'merge(local.stream_conf, local.delta_conf, {"spark.sql.shuffle.partitions" = '
        "tostring(max(2, (var.models_number_of_workers - 1) * "
        "local.vcpus[var.models_worker_type]))})")
    stream_arguments, models_arguments = (ref(glue.locals[name]) for name in
                                          ("stream_arguments", "models_arguments"))
    assert "--datalake-formats" not in stream_arguments and "local.stream_conf" in stream_arguments
    assert '"--datalake-formats" = "delta"' in models_arguments
    assert "local.models_conf" in models_arguments
    script = glue.resource("aws_s3_object")["script"]
    assert ref(script["source"]) == "var.script_path"
    call = root().calls["glue_job"]
    assert call["script_path"] == "${local.repo_root}/streaming/stream/job.py"
    script_module = package_artifacts.GLUE_ENTRY.replace(".", "/") + ".py"
    assert (TERRAFORM / "../.." / script_module).resolve() == ROOT / script_module
    assert call["package_zip_path"] == "${local.build_dir}/streaming-glue.zip"


def test_glue_job_pip_installs_deltalake_from_the_uploaded_wheels_without_an_index() -> None:
    """The job commits through delta-rs (streaming/lake/delta.py) and its VPC reaches no
    package index: every wheel infra/package_artifacts.py builds is uploaded next to the script
    and handed to Glue's pip by S3 path, and pip may not look anywhere else."""
    glue = child("glue_job")
    assert ref(glue.locals["wheels"]) == 'sort(tolist(fileset(var.wheels_dir, "*.whl")))'
    wheel = glue.resource("aws_s3_object")["wheel"]
    assert ref(wheel["for_each"]) == "toset(local.wheels)"
    assert ref(wheel["bucket"]) == "var.scripts_bucket"
    assert wheel["key"] == "glue/wheels/${each.value}"
    assert wheel["source"] == "${var.wheels_dir}/${each.value}"
    assert ref(wheel["source_hash"]) == 'filemd5("${var.wheels_dir}/${each.value}")'
    assert wheel["server_side_encryption"] == "aws:kms"
    assert ref(wheel["kms_key_id"]) == "var.data_key_arn"
    arguments = glue.locals["glue_arguments"]
    # Comma-separated S3 URIs of the uploaded objects, one per wheel (AWS Glue: "Using Python
    # libraries", --additional-python-modules), and pip's option that keeps it off PyPI.
    assert ref(arguments["--additional-python-modules"]) == (
        'join(",", [for name in local.wheels : '
        '"s3://${var.scripts_bucket}/${aws_s3_object.wheel[name].key}"])')
    assert arguments["--python-modules-installer-option"] == "--no-index"
    # The wheels are pip-installed, not put on the path: --extra-py-files stays the package.
    assert "wheel" not in arguments["--extra-py-files"]
    # A plan without the wheels (package_artifacts.py not run) stops instead of deploying a job
    # that cannot import deltalake.
    (precondition,) = glue.resource("aws_glue_job")["this"]["lifecycle"][0]["precondition"]
    assert ref(precondition["condition"]) == (
        'length([for name in local.wheels : name if startswith(name, "deltalake-")]) == 1')
    assert "package_artifacts.py" in precondition["error_message"]
    # The root hands the module the directory package_artifacts.py fills.
    call = root().calls["glue_job"]
    assert call["wheels_dir"] == f"${{local.build_dir}}/{package_artifacts.GLUE_WHEELS_DIR}"
    assert root().locals["build_dir"] == "${path.root}/.build"
    assert package_artifacts.BUILD_DIR == TERRAFORM / ".build"
    assert package_artifacts.GLUE_PYTHON == "3.13" and glue.locals["glue_version"] == "6.0"
    assert package_artifacts.GLUE_MACHINE == "x86_64"
    # The job's role may read them (and the key they are encrypted with).
    statements = child("iam").data["aws_iam_policy_document"]["glue"]["statement"]
    readable = [resource for statement in statements if "s3:GetObject" in statement["actions"]
                for resource in statement["resources"]]
    assert '${var.bucket_arns["scripts"]}/glue/*' in readable
    assert wheel["key"].startswith("glue/")


def test_glue_job_settings_are_ones_the_job_reads() -> None:
    settings = root().calls["glue_job"]["job_settings"]
    assert set(settings) <= settings_variables()
    assert settings["CLICKSTREAM_MODE"] == "aws"
    # The stack's region, whatever Glue's environment holds (AWS mode has no default region).
    assert ref(settings["AWS_REGION"]) == "var.aws_region"
    assert {"CLICKSTREAM_LAKE_URI", "CLICKSTREAM_CHECKPOINT_URI",
            "CLICKSTREAM_STREAM_NAME"} <= set(settings)
    assert settings["CLICKSTREAM_LAKE_URI"].startswith("s3://")
    # An endpoint makes the Kinesis clients use dummy credentials (local endpoints only), and
    # the job never hashes addresses, so it gets no salt.
    assert "CLICKSTREAM_KINESIS_ENDPOINT" not in settings
    assert "CLICKSTREAM_IP_HASH_SALT" not in settings


def test_model_build_job_runs_the_build_script_and_dagster_reaches_it_through_pipes() -> None:
    """Silver and gold days run as Glue runs of streaming/lake/build_job.py (the zip and
    wheels the stream job has, dagster-pipes among the wheels), launched by Dagster's runs with
    CLICKSTREAM_MODEL_JOB_NAME and CLICKSTREAM_PIPES_URI, on a role of its own that reaches
    the lake and the Pipes prefix, not the stream or the checkpoints."""
    glue = child("glue_job")
    job = glue.resource("aws_glue_job")["models"]
    assert job["command"][0]["name"] == "glueetl"
    assert ref(job["glue_version"]) == "local.glue_version"
    assert glue.resource("aws_s3_object")["build_script"]["key"] == "glue/build_job.py"
    call = root().calls["glue_job"]
    script_module = package_artifacts.MODEL_BUILD_ENTRY.replace(".", "/") + ".py"
    assert call["models_script_path"] == f"${{local.repo_root}}/{script_module}"
    assert (TERRAFORM / "../.." / script_module).resolve() == ROOT / script_module
    assert ref(call["models_role_arn"]) == "module.iam.glue_models_role_arn"
    assert set(call["models_settings"]) <= settings_variables()
    assert "dagster-pipes" in package_artifacts.GLUE_DEPENDENCIES
    (precondition,) = job["lifecycle"][0]["precondition"]
    assert 'startswith(name, "dagster_pipes-")' in precondition["condition"]

    settings = root().locals["dagster_settings"]
    assert {"CLICKSTREAM_MODEL_JOB_NAME", "CLICKSTREAM_PIPES_URI"} <= set(settings) <= (
        settings_variables())
    assert ref(settings["CLICKSTREAM_MODEL_JOB_NAME"]) == "module.glue_job.models_job_name"
    assert settings["CLICKSTREAM_PIPES_URI"] == (
        '${"s3://${module.storage.bucket_names["scripts"]}/${local.pipes_prefix}"}'
        if settings["CLICKSTREAM_PIPES_URI"].startswith('${"') else
        's3://${module.storage.bucket_names["scripts"]}/${local.pipes_prefix}')

    iam = child("iam")
    statements = iam.data["aws_iam_policy_document"]["glue_models"]["statement"]
    actions = {action for statement in statements for action in statement["actions"]}
    assert not {action for action in actions if action.startswith(("kinesis:", "secretsmanager:"))}
    resources = {resource for statement in statements for resource in statement["resources"]}
    assert not [resource for resource in resources if "checkpoints" in resource]
    assert '${var.bucket_arns["scripts"]}/${var.pipes_prefix}/messages/*' in resources


def test_pipes_messages_expire_and_nothing_else_does() -> None:
    """Pipes deletes its context objects after a run and its messages never: the scripts
    bucket expires what is under pipes/messages/, and no other prefix of any bucket."""
    expiring = root().calls["storage"]["expiring_prefixes"]
    assert expiring == {"scripts": {"${local.pipes_prefix}/messages/":
                                    "${local.pipes_message_expiration_days}"}}
    assert 1 <= root().locals["pipes_message_expiration_days"] <= 30
    [dynamic] = child("storage").resource("aws_s3_bucket_lifecycle_configuration")["data"]["dynamic"]
    rule = dynamic["rule"]
    assert rule["for_each"] == "${lookup(var.expiring_prefixes, each.key, {})}"
    [content] = rule["content"]
    assert content["filter"] == [{"prefix": "${rule.key}"}]
    assert content["expiration"] == [{"days": "${rule.value}"}]


def test_catalog_registers_the_bronze_delta_tables() -> None:
    settings = importlib.import_module("streaming.settings").Settings(lake_uri="s3://lake")
    registry = importlib.import_module("streaming.lake.tables")
    registered = root().locals["delta_tables"]
    for table in (registry.BRONZE, registry.QUARANTINE):
        assert f"s3://lake/{registered[table.name]}" == table.uri(settings)
    table = child("catalog").one("aws_glue_catalog_table")
    assert table["parameters"]["table_type"] == "DELTA"
    workgroup = child("athena").one("aws_athena_workgroup")["configuration"][0]
    assert ref(workgroup["bytes_scanned_cutoff_per_query"]) == "var.bytes_scanned_cutoff"
    assert workgroup["enforce_workgroup_configuration"] is True


def test_kinesis_mode_and_shards_follow_the_variables() -> None:
    stream = child("kinesis").one("aws_kinesis_stream")
    assert ref(stream["stream_mode_details"][0]["stream_mode"]) == "var.stream_mode"
    assert ref(stream["shard_count"]) == (
        'var.stream_mode == "PROVISIONED" ? var.shard_count : null')


# --- CI workflow and packaging ----------------------------------------------------------------


def test_workflow_plans_on_pull_requests_and_applies_only_in_releases() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == list(ENVIRONMENTS)
    # apply belongs to release.yml/deploy.yml: the artifacts built once, promoted in order
    assert inputs["action"]["options"] == ["plan", "destroy"]
    assert workflow["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["terraform"]
    assert job["environment"] == "${{ matrix.environment }}"
    assert job["permissions"]["id-token"] == "write"
    steps = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    credentials = steps["aws-actions/configure-aws-credentials"]["with"]
    assert credentials["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    commands = " ".join(step.get("run", "") for step in job["steps"])
    for command in ("package_artifacts.py", "terraform init", "terraform plan", "terraform destroy"):
        assert command in commands
    assert "terraform apply" not in commands
    checks = " ".join(step.get("run", "") for step in workflow["jobs"]["checks"]["steps"])
    assert "fmt -check" in checks and "validate" in checks and "test_terraform.py" in checks
    assert "test_workflows.py" in checks and "rhysd/actionlint" in checks


def test_lambda_dependencies_are_the_projects_pins() -> None:
    requirements = package_artifacts.pinned_requirements(package_artifacts.LAMBDA_DEPENDENCIES)
    assert [r.split("==")[0].split("[")[0] for r in requirements] == ["orjson", "ua-parser", "isal"]
    assert all("==" in requirement for requirement in requirements)
    with pytest.raises(ValueError, match="not pinned"):
        package_artifacts.pinned_requirements(["no-such-distribution"])


# What neither AWS zip may hold: stand-ins for AWS, tooling, the Dagster code location.
NEVER_SHIPPED = ("streaming/local/", "streaming/tools/", "clickstream_assets/")
OFF_THE_GLUE_PATH = (*NEVER_SHIPPED, "streaming/ingest/", "streaming/lakesql/", "streaming/reports/")
OFF_THE_LAMBDA_PATH = (*NEVER_SHIPPED, "streaming/stream/", "streaming/lake/", "streaming/lakesql/",
                       "streaming/reports/", "streaming/ingest/openapi.py")


def test_glue_package_is_the_job_and_what_it_imports_and_reproducible(tmp_path: Path) -> None:
    first = package_artifacts.build_glue(tmp_path / "a")
    second = package_artifacts.build_glue(tmp_path / "b")
    assert first.name == "streaming-glue.zip"
    assert first.read_bytes() == second.read_bytes()
    names = set(zipfile.ZipFile(first).namelist())
    assert {"streaming/__init__.py", "streaming/stream/__init__.py", "streaming/stream/job.py",
            "streaming/stream/transforms.py", "streaming/lake/delta.py"} <= names
    assert not [name for name in names if name.startswith(OFF_THE_GLUE_PATH)
                or not name.endswith(".py")]


@pytest.mark.parametrize(("entry", "off_path"), [
    (package_artifacts.LAMBDA_ENTRY, OFF_THE_LAMBDA_PATH),
    (package_artifacts.GLUE_ENTRY, OFF_THE_GLUE_PATH),
])
def test_each_zip_holds_its_entry_point_and_what_it_imports_alone(entry, off_path, tmp_path) -> None:
    """The first-party files of a zip, unpacked alone, import the entry point with nothing of
    the repository's copy loaded; and they hold nothing off that entry point's path."""
    sources = package_artifacts.module_sources(entry)
    names = [name for _, name in sources]
    assert not [name for name in names if name.startswith(off_path)]
    for source, name in sources:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(source.read_bytes())
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {entry}; print('\\n'.join(sorted("
         "m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'streaming')))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True,
        text=True, check=True).stdout.split()
    assert package_artifacts.module_files()[entry].relative_to(ROOT).as_posix() in names
    assert {Path(file).relative_to(tmp_path).as_posix() for file in loaded} <= set(names)


@pytest.mark.slow
def test_lambda_package_holds_handler_and_binary_wheels_for_the_runtime(tmp_path: Path) -> None:
    """Downloads the pinned wheels from PyPI for the Lambda runtime (arm64, CPython 3.13)."""
    archive = package_artifacts.build_lambda("arm64", tmp_path)
    assert archive.name == "lambda-arm64.zip"
    names = set(zipfile.ZipFile(archive).namelist())
    assert "streaming/ingest/handler.py" in names
    assert any(re.fullmatch(r"orjson/orjson\.cpython-313-aarch64-linux-gnu\.so", n) for n in names)
    assert any(n.startswith("ua_parser/") for n in names)
    assert any(re.fullmatch(r"isal/isal_zlib\.cpython-313-aarch64-linux-gnu\.so", n) for n in names)
    assert not any(n.startswith(("boto3/", "botocore/")) for n in names)


def test_glue_wheels_are_the_projects_deltalake_dagster_pipes_orjson_and_isal_pins() -> None:
    """deltalake for the commit path; dagster-pipes for the model builds' side of Pipes, at
    the version of the Dagster that reads its messages; orjson for the stream job's parsing,
    isal for its inflating."""
    deltalake, pipes, orjson, isal = package_artifacts.pinned_requirements(
        package_artifacts.GLUE_DEPENDENCIES)
    assert re.fullmatch(r"deltalake==[0-9.]+", deltalake)
    assert re.fullmatch(r"orjson==[0-9.]+", orjson)
    assert re.fullmatch(r"isal==[0-9.]+", isal)
    (dagster,) = package_artifacts.pinned_requirements(["dagster"])
    assert pipes == dagster.replace("dagster==", "dagster-pipes==")
    assert not set(package_artifacts.GLUE_DEPENDENCIES) & package_artifacts.GLUE_PROVIDED


def test_a_failing_pip_step_names_what_failed_and_why() -> None:
    with pytest.raises(package_artifacts.PackagingError) as failure:
        package_artifacts.run_pip(["download", "--no-index", "--dest", "/nonexistent",
                                   "no-such-distribution-0a1b2c"], "downloading the impossible")
    message = str(failure.value)
    assert message.startswith("downloading the impossible failed (pip exited ")
    assert "-m pip download --no-index" in message
    assert "no-such-distribution-0a1b2c" in message  # pip's own words follow the command


def _pip_dry_run(*arguments: str) -> set[str]:
    """File names of what pip would install for Glue 6.0 (CPython 3.13, manylinux x86_64)
    with no package index."""
    report = package_artifacts.run_pip(
        ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-", "--no-index",
         *package_artifacts.platform_options("3.13", "x86_64"), *arguments], "dry run")
    return {item["download_info"]["url"].rsplit("/", 1)[1]
            for item in json.loads(report)["install"]}


@pytest.mark.slow
def test_glue_wheels_install_deltalake_for_glue_6_offline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads the Glue dependencies at the project's pins and their dependencies from
    PyPI for Glue 6.0, then proves the set complete the way Glue's pip meets it: the files
    alone, no index."""
    pins = package_artifacts.pinned_requirements(package_artifacts.GLUE_DEPENDENCIES)
    version = pins[0].split("==")[1]
    messages: list[str] = []
    wheels = package_artifacts.build_glue_wheels(tmp_path, log=messages.append)
    wheel_dir = tmp_path / package_artifacts.GLUE_WHEELS_DIR
    names = {wheel.name for wheel in wheels}
    assert names == {path.name for path in wheel_dir.iterdir()}  # nothing else for fileset()
    assert "downloading deltalake==" in messages[0]
    deltalake = [n for n in names if n.startswith("deltalake-")]
    assert len(deltalake) == 1
    assert re.fullmatch(rf"deltalake-{re.escape(version)}-cp3\d+-abi3-"
                        r"manylinux[\w.]*_x86_64\.whl", deltalake[0])
    distributions = {package_artifacts.wheel_name(wheel) for wheel in wheels}
    assert {"deltalake", "arro3-core", "deprecated", "wrapt", "dagster-pipes", "orjson",
            "isal"} <= distributions
    assert not distributions & package_artifacts.GLUE_PROVIDED  # no pyspark, pyarrow, boto3
    assert all(re.search(r"-(py3-none-any|cp3\d+-(abi3|cp313)-manylinux[\w.]*_x86_64)\.whl$",
                         name) for name in names), names
    # As Glue runs it: the listed files, --no-index; and by name from the folder.
    assert _pip_dry_run(*map(str, wheels)) == names
    assert _pip_dry_run("--find-links", str(wheel_dir), *pins) == names

    # A second build reuses them without the network; a wheel no longer needed goes.
    def no_download(*_: object) -> None:
        raise AssertionError("downloaded again")

    monkeypatch.setattr(package_artifacts, "download_wheels", no_download)
    stale = wheel_dir / "deltalake-0.0.1-cp39-abi3-manylinux_2_17_x86_64.whl"
    stale.write_bytes(b"not a wheel")
    messages.clear()
    assert package_artifacts.build_glue_wheels(tmp_path, log=messages.append) == wheels
    assert not stale.exists()
    assert messages == [f"glue wheels: {', '.join(pins)} and their dependencies already downloaded",
                        f"glue wheels: removing {stale.name} (no longer needed)"]


# --- checkov -----------------------------------------------------------------------------------


def _checkov(target: list[str], framework: str, var_file: Path | None = None
             ) -> subprocess.Popen[str]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run ./clickstream test (it "
                    "installs checkov into its own venv, since checkov pins another boto3)")
    command = [str(CHECKOV), *target, "--framework", framework, "--skip-download", "--compact",
               "-o", "json"]
    if var_file:
        command += ["--var-file", str(var_file)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)


def _results(process: subprocess.Popen[str]) -> dict[str, Any]:
    output, _ = process.communicate(timeout=300)
    report = json.loads(output)
    return report[0] if isinstance(report, list) else report


@pytest.fixture(scope="module")
def checkov_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Scans of each environment, of the workflow, and of a copy without suppressions; all run
    at once."""
    unsuppressed = tmp_path_factory.mktemp("unsuppressed") / "terraform"
    shutil.copytree(TERRAFORM, unsuppressed, ignore=shutil.ignore_patterns(".build", ".terraform"))
    for path in unsuppressed.rglob("*.tf"):
        path.write_text(re.sub(r"^\s*#\s*checkov:skip=.*\n", "", path.read_text(), flags=re.M))
    processes = {
        environment: _checkov(["-d", str(TERRAFORM)], "terraform",
                              TERRAFORM / "tfvars" / f"{environment}.tfvars")
        for environment in ENVIRONMENTS
    }
    processes["workflow"] = _checkov(["-d", str(WORKFLOWS)], "github_actions")
    processes["unsuppressed"] = _checkov(["-d", str(unsuppressed)], "terraform",
                                         unsuppressed / "tfvars" / "prod.tfvars")
    return {name: _results(process) for name, process in processes.items()}


def _findings(report: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    return sorted((check["check_id"], check["resource"]) for check in report["results"][kind])


@pytest.mark.slow
@pytest.mark.parametrize("scan", [*ENVIRONMENTS, "workflow"])
def test_checkov_finds_nothing_unsuppressed(scan: str, checkov_reports: dict) -> None:
    report = checkov_reports[scan]
    summary = report["summary"]
    print(f"checkov {scan}: {summary['passed']} passed, {summary['failed']} failed, "
          f"{summary['skipped']} skipped")
    assert summary["passed"] > 0
    assert _findings(report, "failed_checks") == []


@pytest.mark.slow
def test_every_suppression_is_still_needed(checkov_reports: dict) -> None:
    suppressed = _findings(checkov_reports["prod"], "skipped_checks")
    failing_without = _findings(checkov_reports["unsuppressed"], "failed_checks")
    assert suppressed and suppressed == failing_without


def test_readme_names_every_variable_and_output() -> None:
    readme = (ROOT / "infra" / "README.md").read_text()
    for name in [*root().variables, *root().outputs]:
        assert f"`{name}`" in readme, f"infra/README.md does not mention {name}"


def test_every_suppression_gives_a_reason() -> None:
    files = [*TERRAFORM.rglob("*.tf"), *WORKFLOWS.glob("*.yml")]
    suppressions = [(path.name, *match.groups()) for path in files
                    for match in SKIP_COMMENT.finditer(path.read_text())]
    assert suppressions
    for name, check, reason in suppressions:
        assert len(reason.strip()) >= 30, f"{name}: {check} needs a written reason"


# --- the defects a first deploy would hit (issue 19) -----------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_glue_worker_type_is_documented_for_glue_6_streaming(environment: str) -> None:
    assert tfvars(environment)["glue_worker_type"] in GLUE_6_STREAMING_WORKERS
    condition = root().variables["glue_worker_type"]["validation"][0]["condition"]
    assert set(json.loads(re.search(r"\[.*?\]", condition).group(0))) == GLUE_6_STREAMING_WORKERS
    assert set(child("glue_job").locals["vcpus"]) == GLUE_6_STREAMING_WORKERS


def test_glue_job_has_a_timeout_and_a_maintenance_window() -> None:
    """Without a timeout a Glue 5.0+ job stops after 480 minutes; streaming jobs are restarted
    by Glue only inside a maintenance window (and by the control plane's stream_job_sensor)."""
    glue = child("glue_job")
    job = glue.resource("aws_glue_job")["this"]
    assert ref(job["timeout"]) == "local.timeout_minutes"
    assert glue.locals["timeout_minutes"] == 10080  # the most Glue allows a streaming job
    assert ref(job["maintenance_window"]) == "var.maintenance_window"
    assert ref(root().calls["glue_job"]["maintenance_window"]) == "var.glue_maintenance_window"


def test_the_lambda_and_the_glue_job_get_their_roles_once_the_policies_exist() -> None:
    """A first apply would otherwise create the function or job between the role and its
    policy (and Lambda checks the VPC permissions at creation)."""
    outputs = child("iam").outputs
    for output, policy in (("lambda_role_arn", "lambda"), ("glue_role_arn", "glue")):
        assert [ref(item) for item in outputs[output]["depends_on"]] == [
            f"aws_iam_role_policy.{policy}"], output
    assert ref(root().calls["lambda"]["role_arn"]) == "module.iam.lambda_role_arn"
    assert ref(root().calls["glue_job"]["role_arn"]) == "module.iam.glue_role_arn"
    assert ref(child("lambda").one("aws_lambda_function")["role"]) == "var.role_arn"
    assert ref(child("glue_job").resource("aws_glue_job")["this"]["role_arn"]) == "var.role_arn"


def test_lambda_may_manage_its_network_interfaces_on_every_resource() -> None:
    iam = child("iam")
    statements = policy_statements(iam, iam.data["aws_iam_policy_document"]["lambda"])
    vpc = [s for s in statements if set(s["actions"]) & LAMBDA_VPC_ACTIONS]
    assert len(vpc) == 1, vpc
    assert set(vpc[0]["actions"]) >= LAMBDA_VPC_ACTIONS and vpc[0]["resources"] == ["*"]


# --- Dagster on AWS (issue 20): modules/dagster -----------------------------------------------

# Memory sizes (MiB) Fargate pairs with each CPU size of a task.
FARGATE_MEMORY = {
    256: range(512, 2049, 512), 512: range(1024, 4097, 1024), 1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024), 4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096), 16384: range(32768, 122881, 8192),
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_dagster_is_on_in_every_environment_with_a_private_ui(environment: str) -> None:
    values = tfvars(environment)
    assert values["dagster_enabled"] is True
    assert ref(root().calls["dagster"]["count"]) == "var.dagster_enabled ? 1 : 0"
    assert values["dagster_run_memory_mb"] in FARGATE_MEMORY[values["dagster_run_cpu"]]
    vpc = ipaddress.ip_network(values["vpc_cidr"])
    for cidr in values["dagster_ui_allowed_cidrs"]:
        network = ipaddress.ip_network(cidr)
        assert network.is_private and network.prefixlen >= 8, f"{environment}: {cidr}"
    # At least the VPC itself: AWS Client VPN source-NATs its clients into it.
    assert any(vpc.subnet_of(ipaddress.ip_network(cidr))
               for cidr in values["dagster_ui_allowed_cidrs"]), environment


def test_dagster_ui_sits_on_an_internal_load_balancer_no_rule_opens_to_the_internet() -> None:
    dagster = child("dagster")
    balancer = dagster.one("aws_lb")
    assert balancer["internal"] is True and ref(balancer["subnets"]) == "var.subnet_ids"
    listener = dagster.one("aws_lb_listener")
    # Forwarding without authentication is safe only behind an internal load balancer.
    assert listener["default_action"][0]["type"] == "forward"
    for kind in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
        for name, rule in dagster.resource(kind).items():
            assert rule["description"], f"{kind}.{name} has no description"
            assert rule.get("cidr_ipv4") not in ("0.0.0.0/0",) and "cidr_ipv6" not in rule, name
    ui_rule = dagster.resource("aws_vpc_security_group_ingress_rule")["ui_from_allowed"]
    assert ref(ui_rule["for_each"]) == "toset(var.ui_allowed_cidrs)"
    assert ref(root().calls["dagster"]["ui_allowed_cidrs"]) == "var.dagster_ui_allowed_cidrs"
    for name, service in dagster.resource("aws_ecs_service").items():
        assert service["network_configuration"][0]["assign_public_ip"] is False, name
    assert ref(root().calls["dagster"]["subnet_ids"]) == "module.network.private_subnet_ids"


def test_dagster_storage_is_private_encrypted_and_its_password_in_secrets_manager() -> None:
    dagster = child("dagster")
    database = dagster.one("aws_db_instance")
    assert database["publicly_accessible"] is False
    assert database["storage_encrypted"] is True and ref(database["kms_key_id"]) == "var.data_key_arn"
    assert ref(database["password"]) == (
        "aws_secretsmanager_secret_version.db_password.secret_string")
    assert ref(dagster.one("aws_db_subnet_group")["subnet_ids"]) == "var.subnet_ids"
    secret = dagster.one("aws_secretsmanager_secret")
    assert ref(secret["kms_key_id"]) == "var.data_key_arn"
    version = dagster.one("aws_secretsmanager_secret_version")
    assert ref(version["secret_string"]) == (
        "data.aws_secretsmanager_random_password.db.random_password")
    parameters = {p["name"]: p["value"] for p in dagster.one("aws_db_parameter_group")["parameter"]}
    assert parameters["rds.force_ssl"] == "1"
    assert ref(root().calls["dagster"]["data_key_arn"]) == "module.kms.data_key_arn"


def test_the_private_subnets_have_the_endpoints_dagsters_tasks_call() -> None:
    assert set(root().locals["dagster_endpoints"]) == DAGSTER_ENDPOINTS
    assert ref(root().calls["network"]["extra_interface_services"]) == (
        "var.dagster_enabled ? local.dagster_endpoints : []")
    assert "var.extra_interface_services" in child("network").locals["interface_services"]


def test_dagster_roles_are_one_per_task_and_only_the_daemon_launches_runs() -> None:
    dagster = child("dagster")
    assert set(dagster.resource("aws_iam_role")) == {
        "execution", "webserver", "daemon", "code_server", "run"}
    documents = dagster.data["aws_iam_policy_document"]
    actions = {name: {a for s in policy_statements(dagster, doc) for a in s["actions"]}
               for name, doc in documents.items() if name != "ecs_tasks_assume"}
    assert [name for name, held in actions.items() if "ecs:RunTask" in held] == ["daemon"]
    assert [name for name, held in actions.items() if "iam:PassRole" in held] == ["daemon"]
    assert "secretsmanager:GetSecretValue" in actions["execution"]
    assert not actions["run"] & {"ecs:RunTask", "iam:PassRole"}
    # the run reads one secret, the erasure salt (test_lambda_may_read_exactly_the_write_keys...)
    task_definitions = dagster.resource("aws_ecs_task_definition")
    assert ref(task_definitions["run"]["task_role_arn"]) == "aws_iam_role.run.arn"
    for name, definition in task_definitions.items():
        assert ref(definition["execution_role_arn"]) == "aws_iam_role.execution.arn", name


# --- releases and disaster recovery (issue 22) ------------------------------------------------


def test_the_api_invokes_an_alias_that_only_codedeploy_moves() -> None:
    lambda_module = child("lambda")
    assert lambda_module.one("aws_lambda_function")["publish"] is True
    alias = lambda_module.one("aws_lambda_alias")
    assert ref(alias["function_version"]) == "aws_lambda_function.this.version"
    assert alias["lifecycle"][0]["ignore_changes"] == ["function_version", "routing_config"]
    assert ref(lambda_module.outputs["invoke_arn"]["value"]) == "aws_lambda_alias.live.invoke_arn"
    permission = child("api").one("aws_lambda_permission")
    assert ref(permission["qualifier"]) == "var.lambda_alias_name"


def test_canary_rolls_back_on_the_functions_error_and_throttle_alarms() -> None:
    canary = child("canary")
    group = canary.one("aws_codedeploy_deployment_group")
    assert set(group["auto_rollback_configuration"][0]["events"]) == {
        "DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}
    assert group["alarm_configuration"][0]["enabled"] is True
    assert ref(group["alarm_configuration"][0]["alarms"]) == "keys(var.alarms)"
    assert ref(root().calls["canary"]["alarms"]) == "module.monitoring.lambda_alarms"
    assert '"lambda-errors", "lambda-throttles"' in child("monitoring").text
    for environment in ENVIRONMENTS:
        assert tfvars(environment)["lambda_deployment_config"].startswith(
            "CodeDeployDefault.Lambda")
    # staging and prod shift in steps; dev's thin traffic would show nothing in a 10% slice
    assert "Canary10Percent" in tfvars("prod")["lambda_deployment_config"]
    assert "Canary10Percent" in tfvars("staging")["lambda_deployment_config"]


def test_replication_is_off_in_dev_on_in_prod_to_another_region_with_its_own_key() -> None:
    assert tfvars("dev")["dr_replication_enabled"] is False
    assert tfvars("prod")["dr_replication_enabled"] is True
    assert root().variables["dr_replication_enabled"]["default"] is False
    for environment in ENVIRONMENTS:
        values = tfvars(environment)
        assert values["dr_region"] != values["aws_region"]
    dr = child("dr")
    rule = dr.one("aws_s3_bucket_replication_configuration")["rule"][0]
    assert rule["status"] == "Enabled"
    assert rule["delete_marker_replication"][0]["status"] == "Enabled"
    criteria = rule["source_selection_criteria"][0]["sse_kms_encrypted_objects"][0]
    assert criteria["status"] == "Enabled"
    destination = rule["destination"][0]
    assert ref(destination["encryption_configuration"][0]["replica_kms_key_id"]) == (
        "aws_kms_key.replica.arn")
    for kind, resources in dr.resources.items():
        if kind.startswith(("aws_s3_bucket", "aws_kms")) and kind != (
                "aws_s3_bucket_replication_configuration"):
            for name, resource in resources.items():
                assert ref(resource["provider"]) == "aws.replica", f"{kind}.{name}"
    sse = dr.one("aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert ref(sse["apply_server_side_encryption_by_default"][0]["kms_master_key_id"]) == (
        "aws_kms_key.replica.arn")
    call = root().calls["dr"]
    assert "for role in [\"lake\", \"scripts\"]" in call["source_buckets"]
    assert ref(call["count"]) == "var.dr_replication_enabled ? 1 : 0"


def test_the_trail_records_every_object_access_of_the_lake() -> None:
    audit = child("audit")
    trail = audit.one("aws_cloudtrail")
    selector = trail["event_selector"][0]
    assert selector["read_write_type"] == "All"
    resource = selector["data_resource"][0]
    assert resource["type"] == "AWS::S3::Object"
    assert resource["values"] == ["${var.lake_bucket_arn}/"]
    assert trail["enable_log_file_validation"] is True
    assert ref(trail["kms_key_id"]) == "var.logs_key_arn"
    assert ref(root().calls["audit"]["lake_bucket_arn"]) == 'module.storage.bucket_arns["lake"]'
    assert all(tfvars(environment)["audit_trail_enabled"] for environment in ENVIRONMENTS)


def test_stream_retention_covers_each_environments_recovery_point() -> None:
    """docs/disaster-recovery.md: a stopped or rolled-back job loses nothing while the stream
    keeps its records, a day in dev, two in staging, a week in prod."""
    hours = {environment: tfvars(environment)["kinesis_retention_hours"]
             for environment in ENVIRONMENTS}
    assert hours == {"dev": 24, "staging": 48, "prod": 168}
    document = (ROOT / "docs" / "disaster-recovery.md").read_text()
    assert "168 hours" in document and "kinesis_retention_hours" in document
