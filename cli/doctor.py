"""`lifecycle doctor [--account ID...]`: is a live installation wired as "Deploy to real accounts" says? One line per
check, and a fix for each failure.

In the automation account (the person's own credentials): the stack and its outputs, the bus policy against the
allow-list, the dead-letter queue, every published policy (the model, the installation, SSM's size limit). In each
workload account (the read-only operator role, as `lifecycle status`): the default-bus rule that forwards to the
lifecycle bus (enabled, and its pattern forwards SageMaker events: TestEventPattern), the execution role's trust (the
function roles, with the ExternalId the functions send or the organization) and what it allows each reaction
(SimulatePrincipalPolicy, where the operator may). For each group whose stages read artifacts trained in another
account: the bucket and key policies there admit each stage's SageMaker execution role, and that role's own policies
allow the read (across accounts both sides must allow).

IAM cannot simulate a role against a resource policy ("Simulation of resource-based policies isn't supported for IAM
roles", SimulatePrincipalPolicy), so the bucket and key policies are read and their Allow statements matched here;
a statement with a condition other than kms:ViaService is not counted (say so, check it by hand).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from lifecycle.accounts import SESSION_ACTIONS
from lifecycle.aws import error_code
from lifecycle.config import Settings
from lifecycle.errors import LifecycleError
from lifecycle.policy import GROUP_TAG, Policy, describe_errors, installation_problems
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from cli.connect import CliError, client
from cli.dlq import Queue
from cli.policies import ADVANCED_TIER_MAX_BYTES, tier_for
from cli.render import emit_json
from cli.stack import Stack

Status = Literal["ok", "warn", "fail", "skip"]
REQUIRED_OUTPUTS = (
    "LifecycleBusName",
    "LifecycleBusArn",
    "LifecycleTableName",
    "NotificationTopicArn",
    "DeadLetterQueueUrl",
    "DeployModelStateMachineArn",
    "AutomationFunctionRoleArns",
    "TrainingStateFunctionArn",
    "PolicyParameterPath",
)
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_GUIDE = 'README, "Deploy to real accounts"'
# What a resource policy condition may say and still count: SageMaker reads model artifacts through S3.
_UNDERSTOOD_CONDITION_KEYS = frozenset({"kms:viaservice"})


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    check: str
    status: Status
    detail: str
    fix: str = ""


class Unreachable(Exception):
    """An account the doctor cannot read (the operator role cannot be assumed there)."""


def _denied(exc: ClientError) -> bool:
    return error_code(exc) in _DENIED


# --- the automation account ------------------------------------------------------------------------------------------
def check_stack(stack: Stack) -> Finding:
    missing = [key for key in REQUIRED_OUTPUTS if not stack.outputs.get(key)]
    healthy = stack.status.endswith("_COMPLETE") and "ROLLBACK" not in stack.status
    if healthy and not missing:
        return Finding(f"stack {stack.name}", "ok", f"{stack.status}, every output the tools read is there")
    problems = ([f"status {stack.status}"] if not healthy else []) + ([f"no {', '.join(missing)}"] if missing else [])
    return Finding(
        f"stack {stack.name}",
        "fail",
        "; ".join(problems),
        "deploy the current template.yaml (`sam build && sam deploy`); look at the stack's events for the failure",
    )


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"]
    values = principal.get("AWS", []) if isinstance(principal, dict) else []
    return [str(value) for value in (values if isinstance(values, list) else [values])]


def _account_of_principal(principal: str) -> str:
    match = re.search(r"(\d{12})", principal)
    return match.group(1) if match else principal


def _statements(document: Any) -> list[dict[str, Any]]:
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return [statement for statement in (found if isinstance(found, list) else [found]) if isinstance(statement, dict)]


def check_bus_policy(settings: Settings, stack: Stack) -> Finding:
    bus = stack.outputs["LifecycleBusName"]
    described = client("events", settings).describe_event_bus(Name=bus)
    document = json.loads(described.get("Policy") or "{}")
    organization = stack.parameters.get("OrganizationId", "")
    admitted: set[str] = set()
    for statement in _statements(document):
        actions = statement.get("Action", [])
        if statement.get("Effect") != "Allow" or "events:PutEvents" not in (
            actions if isinstance(actions, list) else [actions]
        ):
            continue
        condition = statement.get("Condition", {}).get("StringEquals", {})
        if _principals(statement) == ["*"]:
            if organization and condition.get("aws:PrincipalOrgID") == organization:
                return Finding(f"bus policy of {bus}", "ok", f"admits the accounts of organization {organization}")
            continue
        admitted |= {_account_of_principal(principal) for principal in _principals(statement)}
    missing = sorted(set(settings.allowed_accounts) - admitted)
    if not missing:
        return Finding(f"bus policy of {bus}", "ok", f"admits every allow-listed account ({len(admitted)})")
    return Finding(
        f"bus policy of {bus}",
        "fail",
        f"does not admit {', '.join(missing)}: their SageMaker events never arrive",
        "update the automation stack (`sam deploy`, AllowedAccountIds or OrganizationId): its bus policy admits "
        "them; a policy edited by hand is replaced by the stack's",
    )


def check_dead_letters(settings: Settings, stack: Stack) -> Finding:
    waiting, held = Queue.of(settings, stack).depth()
    if waiting + held == 0:
        return Finding("dead-letter queue", "ok", "empty")
    return Finding(
        "dead-letter queue",
        "warn",
        f"{waiting + held} message(s) waiting: events a reaction could not handle after its retries",
        "`lifecycle dlq list`, fix the cause it shows, then `lifecycle dlq redrive --all`",
    )


def published_policies(settings: Settings) -> dict[str, str]:
    """Parameter name → value of every policy under the stack's policy path."""
    ssm = client("ssm", settings)
    found: dict[str, str] = {}
    kwargs: dict[str, Any] = {"Path": settings.policy_path, "Recursive": True}
    while True:
        page = ssm.get_parameters_by_path(**kwargs)
        found |= {parameter["Name"]: parameter["Value"] for parameter in page["Parameters"]}
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def check_policies(settings: Settings, published: dict[str, str]) -> tuple[list[Finding], list[Policy]]:
    findings: list[Finding] = []
    valid: list[Policy] = []
    fix = "fix the policy file, then `lifecycle policy validate FILE --stack ...` and `lifecycle policy publish FILE`"
    for name, value in sorted(published.items()):
        group = name.rsplit("/", 1)[-1]
        where = f"policy {group} ({name})"
        size = len(value.encode())
        try:
            policy = Policy.model_validate(json.loads(value))
        except json.JSONDecodeError as exc:
            findings.append(Finding(where, "fail", f"not JSON: {exc}", fix))
            continue
        except ValidationError as exc:
            findings.append(Finding(where, "fail", "; ".join(describe_errors(exc)), fix))
            continue
        problems = installation_problems(
            policy, trusted_accounts=settings.trusted_accounts, partition=settings.partition
        )
        if policy.group != group:
            problems.append(f"group: {policy.group!r} is published under {group!r}")
        if size > ADVANCED_TIER_MAX_BYTES:
            problems.append(f"{size} bytes: an SSM parameter holds at most {ADVANCED_TIER_MAX_BYTES}")
        if problems:
            findings.append(Finding(where, "fail", "; ".join(problems), fix))
            continue
        valid.append(policy)
        findings.append(Finding(where, "ok", f"valid, {size} bytes ({tier_for(value)} tier)"))
    if not published:
        findings.append(
            Finding(
                "policies",
                "warn",
                f"none published under {settings.policy_path}: every event is ignored",
                "`lifecycle policy publish FILE`",
            )
        )
    return findings, valid


# --- a workload account ----------------------------------------------------------------------------------------------
def _sample_event(account: str, region: str) -> dict[str, Any]:
    """A SageMaker event of `account`, with the fields TestEventPattern requires."""
    return {
        "version": "0",
        "id": "lifecycle-doctor",
        "detail-type": "SageMaker Training Job State Change",
        "source": "aws.sagemaker",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": {"TrainingJobStatus": "Completed"},
    }


def check_forwarding(settings: Settings, stack: Stack, account: str) -> list[Finding]:
    check = f"account {account}: forwarding rule"
    bus_arn = stack.outputs["LifecycleBusArn"]
    events = client("events", settings, account)
    try:
        names = events.list_rule_names_by_target(TargetArn=bus_arn, EventBusName="default")["RuleNames"]
    except ClientError as exc:
        if _denied(exc):
            raise Unreachable(str(exc)) from exc
        raise
    if not names:
        return [
            Finding(
                check,
                "fail",
                f"no rule of its default bus forwards to {bus_arn}: its SageMaker events never arrive",
                f"deploy accounts/workload-account.yaml in {account} ({_GUIDE}, step 2)",
            )
        ]
    findings = []
    tester = client("events", settings)
    for name in names:
        rule = events.describe_rule(Name=name, EventBusName="default")
        forwards = tester.test_event_pattern(
            EventPattern=rule.get("EventPattern") or "{}", Event=json.dumps(_sample_event(account, settings.region))
        )["Result"]
        if rule.get("State") != "ENABLED":
            findings.append(
                Finding(
                    check,
                    "fail",
                    f"{name} is {rule.get('State')}",
                    f"enable it: `aws events enable-rule --name {name}` in {account}, or update the workload stack",
                )
            )
        elif not forwards:
            findings.append(
                Finding(
                    check,
                    "fail",
                    f"{name} does not match SageMaker events",
                    f"update the workload stack in {account} from the current accounts/workload-account.yaml",
                )
            )
        else:
            findings.append(Finding(check, "ok", f"{name} is enabled and forwards SageMaker events"))
    return findings


def functions_external_id(settings: Settings, stack: Stack) -> str | None:
    """The ExternalId the functions send on AssumeRole (their environment: the stack's NoEcho parameter); None when
    the person may not read the function's configuration."""
    try:
        configuration = client("lambda", settings).get_function_configuration(
            FunctionName=stack.outputs["TrainingStateFunctionArn"]
        )
    except ClientError as exc:
        if _denied(exc):
            return None
        raise
    return str(configuration.get("Environment", {}).get("Variables", {}).get("LIFECYCLE_EXTERNAL_ID", ""))


def _condition_values(statement: dict[str, Any], key: str) -> set[str]:
    values = statement.get("Condition", {}).get("StringEquals", {}).get(key, [])
    return {str(value) for value in (values if isinstance(values, list) else [values])}


def check_trust(settings: Settings, stack: Stack, account: str, external_id: str | None) -> Finding:
    role = stack.parameters.get("ExecutionRoleName") or "sagemaker-lifecycle-execution"
    check = f"account {account}: trust of {role}"
    try:
        found = client("iam", settings, account).get_role(RoleName=role)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        return Finding(check, "fail", "no such role", f"deploy accounts/workload-account.yaml in {account}")
    document = found["AssumeRolePolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    function_roles = {arn for arn in stack.outputs["AutomationFunctionRoleArns"].split(",") if arn}
    organization = stack.parameters.get("OrganizationId", "")
    trusted: set[str] = set()
    second_factor = False
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        trusted |= set(_principals(statement))
        ids, orgs = _condition_values(statement, "sts:ExternalId"), _condition_values(statement, "aws:PrincipalOrgID")
        # Not readable (None): any ExternalId condition counts, and the line says it was not compared.
        matches_id = external_id is None or ((external_id in ids) if ids else not external_id)
        matches_org = (organization in orgs) if orgs else True
        second_factor |= bool(ids or orgs) and matches_id and matches_org
    update = f"update the workload stack in {account} with the automation stack's"
    missing = sorted(function_roles - trusted)
    if missing:
        names = ", ".join(arn.rsplit("/", 1)[-1] for arn in missing)
        return Finding(check, "fail", f"does not trust {names}", f"{update} AutomationFunctionRoleArns output")
    if not second_factor:
        return Finding(
            check,
            "fail",
            "its ExternalId/organization condition is not what the functions present: every AssumeRole is refused",
            f"{update} ExternalId (and OrganizationId) ({_GUIDE}, step 3)",
        )
    compared = "" if external_id is not None else " (ExternalId not compared: lambda:GetFunctionConfiguration denied)"
    return Finding(
        check, "ok", f"trusts the {len(function_roles)} function roles with the right ExternalId/organization{compared}"
    )


# The resource each action of the reactions is simulated on: the resource type the Service Authorization Reference
# lists for it (a made-up name: simulated resources need not exist); "" for actions with no resource type ("*").
_SAGEMAKER_TYPES = {
    "TrainingJob": "training-job",
    "LabelingJob": "labeling-job",
    "ModelPackageGroup": "model-package-group",
    "ModelPackage": "model-package",
    "EndpointConfig": "endpoint-config",
    "Endpoint": "endpoint",
    "Model": "model",
    "MonitoringSchedule": "monitoring-schedule",
    "ProcessingJob": "processing-job",
    "PipelineExecution": "pipeline",
    "Pipeline": "pipeline",
    "HyperParameterTuningJob": "hyper-parameter-tuning-job",
    "DataQualityJobDefinition": "data-quality-job-definition",
    "ModelQualityJobDefinition": "model-quality-job-definition",
    "ModelBiasJobDefinition": "model-bias-job-definition",
    "ModelExplainabilityJobDefinition": "model-explainability-job-definition",
    "TransformJob": "transform-job",
    "EndpointWeightsAndCapacities": "endpoint",
}
# List calls the reference scopes to a resource: the pipeline execution whose steps are listed (pipeline-execution,
# arn:...:pipeline/<name>/execution/<id>).
_SCOPED_LISTS = {"ListPipelineExecutionSteps": "PipelineExecution"}
# Application Auto Scaling's writes act on a scalable target; its Describe calls have no resource type.
_SCALABLE_TARGET_WRITES = frozenset(
    {"RegisterScalableTarget", "DeregisterScalableTarget", "PutScalingPolicy", "DeleteScalingPolicy", "TagResource"}
)
SCALING_SERVICE_LINKED_ROLE = (
    "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


def simulated_resource(action: str, account: str, region: str, partition: str) -> str:
    service, name = action.split(":", 1)
    probe = "lifecycle-doctor"
    if service == "sagemaker":
        if name in _SCOPED_LISTS:
            kind = _SAGEMAKER_TYPES[_SCOPED_LISTS[name]]
        elif name.startswith("List") or name in ("AddTags", "ListTags"):
            kind = "training-job" if name in ("AddTags", "ListTags") else ""
        else:
            noun = re.sub(r"^(Describe|Create|Update|Stop|Start|Invoke)", "", name)
            kind = _SAGEMAKER_TYPES.get(noun, "")
        if not kind:
            return "*"
        resource = f"{probe}/1" if kind == "model-package" else probe
        return f"arn:{partition}:sagemaker:{region}:{account}:{kind}/{resource}"
    if action == "s3:GetObject":
        return f"arn:{partition}:s3:::{probe}/reports/constraint_violations.json"
    if action == "s3:ListBucket":
        return f"arn:{partition}:s3:::{probe}"
    if action == "cloudwatch:DescribeAlarms":
        return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{probe}"
    if action in ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"):  # target tracking's alarms
        return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:TargetTracking-{probe}"
    if service == "application-autoscaling" and name in _SCALABLE_TARGET_WRITES:
        return f"arn:{partition}:application-autoscaling:{region}:{account}:scalable-target/{probe}"
    if action == "iam:CreateServiceLinkedRole":
        return f"arn:{partition}:iam::{account}:{SCALING_SERVICE_LINKED_ROLE}"
    return "*"


def _context(account: str) -> list[dict[str, Any]]:
    def entry(key: str, value: str) -> dict[str, Any]:
        return {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}

    return [
        entry(f"aws:RequestTag/{GROUP_TAG}", "lifecycle-doctor"),
        entry(f"aws:ResourceTag/{GROUP_TAG}", "lifecycle-doctor"),
        entry("aws:ResourceAccount", account),
        entry("iam:PassedToService", "sagemaker.amazonaws.com"),
        entry("iam:AWSServiceName", "sagemaker.application-autoscaling.amazonaws.com"),
    ]


def simulate(settings: Settings, account: str, role_arn: str, wanted: dict[str, list[str]]) -> list[str]:
    """`action on resource` of every (resource → actions) in `wanted` the role's policies do not allow."""
    iam = client("iam", settings, account)
    denied = []
    for resource, actions in wanted.items():
        answer = iam.simulate_principal_policy(
            PolicySourceArn=role_arn, ActionNames=actions, ResourceArns=[resource], ContextEntries=_context(account)
        )
        denied += [
            f"{result['EvalActionName']} on {result['EvalResourceName']}"
            for result in answer["EvaluationResults"]
            if result["EvalDecision"] != "allowed"
        ]
    return denied


def check_permissions(settings: Settings, stack: Stack, account: str, policies: list[Policy]) -> Finding:
    role = stack.parameters.get("ExecutionRoleName") or "sagemaker-lifecycle-execution"
    check = f"account {account}: permissions of {role}"
    role_arn = f"arn:{settings.partition}:iam::{account}:role/{role}"
    wanted: dict[str, list[str]] = {}
    actions = {a for reaction, acts in SESSION_ACTIONS.items() if reaction != "lifecycle-cli" for a in acts}
    for action in sorted(actions - {"iam:PassRole"}):
        wanted.setdefault(simulated_resource(action, account, settings.region, settings.partition), []).append(action)
    for passed in sorted(_roles_passed_in(policies, account)):
        wanted.setdefault(passed, []).append("iam:PassRole")
    try:
        denied = simulate(settings, account, role_arn, wanted)
    except ClientError as exc:
        if _denied(exc):
            return Finding(check, "skip", "not allowed to simulate its policies (iam:SimulatePrincipalPolicy)")
        if error_code(exc) == "NoSuchEntity":
            return Finding(check, "fail", "no such role", f"deploy accounts/workload-account.yaml in {account}")
        raise
    count = sum(len(acts) for acts in wanted.values())
    if not denied:
        return Finding(check, "ok", f"allows the {count} actions the reactions take here")
    return Finding(
        check,
        "fail",
        f"does not allow {'; '.join(denied)}",
        f"update the workload stack in {account} from the current accounts/workload-account.yaml "
        "(SageMakerExecutionRoleArns lists every role a policy passes)",
    )


def _roles_passed_in(policies: list[Policy], account: str) -> set[str]:
    """The SageMaker execution roles the reactions pass in `account`: training roles and stage roles there."""
    roles = {p.training.role_arn for p in policies if p.training and p.training.account == account}
    for policy in policies:
        stages = policy.deployment.stages if policy.deployment else []
        roles |= {stage.execution_role_arn for stage in stages if stage.account == account}
    return roles


# --- artifacts read across accounts ----------------------------------------------------------------------------------
def _bucket_and_key(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


def resource_policy_grants(document: Any, principal: str, action: str, resource: str) -> tuple[bool, list[str]]:
    """Whether an Allow statement of a bucket or key policy grants `principal` (a role ARN) `action` on `resource`,
    and the statements that would but carry a condition not evaluated here."""
    account = _account_of_principal(principal)
    unevaluated = []
    for statement in _statements(document):
        principals = _principals(statement)
        if statement.get("Effect") != "Allow" or not (
            principal in principals or account in principals or f"arn:aws:iam::{account}:root" in principals
        ):
            continue
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        if not any(_wildcard(pattern, action) for pattern in (actions if isinstance(actions, list) else [actions])):
            continue
        if not any(_wildcard(p, resource) for p in (resources if isinstance(resources, list) else [resources])):
            continue
        keys = {key.lower() for values in statement.get("Condition", {}).values() for key in values}
        if keys - _UNDERSTOOD_CONDITION_KEYS:
            unevaluated.append(str(statement.get("Sid", "a statement")))
            continue
        return True, []
    return False, unevaluated


def _wildcard(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE) is not None


def _resource_policies(settings: Settings, training: Any) -> tuple[Any, Any] | str:
    """The bucket policy of the training output's bucket and the key policy of its key (None: no key; {} when there is
    none), or why they cannot be read."""
    bucket, _ = _bucket_and_key(str(training.output_s3_uri))
    where = training.account
    try:
        found = client("s3", settings, where, training.region).get_bucket_policy(Bucket=bucket)["Policy"]
        bucket_policy: Any = json.loads(found)
    except ClientError as exc:
        if _denied(exc):
            return f"cannot read the bucket policy of {bucket} in {where}"
        if error_code(exc) not in ("NoSuchBucketPolicy", "NoSuchBucket"):
            raise
        bucket_policy = {}
    if not training.output_kms_key_arn:
        return bucket_policy, None
    try:
        kms = client("kms", settings, where, training.region)
        key = kms.get_key_policy(KeyId=training.output_kms_key_arn, PolicyName="default")["Policy"]
        return bucket_policy, json.loads(key)
    except ClientError as exc:
        if _denied(exc):
            return f"cannot read the key policy of {training.output_kms_key_arn}"
        if error_code(exc) != "NotFoundException":
            raise
        return bucket_policy, {}


def _stage_gaps(
    settings: Settings, training: Any, stage: Any, policies: tuple[Any, Any]
) -> tuple[list[str], list[str]]:
    """What keeps `stage`'s execution role from reading the artifacts, and the statements not evaluated here."""
    bucket_policy, key_policy = policies
    bucket, prefix = _bucket_and_key(str(training.output_s3_uri))
    object_arn = f"arn:{settings.partition}:s3:::{bucket}/{prefix}lifecycle-doctor/output/model.tar.gz"
    role = stage.execution_role_arn
    gaps = []
    wanted = {object_arn: ["s3:GetObject"]}
    granted, unevaluated = resource_policy_grants(bucket_policy, role, "s3:GetObject", object_arn)
    if not granted:
        gaps.append(f"the bucket policy of {bucket} does not let it read {prefix}*")
    if key_policy is not None:
        key_arn = str(training.output_kms_key_arn)
        wanted[key_arn] = ["kms:Decrypt"]
        key_granted, key_unevaluated = resource_policy_grants(key_policy, role, "kms:Decrypt", key_arn)
        unevaluated += key_unevaluated
        if not key_granted:
            gaps.append("the key policy does not let it decrypt")
    try:
        gaps += [
            f"its own policies do not allow {denial}" for denial in simulate(settings, stage.account, role, wanted)
        ]
    except ClientError as exc:
        if not _denied(exc) and error_code(exc) != "NoSuchEntity":
            raise
        gaps.append("its own policies could not be simulated" if _denied(exc) else "the role does not exist")
    return gaps, unevaluated


def check_artifacts(settings: Settings, policy: Policy) -> list[Finding]:
    """The training account's bucket and key admit each stage's execution role, and the role may read them."""
    training = policy.training
    stages = policy.deployment.stages if policy.deployment else []
    readers = [stage for stage in stages if training and stage.account != training.account]
    if training is None or not readers:
        return []
    check = f"group {policy.group}: artifacts"
    policies = _resource_policies(settings, training)
    if isinstance(policies, str):
        return [Finding(check, "skip", policies)]
    bucket, prefix = _bucket_and_key(str(training.output_s3_uri))
    fix = f"in {training.account}, grant it as {_GUIDE}, step 5 says (bucket policy, key policy, the role's own policy)"
    findings = []
    for stage in readers:
        gaps, unevaluated = _stage_gaps(settings, training, stage, policies)
        name = f"{check}: {stage.name} ({stage.account})"
        role = stage.execution_role_arn.rsplit("/", 1)[-1]
        if gaps:
            note = f" (not evaluated here, check by hand: {', '.join(unevaluated)})" if unevaluated else ""
            findings.append(Finding(name, "fail", f"{role}: {'; '.join(gaps)}{note}", fix))
        else:
            findings.append(Finding(name, "ok", f"{role} may read s3://{bucket}/{prefix} and decrypt it"))
    return findings


# --- the whole check -------------------------------------------------------------------------------------------------
def diagnose(settings: Settings, stack: Stack, accounts: list[str]) -> list[Finding]:
    """Every check, in order; a check that cannot be made says so and the others go on."""
    findings = [check_stack(stack)]
    if findings[0].status == "fail" and any(key not in stack.outputs for key in REQUIRED_OUTPUTS):
        return findings
    findings += [check_bus_policy(settings, stack), check_dead_letters(settings, stack)]
    policy_findings, policies = check_policies(settings, published_policies(settings))
    findings += policy_findings
    external_id = functions_external_id(settings, stack)
    for account in accounts:
        try:
            findings += check_forwarding(settings, stack, account)
            findings.append(check_trust(settings, stack, account, external_id))
            findings.append(check_permissions(settings, stack, account, policies))
        except (Unreachable, LifecycleError) as exc:
            findings.append(
                Finding(
                    f"account {account}",
                    "fail",
                    f"cannot read it through the operator role: {exc}",
                    "deploy the workload stack there with OperatorPrincipalArns naming your role (pass "
                    "--role-name/--external-id if yours differ)",
                )
            )
    for policy in policies:
        try:
            findings += check_artifacts(settings, policy)
        except LifecycleError as exc:
            findings.append(Finding(f"group {policy.group}: artifacts", "fail", str(exc), "see the error"))
    return findings


def command(args: Any, settings: Settings, stack: Stack, out: Console) -> bool:
    """Run `lifecycle doctor`; False when a check failed."""
    accounts = list(dict.fromkeys(args.account or settings.allowed_accounts))
    try:
        findings = diagnose(settings, stack, accounts)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"doctor stopped: {exc}") from exc
    if args.json:
        emit_json(out, [finding.__dict__ for finding in findings])
    else:
        styles = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
        for finding in findings:
            line = Text(f"{finding.status.upper():4}  ", style=styles[finding.status])
            line.append(f"{finding.check}: {finding.detail}")
            if finding.fix:
                line.append(f" -> fix: {finding.fix}")
            out.print(line)
        failed = sum(1 for finding in findings if finding.status == "fail")
        out.print(f"{len(findings)} checks, {failed} failed")
    return all(finding.status != "fail" for finding in findings)
