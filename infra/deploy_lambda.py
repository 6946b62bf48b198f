"""Shift the ingestion function's alias to its newest version through CodeDeploy: the canary.

`terraform apply` publishes a new version of the function but never moves the alias `live`
that the API invokes (modules/lambda ignores its version). This script, run by the release
workflow right after the apply, asks the deployment group (modules/canary) to move the alias
from the version it serves to the one just published. CodeDeploy then shifts traffic as the
group's configuration says (10% for 5 minutes, then all) and, if the function's error or
throttle alarm fires meanwhile, stops and points the alias back at the old version; the script
waits for the outcome and exits non-zero unless the new version took all the traffic.

    terraform output -json > outputs.json
    python infra/deploy_lambda.py --outputs outputs.json --region eu-west-1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# What `terraform output -json` holds for the release (infra/terraform/outputs.tf).
OUTPUTS = ("lambda_function_name", "lambda_alias_name", "lambda_version", "codedeploy_app_name",
           "codedeploy_deployment_group")
DONE = {"Succeeded", "Failed", "Stopped"}


def appspec(function: str, alias: str, current: str, target: str) -> str:
    """CodeDeploy's AppSpec for a Lambda deployment (JSON is valid AppSpec): move `alias` of
    `function` from version `current` to `target`. No hooks: the smoke test runs afterwards."""
    return json.dumps({
        "version": 0.0,
        "Resources": [{"ingest": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Name": function, "Alias": alias, "CurrentVersion": current,
                           "TargetVersion": target},
        }}],
    })


def deploy(lambda_client: Any, codedeploy: Any, outputs: dict[str, str],
           poll_seconds: float = 15.0, timeout: float = 3600.0,
           say: Callable[[str], None] = print) -> str | None:
    """Deploys `lambda_version` behind the alias; the deployment id, or None when the alias
    serves that version already (a release that changed no code of the function)."""
    function, alias = outputs["lambda_function_name"], outputs["lambda_alias_name"]
    target = outputs["lambda_version"]
    current = lambda_client.get_alias(FunctionName=function, Name=alias)["FunctionVersion"]
    if current == target:
        say(f"{function}:{alias} already serves version {target}; nothing to deploy")
        return None
    deployment_id = codedeploy.create_deployment(
        applicationName=outputs["codedeploy_app_name"],
        deploymentGroupName=outputs["codedeploy_deployment_group"],
        description=f"{function}:{alias} {current} -> {target}",
        revision={"revisionType": "AppSpecContent",
                  "appSpecContent": {"content": appspec(function, alias, current, target)}},
    )["deploymentId"]
    say(f"deployment {deployment_id}: {function}:{alias} from version {current} to {target}")
    deadline = time.monotonic() + timeout
    while True:
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        status = info["status"]
        if status in DONE:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"deployment {deployment_id} still {status} after {timeout:.0f}s "
                               "(CodeDeploy goes on; see the console)")
        time.sleep(poll_seconds)
    if status != "Succeeded":
        error = info.get("errorInformation", {})
        rolled_back = info.get("rollbackInfo", {}).get("rollbackMessage", "")
        raise RuntimeError(f"deployment {deployment_id} {status}: {error.get('code', '')} "
                           f"{error.get('message', '')} {rolled_back}".strip()
                           + f"; the alias stays on (or returns to) version {current}")
    say(f"deployment {deployment_id} succeeded: {function}:{alias} serves version {target}")
    return deployment_id


def read_outputs(path: Path) -> dict[str, str]:
    """The values of the release's outputs from `terraform output -json`."""
    raw = json.loads(path.read_text())
    missing = [name for name in OUTPUTS if name not in raw]
    if missing:
        raise ValueError(f"{path} lacks the outputs {', '.join(missing)}")
    return {name: str(raw[name]["value"]) for name in OUTPUTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", type=Path, required=True,
                        help="file of `terraform output -json`")
    parser.add_argument("--region", required=True, help="the stack's region (aws_region)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds to wait for the deployment (3600)")
    args = parser.parse_args(argv)
    import boto3

    try:
        deploy(boto3.client("lambda", region_name=args.region),
               boto3.client("codedeploy", region_name=args.region), read_outputs(args.outputs),
               timeout=args.timeout, say=lambda message: print(message, flush=True))
    except (RuntimeError, TimeoutError, ValueError) as exc:
        print(f"deploy_lambda: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
