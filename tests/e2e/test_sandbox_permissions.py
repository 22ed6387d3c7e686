"""Every AWS call a function makes in the demo scenario is allowed by the role the templates give it.

moto does not enforce IAM, so a missing permission would show only in AWS. This plays the whole scenario, takes the
calls each function made (reads too: `CallRecorder.by_function`), and checks each action against the statements of
the role that made it: the function's own `Policies` in template.yaml for calls in the automation account, the
workload execution role of accounts/workload-account.yaml for calls in a workload account.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

import pytest
from infra_templates import actions_of, as_list, statements

from sandbox.cloud import AUTOMATION, Sandbox
from sandbox.scenario import run_scenario

# What SAM itself adds to every function's role: AWSLambdaBasicExecutionRole, the X-Ray write policy of
# `Tracing: Active`, and the SQS permission of an EventInvokeConfig on-failure destination.
SAM_GRANTS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "xray:Put*", "sqs:SendMessage"]


@pytest.fixture(scope="module")
def played() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        run_scenario(sandbox, lambda line: None)
        yield sandbox


def allowed(actions: list[str], call: str) -> bool:
    return any(fnmatch.fnmatchcase(call.lower(), action.lower()) for action in actions)


def granted(policies: Any) -> list[str]:
    """The actions every Allow statement of these policy documents grants (every branch of their Fn::If)."""
    return [
        action
        for policy in as_list(policies)
        if isinstance(policy, dict)
        for statement in statements(policy.get("PolicyDocument", policy))
        if statement.get("Effect") == "Allow"
        for action in actions_of(statement)
    ]


def test_every_call_of_every_function_is_granted_by_its_role(
    played: Sandbox, automation_template: dict[str, Any], workload_template: dict[str, Any]
) -> None:
    # Given what each role allows
    logical_ids = {function.name: function.logical_id for function in played.deployment.functions.values()}
    own = {
        logical_id: [*granted(automation_template["Resources"][logical_id]["Properties"].get("Policies")), *SAM_GRANTS]
        for logical_id in logical_ids.values()
    }
    workload = granted(workload_template["Resources"]["ExecutionRole"]["Properties"]["Policies"])

    # When the scenario's calls are checked against the role that made each
    calls = played.recorder.by_function
    denied = sorted(
        {
            (logical_ids[call["function"]], call["account"], call["call"])
            for call in calls
            if not allowed(
                own[logical_ids[call["function"]]] if call["account"] == AUTOMATION else workload, call["call"]
            )
        }
    )

    # Then every call is allowed (and the check saw the calls of every function)
    assert denied == []
    assert {logical_ids[call["function"]] for call in calls} == set(logical_ids.values())


def test_the_check_would_see_a_missing_permission(played: Sandbox, automation_template: dict[str, Any]) -> None:
    policies = automation_template["Resources"]["TrainingStateFunction"]["Properties"]["Policies"]
    actions = [action for action in granted(policies) if action != "sagemaker:CreateModelPackage"]

    assert allowed(granted(policies), "sagemaker:CreateModelPackage")
    assert not allowed(actions, "sagemaker:CreateModelPackage")
    assert any(call["call"] == "sagemaker:CreateModelPackage" for call in played.recorder.by_function)
