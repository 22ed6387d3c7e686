"""Every AWS call a function makes in the demo scenario is allowed by the role the templates give it.

moto does not enforce IAM, so a missing permission would show only in AWS. This plays the whole scenario, takes the
calls each function made (reads too: `CallRecorder.by_function`), and checks each action against the statements of
the role that made it: the function's own `Policies` in template.yaml for calls in the automation account, the
workload execution role of accounts/workload-account.yaml for calls in a workload account, and, there, the session
policy the reaction passed to AssumeRole (the session's permissions are the intersection of both).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import pytest
from lifecycle.accounts import SESSION_ACTIONS, session_policy
from moto.sts.models import sts_backends
from support.templates import actions_of, as_list, function_policies, statements

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
        logical_id: [*granted(function_policies(automation_template, logical_id)), *SAM_GRANTS]
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
    policies = function_policies(automation_template, "TrainingStateFunction")
    actions = [action for action in granted(policies) if action != "sagemaker:CreateModelPackage"]

    assert allowed(granted(policies), "sagemaker:CreateModelPackage")
    assert not allowed(actions, "sagemaker:CreateModelPackage")
    assert any(call["call"] == "sagemaker:CreateModelPackage" for call in played.recorder.by_function)


# Calls that need a second action, from the "Dependent actions" column of the Service Authorization Reference for
# SageMaker: a Create* with Tags also needs sagemaker:AddTags; one that names an execution role needs iam:PassRole.
DEPENDENT_ACTIONS: dict[str, tuple[str, ...]] = {
    "sagemaker:CreateTrainingJob": ("sagemaker:AddTags", "iam:PassRole"),
    "sagemaker:CreateModel": ("sagemaker:AddTags", "iam:PassRole"),
    "sagemaker:CreateEndpointConfig": ("sagemaker:AddTags",),
    "sagemaker:CreateEndpoint": ("sagemaker:AddTags",),
    "sagemaker:CreateMonitoringSchedule": ("sagemaker:AddTags", "iam:PassRole"),
    "sagemaker:CreateModelPackageGroup": ("sagemaker:AddTags",),
}


def sessions(played: Sandbox) -> list[tuple[str, str, str, list[str]]]:
    """(function, session name, call, actions its session policy allows) of every call made in a workload account."""
    found = []
    for call in played.recorder.by_function:
        if call["account"] == AUTOMATION:
            continue
        # moto keeps an assumed role in the backend of the role's account (moto.sts.models.STSBackend.assume_role)
        role = sts_backends[call["account"]]["aws"].get_assumed_role_from_access_key(call["access_key"])
        assert role is not None, f"{call}: not made with assumed-role credentials"
        policy = json.loads(role.policy) if role.policy else {"Statement": []}
        allowed_actions = [action for statement in policy["Statement"] for action in actions_of(statement)]
        found.append((call["function"], role.session_name, call["call"], allowed_actions))
    return found


def session_denials(found: list[tuple[str, str, str, list[str]]]) -> list[tuple[str, str]]:
    return sorted(
        {
            (next(r for r in SESSION_ACTIONS if session.startswith(f"{r}-")), action)
            for _, session, call, actions in found
            for action in (call, *DEPENDENT_ACTIONS.get(call, ()))
            if not allowed(actions, action)
        }
    )


def test_every_call_in_a_workload_account_is_allowed_by_the_reaction_s_session_policy(played: Sandbox) -> None:
    # Given every call made in a workload account, with the session (and its session policy) that made it
    found = sessions(played)

    # Then each session is named after a reaction and carries that reaction's session policy
    for function, session, call, actions in found:
        reaction = next((r for r in SESSION_ACTIONS if session.startswith(f"{r}-")), None)
        assert reaction is not None, f"{function} called {call} in session {session!r} named after no reaction"
        assert actions == json.loads(session_policy(reaction))["Statement"][0]["Action"]

    # and allows the call and what the call needs besides (the check saw the calls of every workload reaction)
    assert session_denials(found) == []
    assert {session.split("-")[0] for _, session, _, _ in found} >= {"debugger", "deploy", "labeling", "monitor"}


def test_the_session_check_would_see_a_missing_action(played: Sandbox) -> None:
    # Given the deploy reaction's calls, judged against its policy without UpdateEndpoint
    found = sessions(played)
    narrowed = [
        (function, session, call, [a for a in actions if a != "sagemaker:UpdateEndpoint"])
        for function, session, call, actions in found
    ]

    # Then the check names the reaction and the action it misses
    assert ("deploy-model", "sagemaker:UpdateEndpoint") in session_denials(narrowed)
    assert ("deploy-model", "sagemaker:UpdateEndpoint") not in session_denials(found)


def test_the_debugger_reaction_s_session_cannot_change_endpoints() -> None:
    allowed_actions = json.loads(session_policy("debugger-rule"))["Statement"][0]["Action"]

    assert allowed(allowed_actions, "sagemaker:StopTrainingJob")
    assert not any(allowed(allowed_actions, f"sagemaker:{verb}Endpoint") for verb in ("Create", "Update", "Delete"))
