"""When a stage does not finish: the compare-and-set restore of the endpoint (a batch stage: its transform job
stopped), of its autoscaling registrations, and the record of how it ended."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.deploy import batch, endpoints, scaling
from lifecycle.deploy.gate import gate_rejected
from lifecycle.deploy.inputs import (
    APPROVAL_REJECTED,
    PACKAGE_REJECTED,
    SHADOW_NOT_PROMOTED,
)
from lifecycle.deploy.stage import StepContext, corrective, serves_now
from lifecycle.errors import (
    EndpointRolledBack,
    EndpointWaitTimedOut,
)
from lifecycle.observability import count
from lifecycle.policy import AllAtOnce
from lifecycle.store import deployments
from lifecycle.store.audit import Outcome

ENDPOINT_ROLLED_BACK = EndpointRolledBack.__name__  # the error name DeployModel's Catch passes on


# --- failure ---------------------------------------------------------------------------------------------------------
def restore_previous_endpoint_config(step: StepContext, error: dict[str, Any]) -> dict[str, Any]:
    """Put the endpoint back on the config it had before this execution changed it: compare-and-set (only while it
    still carries what this execution put there), waiting while an update of ours is still in progress."""
    plan, stage, state = step.plan, step.stage, step.state
    why = str(error.get("Error", "failure"))
    if state.batch:
        step.record("restore-batch-stage", "done", f"{why}: {batch.stop_transform_job(step)}", resource=stage.name)
        return {"phase": "skipped"}
    previous = deployments.restore_point(step.settings, plan.execution, stage.name) or state.previous_config
    if previous is None:
        reason = (
            "the endpoint was created by this deployment: nothing to go back to, left for investigation"
            if state.changed
            else "the endpoint was not changed"
        )
        step.record("restore-endpoint", "skipped", f"{why}: {reason}", resource=stage.endpoint_name)
        return {"phase": "skipped"}
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    ours = set(state.configs) | {state.config_name}
    now = datetime.now(UTC)
    deadline = now + timedelta(seconds=stage.rollout_seconds() + stage.wait_timeout_minutes * 60)
    reason = ""
    if endpoint is None:
        reason = "the endpoint no longer exists"
    elif endpoint.busy and (endpoint.config in ours or endpoint.pending_config in ours):
        # SageMaker cannot stop an update: the restore starts once this execution's own update has ended.
        if state.deadline and now > datetime.fromisoformat(state.deadline) + timedelta(seconds=stage.rollout_seconds()):
            raise EndpointWaitTimedOut(f"{stage.endpoint_name} still {endpoint.status} with this deployment's update")
        return {"phase": "waiting"}
    elif endpoint.busy:
        reason = f"it is {endpoint.status} by another change: left to it"
    elif endpoint.config == previous:
        reason = f"it is on {previous} (SageMaker's auto-rollback put it back, or it never left)"
    elif endpoint.config not in ours:
        reason = f"it now carries {endpoint.config}, which this deployment did not put there: left as it is"
    if reason or endpoint is None:
        step.record("restore-endpoint", "skipped", f"{why}: {reason}", resource=stage.endpoint_name)
        return {"phase": "skipped"}
    old = endpoints.describe_endpoint_config(sagemaker, endpoint.config) or {}
    new = endpoints.describe_endpoint_config(sagemaker, previous) or {}
    plain = corrective(stage).model_copy(update={"strategy": AllAtOnce()})
    deployment = (
        endpoints.deployment_config(plain, alarms=[], routing_of_strategy=False)
        if endpoints.variant_names(old) == endpoints.variant_names(new)
        else None
    )
    scaled = scaling.update_endpoint(step, sagemaker, old=old, new=new, deployment=deployment)
    guard = "blue/green ALL_AT_ONCE" if deployment else "unguarded: the variant set changes"
    guard += f"; autoscaling: {scaled}" if scaled else ""
    step.record("restore-endpoint", "done", f"{why}: back to {previous} ({guard})", resource=stage.endpoint_name)
    return {"phase": "started", "previous": previous, "deadline": deadline.isoformat()}


def check_restore(step: StepContext, restore: dict[str, Any]) -> dict[str, Any]:
    """Where the restore stands: settled once the endpoint is InService (or Failed) again; `EndpointWaitTimedOut`
    past the stage's rollout time, so a stuck restore ends the execution instead of looping."""
    stage = step.stage
    endpoint = endpoints.describe_endpoint(step.client("sagemaker"), stage.endpoint_name)
    status = endpoint.status if endpoint else "Missing"
    if endpoint is not None and endpoint.busy:
        if datetime.now(UTC) > datetime.fromisoformat(str(restore["deadline"])):
            raise EndpointWaitTimedOut(f"restore of {stage.endpoint_name} still {status} past its rollout time")
        return {**restore, "status": status}
    config = endpoint.config if endpoint else ""
    outcome: Outcome = "done" if status == "InService" and config == restore["previous"] else "failed"
    step.record(
        "restore-settled", outcome, f"{stage.endpoint_name} {status} on {config or '-'}", resource=stage.endpoint_name
    )
    return {**restore, "status": status, "phase": "settled"}


def restore_autoscaling(step: StepContext) -> dict[str, Any]:
    """Put the stage's autoscaling back as this execution found it (its scaling restore point), once the endpoint is
    back: what a failed stage deregistered is registered again, what it registered or changed goes."""
    plan, stage = step.plan, step.stage
    snapshot = deployments.scaling_restore_point(step.settings, plan.execution, stage.name)
    if snapshot is None or stage.endpoint_name is None:
        step.record("restore-autoscaling", "skipped", "this deployment changed no autoscaling", resource=stage.name)
        return {"phase": "skipped"}
    autoscaling = step.client("application-autoscaling")
    done = []
    for variant, registration in scaling.from_snapshot(snapshot).items():
        changed = scaling.apply(autoscaling, stage.endpoint_name, variant, registration, group=plan.group)
        done.append(f"{variant}: {changed or 'as it was'}")
    step.record("restore-autoscaling", "done", "; ".join(done), resource=stage.endpoint_name)
    return {"phase": "restored"}


def in_words(cause: str) -> str:
    """What a Step Functions error cause says, for people: a Lambda task's cause is its error as JSON (message, type,
    stack trace); only the message is for a notification."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return str(parsed.get("errorMessage", cause)) if isinstance(parsed, dict) else cause


def rolled_back_words(step: StepContext) -> str:
    """SageMaker's own auto-rollback of the stage's update, in words: which alarm (those in ALARM now, else the
    stage's), what it undid."""
    stage = step.stage
    firing = endpoints.firing_alarms(step.client("cloudwatch"), stage.rollback_alarms)
    alarms = ", ".join(firing or stage.rollback_alarms) or "an alarm of its auto-rollback configuration"
    return (
        f"SageMaker rolled the update to v{step.plan.version} back on {stage.endpoint_name}: {alarms} went to ALARM "
        "during the rollout, so the endpoint is back on the config it served before"
    )


def finish_failed_stage(step: StepContext, error: dict[str, Any]) -> dict[str, Any]:
    """Record why the stage did not finish, give the endpoint's lease back, and tell people in plain words."""
    plan, stage = step.plan, step.stage
    name, cause = str(error.get("Error", "Error")), in_words(str(error.get("Cause", "")))
    deployments.release_lease(step.settings, step.endpoint, plan.execution)
    if name == APPROVAL_REJECTED:
        return gate_rejected(step, cause)
    serves = serves_now(step)
    if name == SHADOW_NOT_PROMOTED:
        verdict = step.state.verdict or {}
        text = (
            f"{stage.name}: the shadow of v{plan.version} ended, not promoted ({verdict.get('by', 'unknown')}: "
            f"{cause or 'no reason given'}); {serves}"
        )
        step.record("shadow-ended", "done", text, resource=stage.endpoint_name or "")
        step.tell(f"{stage.name}: v{plan.version} not promoted", [text], kind="shadow-ended")
        count("ShadowsNotPromoted")
        return {"outcome": "not-promoted"}
    if name == PACKAGE_REJECTED:
        text = (
            f"{stage.name}: deployment of v{plan.version} stopped: it is no longer Approved in the registry; {serves}"
        )
        step.record("deployment-stopped", "done", text, resource=stage.endpoint_name or stage.name)
        step.tell(f"{stage.name}: deployment stopped (package rejected)", [text], kind="deployment-stopped")
        return {"outcome": "stopped"}
    subject = f"deployment FAILED at {stage.name}"
    if name == batch.TRANSFORM_FAILED:
        cause = batch.failure_of(step)
    elif name == "States.Timeout" and step.state.batch:
        cause = f"its transform job did not end within {stage.wait_timeout_minutes} min"
    elif name == "States.Timeout":
        cause = f"no answer at the approval gate within {stage.approval_timeout_hours:g} h"
    if name == ENDPOINT_ROLLED_BACK:
        cause = rolled_back_words(step)
        subject += ": SageMaker rolled it back"
    text = f"{name} at stage {stage.name}: {cause or 'no detail'}; later stages not attempted; {serves}"
    step.record("deployment-failed", "failed", text, resource=stage.endpoint_name or stage.name)
    step.tell(subject, [text, plan.package_arn], kind="deployment-failed")
    count("DeploymentsFailed")
    return {"outcome": "failed"}
