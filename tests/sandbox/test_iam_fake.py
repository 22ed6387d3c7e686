"""The sandbox's IAM SimulatePrincipalPolicy (moto has none): IAM's evaluation logic on a role's own policies, and the
requests IAM refuses refused."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from support.cloud import DEV, REGION

ROLE = f"arn:aws:iam::{DEV}:role/simulated"
TAG = "aws:RequestTag/lifecycle:model-package-group"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "sagemaker:Describe*", "Resource": f"arn:aws:sagemaker:*:{DEV}:endpoint/*"},
        {
            "Effect": "Allow",
            "Action": "sagemaker:CreateEndpoint",
            "Resource": f"arn:aws:sagemaker:*:{DEV}:endpoint/*",
            "Condition": {"StringLike": {TAG: "?*"}},
        },
        {
            "Effect": "Deny",
            "Action": "sagemaker:DescribeEndpoint",
            "Resource": f"arn:aws:sagemaker:*:{DEV}:endpoint/secret",
        },
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::reports/*"},
    ],
}
ENDPOINT = f"arn:aws:sagemaker:{REGION}:{DEV}:endpoint/churn"


@pytest.fixture
def iam(cloud):
    from sandbox.cloud import client_in

    iam = client_in("iam", DEV)
    iam.create_role(
        RoleName="simulated", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    iam.put_role_policy(RoleName="simulated", PolicyName="p", PolicyDocument=json.dumps(POLICY))
    return iam


def decisions(iam, actions, resources, context=()):
    answer = iam.simulate_principal_policy(
        PolicySourceArn=ROLE, ActionNames=actions, ResourceArns=resources, ContextEntries=list(context)
    )
    return [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in answer["EvaluationResults"]]


def test_allow_explicit_deny_and_implicit_deny(iam):
    secret = ENDPOINT.replace("churn", "secret")
    other_account = ENDPOINT.replace(DEV, "333333333333")

    assert decisions(iam, ["sagemaker:DescribeEndpoint"], [ENDPOINT, secret, other_account]) == [
        ("sagemaker:DescribeEndpoint", ENDPOINT, "allowed"),
        ("sagemaker:DescribeEndpoint", secret, "explicitDeny"),
        ("sagemaker:DescribeEndpoint", other_account, "implicitDeny"),
    ]


def test_a_condition_holds_only_with_its_context_key(iam):
    tagged = [{"ContextKeyName": TAG, "ContextKeyValues": ["churn"], "ContextKeyType": "string"}]

    assert decisions(iam, ["sagemaker:CreateEndpoint"], [ENDPOINT])[0][2] == "implicitDeny"
    assert decisions(iam, ["sagemaker:CreateEndpoint"], [ENDPOINT], tagged)[0][2] == "allowed"


def test_not_action_and_case_insensitive_actions(iam):
    assert decisions(iam, ["S3:GetObject", "iam:PassRole"], ["arn:aws:s3:::reports/x"]) == [
        ("S3:GetObject", "arn:aws:s3:::reports/x", "allowed"),
        ("iam:PassRole", "arn:aws:s3:::reports/x", "implicitDeny"),
    ]


def test_a_resource_policy_with_a_role_is_refused_as_iam_refuses_it(iam):
    with pytest.raises(ClientError) as refused:
        iam.simulate_principal_policy(
            PolicySourceArn=ROLE, ActionNames=["s3:GetObject"], ResourcePolicy=json.dumps(POLICY)
        )

    assert refused.value.response["Error"]["Code"] == "InvalidInput"


def test_an_unknown_role_is_no_such_entity(iam):
    with pytest.raises(ClientError) as refused:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{DEV}:role/none", ActionNames=["s3:GetObject"])

    assert refused.value.response["Error"]["Code"] == "NoSuchEntity"


def test_a_condition_operator_the_fake_cannot_evaluate_is_refused_not_guessed(iam):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ],
    }
    iam.put_role_policy(RoleName="simulated", PolicyName="ip", PolicyDocument=json.dumps(policy))
    context = [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}]

    with pytest.raises(ClientError) as refused:
        iam.simulate_principal_policy(PolicySourceArn=ROLE, ActionNames=["s3:GetObject"], ContextEntries=context)

    assert "cannot evaluate the condition operator IpAddress" in refused.value.response["Error"]["Message"]
