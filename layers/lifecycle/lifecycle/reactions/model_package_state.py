"""Model package state change: Approved → DeployModel; Rejected → stop its deployments and roll back what serves it;
Pending → ask the approvers.

Authority comes from the policy, never from the event: a registry event counts only from the policy's registry account
and region, for the group its detail names (case-exact), with an ARN that agrees; and the reaction acts on the
registry as it is now, not on the event's snapshot (a stale or replayed event is recorded as ignored, with why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.actions.registry import TRAINING_JOB_KEY
from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.deploy import endpoints
from lifecycle.deploy.inputs import (
    PACKAGE_REJECTED,
    ApprovedInput,
    PackageRef,
    RollbackInput,
    approved_execution_name,
    compact_time,
    execution_name,
    package_ref,
    start_deployment,
)
from lifecycle.deploy.rollback import rollback_target
from lifecycle.errors import ActionRefused, IgnoredEvent, InvalidDeploymentInput, UntrustedEvent
from lifecycle.events import ModelPackageEvent
from lifecycle.observability import count
from lifecycle.policy import Policy, Stage, load_policy
from lifecycle.reaction import Reaction
from lifecycle.store import deployments
from lifecycle.store.idempotency import SemanticKey

REACTION = "model-package-state"
METRIC_PREFIX = "metric:"
# What Step Functions answers for a task token nobody waits on any more.
_STALE_TOKEN_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


def on_model_package_state(r: Reaction[ModelPackageEvent]) -> dict[str, Any]:
    """Act once per approval-status change of a package, if the event may drive this group's registry."""
    detail = r.event.detail
    updated = detail.UpdatedModelPackageFields
    if updated and "ModelApprovalStatus" not in updated:
        raise IgnoredEvent(f"{detail.ModelPackageArn} changed {updated}, not its approval status")
    policy = load_policy(detail.ModelPackageGroupName, r.settings)
    ref = authorized_package(r, policy)
    steps = {"Approved": _approved, "Rejected": _rejected, "PendingManualApproval": _pending}
    step = steps[detail.ModelApprovalStatus]
    key = SemanticKey.of(REACTION, detail.ModelPackageArn, detail.ModelApprovalStatus, r.event.changed_at)
    return r.once(key, lambda: step(r, policy, ref))


def authorized_package(r: Reaction[ModelPackageEvent], policy: Policy) -> PackageRef:
    """The package the event names, if the event may speak for the group: from the policy's registry account and
    region, its ARN in this partition, account and region, naming the same group and version as the detail."""
    detail, registry = r.event.detail, policy.registry
    if (r.event.account, r.event.region) != (registry.account, registry.region):
        raise UntrustedEvent(
            f"model package events of group {policy.group} count only from its registry {registry.account}/"
            f"{registry.region} (policy), not from {r.event.account}/{r.event.region}"
        )
    try:
        ref = package_ref(detail.ModelPackageArn)
    except InvalidDeploymentInput as exc:
        raise ActionRefused(exc.reason) from exc
    expected = (
        r.settings.partition,
        registry.account,
        registry.region,
        policy.group.lower(),
        detail.ModelPackageVersion,
    )
    found = (ref.partition, ref.account, ref.region, ref.name_in_arn, ref.version)
    if found != expected:
        raise UntrustedEvent(
            f"{detail.ModelPackageArn[:300]} does not name version {detail.ModelPackageVersion} of group "
            f"{policy.group} in {registry.account}/{registry.region} ({r.settings.partition}), as the detail does"
        )
    return ref


def _where(r: Reaction[ModelPackageEvent]) -> dict[str, str]:
    return {"account": r.event.account, "region": r.event.region, "resource": r.event.detail.ModelPackageArn}


def _current(r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef) -> dict[str, Any]:
    """The package as the registry has it now, if the event's status is still its status.

    A package that does not exist or never had that status (the event does not match the registry) is refused with
    nothing written; one that has changed since the event (a stale or redriven event) is recorded as ignored."""
    registry = r.client("sagemaker", ref.account, ref.region)
    with aws_errors(f"sagemaker:DescribeModelPackage {ref.arn}"):
        try:
            package = dict(registry.describe_model_package(ModelPackageName=ref.arn))
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            raise ActionRefused(f"model package {ref.arn} does not exist in the registry") from exc
    if package.get("ModelPackageGroupName") != policy.group:
        raise ActionRefused(f"{ref.arn} belongs to group {package.get('ModelPackageGroupName')!r}, not {policy.group}")
    claimed, now = r.event.detail.ModelApprovalStatus, str(package.get("ModelApprovalStatus"))
    if now == claimed:
        return package
    changed: datetime | None = package.get("LastModifiedTime") or package.get("CreationTime")
    if changed is None or changed <= r.event.changed_at:
        raise ActionRefused(f"the registry says v{ref.version} is {now}, not {claimed}: the event does not match it")
    reason = f"stale event: v{ref.version} was {claimed} at {r.event.changed_at:%Y-%m-%d %H:%M:%S} UTC, is {now} now"
    r.record(
        policy, action=f"{claimed.lower()}-event", outcome="skipped", reason=reason, version=ref.version, **_where(r)
    )
    count("StaleRegistryEventsIgnored")
    raise IgnoredEvent(reason)


def _serving(r: Reaction[ModelPackageEvent], policy: Policy) -> dict[str, list[int]]:
    """The versions of the group each stage serves now: what its endpoint runs, or a batch stage's current model."""
    found: dict[str, list[int]] = {}
    for stage in policy.deployment.stages if policy.deployment else []:
        if stage.endpoint_name is None:  # a batch stage
            current = deployments.current_model(r.settings, policy.group, stage.name)
            found[stage.name] = [current.version] if current else []
            continue
        sagemaker = r.client("sagemaker", stage.account, stage.region)
        endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
        variants = endpoints.serving(sagemaker, endpoint.config) if endpoint else []
        found[stage.name] = endpoints.serving_versions(variants, policy.group)
    return found


def _approved(r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef) -> dict[str, Any]:
    if policy.deployment is None:
        raise IgnoredEvent(f"the policy of group {policy.group} has no deployment stages")
    _current(r, policy, ref)
    newer = {
        stage: max(versions)
        for stage, versions in _serving(r, policy).items()
        if versions and max(versions) > ref.version
    }
    if newer:
        where = ", ".join(f"{stage} serves v{version}" for stage, version in newer.items())
        reason = f"v{ref.version} approved, but {where}: an older version is not deployed automatically"
        r.record(policy, action="start-deployment", outcome="skipped", reason=reason, version=ref.version, **_where(r))
        r.tell(
            policy,
            subject=f"{policy.group} v{ref.version} approved, not deployed",
            lines=[
                reason,
                "To deploy it anyway:",
                f"  lifecycle deploy {policy.group} --version {ref.version} "
                + " ".join(f"--stage {stage.name}" for stage in policy.deployment.stages),
            ],
            kind="deployment-not-started",
        )
        count("OlderApprovalsNotDeployed")
        return {"action": "not-deployed", "newer": newer}
    approved_at = r.event.changed_at
    input_ = ApprovedInput(group=policy.group, version=ref.version, approved_at=approved_at, event_id=r.event.id)
    name = approved_execution_name(policy.group, ref.version, approved_at)
    started = start_deployment(r.settings, input_, name=name)
    reason = "started" if started.started else "already started for this approval (duplicate event)"
    r.record(
        policy,
        action="start-deployment",
        outcome="done" if started.started else "skipped",
        reason=f"v{ref.version} approved: {reason}",
        version=ref.version,
        details={"execution": started.execution_arn},
        **_where(r),
    )
    count("DeploymentsStarted" if started.started else "DeploymentsAlreadyStarted")
    return {"action": "deployment-started", "execution_arn": started.execution_arn, "started": started.started}


def _stop_gates(r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef) -> list[str]:
    """Fail the approval gates waiting on the rejected version: their deployments stop and restore what they changed."""
    stopped: list[str] = []
    sfn = r.client("stepfunctions", r.settings.automation_account_id, r.settings.region)
    for gate in deployments.approvals(r.settings, policy.group):
        if gate.version != ref.version or gate.decision:
            continue
        reason = f"v{ref.version} was rejected in the registry"
        if not deployments.answer_approval(
            r.settings, gate, decision="rejected", by="the model registry", reason=reason
        ):
            continue
        with aws_errors(f"states:SendTaskFailure {gate.execution}"):
            try:
                sfn.send_task_failure(taskToken=gate.token, error=PACKAGE_REJECTED, cause=reason)
            except ClientError as exc:
                if error_code(exc) not in _STALE_TOKEN_CODES:
                    raise
                continue
        stopped.append(f"{gate.execution} ({gate.stage})")
    if stopped:
        r.record(
            policy,
            action="stop-deployments",
            outcome="done",
            reason=f"v{ref.version} rejected: stopped the gates of {', '.join(stopped)}",
            version=ref.version,
            **_where(r),
        )
    return stopped


# --- a rejection: what each stage serving the version gets, decided on plain data, then carried out -----------------
@dataclass(frozen=True)
class RollBack:
    """Start a rollback of the stage to `target`."""

    stage: Stage
    target: int


@dataclass(frozen=True)
class LeaveServing:
    """The stage keeps serving the rejected version: recorded and told, with what a person can do."""

    stage: Stage
    reason: str
    subject: str
    remedy: str


StageDecision = RollBack | LeaveServing


def rejection_plan(
    policy: Policy, version: int, serving: dict[str, list[int]], targets: dict[str, int | None]
) -> list[StageDecision]:
    """What each stage that serves rejected `version` gets, in the policy's stage order (pure).

    `serving`: the versions each stage serves now; `targets`: for an endpoint stage that serves it, the version to go
    back to (`lifecycle.deploy.rollback.rollback_target`: the last one that completed a deployment there and is still
    Approved), None when there is none. A batch stage is never rolled back automatically.
    """
    plan: list[StageDecision] = []
    for stage in policy.deployment.stages if policy.deployment else []:
        if version not in serving.get(stage.name, []):
            continue
        if stage.endpoint_name is None:
            reason = (
                f"batch stage {stage.name}'s current model is rejected v{version}: a batch stage is not rolled "
                "back automatically (its next transform job would run whatever is deployed to it)"
            )
            subject = f"{policy.group}: v{version} rejected, batch stage {stage.name} NOT rolled back"
            remedy = f"Deploy another version to it: lifecycle deploy {policy.group} --version N --stage {stage.name}"
            plan.append(LeaveServing(stage, reason, subject, remedy))
            continue
        target = targets.get(stage.name)
        if target is None:
            reason = (
                f"{stage.endpoint_name} serves rejected v{version} and no other version completed a deployment "
                f"to {stage.name} and is still Approved: left as it is"
            )
            subject = f"{policy.group}: v{version} rejected, {stage.name} NOT rolled back"
            remedy = "Deploy a fixed version, or roll back by hand: lifecycle rollback ... --version N"
            plan.append(LeaveServing(stage, reason, subject, remedy))
            continue
        plan.append(RollBack(stage, target))
    return plan


def _rejected(r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef) -> dict[str, Any]:
    if policy.deployment is None:
        raise IgnoredEvent(f"the policy of group {policy.group} has no deployment stages")
    _current(r, policy, ref)
    stopped = _stop_gates(r, policy, ref)
    registry = r.client("sagemaker", ref.account, ref.region)
    serving = _serving(r, policy)
    targets = {
        stage.name: rollback_target(
            r.settings,
            registry,
            group=policy.group,
            stage=stage.name,
            leaving=ref.version,
            registry_at=(policy.registry.account, policy.registry.region),
        )
        for stage in policy.deployment.stages
        if stage.endpoint_name is not None and ref.version in serving.get(stage.name, [])
    }
    plan = rejection_plan(policy, ref.version, serving, targets)
    rollbacks = [_carry_out(r, policy, ref, decision) for decision in plan]
    if not rollbacks and not stopped:
        r.record(
            policy,
            action="rollback",
            outcome="skipped",
            reason=f"no stage serves rejected v{ref.version}",
            version=ref.version,
            **_where(r),
        )
    count("RollbacksStarted", sum(1 for rollback in rollbacks if rollback["started"]))
    return {"action": "rejected", "rollbacks": rollbacks, "stopped": stopped}


def _carry_out(
    r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef, decision: StageDecision
) -> dict[str, Any]:
    """One stage's part of a rejection: the rollback started, or the stage left as it is; recorded and told."""
    stage = decision.stage
    where = {"account": stage.account, "region": stage.region, "resource": stage.endpoint_name or stage.name}
    if isinstance(decision, LeaveServing):
        r.record(policy, action="rollback", outcome="skipped", reason=decision.reason, version=ref.version, **where)
        r.tell(policy, subject=decision.subject, lines=[decision.reason, decision.remedy], kind="rollback-impossible")
        return {"stage": stage.name, "started": False}
    input_ = RollbackInput(
        group=policy.group,
        stage=stage.name,
        version=decision.target,
        from_version=ref.version,
        reason=f"v{ref.version} was rejected in the registry",
    )
    changed = compact_time(r.event.changed_at)
    name = execution_name("rollback", policy.group[:30], stage.name, f"v{ref.version}", changed)
    started = start_deployment(r.settings, input_, name=name)
    reason = f"{stage.endpoint_name} serves rejected v{ref.version}: rolling back to v{decision.target}"
    r.record(
        policy,
        action="rollback",
        outcome="done" if started.started else "skipped",
        reason=reason if started.started else f"{reason} (already started)",
        version=ref.version,
        details={"execution": started.execution_arn, "target_version": str(decision.target)},
        **where,
    )
    r.tell(
        policy,
        subject=f"{policy.group}: v{ref.version} rejected, {stage.name} back to v{decision.target}",
        lines=[reason, started.execution_arn],
        kind="rollback-started",
    )
    return {"stage": stage.name, "started": started.started, "version": decision.target}


def _pending(r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef) -> dict[str, Any]:
    package = _current(r, policy, ref)
    metadata = package.get("CustomerMetadataProperties") or {}
    metrics = [
        f"  {key.removeprefix(METRIC_PREFIX)} = {value}"
        for key, value in sorted(metadata.items())
        if key.startswith(METRIC_PREFIX)
    ]
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
    approvers = policy.registry.approvers
    lines = [
        f"{policy.group} version {ref.version} waits for approval ({ref.arn}).",
        f"Approvers: {', '.join(approvers) or 'anyone on this topic'}.",
        "Metrics:",
        *(metrics or ["  none reported"]),
        "Lineage:",
        f"  training job: {metadata.get(TRAINING_JOB_KEY, 'unknown')}",
        f"  model data: {containers[0].get('ModelDataUrl', 'unknown')}",
        f"  image: {containers[0].get('Image', 'unknown')}",
        "Approve (deploys through the policy's stages):",
        f"  aws sagemaker update-model-package --model-package-arn {ref.arn} --model-approval-status Approved "
        f"--region {ref.region}",
        "Reject:",
        f"  aws sagemaker update-model-package --model-package-arn {ref.arn} --model-approval-status Rejected "
        f"--region {ref.region}",
    ]
    r.told(
        policy,
        action="request-approval",
        reason=f"v{ref.version} pending manual approval; asked {', '.join(approvers) or 'the topic'}",
        version=ref.version,
        resource=r.event.detail.ModelPackageArn,
        subject=f"{policy.group} v{ref.version}: approval needed",
        lines=lines,
        kind="approval-needed",
    )
    return {"action": "approval-requested", "approvers": list(approvers)}
