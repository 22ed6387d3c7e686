"""How many state transitions one two-stage deployment costs (Standard workflows bill per transition).

Runs the real ASL on moto's executing engine with the deploy step Lambda in-process: staging (all at once, one
approval) then prod (canary with an alarm, monitoring). The endpoint wait loop depends on how long SageMaker takes,
so its iterations are counted and excluded: the printed figure is the fixed cost of a deployment.

    PYTHONPATH=.:layers/lifecycle python benchmarks/deploy_transitions.py
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
from moto import mock_aws

if TYPE_CHECKING:
    from sandbox.stepfunctions import Run

REGION = "us-east-1"
AUTOMATION, STAGING, PROD = "123456789012", "333333333333", "444444444444"
STACK, TABLE = "bench", "bench-table"
TOPIC = f"arn:aws:sns:{REGION}:{AUTOMATION}:bench-notifications"
LOOP = ("Wait For Endpoint In Service", "Check Endpoint Status", "Endpoint In Service?")
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "LIFECYCLE_STACK_NAME": STACK,
    "LIFECYCLE_TABLE_NAME": TABLE,
    "LIFECYCLE_TOPIC_ARN": TOPIC,
    "LIFECYCLE_AUTOMATION_ACCOUNT_ID": AUTOMATION,
    "LIFECYCLE_ALLOWED_ACCOUNTS": f"{AUTOMATION},{STAGING},{PROD}",
    "LIFECYCLE_EXECUTION_ROLE_NAME": "sagemaker-lifecycle-execution",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


def stage(name: str, account: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "account": account,
        "region": REGION,
        "endpoint_name": f"churn-{name}",
        "execution_role_arn": f"arn:aws:iam::{account}:role/SageMakerExecution",
        "instance_type": "ml.m5.large",
        "smoke_test": {"payload": "{}", "expect_contains": "predictions"},
        "poll_seconds": 1,
        **extra,
    }


POLICY = {
    "group": "churn",
    "registry": {"account": AUTOMATION, "region": REGION, "approvers": ["ml-leads@example.com"]},
    "deployment": {
        "stages": [
            stage("staging", STAGING, approval_required=True),
            stage(
                "prod",
                PROD,
                strategy={"type": "canary", "percent": 10, "wait_seconds": 600},
                rollback_alarms=["churn-prod-5xx"],
                monitoring={"capture_s3_uri": "s3://capture/churn/", "reports_s3_uri": "s3://reports/churn/"},
            ),
        ]
    },
}


def deploy(versions: int = 1, after_each: Callable[[], None] = lambda: None) -> list[Run]:
    """Deploy versions 1..`versions` one after the other, each to its end (its staging approval given), and return
    the executions: the first creates both endpoints, every later one updates them (a guarded canary in prod).
    `after_each` is called when each execution has ended."""
    os.environ.update(ENV)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        from lifecycle.config import get_settings
        from lifecycle.store import deployments

        from sandbox import stepfunctions as harness
        from sandbox.fakes import install

        install()
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("sns").create_topic(Name="bench-notifications")
        boto3.client("ssm").put_parameter(Name=f"/{STACK}/policies/churn", Value=json.dumps(POLICY), Type="String")
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_model_package_group(ModelPackageGroupName="churn")
        machine = harness.install_deploy_model(topic_arn=TOPIC)
        runs = []
        for version in range(1, versions + 1):
            sagemaker.create_model_package(
                ModelPackageGroupName="churn",
                InferenceSpecification={
                    "Containers": [{"Image": "img", "ModelDataUrl": f"s3://m/{version}/model.tar.gz"}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                ModelApprovalStatus="Approved",
            )
            name = f"bench-{version}"
            run = harness.start(
                machine, name, {"kind": "deploy", "group": "churn", "version": version, "stages": ["staging", "prod"]}
            )
            (gate,) = deployments.approvals(get_settings(), "churn", execution=name)
            harness.send_success(gate.token, {"approved_by": "bench"})
            runs.append(harness.wait(run.execution_arn, since=len(run.events), timeout=60))
            after_each()
        return runs


def loop_repeats(run: Run) -> int:
    """States entered by wait-loop iterations beyond each stage's first pass."""
    counts = Counter(run.states)
    return sum(counts[name] - counts["Create Model"] for name in LOOP)


def main() -> None:
    (run,) = deploy()
    assert run.status == "SUCCEEDED", run.cause
    counts = Counter(run.states)
    stages = counts["Create Model"]
    extra = loop_repeats(run)
    print(f"execution: {run.status}, {stages} stages, approval gates: {counts['Wait For Approval']}")
    print(f"states entered: {len(run.states)} (wait-loop repeats excluded: {extra})")
    print(f"state transitions of a two-stage deployment: {len(run.states) - extra}")


if __name__ == "__main__":
    main()
