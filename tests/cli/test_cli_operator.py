"""People read workload accounts through the workload stack's read-only operator role, never the execution role.

The execution role trusts the automation's function roles only, so a CLI that assumed it with a person's credentials
would be refused AccessDenied in AWS; moto does not evaluate trust, so these tests read moto's record of every
AssumeRole the CLI made.
"""

from __future__ import annotations

import cli_fixtures
import pytest
from moto.sts.models import sts_backends

from sandbox.cloud import EXECUTION_ROLE, OPERATOR_ROLE, OPERATORS, STAGING, Sandbox
from sandbox.replay import read_policy

lifecycle, sandbox = cli_fixtures.lifecycle, cli_fixtures.sandbox


@pytest.fixture(scope="module")
def churn(sandbox: Sandbox) -> Sandbox:
    sandbox.publish_policy(read_policy(cli_fixtures.CHURN))
    return sandbox


def cli_sessions(account: str) -> list[str]:
    """The role ARN of every session the CLI assumed in `account` (its session names start with its reaction)."""
    return [
        role.role_arn
        for role in sts_backends[account]["aws"].assumed_roles
        if role.session_name.startswith("lifecycle-cli-")
    ]


def test_status_reads_a_workload_account_through_the_operator_role(lifecycle, churn):
    before = len(cli_sessions(STAGING))

    result = lifecycle("status", "churn", "--sandbox")

    assert result.code == 0, result.err
    sessions = cli_sessions(STAGING)[before:]
    assert sessions and set(sessions) == {f"arn:aws:iam::{STAGING}:role/{OPERATOR_ROLE}"}


def test_the_workload_stack_made_the_operator_role_trusted_by_the_listed_people(churn):
    trust = churn.client("iam", STAGING).get_role(RoleName=OPERATOR_ROLE)["Role"]["AssumeRolePolicyDocument"]

    [statement] = trust["Statement"]
    assert statement["Principal"] == {"AWS": [OPERATORS]}


def test_the_cli_refuses_to_assume_the_execution_role_for_a_person(lifecycle, churn):
    before = len(cli_sessions(STAGING))

    result = lifecycle("status", "churn", "--sandbox", "--role-name", EXECUTION_ROLE)

    assert result.code == 1
    assert f"{EXECUTION_ROLE} is the automation's execution role, trusted by its function roles only" in result.err
    assert cli_sessions(STAGING)[before:] == []
