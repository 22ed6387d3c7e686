"""A batch stage's transform job ended: answer the DeployModel execution waiting on it.

The event only says which job changed. The job counts when the product started it for a deployment (the task token
kept with it: `lifecycle.store.deployments.TransformWait`) and the policy of that deployment's group has that batch
stage in the event's account and Region (authority comes from the policy, not the event). The answer is taken from the
job as DescribeTransformJob shows it now: Completed gives the waiting task the job's output, Failed or Stopped its
reason (`TransformJobFailed`); a job still running (a late or reordered event) changes nothing.
"""

from __future__ import annotations

from typing import Any

from lifecycle.deploy import batch
from lifecycle.errors import IgnoredEvent, UntrustedEvent
from lifecycle.events import TransformJobEvent
from lifecycle.observability import count
from lifecycle.policy import load_policy
from lifecycle.reaction import Reaction
from lifecycle.store import deployments
from lifecycle.store.idempotency import SemanticKey

REACTION = "transform-job-state"


def on_transform_job_state(r: Reaction[TransformJobEvent]) -> dict[str, Any]:
    detail, event = r.event.detail, r.event
    if detail.TransformJobStatus not in batch.TERMINAL:
        raise IgnoredEvent(f"{detail.TransformJobName} is {detail.TransformJobStatus}: nothing waits for that")
    wait = deployments.transform_wait(r.settings, event.account, event.region, detail.TransformJobName)
    if wait is None:
        raise IgnoredEvent(f"{detail.TransformJobName} was not started by a deployment of this product")
    policy = load_policy(wait.group, r.settings)
    stages = policy.deployment.stages if policy.deployment else []
    stage = next((found for found in stages if found.name == wait.stage), None)
    if stage is None or stage.batch is None or (stage.account, stage.region) != (event.account, event.region):
        raise UntrustedEvent(
            f"the policy of group {wait.group} has no batch stage {wait.stage} in {event.account}/{event.region}: "
            f"{detail.TransformJobName} does not count for it"
        )
    key = SemanticKey.of(REACTION, detail.TransformJobArn, detail.TransformJobStatus, event.changed_at)
    return r.once(key, lambda: _answer(r, policy_group=policy.group, sensitive=policy.sensitive, wait=wait))


def _answer(
    r: Reaction[TransformJobEvent], *, policy_group: str, sensitive: bool, wait: deployments.TransformWait
) -> dict:
    event = r.event
    described = batch.describe_transform_job(r.client("sagemaker"), wait.job)
    status = str(described["TransformJobStatus"]) if described else "missing"
    where = {"account": event.account, "region": event.region, "resource": event.detail.TransformJobArn}
    if described is None or status not in batch.TERMINAL:
        reason = f"{wait.job} is {status} now, not {event.detail.TransformJobStatus}: the event is stale"
        r.audit(
            group=policy_group,
            action="transform-job-ended",
            outcome="skipped",
            reason=reason,
            version=wait.version,
            details={"stage": wait.stage},
            sensitive=sensitive,
            **where,
        )
        raise IgnoredEvent(reason)
    answered = batch.answer(r.own("stepfunctions"), wait.token, described)
    reason = (
        f"{wait.job} {status}: {wait.execution} (stage {wait.stage}) told"
        if answered
        else f"{wait.job} {status}: {wait.execution} no longer waits on it (answered already, or it ended)"
    )
    r.audit(
        group=policy_group,
        action="transform-job-ended",
        outcome="done" if answered else "skipped",
        reason=reason,
        version=wait.version,
        details={"stage": wait.stage, "execution": wait.execution},
        sensitive=sensitive,
        **where,
    )
    count("TransformJobsAnswered" if answered else "TransformJobsAlreadyAnswered")
    return {"action": "answered" if answered else "already-answered", "status": status, "execution": wait.execution}
