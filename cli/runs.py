"""`lifecycle deploy|rollback|approve|reject|promote|end-shadow`: start DeployModel with a manual-run input, answer
its approval gate or its shadow test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError
from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.deploy.inputs import (
    APPROVAL_REJECTED,
    DeployInput,
    EndShadowInput,
    PromoteInput,
    RollbackInput,
    Started,
    compact_time,
    execution_name,
    package_arn,
    start_deployment,
)
from lifecycle.policy import Policy
from lifecycle.store import deployments

from cli.connect import CliError, client
from cli.state import ExecutionView, execution, policy_of, running, state_machine

# What Step Functions answers for a token nobody waits on any more.
_STALE_TOKEN_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
_CAUSE_MAX = 32768


def _stage_names(policy: Policy) -> list[str]:
    return [stage.name for stage in policy.deployment.stages] if policy.deployment else []


def _check_stages(policy: Policy, stages: list[str]) -> None:
    known = _stage_names(policy)
    unknown = [name for name in stages if name not in known]
    if unknown:
        raise CliError(
            f"group {policy.group!r} has no stage {', '.join(unknown)}; its stages: {', '.join(known) or 'none'}"
        )


def _approved_package(settings: Settings, policy: Policy, version: int) -> None:
    """The ARN of `version` in the group's registry; it must exist and be Approved."""
    registry = policy.registry
    arn = package_arn(settings.partition, registry.region, registry.account, policy.group, version)
    sagemaker = client("sagemaker", settings, registry.account, registry.region)
    with aws_errors(f"sagemaker:DescribeModelPackage {arn}"):
        try:
            package = sagemaker.describe_model_package(ModelPackageName=arn)
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            raise CliError(f"{policy.group} has no version {version} in {registry.account}/{registry.region}") from exc
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        raise CliError(f"{policy.group} version {version} is {status}, not Approved: approve the model package first")


def deploy(settings: Settings, group: str, version: int, stages: list[str], reason: str) -> Started:
    """Deploy an approved version of `group` to `stages` (the policy's order applies)."""
    state_machine(settings)
    policy = policy_of(group, settings)
    _check_stages(policy, stages)
    _approved_package(settings, policy, version)
    name = execution_name(group, "deploy", f"v{version}", *stages, compact_time(datetime.now(UTC)))
    input_ = DeployInput(group=group, version=version, stages=stages, reason=reason)
    return start_deployment(settings, input_, name=name)


def rollback(settings: Settings, group: str, version: int, stage: str, reason: str) -> Started:
    """Put `stage` back on `version` of `group` (which must be Approved)."""
    state_machine(settings)
    policy = policy_of(group, settings)
    _check_stages(policy, [stage])
    _approved_package(settings, policy, version)
    name = execution_name(group, "rollback", stage, f"v{version}", compact_time(datetime.now(UTC)))
    input_ = RollbackInput(group=group, stage=stage, version=version, reason=reason)
    return start_deployment(settings, input_, name=name)


@dataclass(frozen=True)
class Gate:
    """One approval gate an execution waits on."""

    execution: ExecutionView
    stage: str


def pending_gate(settings: Settings, target: str, stage: str | None) -> Gate:
    """The one approval gate `target` (an execution ARN or name, or a group) waits on."""
    if target.startswith("arn:"):
        views = [execution(settings, target)]
    else:
        in_flight = running(settings)
        views = [view for view in in_flight if view.name == target] or [
            view for view in in_flight if view.group == target
        ]
        if not views:
            policy_of(target, settings)  # an unknown group says so
    gates = [
        Gate(view, name)
        for view in views
        for name in view.pending_approvals
        if view.status == "RUNNING" and (stage is None or name == stage)
    ]
    if not gates:
        where = f" at stage {stage!r}" if stage else ""
        raise CliError(f"no pending approval for {target!r}{where}: no deployment of it waits for one")
    if len(gates) > 1:
        listed = "; ".join(f"{gate.execution.name} (stage {gate.stage})" for gate in gates)
        raise CliError(f"{len(gates)} approvals pending for {target!r}: {listed}. Name the execution and --stage.")
    return gates[0]


def caller(settings: Settings) -> str:
    """Who is answering: the caller's IAM identity."""
    with aws_errors("sts:GetCallerIdentity"):
        return str(client("sts", settings).get_caller_identity()["Arn"])


def answer(settings: Settings, gate: Gate, *, approve: bool, by: str, reason: str) -> None:
    """Approve or reject the gate: the answer (who, why) is kept with the gate first, then its task token is used."""
    execution = gate.execution
    pending = [
        found
        for found in deployments.approvals(settings, execution.group, execution=execution.name)
        if found.stage == gate.stage and found.kind == "gate" and not found.decision
    ]
    if not pending:
        raise CliError(f"no pending approval for {execution.name} at stage {gate.stage!r}")
    if not approve and not reason.strip():
        raise CliError("a rejection needs --reason: the people told, and the audit trail, read why")
    decision: deployments.Decision = "approved" if approve else "rejected"
    if not deployments.answer_approval(settings, pending[0], decision=decision, by=by, reason=reason):
        raise CliError(f"the gate of {execution.name} at stage {gate.stage!r} was answered meanwhile")
    sfn = client("stepfunctions", settings)
    with aws_errors(f"states:SendTask{'Success' if approve else 'Failure'} {execution.name}"):
        try:
            if approve:
                sfn.send_task_success(
                    taskToken=pending[0].token, output=json.dumps({"approved_by": by, "reason": reason})
                )
            else:
                cause = f"rejected by {by}: {reason}"[:_CAUSE_MAX]
                sfn.send_task_failure(taskToken=pending[0].token, error=APPROVAL_REJECTED, cause=cause)
        except ClientError as exc:
            if error_code(exc) not in _STALE_TOKEN_CODES:
                raise
            raise CliError(
                f"no pending approval for {execution.name} at stage {gate.stage!r}: "
                f"the gate was already answered or timed out ({error_code(exc)})"
            ) from exc


def shadow_verdict(
    settings: Settings, group: str, stage: str, *, promote: bool, by: str, reason: str
) -> tuple[str, bool]:
    """Promote the shadow (or A/B challenger) of `stage`, or end its shadow test.

    A shadow test a DeployModel execution runs is answered there (the answer kept with its wait first, then its task
    token used): that execution ends the shadow, and a promotion goes on with the guarded update. Otherwise a new
    execution does it (PromoteInput, EndShadowInput). Returns the execution and whether it was an answer."""
    policy = policy_of(group, settings)
    _check_stages(policy, [stage])
    if not promote and not reason.strip():
        raise CliError("ending a shadow test needs --reason: the people told, and the audit trail, read why")
    decision: deployments.Decision = "promote" if promote else "end"
    in_flight = {view.name for view in running(settings, group)}
    waits = [
        found
        for found in deployments.approvals(settings, group)
        if found.kind == "shadow" and found.stage == stage and not found.decision and found.execution in in_flight
    ]
    if waits and deployments.answer_approval(settings, waits[0], decision=decision, by=by, reason=reason):
        sfn = client("stepfunctions", settings)
        output = {"decision": decision, "by": by, "reason": reason or "promoted by a person"}
        with aws_errors(f"states:SendTaskSuccess {waits[0].execution}"):
            try:
                sfn.send_task_success(taskToken=waits[0].token, output=json.dumps(output))
            except ClientError as exc:
                if error_code(exc) not in _STALE_TOKEN_CODES:
                    raise
                raise CliError(
                    f"the shadow test of {waits[0].execution} at stage {stage!r} already ended ({error_code(exc)})"
                ) from exc
        return waits[0].execution, True
    state_machine(settings)
    kind = "promote" if promote else "end-shadow"
    name = execution_name(group, kind, stage, compact_time(datetime.now(UTC)))
    input_ = (
        PromoteInput(group=group, stage=stage, reason=reason)
        if promote
        else EndShadowInput(group=group, stage=stage, reason=reason)
    )
    return start_deployment(settings, input_, name=name).execution_arn, False
