"""Security properties of both templates, checked on the templates' own data.

Each check is a function `template -> list of findings` (empty when clean). The tests run every check on
template.yaml and accounts/workload-account.yaml, and feed every check a deliberately bad snippet to prove it can
fail.

What counts as a "write": an action whose verb (the part after `service:`) does not start with one of
`READ_VERBS`. Invoke* is deliberately a write (invoking acts). Allow statements whose Resource is "*" may only hold
reads, or writes listed in `WRITE_ON_STAR_ALLOWED` with the reason AWS leaves no choice.

Limits: SAM-generated policies (AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess from `Tracing: Active`, the
SQS send policy of an `EventInvokeConfig` destination) are added by the transform and are not in these templates.
Function `Policies` must therefore be inline `Statement` blocks; managed policies and SAM policy templates are
refused unless listed in `SAM_POLICY_ALLOWED`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from lifecycle.policy import GROUP_TAG
from support.templates import (
    FUNCTION_TYPES,
    NO_VALUE,
    actions_of,
    as_list,
    function_policies,
    iam_statements,
    managed_policy_of,
    resources,
    statements,
)

Template = dict[str, Any]
Check = Callable[[Template], list[str]]

READ_VERBS = ("Describe", "List", "Get", "BatchGet", "Search", "Query", "Scan", "Lookup")

LOG_DELIVERY = "Step Functions log delivery (vended logs) supports no resource-level scoping: AWS requires Resource '*'"
# Write actions that may be allowed on Resource "*", with the reason. Keep this short.
WRITE_ON_STAR_ALLOWED: dict[str, str] = {
    "xray:PutTraceSegments": "X-Ray has no resource types: AWS requires Resource '*'",
    "xray:PutTelemetryRecords": "X-Ray has no resource types: AWS requires Resource '*'",
    "logs:CreateLogDelivery": LOG_DELIVERY,
    "logs:UpdateLogDelivery": LOG_DELIVERY,
    "logs:DeleteLogDelivery": LOG_DELIVERY,
    "logs:PutResourcePolicy": LOG_DELIVERY,
}

# Managed policy names/ARNs or SAM policy templates allowed in a function's `Policies` (their statements are not
# visible here, so each needs a reason). Empty: every function policy is an inline Statement block.
SAM_POLICY_ALLOWED: dict[str, str] = {}


# ----------------------------------------------------------------------------------------------------------------
# Walking the templates
# ----------------------------------------------------------------------------------------------------------------
def condition_keys(condition: Any) -> set[str]:
    """Condition keys of a Condition block (lower-cased), whatever the operator."""
    keys: set[str] = set()
    if isinstance(condition, dict):
        for block in condition.values():
            if isinstance(block, dict):
                keys |= {key.lower() for key in block}
    return keys


def is_star(value: Any) -> bool:
    return value == "*" or value == {"AWS": "*"} or (isinstance(value, dict) and as_list(value.get("AWS")) == ["*"])


# ----------------------------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------------------------
def wildcard_actions(template: Template) -> list[str]:
    """No statement allows "*" or "service:*", and none uses NotAction."""
    findings = []
    for where, _kind, statement in iam_statements(template):
        if "NotAction" in statement:
            findings.append(f"{where}: NotAction")
        for action in actions_of(statement):
            if action == "*" or action.endswith(":*"):
                findings.append(f"{where}: action {action!r}")
    return findings


def write_on_star(template: Template) -> list[str]:
    """Allow statements on Resource "*" hold reads or allow-listed writes only (a key policy's "*" is its key)."""
    findings = []
    for where, kind, statement in iam_statements(template):
        if kind in ("key", "trust") or statement.get("Effect") != "Allow":
            continue
        if "*" not in as_list(statement.get("Resource", [])) and "NotResource" not in statement:
            continue
        for action in actions_of(statement):
            verb = action.split(":", 1)[-1]
            if not verb.startswith(READ_VERBS) and action not in WRITE_ON_STAR_ALLOWED:
                findings.append(f"{where}: write action {action} on Resource '*'")
    return findings


def pass_role_unconditioned(template: Template) -> list[str]:
    """iam:PassRole is always bound to a service (StringEquals iam:PassedToService) and never on "*"."""
    findings = []
    for where, _kind, statement in iam_statements(template):
        if not any(action.lower() in ("iam:passrole", "iam:pass*") for action in actions_of(statement)):
            continue
        passed_to = statement.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
        if not passed_to:
            findings.append(f"{where}: iam:PassRole without StringEquals iam:PassedToService")
        if "*" in as_list(statement.get("Resource", [])):
            findings.append(f"{where}: iam:PassRole on Resource '*'")
    return findings


def _principal_is_named_roles(principal: Any, template: Template) -> bool:
    parameters = template.get("Parameters", {})
    for value in as_list(principal):
        if isinstance(value, dict) and set(value) == {"Ref"}:
            if parameters.get(value["Ref"], {}).get("Type") != "CommaDelimitedList":
                return False
        elif not (isinstance(value, str) and ":role/" in value):
            return False
    return True


def loose_trust(template: Template) -> list[str]:
    """An AWS principal in a role trust is a list of role ARNs (never an account or "*") and, in every
    variant of the template's conditions, carries an sts:ExternalId or aws:PrincipalOrgID condition."""
    findings = []
    for where, kind, statement in iam_statements(template):
        if kind != "trust" or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        if is_star(principal):
            findings.append(f"{where}: trusts '*'")
            continue
        if "AWS" not in principal:
            continue  # service principals
        if not _principal_is_named_roles(principal["AWS"], template):
            findings.append(f"{where}: AWS principal is not a list of role ARNs: {principal['AWS']!r}")
        if not condition_keys(statement.get("Condition")) & {"sts:externalid", "aws:principalorgid"}:
            findings.append(f"{where}: no sts:ExternalId or aws:PrincipalOrgID condition")
    return findings


def open_resource_policies(template: Template) -> list[str]:
    """Resource policies (bus, queue, topic, key) never allow "*" unless aws:PrincipalOrgID bounds it."""
    findings = []
    for where, kind, statement in iam_statements(template):
        if kind == "trust" or statement.get("Effect") != "Allow":
            continue
        if is_star(statement.get("Principal")) and "aws:principalorgid" not in condition_keys(
            statement.get("Condition")
        ):
            findings.append(f"{where}: allows Principal '*' without aws:PrincipalOrgID")
    for logical_id, props in resources(template, "AWS::Events::EventBusPolicy"):
        if "Statement" in props:
            continue
        # Legacy form: Principal + Condition {Type, Key, Value}
        if props.get("Principal") == "*" and props.get("Condition", {}).get("Key") != "aws:PrincipalOrgID":
            findings.append(f"{logical_id}: admits '*' without aws:PrincipalOrgID")
    return findings


def _refers_to_key(value: Any, template: Template) -> bool:
    ref = value.get("Ref") if isinstance(value, dict) else None
    get_att = value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) else None
    target = template.get("Resources", {}).get(ref or get_att or "", {})
    return target.get("Type") == "AWS::KMS::Key"


def unencrypted(template: Template, *, customer_key: bool = True) -> list[str]:
    """SNS topics, SQS queues and DynamoDB tables are KMS-encrypted at rest.

    With `customer_key`, with a customer managed key of the template; without it, SQS-managed SSE is enough for a
    queue (the workload accounts keep no key of their own).
    """
    findings = []

    def check_key(where: str, key: Any) -> None:
        if not key:
            findings.append(f"{where}: not KMS-encrypted")
        elif customer_key and not _refers_to_key(key, template):
            findings.append(f"{where}: not encrypted with the template's customer managed key")

    for logical_id, props in resources(template, "AWS::SNS::Topic"):
        check_key(logical_id, props.get("KmsMasterKeyId"))
    for logical_id, props in resources(template, "AWS::SQS::Queue"):
        if not customer_key and props.get("SqsManagedSseEnabled") is True:
            continue
        check_key(logical_id, props.get("KmsMasterKeyId"))
    for logical_id, props in resources(template, "AWS::DynamoDB::Table"):
        sse = props.get("SSESpecification", {})
        if sse.get("SSEEnabled") is not True or sse.get("SSEType") != "KMS":
            findings.append(f"{logical_id}: SSE is not KMS")
        else:
            check_key(logical_id, sse.get("KMSMasterKeyId"))
    return findings


def log_groups_without_retention(template: Template) -> list[str]:
    """Every log group has a retention, and every function logs to one of the template's log groups."""
    findings = []
    names = {}
    for logical_id, props in resources(template, "AWS::Logs::LogGroup"):
        if "RetentionInDays" not in props:
            findings.append(f"{logical_id}: no RetentionInDays")
        names[repr(props.get("LogGroupName"))] = logical_id
    for logical_id, props in resources(template, *FUNCTION_TYPES):
        if props.get("LoggingConfig", {}).get("LogGroup"):
            continue
        name = props.get("FunctionName")
        expected = (
            {"Fn::Sub": "/aws/lambda/" + name["Fn::Sub"]} if isinstance(name, dict) and "Fn::Sub" in name else None
        )
        if expected is None or repr(expected) not in names:
            findings.append(f"{logical_id}: no log group of the template (set FunctionName and /aws/lambda/<name>)")
    return findings


def rule_targets_without_retry_or_dlq(template: Template) -> list[str]:
    """Every rule target has a RetryPolicy and a dead-letter queue."""
    findings = []
    for logical_id, props in resources(template, "AWS::Events::Rule"):
        targets = props.get("Targets", [])
        if not targets:
            findings.append(f"{logical_id}: no targets")
        for target in targets:
            where = f"{logical_id} target {target.get('Id')}"
            if not target.get("RetryPolicy"):
                findings.append(f"{where}: no RetryPolicy")
            if not target.get("DeadLetterConfig", {}).get("Arn"):
                findings.append(f"{where}: no DeadLetterConfig")
    return findings


def functions_without_failure_destination(template: Template) -> list[str]:
    """Every function sends asynchronous failures somewhere (EventInvokeConfig OnFailure destination)."""
    separate = {
        repr(props.get("FunctionName"))
        for _, props in resources(template, "AWS::Lambda::EventInvokeConfig")
        if props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    }
    findings = []
    for logical_id, props in resources(template, *FUNCTION_TYPES):
        on_failure = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
        if on_failure.get("Destination"):
            continue
        if repr({"Ref": logical_id}) in separate:
            continue
        findings.append(f"{logical_id}: no on-failure destination")
    return findings


def unreviewable_function_policies(template: Template) -> list[str]:
    """Function policies are inline Statement blocks, managed policies of this template (`!Ref`), or allow-listed:
    anything else cannot be checked here."""
    findings = []
    for logical_id, props in resources(template, *FUNCTION_TYPES, "AWS::Serverless::StateMachine"):
        for policy in as_list(props.get("Policies", [])):
            if (isinstance(policy, dict) and "Statement" in policy) or managed_policy_of(template, policy) is not None:
                continue
            name = policy if isinstance(policy, str) else next(iter(policy), repr(policy))
            if name not in SAM_POLICY_ALLOWED:
                findings.append(f"{logical_id}: policy {name!r} is not an inline Statement block")
        if props.get("Role"):
            findings.append(f"{logical_id}: external Role, its policies are not in this template")
    return findings


# The SageMaker actions that create or change a model, endpoint config, endpoint or monitoring schedule, and the
# Application Auto Scaling ones that register or change a variant's scalable target. The scalable-target resource type
# takes aws:ResourceTag/${TagKey}, RegisterScalableTarget also aws:RequestTag/${TagKey} ("Actions, resources, and
# condition keys for AWS Application Auto Scaling", Service Authorization Reference).
SAGEMAKER_CREATES = frozenset(
    f"sagemaker:{name}"
    for name in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint", "CreateMonitoringSchedule")
) | {"application-autoscaling:RegisterScalableTarget"}
SAGEMAKER_CHANGES = frozenset(
    f"sagemaker:{name}"
    for name in (
        "UpdateEndpoint",
        "UpdateEndpointWeightsAndCapacities",
        "InvokeEndpoint",
        "DeleteEndpoint",
        "DeleteEndpointConfig",
        "DeleteModel",
        "UpdateMonitoringSchedule",
        "DeleteMonitoringSchedule",
    )
) | {
    f"application-autoscaling:{name}"
    for name in ("DeregisterScalableTarget", "PutScalingPolicy", "DeleteScalingPolicy")
}
_SERVING_RESOURCES = (":model/", ":endpoint-config/", ":endpoint/", ":monitoring-schedule/", ":scalable-target/")


def _string_like_keys(statement: dict[str, Any]) -> dict[str, Any]:
    condition = statement.get("Condition", {})
    return {key.lower(): value for key, value in condition.get("StringLike", {}).items()}


def untagged_serving_changes(template: Template) -> list[str]:
    """Creating a model, endpoint config, endpoint or schedule requires the product's lineage tag on the request
    (aws:RequestTag/<GROUP_TAG>), and changing one requires it on the resource (aws:ResourceTag/<GROUP_TAG>): the
    product acts only on what it made (or what a person handed it by tagging it)."""
    findings = []
    request_tag, resource_tag = f"aws:requesttag/{GROUP_TAG}", f"aws:resourcetag/{GROUP_TAG}"
    for where, _kind, statement in iam_statements(template):
        if statement.get("Effect") != "Allow":
            continue
        resources = json.dumps(statement.get("Resource", ""))
        if not any(kind in resources for kind in _SERVING_RESOURCES) and "*" not in as_list(statement.get("Resource")):
            continue
        keys = _string_like_keys(statement)
        for action in actions_of(statement):
            if action in SAGEMAKER_CREATES and keys.get(request_tag) != "?*" and resource_tag not in keys:
                findings.append(f"{where}: {action} without StringLike {request_tag} '?*'")
            if action in SAGEMAKER_CHANGES and keys.get(resource_tag) != "?*":
                findings.append(f"{where}: {action} without StringLike {resource_tag} '?*'")
    return findings


def assume_role_unbounded(template: Template) -> list[str]:
    """sts:AssumeRole on a role ARN pattern with an account wildcard carries an aws:ResourceAccount condition."""
    findings = []
    for where, kind, statement in iam_statements(template):
        if kind != "identity" or statement.get("Effect") != "Allow" or "sts:AssumeRole" not in actions_of(statement):
            continue
        if "*" not in json.dumps(statement.get("Resource", "*")):
            continue
        if "aws:resourceaccount" not in condition_keys(statement.get("Condition")):
            findings.append(f"{where}: sts:AssumeRole on {statement.get('Resource')} without aws:ResourceAccount")
    return findings


CHECKS: dict[str, Check] = {
    "wildcard_actions": wildcard_actions,
    "write_on_star": write_on_star,
    "pass_role_unconditioned": pass_role_unconditioned,
    "loose_trust": loose_trust,
    "open_resource_policies": open_resource_policies,
    "log_groups_without_retention": log_groups_without_retention,
    "rule_targets_without_retry_or_dlq": rule_targets_without_retry_or_dlq,
    "functions_without_failure_destination": functions_without_failure_destination,
    "unreviewable_function_policies": unreviewable_function_policies,
    "untagged_serving_changes": untagged_serving_changes,
    "assume_role_unbounded": assume_role_unbounded,
}


# ----------------------------------------------------------------------------------------------------------------
# The templates pass every check
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("name", ["template.yaml", "accounts/workload-account.yaml"])
def test_template_passes(name: str, check: str, templates: dict[str, Template]) -> None:
    assert CHECKS[check](templates[name]) == []


def test_automation_data_is_encrypted_with_the_stack_key(automation_template: Template) -> None:
    assert unencrypted(automation_template, customer_key=True) == []


def test_workload_data_is_encrypted(workload_template: Template) -> None:
    assert unencrypted(workload_template, customer_key=False) == []


def test_the_checks_see_the_resources_they_guard(templates: dict[str, Template]) -> None:
    # A check that finds nothing to look at passes vacuously: make sure the walkers reach the real statements.
    automation, workload = templates["template.yaml"], templates["accounts/workload-account.yaml"]
    kinds = {kind for _, kind, _ in iam_statements(automation)}
    assert {"identity", "resource", "key"} <= kinds
    assert {"identity", "trust"} <= {kind for _, kind, _ in iam_statements(workload)}
    assert any("iam:PassRole" in actions_of(statement) for _, _, statement in iam_statements(workload))
    assert len(list(resources(automation, "AWS::Events::EventBusPolicy"))) == 2
    assert len(list(resources(automation, *FUNCTION_TYPES))) >= 2


def test_execution_role_trusts_the_function_role_parameter(workload_template: Template) -> None:
    trust = workload_template["Resources"]["ExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]
    principals = {repr(statement["Principal"]) for statement in statements(trust)}

    assert principals == {repr({"AWS": {"Ref": "AutomationFunctionRoleArns"}})}


def test_workload_rules_require_a_trust_condition(workload_template: Template) -> None:
    # Without ExternalId and OrganizationId the trust condition would be empty: the Rules section refuses that.
    assertion = workload_template["Rules"]["ExternalIdOrOrganizationRequired"]["Assertions"][0]["Assert"]

    assert assertion == {
        "Fn::Or": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]},
        ]
    }


# ----------------------------------------------------------------------------------------------------------------
# Every check can fail: bad snippets
# ----------------------------------------------------------------------------------------------------------------
def _function(**props: Any) -> dict[str, Any]:
    base = {
        "FunctionName": {"Fn::Sub": "${AWS::StackName}-f"},
        "EventInvokeConfig": {"DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": "arn"}}},
        "Policies": [],
    }
    return {"Type": "AWS::Serverless::Function", "Properties": {**base, **props}}


def _with_statement(statement: dict[str, Any]) -> Template:
    return {"Resources": {"F": _function(Policies=[{"Statement": [statement]}])}}


def _role(trust: dict[str, Any], parameters: dict[str, Any] | None = None) -> Template:
    document = {"Version": "2012-10-17", "Statement": [trust]}
    return {
        "Parameters": parameters or {},
        "Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": document}}},
    }


_GOOD_TRUST = {
    "Effect": "Allow",
    "Principal": {"AWS": {"Ref": "Roles"}},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
}
_ROLES_PARAMETER = {"Roles": {"Type": "CommaDelimitedList"}}

BAD_SNIPPETS: list[tuple[str, Template]] = [
    ("wildcard_actions", _with_statement({"Effect": "Allow", "Action": "*", "Resource": "arn:x"})),
    ("wildcard_actions", _with_statement({"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "arn"})),
    ("wildcard_actions", _with_statement({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})),
    (
        "wildcard_actions",  # hidden in one branch of an Fn::If
        {
            "Resources": {
                "F": _function(
                    Policies=[
                        {
                            "Statement": [
                                {"Fn::If": ["C", {"Effect": "Allow", "Action": "sns:*", "Resource": "a"}, NO_VALUE]}
                            ]
                        }
                    ]
                )
            }
        },
    ),
    ("write_on_star", _with_statement({"Effect": "Allow", "Action": "sagemaker:StopTrainingJob", "Resource": "*"})),
    ("write_on_star", _with_statement({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": ["*"]})),
    (
        "write_on_star",
        {
            "Resources": {
                "P": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "PolicyDocument": {
                            "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]
                        }
                    },
                }
            }
        },
    ),
    ("pass_role_unconditioned", _with_statement({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:r"})),
    (
        "pass_role_unconditioned",
        _with_statement(
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            }
        ),
    ),
    ("loose_trust", _role({**_GOOD_TRUST, "Condition": {}}, _ROLES_PARAMETER)),
    ("loose_trust", _role({**_GOOD_TRUST, "Principal": {"AWS": "arn:aws:iam::111111111111:root"}}, _ROLES_PARAMETER)),
    ("loose_trust", _role({**_GOOD_TRUST, "Principal": {"AWS": "*"}}, _ROLES_PARAMETER)),
    (
        "loose_trust",  # the condition is only there when a parameter is set
        _role(
            {**_GOOD_TRUST, "Condition": {"Fn::If": ["HasExternalId", _GOOD_TRUST["Condition"], NO_VALUE]}},
            _ROLES_PARAMETER,
        ),
    ),
    (
        "open_resource_policies",
        {
            "Resources": {
                "B": {
                    "Type": "AWS::Events::EventBusPolicy",
                    "Properties": {
                        "StatementId": "s",
                        "Statement": {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "events:PutEvents",
                            "Resource": "b",
                        },
                    },
                }
            }
        },
    ),
    (
        "open_resource_policies",
        {
            "Resources": {
                "B": {
                    "Type": "AWS::Events::EventBusPolicy",
                    "Properties": {"StatementId": "s", "Action": "events:PutEvents", "Principal": "*"},
                }
            }
        },
    ),
    (
        "open_resource_policies",
        {
            "Resources": {
                "Q": {
                    "Type": "AWS::SQS::QueuePolicy",
                    "Properties": {
                        "PolicyDocument": {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"AWS": "*"},
                                    "Action": "sqs:SendMessage",
                                    "Resource": "q",
                                }
                            ]
                        }
                    },
                }
            }
        },
    ),
    (
        "log_groups_without_retention",
        {
            "Resources": {
                "F": _function(),
                "L": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/lambda/x"}},
            }
        },
    ),
    (
        "log_groups_without_retention",  # a function whose log group the template does not own
        {"Resources": {"F": _function(FunctionName="fixed-name")}},
    ),
    (
        "rule_targets_without_retry_or_dlq",
        {
            "Resources": {
                "R": {
                    "Type": "AWS::Events::Rule",
                    "Properties": {"Targets": [{"Id": "t", "Arn": "a", "DeadLetterConfig": {"Arn": "q"}}]},
                }
            }
        },
    ),
    (
        "rule_targets_without_retry_or_dlq",
        {
            "Resources": {
                "R": {
                    "Type": "AWS::Events::Rule",
                    "Properties": {"Targets": [{"Id": "t", "Arn": "a", "RetryPolicy": {"MaximumRetryAttempts": 1}}]},
                }
            }
        },
    ),
    (
        "untagged_serving_changes",
        _with_statement({"Effect": "Allow", "Action": "sagemaker:UpdateEndpoint", "Resource": "arn:x:endpoint/*"}),
    ),
    (
        "untagged_serving_changes",  # a create conditioned on some other tag
        _with_statement(
            {
                "Effect": "Allow",
                "Action": "sagemaker:CreateEndpoint",
                "Resource": "arn:x:endpoint/*",
                "Condition": {"StringLike": {"aws:RequestTag/team": "?*"}},
            }
        ),
    ),
    (
        "assume_role_unbounded",
        _with_statement({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/r"}),
    ),
    ("functions_without_failure_destination", {"Resources": {"F": _function(EventInvokeConfig={})}}),
    ("unreviewable_function_policies", {"Resources": {"F": _function(Policies=["AdministratorAccess"])}}),
    (
        "unreviewable_function_policies",
        {"Resources": {"F": _function(Policies=[{"DynamoDBCrudPolicy": {"TableName": "t"}}])}},
    ),
]


@pytest.mark.parametrize(
    ("check", "snippet"), BAD_SNIPPETS, ids=[f"{check}-{i}" for i, (check, _) in enumerate(BAD_SNIPPETS)]
)
def test_check_reports_a_bad_snippet(check: str, snippet: Template) -> None:
    assert CHECKS[check](snippet), f"{check} did not report {snippet}"


def test_every_check_has_a_bad_snippet() -> None:
    assert {check for check, _ in BAD_SNIPPETS} == set(CHECKS)


@pytest.mark.parametrize(
    ("check", "snippet"),
    [
        (
            "write_on_star",
            _with_statement({"Effect": "Allow", "Action": "sagemaker:ListModelPackages", "Resource": "*"}),
        ),
        ("write_on_star", _with_statement({"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"})),
        ("loose_trust", _role(_GOOD_TRUST, _ROLES_PARAMETER)),
        ("log_groups_without_retention", {"Resources": {"F": _function(LoggingConfig={"LogGroup": {"Ref": "L"}})}}),
    ],
)
def test_check_accepts_a_good_snippet(check: str, snippet: Template) -> None:
    assert CHECKS[check](snippet) == []


@pytest.mark.parametrize(
    ("template_key", "customer_key"), [("unencrypted-topic", True), ("unencrypted-table", True), ("aws-key", True)]
)
def test_unencrypted_reports_a_bad_snippet(template_key: str, customer_key: bool) -> None:
    bad = {
        "unencrypted-topic": {"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {}}}},
        "unencrypted-table": {
            "Resources": {
                "D": {"Type": "AWS::DynamoDB::Table", "Properties": {"SSESpecification": {"SSEEnabled": True}}}
            }
        },
        "aws-key": {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": "alias/aws/sqs"}}}},
    }[template_key]

    assert unencrypted(bad, customer_key=customer_key)


def test_unencrypted_reports_a_queue_without_any_encryption_even_without_customer_key() -> None:
    bad = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": False}}}}

    assert unencrypted(bad, customer_key=False)


def test_a_mutated_real_template_fails(automation_template: Template) -> None:
    # Given the real template with the DLQ's key removed and a rule target's retry policy dropped
    mutated = copy.deepcopy(automation_template)
    del mutated["Resources"]["DeadLetterQueue"]["Properties"]["KmsMasterKeyId"]
    del mutated["Resources"]["TrainingJobStateRule"]["Properties"]["Targets"][0]["RetryPolicy"]

    # Then the checks report both
    assert unencrypted(mutated) == ["DeadLetterQueue: not KMS-encrypted"]
    assert rule_targets_without_retry_or_dlq(mutated) == [
        "TrainingJobStateRule target TrainingStateFunction: no RetryPolicy"
    ]


def test_function_roles_assume_the_execution_role_in_allow_listed_accounts_only(automation_template: Template) -> None:
    # Given every sts:AssumeRole grant of the function roles
    grants = [
        (where, statement)
        for where, kind, statement in iam_statements(automation_template)
        if kind == "identity" and "sts:AssumeRole" in actions_of(statement)
    ]

    # Then there is one, the execution role in the accounts of AllowedAccountIds, in the policy every function has
    assert [where for where, _ in grants] == ["FunctionBasePolicy"]
    for logical_id, _ in resources(automation_template, *FUNCTION_TYPES):
        documents = function_policies(automation_template, logical_id)
        assert any("sts:AssumeRole" in actions_of(st) for doc in documents for st in statements(doc)), logical_id
    for where, statement in grants:
        assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${ExecutionRoleName}"}, where
        assert statement["Condition"] == {"StringEquals": {"aws:ResourceAccount": {"Ref": "AllowedAccountIds"}}}


def test_the_workload_role_changes_only_endpoints_the_product_made(workload_template: Template) -> None:
    # The checks above pass on the workload role; make sure they saw the endpoint grants (not vacuous)
    role = workload_template["Resources"]["ExecutionRole"]["Properties"]["Policies"]
    granted = {
        action
        for policy in role
        for statement in statements(policy["PolicyDocument"])
        for action in actions_of(statement)
    }
    assert {"sagemaker:UpdateEndpoint", "sagemaker:CreateEndpoint", "sagemaker:InvokeEndpoint"} <= granted
    assert {"application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy"} <= granted
    assert untagged_serving_changes(workload_template) == []


@pytest.mark.parametrize("sid", ["CreateTaggedScalableTargets", "ChangeOwnScalableTargets"])
def test_a_scalable_target_grant_without_the_lineage_tag_is_found(workload_template: Template, sid: str) -> None:
    # Given the workload role with one Application Auto Scaling grant's tag condition dropped
    mutated = copy.deepcopy(workload_template)
    document = mutated["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (statement,) = [s for s in document["Statement"] if isinstance(s, dict) and s.get("Sid") == sid]
    del statement["Condition"]

    # Then the check names each action that could now change a variant's scaling the product did not set up
    found = untagged_serving_changes(mutated)
    assert found and all("application-autoscaling:" in finding for finding in found), found
    if sid == "ChangeOwnScalableTargets":
        assert any("PutScalingPolicy without StringLike aws:resourcetag/" in finding for finding in found), found


def test_the_workload_role_reads_monitoring_reports_by_default(workload_template: Template) -> None:
    # Given the workload role's report statements (MonitoringReportObjectArns is empty by default)
    assert workload_template["Parameters"]["MonitoringReportObjectArns"]["Default"] == ""
    document = workload_template["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    by_sid = {statement.get("Sid"): statement for statement in document["Statement"] if isinstance(statement, dict)}
    reads, listing = by_sid["ReadMonitoringReports"], by_sid["ListReportBuckets"]

    # Then without the parameter it reads Model Monitor's report in any bucket the account owns
    assert reads["Action"] == "s3:GetObject"
    assert reads["Resource"] == {
        "Fn::If": [
            "HasMonitoringReports",
            {"Ref": "MonitoringReportObjectArns"},
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::*/*constraint_violations.json"},
        ]
    }
    own_buckets = {"StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}}
    assert reads["Condition"] == {"Fn::If": ["HasMonitoringReports", NO_VALUE, own_buckets]}
    # and may list those buckets, so a report not written yet is 404 NoSuchKey, not 403 AccessDenied
    assert (listing["Action"], listing["Condition"]) == ("s3:ListBucket", own_buckets)
