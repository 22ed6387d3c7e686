"""The workload stack's read-only operator role: what people assume to read a workload account (`lifecycle status`,
`lifecycle doctor`), never the automation's execution role.

Read from the templates' policies: the role grants exactly the actions the CLI's session policy names
(SESSION_ACTIONS["lifecycle-cli"], sent on every AssumeRole the CLI makes), all of them reads, on this account's
resources; only the listed principals trust it; the execution role trusts none of them.
"""

from __future__ import annotations

import re

from lifecycle.accounts import SESSION_ACTIONS
from support.templates import actions_of, as_list, statements, workload_template

READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|List|Get|Simulate)\w+$")


def role(name: str) -> dict:
    return workload_template()["Resources"][name]


def granted(name: str) -> list[dict]:
    return [
        statement
        for policy in role(name)["Properties"]["Policies"]
        for statement in statements(policy["PolicyDocument"])
        if statement["Effect"] == "Allow"
    ]


def test_the_operator_role_grants_exactly_what_the_cli_s_session_policy_names() -> None:
    actions = {action for statement in granted("OperatorRole") for action in actions_of(statement)}

    assert actions == set(SESSION_ACTIONS["lifecycle-cli"])


def test_every_action_of_the_operator_role_and_of_the_cli_session_is_a_read() -> None:
    actions = [action for statement in granted("OperatorRole") for action in actions_of(statement)]

    assert [action for action in actions if not READ_ONLY.match(action)] == []
    assert [action for action in SESSION_ACTIONS["lifecycle-cli"] if not READ_ONLY.match(action)] == []


def test_the_operator_role_reads_this_account_only() -> None:
    for statement in granted("OperatorRole"):
        bounded = statement.get("Condition") == {"StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}}
        for resource in as_list(statement["Resource"]):
            text = str(resource)
            in_account = "${AWS::AccountId}" in text or "SageMakerExecutionRoleArns" in text
            assert resource == "*" or in_account or bounded, statement
            if resource == "*":  # AWS allows no resource-level scoping for it
                assert actions_of(statement) == ["sagemaker:ListModelPackages"]


def test_only_the_listed_principals_may_assume_the_operator_role_and_only_when_listed() -> None:
    operator = role("OperatorRole")
    [trust] = operator["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    [execution_trust] = role("ExecutionRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert operator["Condition"] == "HasOperators"
    assert trust["Principal"] == {"AWS": {"Ref": "OperatorPrincipalArns"}}
    assert (trust["Effect"], trust["Action"]) == ("Allow", "sts:AssumeRole")
    # with the same second factor as the execution role: the ExternalId, the organization, or both
    assert trust["Condition"] == execution_trust["Condition"]


def test_people_listed_as_operators_cannot_assume_the_execution_role() -> None:
    trust = role("ExecutionRole")["Properties"]["AssumeRolePolicyDocument"]
    principals = {str(statement["Principal"]) for statement in statements(trust)}  # every branch of its Fn::If

    assert principals == {str({"AWS": {"Ref": "AutomationFunctionRoleArns"}})}
