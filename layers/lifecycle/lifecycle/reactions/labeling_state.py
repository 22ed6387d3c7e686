"""Ground Truth labeling job state change: Completed → start training on the labels; Failed / Stopped → notify."""

from __future__ import annotations

from typing import Any

from lifecycle.actions.labeling import (
    counters_summary,
    describe_labeling_job,
    labeled_count,
    labeling_job_arn,
    labeling_job_name,
    output_manifest,
    tags_of,
    training_request_for,
)
from lifecycle.actions.training import start_training_job
from lifecycle.errors import ActionRefused, IgnoredEvent
from lifecycle.events import LabelingJobEvent
from lifecycle.observability import count
from lifecycle.policy import Policy, find_policy
from lifecycle.reaction import Reaction
from lifecycle.store.idempotency import SemanticKey

REACTION = "labeling-state"
_REFUSED = "refused"


def on_labeling_state(r: Reaction[LabelingJobEvent]) -> dict[str, Any]:
    """Decide what a labeling job's end means for its model, once per state change.

    The event holds only the status: the job ARN comes from `resources`, everything else from DescribeLabelingJob
    in the event's account. Its tags, then its name, then its label attribute name find the policy.
    """
    event = r.event
    status = event.detail.LabelingJobStatus
    steps = {"Completed": _completed, "Failed": _ended, "Stopped": _ended}
    step = steps.get(status)
    if step is None:
        raise IgnoredEvent(f"labeling job status {status} needs no action")
    arn = labeling_job_arn(event.resources)
    name = labeling_job_name(arn)
    job = describe_labeling_job(r.client("sagemaker", event.account, event.region), name)
    if job["LabelingJobStatus"] != status:
        raise ActionRefused(f"labeling job {name} is {job['LabelingJobStatus']}, not {status} as the event says")
    policy = find_policy(r.settings, tags=tags_of(job), name=name, label_attribute=job.get("LabelAttributeName"))
    key = SemanticKey.of(REACTION, arn, status, job["LastModifiedTime"])
    result = r.once(key, lambda: step(r, policy, job))
    # A refusal a person must act on is recorded and told inside `once` (so a duplicate event does not tell
    # again), and still ends the invocation as a refusal.
    if result["action"] == _REFUSED:
        raise ActionRefused(result["reason"])
    return result


def _where(r: Reaction[LabelingJobEvent], job: dict[str, Any]) -> dict[str, str]:
    return {"account": r.event.account, "region": r.event.region, "resource": job["LabelingJobArn"]}


def _completed(r: Reaction[LabelingJobEvent], policy: Policy, job: dict[str, Any]) -> dict[str, Any]:
    name, arn = job["LabelingJobName"], job["LabelingJobArn"]
    counts = counters_summary(job)
    manifest = output_manifest(job)
    label = job.get("LabelAttributeName")
    template = policy.training
    if template is None:
        reason = f"policy of group {policy.group} has no training template: add one to train on {name} ({counts})"
        return _refuse(r, policy, job, reason, kind="no-training-template")
    if manifest is None or not label:
        missing = "an output manifest" if manifest is None else "a label attribute name"
        return _refuse(r, policy, job, f"labeling job {name} completed without {missing} ({counts})", kind="no-labels")

    labeled, minimum = labeled_count(job), policy.labeling.min_labeled_objects
    if labeled < minimum:
        reason = (
            f"labeling job {name} labeled {labeled} objects, fewer than the policy's minimum of {minimum} ({counts})"
        )
        r.record(policy, action="start-training-job", outcome="skipped", reason=reason, **_where(r, job))
        r.tell(policy, subject=f"{policy.group}: too few labels in {name}", lines=[reason, arn], kind="too-few-labels")
        count("LabelingJobsBelowMinimum")
        return {"action": "too-few-labels", "reason": reason}

    request = training_request_for(
        policy, labeling_arn=arn, manifest=manifest, label_attribute=label, event_id=r.event.id
    )
    training_name = request["TrainingJobName"]
    started = start_training_job(r.client("sagemaker", template.account, template.region), request)
    reason = (
        f"started {training_name} in {template.account} on the {labeled} labels of {name}"
        if started.created
        else f"{training_name} already exists: not started again"
    )
    r.record(
        policy,
        action="start-training-job",
        outcome="done" if started.created else "skipped",
        reason=reason,
        account=template.account,
        region=template.region,
        resource=started.arn,
        details={"labeling_job": arn, "manifest": manifest, "labels": counts},
    )
    if started.created:
        count("TrainingJobsStartedFromLabels")
    return {
        "action": "training-started" if started.created else "training-exists",
        "training_job_arn": started.arn,
        "reason": reason,
    }


def _ended(r: Reaction[LabelingJobEvent], policy: Policy, job: dict[str, Any]) -> dict[str, Any]:
    name, status = job["LabelingJobName"], job["LabelingJobStatus"].lower()
    why = job.get("FailureReason") or "no FailureReason given"
    reason = f"labeling job {name} {status}: {why}; {counters_summary(job)}"
    r.told(
        policy,
        action=f"notify-labeling-{status}",
        reason=reason,
        resource=job["LabelingJobArn"],
        subject=f"{policy.group}: labeling job {name} {status}",
        lines=[reason, job["LabelingJobArn"]],
        kind=f"labeling-{status}",
    )
    count(f"LabelingJobs{status.capitalize()}")
    return {"action": "notified", "reason": reason}


def _refuse(
    r: Reaction[LabelingJobEvent], policy: Policy, job: dict[str, Any], reason: str, *, kind: str
) -> dict[str, Any]:
    r.record(policy, action="start-training-job", outcome="refused", reason=reason, **_where(r, job))
    r.tell(
        policy,
        subject=f"{policy.group}: cannot train on {job['LabelingJobName']}",
        lines=[reason, job["LabelingJobArn"]],
        kind=kind,
    )
    return {"action": _REFUSED, "reason": reason}
