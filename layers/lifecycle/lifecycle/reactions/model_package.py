"""Model package state change: Approved → DeployModel; Rejected → roll back what serves it; Pending → ask approvers."""

from __future__ import annotations

from typing import Any

from lifecycle.actions import deploy
from lifecycle.actions.registry import TRAINING_JOB_KEY
from lifecycle.aws import aws_errors
from lifecycle.deployment import (
    ApprovedInput,
    PackageRef,
    RollbackInput,
    approved_execution_name,
    compact_time,
    execution_name,
    package_ref,
    start_deployment,
)
from lifecycle.errors import ActionRefused, IgnoredEvent, InvalidDeploymentInput
from lifecycle.events import ModelPackageEvent
from lifecycle.idempotency import SemanticKey
from lifecycle.observability import count
from lifecycle.policy import Policy, load_policy
from lifecycle.reaction import Reaction

REACTION = "model-package-state"
METRIC_PREFIX = "metric:"


def on_model_package_state(r: Reaction[ModelPackageEvent]) -> dict[str, Any]:
    """Act once per approval-status change of a package."""
    detail = r.event.detail
    updated = detail.UpdatedModelPackageFields
    if updated and "ModelApprovalStatus" not in updated:
        raise IgnoredEvent(f"{detail.ModelPackageArn} changed {updated}, not its approval status")
    try:
        ref = package_ref(detail.ModelPackageArn)
    except InvalidDeploymentInput as exc:
        raise ActionRefused(exc.reason) from exc
    policy = load_policy(detail.ModelPackageGroupName, r.settings)
    steps = {"Approved": _approved, "Rejected": _rejected, "PendingManualApproval": _pending}
    step = steps[detail.ModelApprovalStatus]
    key = SemanticKey.of(REACTION, detail.ModelPackageArn, detail.ModelApprovalStatus, r.event.changed_at)
    return r.once(key, lambda: step(r, policy, ref))


def _where(r: Reaction[ModelPackageEvent]) -> dict[str, str]:
    return {"account": r.event.account, "region": r.event.region, "resource": r.event.detail.ModelPackageArn}


def _approved(r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef) -> dict[str, Any]:
    if policy.deployment is None:
        raise IgnoredEvent(f"the policy of group {policy.group} has no deployment stages")
    approved_at = r.event.changed_at
    input_ = ApprovedInput(model_package_arn=ref.arn, approved_at=approved_at, event_id=r.event.id)
    name = approved_execution_name(ref, approved_at)
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


def latest_other_approved(sagemaker: Any, group: str, rejected_arn: str) -> str | None:
    """The newest Approved package of `group` other than `rejected_arn` (newest first: SortOrder Descending)."""
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 100,
    }
    with aws_errors(f"sagemaker:ListModelPackages {group}"):
        while True:
            page = sagemaker.list_model_packages(**request)
            for summary in page["ModelPackageSummaryList"]:
                if summary["ModelPackageArn"] != rejected_arn:
                    return str(summary["ModelPackageArn"])
            if not page.get("NextToken"):
                return None
            request["NextToken"] = page["NextToken"]


def _rejected(r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef) -> dict[str, Any]:
    if policy.deployment is None:
        raise IgnoredEvent(f"the policy of group {policy.group} has no deployment stages")
    registry = r.client("sagemaker", ref.account, ref.region)
    target = latest_other_approved(registry, policy.group, ref.arn)
    rollbacks: list[dict[str, Any]] = []
    for stage in policy.deployment.stages:
        sagemaker = r.client("sagemaker", stage.account, stage.region)
        endpoint = deploy.describe_endpoint(sagemaker, stage.endpoint_name)
        if endpoint is None or ref.arn not in {v.package_arn for v in deploy.serving(sagemaker, endpoint)}:
            continue
        where = {"account": stage.account, "region": stage.region, "resource": stage.endpoint_name}
        if target is None:
            reason = (
                f"{stage.endpoint_name} serves rejected v{ref.version} and no other version is approved: left as is"
            )
            r.record(policy, action="rollback", outcome="skipped", reason=reason, version=ref.version, **where)
            r.tell(
                policy,
                subject=f"{policy.group}: v{ref.version} rejected, {stage.name} NOT rolled back",
                lines=[reason, "Approve an earlier version to roll back to it, or deploy a fixed one."],
                kind="rollback-impossible",
            )
            rollbacks.append({"stage": stage.name, "started": False})
            continue
        version = package_ref(target).version
        input_ = RollbackInput(
            group=policy.group, stage=stage.name, version=version, reason=f"v{ref.version} was rejected"
        )
        name = execution_name(
            "rollback", policy.group[:30], stage.name, f"v{ref.version}", compact_time(r.event.changed_at)
        )
        started = start_deployment(r.settings, input_, name=name)
        reason = f"{stage.endpoint_name} serves rejected v{ref.version}: rolling back to v{version}"
        r.record(
            policy,
            action="rollback",
            outcome="done" if started.started else "skipped",
            reason=reason if started.started else f"{reason} (already started)",
            version=ref.version,
            details={"execution": started.execution_arn, "target_version": str(version)},
            **where,
        )
        r.tell(
            policy,
            subject=f"{policy.group}: v{ref.version} rejected, {stage.name} back to v{version}",
            lines=[reason, started.execution_arn],
            kind="rollback-started",
        )
        rollbacks.append({"stage": stage.name, "started": started.started, "version": version})
    if not rollbacks:
        r.record(
            policy,
            action="rollback",
            outcome="skipped",
            reason=f"no stage serves rejected v{ref.version}",
            version=ref.version,
            **_where(r),
        )
    count("RollbacksStarted", sum(1 for rollback in rollbacks if rollback["started"]))
    return {"action": "rejected", "rollbacks": rollbacks}


def _pending(r: Reaction[ModelPackageEvent], policy: Policy, ref: PackageRef) -> dict[str, Any]:
    registry = r.client("sagemaker", ref.account, ref.region)
    with aws_errors(f"sagemaker:DescribeModelPackage {ref.arn}", missing=f"model package {ref.arn} does not exist"):
        package = registry.describe_model_package(ModelPackageName=ref.arn)
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
    r.record(
        policy,
        action="request-approval",
        outcome="notified",
        reason=f"v{ref.version} pending manual approval; asked {', '.join(approvers) or 'the topic'}",
        version=ref.version,
        **_where(r),
    )
    r.tell(policy, subject=f"{policy.group} v{ref.version}: approval needed", lines=lines, kind="approval-needed")
    return {"action": "approval-requested", "approvers": list(approvers)}
