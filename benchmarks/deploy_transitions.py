"""How many state transitions a deployment costs (Standard workflows bill per transition).

Runs the real ASL on moto's executing engine with the deploy step Lambda in-process: a two-stage deployment (staging
all at once with one approval, then prod canary with an alarm and monitoring), a shadow test of prod promoted by a
person, and a batch stage proved by its transform job (its state change answered by the transform-job-state
function). The endpoint wait loop depends on how long SageMaker takes, so its iterations are counted and excluded: the
printed figures are the fixed cost of each.

    PYTHONPATH=.:layers/lifecycle python benchmarks/deploy_transitions.py
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import boto3
from moto import mock_aws

if TYPE_CHECKING:
    from sandbox.stepfunctions import Run

REGION = "us-east-1"
AUTOMATION, STAGING, PROD = "123456789012", "333333333333", "444444444444"
STACK, TABLE = "bench", "bench-table"
TOPIC = f"arn:aws:sns:{REGION}:{AUTOMATION}:bench-notifications"
# Wait-state loops: (wait, check, choice); the choice going back to the wait is one more iteration (3 states).
LOOPS = (
    ("Wait For Endpoint In Service", "Check Endpoint Status", "Endpoint In Service?"),
    ("Wait For Shadow To End", "Check Shadow Ended", "Shadow Ended?"),
)
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


SHADOW_POLICY = {
    **POLICY,
    "deployment": {
        "stages": [
            stage(
                "prod",
                PROD,
                strategy={"type": "shadow", "percent": 20, "minimum_hours": 24, "wait_seconds": 600},
                rollback_alarms=["churn-prod-5xx"],
            )
        ]
    },
}
BATCH_POLICY = {
    **POLICY,
    "deployment": {
        "stages": [
            {
                "name": "batch",
                "account": PROD,
                "region": REGION,
                "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecution",
                "batch": {
                    "input_s3_uri": "s3://bench-input/churn/",
                    "output_s3_uri": "s3://bench-output/churn/",
                    "instance_type": "ml.m5.xlarge",
                },
            }
        ]
    },
}


@contextlib.contextmanager
def _world(policy: dict[str, object], versions: int = 1) -> Iterator[str]:
    """moto with the table, topic, policy, `versions` Approved packages and DeployModel installed: its ARN."""
    os.environ.update(ENV)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
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
        boto3.client("ssm").put_parameter(Name=f"/{STACK}/policies/churn", Value=json.dumps(policy), Type="String")
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_model_package_group(ModelPackageGroupName="churn")
        for _ in range(versions):
            sagemaker.create_model_package(
                ModelPackageGroupName="churn",
                InferenceSpecification={
                    "Containers": [{"Image": "img", "ModelDataUrl": "s3://m/model.tar.gz"}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                ModelApprovalStatus="Approved",
            )
        yield harness.install_deploy_model(topic_arn=TOPIC)


def _deploy_input(version: int, *stages: str) -> dict[str, object]:
    return {"kind": "deploy", "group": "churn", "version": version, "stages": list(stages)}


def deploy(measured: Callable[[], None] = lambda: None) -> Run:
    """Run one two-stage deployment to its end (the staging approval given) and return the execution."""
    with _world(POLICY) as machine:
        from lifecycle.config import get_settings
        from lifecycle.store import deployments

        from sandbox import stepfunctions as harness

        measured()
        run = harness.start(machine, "bench", _deploy_input(1, "staging", "prod"))
        (gate,) = deployments.approvals(get_settings(), "churn", execution="bench")
        harness.send_success(gate.token, {"approved_by": "bench"})
        return harness.wait(run.execution_arn, since=len(run.events), timeout=60)


def shadow_promote(measured: Callable[[], None] = lambda: None) -> Run:
    """v1 serves prod; v2 runs as its shadow and a person promotes it (guarded): the execution of v2."""
    with _world(SHADOW_POLICY, versions=2) as machine:
        from lifecycle.config import get_settings
        from lifecycle.store import deployments

        from sandbox import stepfunctions as harness

        first = harness.start(machine, "bench-v1", _deploy_input(1, "prod"))
        assert first.status == "SUCCEEDED", first.cause
        measured()
        run = harness.start(machine, "bench", _deploy_input(2, "prod"))
        (wait,) = deployments.approvals(get_settings(), "churn", execution="bench")
        harness.send_success(wait.token, {"decision": "promote", "by": "bench", "reason": "metrics hold"})
        return harness.wait(run.execution_arn, since=len(run.events), timeout=60)


def batch_stage(measured: Callable[[], None] = lambda: None) -> Run:
    """v1 to a batch stage: the transform job completes, its event answers the execution."""
    with _world(BATCH_POLICY) as machine:
        from sandbox import runtime
        from sandbox import stepfunctions as harness
        from sandbox.fakes import transform
        from sandbox.world import WORLD

        measured()
        run = harness.start(machine, "bench", _deploy_input(1, "batch"))
        (job,) = transform.running(PROD, REGION)
        WORLD.drain()
        transform.finish(PROD, REGION, job)
        handler = runtime.handler("transform_job_state")
        for event in WORLD.drain():
            handler(event, runtime.LambdaContext("transform-job-state", "arn", 60))
        return harness.wait(run.execution_arn, since=len(run.events), timeout=60)


def successive(versions: int, after_each: Callable[[], None]) -> list[Run]:
    """Deploy versions 1..`versions` one after the other to staging and prod, each to its end (its staging approval
    given): the first creates both endpoints, every later one updates them (a guarded canary in prod). `after_each`
    is called when each execution has ended."""
    with _world(POLICY, versions=versions) as machine:
        from lifecycle.config import get_settings
        from lifecycle.store import deployments

        from sandbox import stepfunctions as harness

        runs = []
        for version in range(1, versions + 1):
            name = f"bench-{version}"
            run = harness.start(machine, name, _deploy_input(version, "staging", "prod"))
            (gate,) = deployments.approvals(get_settings(), "churn", execution=name)
            harness.send_success(gate.token, {"approved_by": "bench"})
            runs.append(harness.wait(run.execution_arn, since=len(run.events), timeout=60))
            after_each()
        return runs


SCENARIOS: dict[str, Callable[[Callable[[], None]], Run]] = {
    "two-stage deployment": deploy,
    "shadow -> promote prod": shadow_promote,
    "batch stage": batch_stage,
}


def loop_repeats(run: Run) -> int:
    """States entered by wait-loop iterations beyond each loop's first pass."""
    pairs = zip(run.states, run.states[1:], strict=False)
    return 3 * sum(1 for before, after in pairs for wait, _, choice in LOOPS if (before, after) == (choice, wait))


def main() -> None:
    for name, scenario in SCENARIOS.items():
        run = scenario(lambda: None)
        assert run.status == "SUCCEEDED", run.cause
        extra = loop_repeats(run)
        print(f"{name}: {run.status}, {len(run.states)} states entered, {len(run.states) - extra} excl. wait loops")


if __name__ == "__main__":
    main()
