"""infra/deploy_lambda.py, the canary step of a release, against botocore's Stubber: real
clients whose requests are checked against the Lambda and CodeDeploy API models, with the
answers AWS would give for a deployment that succeeds, one an alarm stops, and a release that
changed no code of the function."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import deploy_lambda
import pytest
from botocore.stub import ANY, Stubber

OUTPUTS = {"lambda_function_name": "clickstream-prod-ingest", "lambda_alias_name": "live",
           "lambda_version": "8", "codedeploy_app_name": "clickstream-prod-ingest",
           "codedeploy_deployment_group": "clickstream-prod-ingest-live"}


@pytest.fixture
def clients() -> Iterator[tuple[Stubber, Stubber]]:
    lambda_client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x",
                                 aws_secret_access_key="x")
    codedeploy = boto3.client("codedeploy", region_name="eu-west-1", aws_access_key_id="x",
                              aws_secret_access_key="x")
    with Stubber(lambda_client) as lambdas, Stubber(codedeploy) as deploys:
        yield lambdas, deploys
        lambdas.assert_no_pending_responses()
        deploys.assert_no_pending_responses()


def alias_serves(lambdas: Stubber, version: str) -> None:
    lambdas.add_response("get_alias", {"FunctionVersion": version, "Name": "live"},
                         {"FunctionName": "clickstream-prod-ingest", "Name": "live"})


def run(lambdas: Stubber, deploys: Stubber) -> str | None:
    return deploy_lambda.deploy(lambdas.client, deploys.client, OUTPUTS, poll_seconds=0,
                                say=lambda _: None)


def test_a_new_version_is_deployed_through_the_group_and_waited_for(clients) -> None:
    lambdas, deploys = clients
    alias_serves(lambdas, "7")
    expected = deploy_lambda.appspec("clickstream-prod-ingest", "live", "7", "8")
    deploys.add_response("create_deployment", {"deploymentId": "d-ABC"}, {
        "applicationName": "clickstream-prod-ingest",
        "deploymentGroupName": "clickstream-prod-ingest-live",
        "description": ANY,
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": expected}},
    })
    for status in ("InProgress", "Succeeded"):
        deploys.add_response("get_deployment", {"deploymentInfo": {"status": status}},
                             {"deploymentId": "d-ABC"})
    assert run(lambdas, deploys) == "d-ABC"
    resource = json.loads(expected)["Resources"][0]["ingest"]
    assert resource == {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": "clickstream-prod-ingest", "Alias": "live", "CurrentVersion": "7",
        "TargetVersion": "8"}}


def test_a_deployment_stopped_by_an_alarm_fails_the_release(clients) -> None:
    lambdas, deploys = clients
    alias_serves(lambdas, "7")
    deploys.add_response("create_deployment", {"deploymentId": "d-XYZ"}, None)
    deploys.add_response("get_deployment", {"deploymentInfo": {
        "status": "Stopped",
        "errorInformation": {"code": "ALARM_ACTIVE",
                             "message": "One or more alarms have been activated"},
        "rollbackInfo": {"rollbackMessage": "Rolled back by d-ROLL"},
    }}, {"deploymentId": "d-XYZ"})
    with pytest.raises(RuntimeError, match=r"d-XYZ Stopped: ALARM_ACTIVE .* returns to\) version 7"):
        run(lambdas, deploys)


def test_nothing_is_deployed_when_the_alias_serves_the_version_already(clients) -> None:
    lambdas, deploys = clients
    alias_serves(lambdas, "8")
    assert run(lambdas, deploys) is None


def test_outputs_come_from_terraform_output_json(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({name: {"value": value, "type": "string", "sensitive": False}
                                for name, value in OUTPUTS.items()}))
    assert deploy_lambda.read_outputs(path) == OUTPUTS
    path.write_text(json.dumps({"lambda_version": {"value": "8"}}))
    with pytest.raises(ValueError, match="lacks the outputs lambda_function_name"):
        deploy_lambda.read_outputs(path)
