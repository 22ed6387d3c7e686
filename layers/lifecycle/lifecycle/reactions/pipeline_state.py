"""Pipeline execution status change of a group's pipeline (the policy's `training.pipeline_name`, else a pipeline whose
name starts with one of the policy's `name_prefixes`):
- Failed / Stopped → recorded and notified, with the steps that failed and their reasons (ListPipelineExecutionSteps);
- Succeeded → the package its RegisterModel step registered is recorded, so a retrain the product started through the
  pipeline (the Model Monitor reaction's record names the execution) is linked in the audit to what it produced.

Authority comes from the policy: a pipeline's events count only from the policy's training account and region.
"""

from __future__ import annotations

from typing import Any

from lifecycle.actions.pipelines import FAILED_STEP_STATES, describe_execution, describe_pipeline, execution_steps
from lifecycle.errors import IgnoredEvent
from lifecycle.events import PipelineExecutionEvent
from lifecycle.observability import count
from lifecycle.policy import Policy, check_training_source, find_policy, load_policy, policy_documents
from lifecycle.reaction import Reaction
from lifecycle.reactions.monitor_violation import retrain_prefix
from lifecycle.store.idempotency import SemanticKey

REACTION = "pipeline-state"


def match_pipeline(documents: dict[str, Any], *, pipeline: str) -> str | None:
    """The group whose policy trains (and retrains) through `pipeline`, first in name order. Pure: `documents` maps
    group name to the raw policy document; the chosen policy is validated by `load_policy`."""
    for group, document in sorted(documents.items()):
        training = document.get("training") if isinstance(document, dict) else None
        if isinstance(training, dict) and training.get("pipeline_name") == pipeline:
            return group
    return None


def on_pipeline_state(r: Reaction[PipelineExecutionEvent]) -> dict[str, Any]:
    """Decide what a pipeline execution's end means for its group, once per state change."""
    detail = r.event.detail
    status = detail.currentPipelineExecutionStatus
    if status not in ("Failed", "Stopped", "Succeeded"):
        raise IgnoredEvent(f"pipeline execution {detail.pipelineExecutionArn} is {status}: nothing to do")
    sagemaker = r.client("sagemaker")
    pipeline = str(describe_pipeline(sagemaker, detail.pipelineArn)["PipelineName"])
    group = match_pipeline(policy_documents(r.settings), pipeline=pipeline)
    policy = load_policy(group, r.settings) if group else find_policy(r.settings, tags={}, name=pipeline)
    check_training_source(policy, account=r.event.account, region=r.event.region)
    key = SemanticKey.of(REACTION, detail.pipelineExecutionArn, status, r.event.changed_at)
    step = _registered if status == "Succeeded" else _ended
    return r.once(key, lambda: step(r, policy, pipeline))


def _started_by_product(policy: Policy, display_name: str) -> bool:
    """Whether the execution is a retrain the product started (its display name is a retrain name of a stage)."""
    stages = policy.deployment.stages if policy.deployment else []
    return any(display_name.startswith(retrain_prefix(policy.group, stage.name)) for stage in stages)


def _ended(r: Reaction[PipelineExecutionEvent], policy: Policy, pipeline: str) -> dict[str, Any]:
    detail = r.event.detail
    sagemaker = r.client("sagemaker")
    execution = describe_execution(sagemaker, detail.pipelineExecutionArn)
    status = str(execution.get("PipelineExecutionStatus", detail.currentPipelineExecutionStatus))
    if status not in ("Failed", "Stopped"):
        raise IgnoredEvent(f"pipeline execution {detail.pipelineExecutionArn} is {status} now, not failed or stopped")
    steps = execution_steps(sagemaker, detail.pipelineExecutionArn)
    failed = [step for step in steps if step.status in FAILED_STEP_STATES]
    display = str(execution.get("PipelineExecutionDisplayName") or detail.pipelineExecutionDisplayName or "")
    whose = " (a retrain started by sagemaker-lifecycle)" if _started_by_product(policy, display) else ""
    reason = f"pipeline {pipeline} execution {display or detail.pipelineExecutionArn}{whose} {status.lower()}"
    if execution.get("FailureReason"):
        reason += f": {execution['FailureReason']}"
    lines = [reason, *([step.line() for step in failed[:20]] or ["no step reports a failure"])]
    r.told(
        policy,
        action=f"notify-pipeline-{status.lower()}",
        reason="; ".join(lines)[:4000],
        resource=detail.pipelineExecutionArn,
        details={step.name[:128]: step.failure_reason[:1000] for step in failed[:20]},
        subject=f"{policy.group}: pipeline {pipeline} {status.lower()}",
        lines=[*lines, detail.pipelineExecutionArn],
        kind=f"pipeline-{status.lower()}",
    )
    count("PipelineExecutionsFailed")
    return {"action": "notified", "status": status, "failed_steps": [step.name for step in failed]}


def _registered(r: Reaction[PipelineExecutionEvent], policy: Policy, pipeline: str) -> dict[str, Any]:
    detail = r.event.detail
    packages = [step.registered for step in execution_steps(r.client("sagemaker"), detail.pipelineExecutionArn)]
    packages = [arn for arn in packages if arn]
    if not packages:
        raise IgnoredEvent(f"pipeline {pipeline} execution {detail.pipelineExecutionArn} registered no model package")
    display = detail.pipelineExecutionDisplayName or ""
    whose = "the retrain started by sagemaker-lifecycle " if _started_by_product(policy, display) else ""
    execution = display or detail.pipelineExecutionArn
    for package in packages:
        r.record(
            policy,
            action="pipeline-registered",
            outcome="done",
            reason=f"{whose}pipeline {pipeline} execution {execution} registered {package}",
            account=r.event.account,
            region=r.event.region,
            resource=package,
            version=int(package.rsplit("/", 1)[1]) if package.rsplit("/", 1)[1].isdigit() else None,
            details={"pipeline_execution": detail.pipelineExecutionArn},
        )
    return {"action": "linked", "model_packages": packages}
