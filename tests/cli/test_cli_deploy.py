"""`lifecycle deploy|rollback|approve|reject` driving the real DeployModel ASL on the served sandbox.

The sandbox's own DeployModel (made from template.yaml) fails its first state on moto: `$$.Execution.Name` reaches the
engine as `$.Execution.Name` (the DefinitionSubstitutions folded into Fn::Sub lose a `$`). Until that is fixed this
module installs DeployModel from statemachines/deploy_model.asl.json (`sandbox.stepfunctions.install_deploy_model`,
the deploy step Lambda run in-process) and describes it in a stack of its own whose outputs name the sandbox's table
and topic, as the automation stack's do.
"""

from __future__ import annotations

import json
import time

import cli_fixtures
import pytest
import yaml

from sandbox import stepfunctions as harness
from sandbox.cloud import ACCOUNTS, AUTOMATION, PROD, REGION, STAGING, Sandbox

STACK = "sagemaker-lifecycle-cli"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
FAST = {"poll_seconds": 1, "wait_timeout_minutes": 5}

# The shared fixtures (a conftest.py here would shadow tests/conftest.py's module name).
lifecycle, policy_file, sandbox = cli_fixtures.lifecycle, cli_fixtures.policy_file, cli_fixtures.sandbox


def _policy() -> dict:
    stage = {"region": REGION, "instance_type": "ml.m5.large", **FAST}
    return {
        "group": "churn",
        "registry": {"account": AUTOMATION, "region": REGION, "approvers": ["ml-leads@example.com"]},
        "deployment": {
            "stages": [
                {
                    **stage,
                    "name": "staging",
                    "account": STAGING,
                    "endpoint_name": "churn-staging",
                    "execution_role_arn": f"arn:aws:iam::{STAGING}:role/SageMakerExecutionRole",
                },
                {
                    **stage,
                    "name": "prod",
                    "account": PROD,
                    "endpoint_name": "churn-prod",
                    "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole",
                    "strategy": {"type": "canary", "percent": 10, "wait_seconds": 0},
                    "approval_required": True,
                },
            ]
        },
    }


@pytest.fixture(scope="module")
def deploy_stack(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> str:
    """DeployModel installed, its stack described, churn v1 and v2 Approved and v3 pending, the policy file."""
    outputs = sandbox.deployment.outputs
    env = {
        "AWS_REGION": REGION,
        "LIFECYCLE_STACK_NAME": STACK,
        "LIFECYCLE_TABLE_NAME": outputs["LifecycleTableName"],
        "LIFECYCLE_TOPIC_ARN": outputs["NotificationTopicArn"],
        "LIFECYCLE_AUTOMATION_ACCOUNT_ID": AUTOMATION,
        "LIFECYCLE_ALLOWED_ACCOUNTS": ",".join(ACCOUNTS.values()),
        "LIFECYCLE_EXECUTION_ROLE_NAME": "sagemaker-lifecycle-execution",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SageMakerLifecycle",
    }
    machine = harness.install_deploy_model(topic_arn=outputs["NotificationTopicArn"], env=env)
    template = {
        "Parameters": {"AllowedAccountIds": {"Type": "CommaDelimitedList"}, "ExecutionRoleName": {"Type": "String"}},
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": f"/{STACK}/marker", "Type": "String", "Value": "cli tests"},
            }
        },
        "Outputs": {
            "LifecycleTableName": {"Value": outputs["LifecycleTableName"]},
            "NotificationTopicArn": {"Value": outputs["NotificationTopicArn"]},
            "DeployModelStateMachineArn": {"Value": machine},
        },
    }
    sandbox.client("cloudformation").create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": "AllowedAccountIds", "ParameterValue": ",".join(ACCOUNTS.values())},
            {"ParameterKey": "ExecutionRoleName", "ParameterValue": "sagemaker-lifecycle-execution"},
        ],
    )
    sagemaker = sandbox.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="churn")
    for version in (1, 2, 3):
        sagemaker.create_model_package(
            ModelPackageGroupName="churn",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://example-ml/churn/v{version}/model.tar.gz"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus="Approved" if version < 3 else "PendingManualApproval",
        )
    policy = tmp_path_factory.mktemp("policies") / "churn.yaml"
    policy.write_text(yaml.safe_dump(_policy(), sort_keys=False))
    return str(policy)


def _serving(sandbox: Sandbox, account: str, endpoint: str) -> list[int]:
    """The versions of churn the endpoint serves."""
    from lifecycle.deploy import endpoints

    sagemaker = sandbox.client("sagemaker", account)
    config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    return endpoints.serving_versions(endpoints.serving(sagemaker, config), "churn")


def _until_done(lifecycle, execution: str) -> dict:
    """Poll `lifecycle status` until the execution is no longer in flight; its last view."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = lifecycle("status", "churn", "--sandbox", "--stack", STACK, "--json").json()
        if execution not in [view["name"] for view in status["deployments"]]:
            return status
        time.sleep(0.2)
    raise AssertionError(f"{execution} still in flight")


def test_deploy_approve_and_reject(lifecycle, sandbox, deploy_stack, capsys):
    where = ("--sandbox", "--stack", STACK)
    published = lifecycle("policy", "publish", deploy_stack, *where, "--yes")
    assert published.code == 0, published.err

    # When v1 goes to staging (no approval there) and the CLI follows it
    staged = lifecycle("deploy", "churn", "--version", "1", "--stage", "staging", *where, "--wait", "--interval", "0.2")
    # Then it ran the state machine's states to the end
    assert staged.code == 0, staged.err
    states = (
        "Validate Input",
        "Create Model",
        "Create Endpoint Config",
        "Wait For Endpoint In Service",
        "Finish Stage",
    )
    assert all(f"  {state}\n" in staged.out for state in states), staged.out
    assert ": SUCCEEDED" in staged.out
    assert _serving(sandbox, STAGING, "churn-staging") == [1]

    # When v1 goes to prod, which needs an approval: --wait stops at the gate
    waiting = lifecycle("deploy", "churn", "--version", "1", "--stage", "prod", *where, "--wait", "--interval", "0.2")
    assert waiting.code == 0, waiting.err
    assert "waiting for approval of prod: lifecycle approve churn-deploy-v1-prod-" in waiting.out
    status = lifecycle("status", "churn", *where, "--json").json()
    [in_flight] = status["deployments"]
    assert (in_flight["kind"], in_flight["version"], in_flight["pending_approvals"]) == ("deploy", 1, ["prod"])
    assert in_flight["state"] == "Wait For Approval"
    table = lifecycle("status", "churn", *where)
    assert f"approval pending: {in_flight['name']} stage prod" in table.out

    # When someone approves it by group
    approved = lifecycle("approve", "churn", *where, "--by", "ml-lead@example.com", "--reason", "canary metrics fine")
    # Then the deployment finishes and prod serves v1
    assert approved.code == 0, approved.err
    assert (
        f"prod: v1 approved by ml-lead@example.com: canary metrics fine; it goes on (execution {in_flight['name']})"
        in (approved.out)
    )
    after = _until_done(lifecycle, in_flight["name"])
    prod = next(stage for stage in after["stages"] if stage["name"] == "prod")
    assert [(v["version"], v["weight"]) for v in prod["variants"]] == [(1, 1.0)]
    history = lifecycle("history", "churn", *where, "--json").json()
    assert any(
        record["action"] == "deploy-stage" and "approved by ml-lead@example.com" in record["reason"]
        for record in history
    )

    # When nothing waits: approve is an error
    nothing = lifecycle("approve", "churn", *where)
    assert nothing.code == 1
    assert "error: no pending approval for 'churn': no deployment of it waits for one" in nothing.err

    # When v2 goes to prod and is rejected by execution name: a rejection needs a reason
    second = lifecycle("deploy", "churn", "--version", "2", "--stage", "prod", *where, "--wait", "--interval", "0.2")
    name = second.out.split("lifecycle approve ")[1].split()[0]
    with pytest.raises(SystemExit) as reasonless:  # argparse: a usage error, exit status 2
        lifecycle("reject", name, *where)
    assert reasonless.value.code == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err
    rejected = lifecycle("reject", name, *where, "--reason", "p99 latency doubled", "--json")
    # Then the execution fails, and prod, untouched while the gate waited, still serves v1
    assert rejected.code == 0, rejected.err
    assert rejected.json()["answer"] == "rejected"
    _until_done(lifecycle, name)
    described = sandbox.client("stepfunctions").describe_execution(executionArn=rejected.json()["execution"])
    assert (described["status"], described["error"]) == ("FAILED", "ApprovalRejected")
    trail = [(r["action"], r["reason"]) for r in lifecycle("history", "churn", *where, "--json").json()]
    by = rejected.json()["by"]
    assert (
        "gate-rejected",
        f"prod: v2 rejected at the approval gate by {by}: p99 latency doubled; prod serves v1",
    ) in (trail)
    assert not [action for action, _ in trail if action == "restore-endpoint"]
    assert _serving(sandbox, PROD, "churn-prod") == [1]


def test_rollback_starts_the_manual_rollback_input(lifecycle, sandbox, deploy_stack):
    where = ("--sandbox", "--stack", STACK)
    assert lifecycle("policy", "publish", deploy_stack, *where, "--yes").code == 0
    assert lifecycle("deploy", "churn", "--version", "2", "--stage", "staging", *where, "--wait").code == 0
    assert _serving(sandbox, STAGING, "churn-staging") == [2]

    result = lifecycle("rollback", "churn", "--version", "1", "--stage", "staging", *where, "--wait", "--json")

    assert result.code == 0, result.err
    view = result.json()
    assert (view["kind"], view["version"], view["stages"], view["status"]) == ("rollback", 1, ["staging"], "SUCCEEDED")
    assert _serving(sandbox, STAGING, "churn-staging") == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("deploy", "fraud", "--version", "1", "--stage", "prod"), "error: unknown group 'fraud'"),
        (
            ("deploy", "churn", "--version", "1", "--stage", "qa"),
            "group 'churn' has no stage qa; its stages: staging, prod",
        ),
        (
            ("deploy", "churn", "--version", "3", "--stage", "prod"),
            "churn version 3 is PendingManualApproval, not Approved",
        ),
        (
            ("rollback", "churn", "--version", "9", "--stage", "prod"),
            f"churn has no version 9 in {AUTOMATION}/us-east-1",
        ),
        (("reject", "churn-deploy-v9-prod-none", "--reason", "x"), "error: unknown group 'churn-deploy-v9-prod-none'"),
        (("approve", "churn", "--stage", "staging"), "no pending approval for 'churn' at stage 'staging'"),
    ],
)
def test_refusals(lifecycle, deploy_stack, args, message):
    assert lifecycle("policy", "publish", deploy_stack, "--sandbox", "--stack", STACK, "--yes").code == 0

    result = lifecycle(*args, "--sandbox", "--stack", STACK)

    assert result.code == 1
    assert message in result.err


def _at(lifecycle, state: str) -> dict:
    """Poll `lifecycle status` until a deployment of churn is in `state`; its view."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = lifecycle("status", "churn", "--sandbox", "--stack", STACK, "--json").json()
        found = [view for view in status["deployments"] if view["state"] == state]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no deployment of churn reached {state}")


def test_promote_and_end_shadow_answer_the_shadow_test_in_flight(lifecycle, sandbox, deploy_stack, tmp_path, capsys):
    where = ("--sandbox", "--stack", STACK)
    document = _policy()
    prod = document["deployment"]["stages"][1]
    prod.pop("approval_required")
    prod["strategy"] = {"type": "shadow", "percent": 20, "minimum_hours": 1, "wait_seconds": 0}
    policy = tmp_path / "churn.yaml"
    policy.write_text(yaml.safe_dump(document, sort_keys=False))
    assert lifecycle("policy", "publish", str(policy), *where, "--yes").code == 0
    assert lifecycle("deploy", "churn", "--version", "1", "--stage", "prod", *where, "--wait").code == 0
    assert _serving(sandbox, PROD, "churn-prod") == [1]

    # When v2 runs as a shadow of prod: it is no approval gate, and ending it needs a reason
    lifecycle("deploy", "churn", "--version", "2", "--stage", "prod", *where)
    shadowed = _at(lifecycle, "Wait For Shadow Verdict")
    assert shadowed["pending_approvals"] == []
    assert lifecycle("approve", "churn", *where).code == 1
    with pytest.raises(SystemExit) as reasonless:
        lifecycle("end-shadow", "churn", "--stage", "prod", *where)
    assert reasonless.value.code == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err
    ended = lifecycle("end-shadow", "churn", "--stage", "prod", *where, "--by", "ml-lead", "--reason", "drifts")

    # Then the execution ends the shadow and stops there: prod serves v1 alone
    assert ended.code == 0, ended.err
    assert f"prod: shadow ended by ml-lead; it ends the shadow ({shadowed['name']})" in ended.out
    _until_done(lifecycle, shadowed["name"])
    described = sandbox.client("stepfunctions").describe_execution(executionArn=shadowed["arn"])
    assert (described["status"], described["error"]) == ("FAILED", "ShadowNotPromoted")
    assert _serving(sandbox, PROD, "churn-prod") == [1]

    # When v2 runs as a shadow again and a person promotes it
    lifecycle("deploy", "churn", "--version", "2", "--stage", "prod", *where)
    again = _at(lifecycle, "Wait For Shadow Verdict")
    promoted = lifecycle("promote", "churn", "--stage", "prod", *where, "--by", "ml-lead", "--json")

    # Then it takes all the traffic
    assert promoted.code == 0, promoted.err
    assert promoted.json() == {
        "execution": again["name"],
        "stage": "prod",
        "answered": True,
        "promote": True,
        "by": "ml-lead",
    }
    done = _until_done(lifecycle, again["name"])
    [stage] = [stage for stage in done["stages"] if stage["name"] == "prod"]
    assert [(v["version"], v["weight"]) for v in stage["variants"]] == [(2, 1.0)]
