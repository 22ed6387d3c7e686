"""One deployment per endpoint at a time: the endpoint's lease, and whether the stage still needs this one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import aws_errors, error_code
from lifecycle.deploy import endpoints
from lifecycle.deploy.stage import StepContext, newest_approved, require_approved
from lifecycle.errors import (
    EndpointLeaseTimedOut,
)
from lifecycle.observability import count
from lifecycle.policy import Shadow, Stage
from lifecycle.store import deployments


# --- endpoint lease --------------------------------------------------------------------------------------------------
def _lease_keep(stage: Stage) -> timedelta:
    """How long a lease item outlives its last renewal at most (a live holder is what counts; this is clean-up). A
    shadow test holds its endpoint for its minimum time too."""
    shadow = stage.strategy.minimum_seconds() if isinstance(stage.strategy, Shadow) else 0
    return timedelta(seconds=2 * stage.rollout_seconds() + round(stage.approval_timeout_hours * 3600) + 3600 + shadow)


def _holder_running(step: StepContext, lease: deployments.Lease) -> bool:
    """Whether the execution holding a lease still runs (a stopped, timed-out or failed one holds nothing)."""
    if not lease.execution_arn:
        return True
    sfn = step.own("stepfunctions")
    with aws_errors(f"states:DescribeExecution {lease.holder}"):
        try:
            return str(sfn.describe_execution(executionArn=lease.execution_arn)["status"]) == "RUNNING"
        except ClientError as exc:
            if error_code(exc) != "ExecutionDoesNotExist":
                raise
            return False


def _not_needed(step: StepContext, versions: list[int]) -> str | None:
    """Why this execution should leave the stage alone, judged on the stage and the registry as they are now."""
    plan, stage = step.plan, step.stage
    if plan.kind == "approved":
        if versions and max(versions) > plan.version:
            return f"{stage.name} already serves v{max(versions)}, newer than v{plan.version}"
        newest = newest_approved(step)
        if newest is not None and newest > plan.version:
            return f"v{newest} has been approved since: its deployment supersedes v{plan.version}"
    if plan.kind == "rollback" and plan.from_version is not None and plan.from_version not in versions:
        return f"{stage.name} no longer serves v{plan.from_version}: nothing to roll back"
    if stage.strategy.type == "shadow" and plan.kind in ("approved", "deploy") and versions == [plan.version]:
        return f"{stage.name} already serves v{plan.version} alone: there is nothing to test in shadow against it"
    return None


def acquire_endpoint_lease(step: StepContext) -> dict[str, Any]:
    """Take the stage's endpoint lease (one deployment acts on an endpoint at a time), then decide on the endpoint
    as it is now: leave it (a newer version serves, or there is nothing to roll back), gate first (an `at_canary`
    gate on an endpoint that does not exist yet), or go on (`phase`: the canary share first, or one config)."""
    plan, stage, state = step.plan, step.stage, step.state
    require_approved(step)
    now = datetime.now(UTC)
    deadline = state.lease_deadline or (now + _lease_keep(stage)).isoformat()
    mine = deployments.Lease(
        holder=plan.execution,
        execution_arn=plan.execution_arn,
        group=plan.group,
        version=plan.version,
        kind=plan.kind,
        stage=stage.name,
    )
    holder = deployments.acquire_lease(step.settings, step.endpoint, mine, keep=_lease_keep(stage))
    if holder is not None and not _holder_running(step, holder):
        step.record("endpoint-lease", "done", f"taking over from {holder.describe()}, which no longer runs")
        holder = deployments.acquire_lease(
            step.settings, step.endpoint, mine, keep=_lease_keep(stage), replacing=holder.holder
        )
    if holder is not None:
        if now > datetime.fromisoformat(deadline):
            raise EndpointLeaseTimedOut(f"{stage.endpoint_name} has been held by {holder.describe()} for too long")
        if state.lease != "wait":
            step.record("endpoint-lease", "skipped", f"waiting: {holder.describe()} acts on {stage.endpoint_name}")
        return step.next(lease="wait", lease_deadline=deadline)
    if stage.endpoint_name is None:  # a batch stage: what it runs is its current model
        current = deployments.current_model(step.settings, plan.group, stage.name)
        why = _not_needed(step, [current.version] if current else [])
        if why is None:
            step.record("endpoint-lease", "done", f"batch stage {stage.name} is this deployment's until it ends")
            return step.next(lease="held", phase="single")
        return _leave(step, why)
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    variants = endpoints.serving(sagemaker, endpoint.config) if endpoint else []
    why = _not_needed(step, endpoints.serving_versions(variants, plan.group))
    if why is not None:
        return _leave(step, why)
    shadow = endpoints.shadow_variant(variants)
    if plan.kind in ("promote", "end-shadow") and shadow is not None and shadow.version == plan.version:
        decision = "promote" if plan.kind == "promote" else "end"
        verdict = {"decision": decision, "by": f"a manual {plan.kind}", "reason": plan.reason}
        step.record("endpoint-lease", "done", f"{stage.endpoint_name}: its shadow of v{plan.version} is ended first")
        return step.next(lease="shadow", phase="single", verdict=verdict)
    gate_at_canary = stage.approval_required and stage.approval == "at_canary" and state.approval is None
    if gate_at_canary and endpoint is None:
        deployments.release_lease(step.settings, step.endpoint, plan.execution)
        step.record("endpoint-lease", "skipped", f"{stage.endpoint_name} does not exist yet: no canary share to gate")
        return step.next(lease="approve_first")
    step.record("endpoint-lease", "done", f"{stage.endpoint_name} is this deployment's until the stage ends")
    if gate_at_canary:
        return step.next(lease="held", phase="canary")
    # A shadow needs a production variant to copy: the first deployment of a shadow stage serves at once.
    serving_main = endpoints.main_variant(variants) is not None
    return step.next(lease="held", phase="shadow" if isinstance(stage.strategy, Shadow) and serving_main else "single")


def _leave(step: StepContext, why: str) -> dict[str, Any]:
    """The stage is left as it is: the lease given back, recorded and told."""
    plan, stage = step.plan, step.stage
    deployments.release_lease(step.settings, step.endpoint, plan.execution)
    step.record("deploy-stage", "skipped", why, resource=stage.endpoint_name or "")
    step.tell(f"{stage.name} left as it is", [why, plan.reason], kind="deployment-not-needed")
    count("DeploymentsNotNeeded")
    return step.next(lease="not_needed")
