"""Approval gates: what a person is asked (the evidence and the commands), and a rejection remembered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lifecycle.aws import aws_errors
from lifecycle.deploy import endpoints
from lifecycle.deploy.inputs import (
    APPROVAL_REJECTED,
)
from lifecycle.deploy.stage import StepContext, serves_now
from lifecycle.monitoring.schedule import monitor_status
from lifecycle.observability import count
from lifecycle.store import deployments

METRIC_PREFIX = "metric:"

APPROVED_BY_YOU = '{"approved_by": "<you>"}'


# --- approval gates --------------------------------------------------------------------------------------------------
def _metrics(step: StepContext) -> list[str]:
    """The metrics the package was registered with (`metric:<name>` metadata)."""
    with aws_errors(f"sagemaker:DescribeModelPackage {step.plan.package_arn}"):
        package = step.registry().describe_model_package(ModelPackageName=step.plan.package_arn)
    metadata = package.get("CustomerMetadataProperties") or {}
    return [
        f"{key.removeprefix(METRIC_PREFIX)} = {value}"
        for key, value in sorted(metadata.items())
        if key.startswith(METRIC_PREFIX)
    ]


def _evidence(step: StepContext) -> list[str]:
    """What a person sees before deciding: where the version is, how it did so far, the package's metrics."""
    plan, stage, state = step.plan, step.stage, step.state
    lines: list[str] = []
    if state.phase == "canary":
        share = getattr(stage.strategy, "percent", 0)
        alarms = endpoints.firing_alarms(step.client("cloudwatch"), stage.rollback_alarms)
        lines += [
            f"{stage.name}: v{plan.version} serves {share}% of {stage.endpoint_name} ({state.config_name}); "
            f"the rest stays on the version it served.",
            f"Canary smoke test: {state.smoke_test or 'not run'}.",
            f"Rollback alarms: {', '.join(alarms) + ' in ALARM' if alarms else 'none in ALARM'} "
            f"({', '.join(stage.rollback_alarms) or 'none configured'}).",
            "Approve completes the shift to 100%; reject returns all traffic to the serving version.",
        ]
    else:
        lines.append(f"{stage.name}: nothing changes on {stage.endpoint_name} until you approve.")
        previous = state.previous_stage
        if previous and state.index > 0:
            before = plan.stages[state.index - 1]
            monitor = "not monitored"
            if before.monitoring:
                monitor = monitor_status(step.client_in("sagemaker", before.account, before.region), before)
            lines.append(
                f"Previous stage {previous.get('name')}: serving since {previous.get('finished_at')}, "
                f"smoke test {previous.get('smoke_test') or 'not run'}, monitor: {monitor}."
            )
    metrics = _metrics(step)
    lines += ["Metrics:", *(f"  {line}" for line in metrics or ["none reported"])]
    return lines


def request_approval(step: StepContext, token: str) -> dict[str, Any]:
    """Keep the task token for `lifecycle approve|reject`, and tell the approvers what they decide and how."""
    plan, stage = step.plan, step.stage
    step.keep_wait(token)
    hours = stage.approval_timeout_hours
    where = "at the canary share" if step.state.phase == "canary" else "before traffic"
    step.record(
        "approval-requested", "notified", f"{where}: waiting up to {hours:g} h for {plan.approvers or 'the topic'}"
    )
    step.tell(
        f"approve {stage.name}?",
        [
            *_evidence(step),
            f"Package: {plan.package_arn}",
            f"Approvers: {', '.join(plan.approvers) or 'anyone on this topic'}. Not approved after {hours:g} h: "
            "the deployment stops.",
            "Approve:",
            f"  lifecycle approve {plan.execution}",
            "Reject:",
            f"  lifecycle reject {plan.execution} --reason '<why>'",
            "Without the CLI:",
            f"  aws stepfunctions send-task-success --task-token '{token}' --task-output '{APPROVED_BY_YOU}'",
            f"  aws stepfunctions send-task-failure --task-token '{token}' --error {APPROVAL_REJECTED} --cause '<why>'",
        ],
        kind="approval-requested",
    )
    return {}


def _gate_answer(step: StepContext) -> deployments.Approval | None:
    found = deployments.approvals(step.settings, step.plan.group, execution=step.plan.execution)
    return next((approval for approval in found if approval.stage == step.stage.name and approval.decision), None)


def gate_rejected(step: StepContext, cause: str) -> dict[str, Any]:
    plan, stage = step.plan, step.stage
    answer = _gate_answer(step)
    by = answer.answered_by if answer else "unknown (not through `lifecycle reject`)"
    reason = (answer.reason if answer else "") or (cause if cause not in ("", "null") else "no reason given")
    now = datetime.now(UTC).isoformat()
    deployments.record_stage_event(
        step.settings,
        plan.group,
        stage.name,
        deployments.StageEvent(
            kind="gate-rejected", version=plan.version, at=now, execution=plan.execution, detail=reason
        ),
    )
    serves = serves_now(step)
    text = f"{stage.name}: v{plan.version} rejected at the approval gate by {by}: {reason}; {serves}"
    step.record("gate-rejected", "done", text, resource=stage.endpoint_name, details={"by": by})
    lines = [text, "No automatic rollback will choose this version for this stage."]
    if stage.on_gate_reject == "reject_package":
        with aws_errors(f"sagemaker:UpdateModelPackage {plan.package_arn}"):
            step.registry().update_model_package(
                ModelPackageArn=plan.package_arn,
                ModelApprovalStatus="Rejected",
                ApprovalDescription=f"rejected at the {stage.name} gate by {by}: {reason}"[:1024],
            )
        step.record("reject-package", "done", f"v{plan.version} marked Rejected in the registry (on_gate_reject)")
        lines.append(f"v{plan.version} is now Rejected in the registry (policy: on_gate_reject: reject_package).")
    step.tell(f"{stage.name}: v{plan.version} rejected at the gate", lines, kind="approval-rejected")
    count("GateRejections")
    return {"outcome": "rejected"}
