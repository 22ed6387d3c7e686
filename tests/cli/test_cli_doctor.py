"""`lifecycle doctor` against the served sandbox: a correct installation passes every check, and each misconfiguration
seeded here (the kind "Deploy to real accounts" warns about) is caught with its fix, then put right again."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import cli_fixtures
import pytest
from moto.iam.models import iam_backends

from sandbox.cloud import DEV, EXECUTION_ROLE, PROD, STAGING, Sandbox
from sandbox.replay import read_policy, sample_policies

lifecycle, sandbox = cli_fixtures.lifecycle, cli_fixtures.sandbox


@pytest.fixture(scope="module")
def installed(sandbox: Sandbox) -> Sandbox:
    for path in sample_policies():
        sandbox.publish_policy(read_policy(path))
    return sandbox


@pytest.fixture
def doctor(lifecycle, installed) -> Callable[..., tuple[int, list[dict[str, Any]]]]:
    def run(*args: str) -> tuple[int, list[dict[str, Any]]]:
        result = lifecycle("doctor", "--sandbox", "--json", *args)
        assert result.code in (0, 1), result.err
        findings = result.json()
        assert isinstance(findings, list)
        return result.code, findings

    return run


def failed(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [finding for finding in findings if finding["status"] == "fail"]


def forwarding_rule(sandbox: Sandbox, account: str) -> str:
    events = sandbox.client("events", account)
    [name] = events.list_rule_names_by_target(
        TargetArn=sandbox.deployment.outputs["LifecycleBusArn"], EventBusName="default"
    )["RuleNames"]
    return str(name)


@contextmanager
def restored(undo: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        undo()


def test_a_correct_installation_passes_every_check(doctor, lifecycle):
    code, findings = doctor()

    assert code == 0
    assert {finding["status"] for finding in findings} == {"ok"}
    checks = " | ".join(finding["check"] for finding in findings)
    for account in (DEV, STAGING, PROD):
        for what in ("forwarding rule", f"trust of {EXECUTION_ROLE}", f"permissions of {EXECUTION_ROLE}"):
            assert f"account {account}: {what}" in checks
    assert "group churn: artifacts: staging" in checks and "group churn: artifacts: prod" in checks
    text = lifecycle("doctor", "--sandbox")
    assert text.out.splitlines()[-1] == f"{len(findings)} checks, 0 failed"


def test_a_bus_policy_that_leaves_out_an_account(doctor, installed):
    events = installed.client("events")
    bus = installed.bus_name
    original = events.describe_event_bus(Name=bus)["Policy"]
    narrowed = json.loads(original)
    narrowed["Statement"][0]["Principal"]["AWS"] = [DEV, STAGING]
    events.put_permission(EventBusName=bus, Policy=json.dumps(narrowed))
    with restored(lambda: events.put_permission(EventBusName=bus, Policy=original)):
        code, findings = doctor()

    [failure] = failed(findings)
    assert code == 1
    assert failure["check"] == f"bus policy of {bus}" and f"does not admit {PROD}" in failure["detail"]
    assert "AllowedAccountIds" in failure["fix"]


def test_a_disabled_forwarding_rule(doctor, installed):
    events = installed.client("events", DEV)
    rule = forwarding_rule(installed, DEV)
    events.disable_rule(Name=rule, EventBusName="default")
    with restored(lambda: events.enable_rule(Name=rule, EventBusName="default")):
        code, findings = doctor()

    [failure] = failed(findings)
    assert code == 1
    assert failure["check"] == f"account {DEV}: forwarding rule" and "DISABLED" in failure["detail"]
    assert f"aws events enable-rule --name {rule}" in failure["fix"]


def test_an_account_without_the_workload_stack(doctor):
    code, findings = doctor("--account", "555555555555")

    failures = {failure["check"]: failure for failure in failed(findings)}
    assert code == 1
    forwarding = failures["account 555555555555: forwarding rule"]
    assert "its SageMaker events never arrive" in forwarding["detail"]
    assert "deploy accounts/workload-account.yaml in 555555555555" in forwarding["fix"]
    assert failures[f"account 555555555555: trust of {EXECUTION_ROLE}"]["detail"] == "no such role"
    assert not any(DEV in finding["check"] for finding in findings)  # --account: that account only


def test_an_execution_role_that_wants_another_external_id(doctor, installed):
    iam = installed.client("iam", STAGING)
    original = iam.get_role(RoleName=EXECUTION_ROLE)["Role"]["AssumeRolePolicyDocument"]
    changed = json.loads(json.dumps(original))
    changed["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = "an-old-external-id"
    iam.update_assume_role_policy(RoleName=EXECUTION_ROLE, PolicyDocument=json.dumps(changed))
    with restored(lambda: iam.update_assume_role_policy(RoleName=EXECUTION_ROLE, PolicyDocument=json.dumps(original))):
        code, findings = doctor()

    [failure] = failed(findings)
    assert code == 1
    assert failure["check"] == f"account {STAGING}: trust of {EXECUTION_ROLE}"
    assert "every AssumeRole is refused" in failure["detail"] and "ExternalId" in failure["fix"]
    assert "an-old-external-id" not in json.dumps(findings)


def test_an_execution_role_missing_a_permission_a_reaction_needs(doctor, installed):
    iam = installed.client("iam", PROD)
    [name] = iam.list_role_policies(RoleName=EXECUTION_ROLE)["PolicyNames"]
    stored = (
        iam_backends[PROD]["global"].get_role(EXECUTION_ROLE).policies[name]
    )  # moto answers GetRolePolicy with repr
    original = json.loads(stored) if isinstance(stored, str) else stored
    changed = json.loads(json.dumps(original))
    changed["Statement"] = [s for s in changed["Statement"] if s.get("Sid") != "ChangeOwnEndpoints"]
    iam.put_role_policy(RoleName=EXECUTION_ROLE, PolicyName=name, PolicyDocument=json.dumps(changed))
    undo = lambda: iam.put_role_policy(RoleName=EXECUTION_ROLE, PolicyName=name, PolicyDocument=json.dumps(original))  # noqa: E731
    with restored(undo):
        code, findings = doctor()

    [failure] = failed(findings)
    assert code == 1
    assert failure["check"] == f"account {PROD}: permissions of {EXECUTION_ROLE}"
    assert "sagemaker:UpdateEndpoint on" in failure["detail"] and "sagemaker:InvokeEndpoint on" in failure["detail"]
    assert "accounts/workload-account.yaml" in failure["fix"]


def test_an_invalid_published_policy(doctor, installed):
    ssm = installed.client("ssm")
    name = f"{installed.policy_path}/broken"
    ssm.put_parameter(Name=name, Value=json.dumps({"group": "broken", "gate": {"metric": "auc"}}), Type="String")
    with restored(lambda: ssm.delete_parameter(Name=name)):
        code, findings = doctor()

    [failure] = failed(findings)
    assert code == 1
    assert failure["check"] == f"policy broken ({name})"
    assert "registry" in failure["detail"] and "lifecycle policy publish" in failure["fix"]


def test_training_artifacts_another_account_cannot_read(doctor, installed):
    s3 = installed.client("s3", DEV)
    s3.delete_bucket_policy(Bucket="example-dev-ml-artifacts")
    churn = read_policy(next(path for path in sample_policies() if path.stem == "churn"))
    with restored(lambda: installed.grant_artifacts(churn)):
        code, findings = doctor()

    failures = failed(findings)
    assert code == 1
    assert [f["check"] for f in failures] == [
        f"group churn: artifacts: staging ({STAGING})",
        f"group churn: artifacts: prod ({PROD})",
    ]
    assert all(
        "bucket policy of example-dev-ml-artifacts does not let it read churn/*" in f["detail"] for f in failures
    )
    assert all("step 5" in f["fix"] for f in failures)


def test_dead_letters_waiting_are_a_warning_with_the_way_to_redrive_them(doctor, installed):
    sqs = installed.client("sqs")
    queue = installed.deployment.outputs["DeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="{}")
    with restored(lambda: sqs.purge_queue(QueueUrl=queue)):
        code, findings = doctor()

    [warning] = [finding for finding in findings if finding["status"] == "warn"]
    assert code == 0
    assert warning["check"] == "dead-letter queue" and "lifecycle dlq redrive --all" in warning["fix"]
