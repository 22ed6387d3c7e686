"""Training job state change: Completed → metric gate → register; Failed / Stopped → notify.

A trial of a hyperparameter tuning job is registered on its own only with `training.tuning: each`; with `best` (the
default) the tuning job's reaction (`tuning_state`) registers its best training job once the tuning job completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifecycle.actions.registry import (
    TUNING_JOB_KEY,
    create_model_package,
    ensure_group,
    find_package_for_job,
    package_request,
)
from lifecycle.actions.training import describe_training_job, evaluate_gate, final_metrics, stopped_by
from lifecycle.errors import ActionRefused, DuplicateInProgress, IgnoredEvent
from lifecycle.events import TrainingJobEvent
from lifecycle.observability import count
from lifecycle.policy import Policy, check_training_source, find_policy
from lifecycle.reaction import Reaction
from lifecycle.store import registration
from lifecycle.store.idempotency import SemanticKey

REACTION = "training-state"


def on_training_state(r: Reaction[TrainingJobEvent]) -> dict[str, Any]:
    """Decide what a training job's new state means for its model, once per state change."""
    detail = r.event.detail
    steps = {"Completed": _completed, "Failed": _failed, "Stopped": _stopped}
    step = steps.get(detail.TrainingJobStatus)
    if step is None:
        raise IgnoredEvent(f"training job status {detail.TrainingJobStatus} needs no action")
    policy = find_policy(r.settings, tags=detail.Tags, name=detail.TrainingJobName)
    check_training_source(policy, account=r.event.account, region=r.event.region)
    key = SemanticKey.of(REACTION, detail.TrainingJobArn, detail.TrainingJobStatus, detail.LastModifiedTime)
    return r.once(key, lambda: step(r, policy))


def _completed(r: Reaction[TrainingJobEvent], policy: Policy) -> dict[str, Any]:
    event = r.event
    name = event.detail.TrainingJobName
    job = describe_training_job(r.client("sagemaker", event.account, event.region), name)
    if job["TrainingJobStatus"] != "Completed":
        raise ActionRefused(f"training job {name} is {job['TrainingJobStatus']}, not Completed")
    tuning_job = job.get("TuningJobArn")
    if tuning_job and policy.training is not None and policy.training.tuning == "best":
        raise IgnoredEvent(
            f"{name} is a trial of tuning job {tuning_job}: with training.tuning: best, the tuning job's best training "
            "job is registered when the tuning job completes"
        )
    return register_job(r, policy, job, holder=event.detail.LastModifiedTime.isoformat())


@dataclass(frozen=True)
class TuningLineage:
    """The tuning job a registered training job was the best of: it goes into the package's lineage."""

    arn: str
    name: str
    objective: str  # `validation:auc 0.93 (Maximize) best of 50 trials`


def register_job(
    r: Reaction[Any], policy: Policy, job: dict[str, Any], *, holder: str, tuning: TuningLineage | None = None
) -> dict[str, Any]:
    """A completed training job (a DescribeTrainingJob answer) through the metric gate into the registry, at most once
    per job: `holder` is the state change that claims its registration (see `lifecycle.store.registration`)."""
    event, name = r.event, job["TrainingJobName"]
    if not job.get("ModelArtifacts", {}).get("S3ModelArtifacts"):
        raise ActionRefused(f"training job {name} completed without model artifacts")
    metrics = final_metrics(job)
    gate = evaluate_gate(policy.gate, metrics)
    of_tuning = f" (best of tuning job {tuning.name}: {tuning.objective})" if tuning else ""
    where = {"account": event.account, "region": event.region, "resource": job["TrainingJobArn"]}
    if not gate.passed:
        summary = f"{gate.summary}{of_tuning}"
        r.record(policy, action="register-model-package", outcome="skipped", reason=summary, **where)
        r.tell(
            policy,
            subject=f"{policy.group}: {name} not registered",
            lines=[summary, *where.values()],
            kind="gate-failed",
        )
        count("MetricGateFailed")
        return {"action": "gate-failed", "reason": summary}

    registry = policy.registry
    sagemaker = r.client("sagemaker", registry.account, registry.region)
    ensure_group(sagemaker, policy.group)
    # One package per job, however many of its events are handled at once: claim the job, then describe before
    # create (a package registered before a claim existed, or by an attempt that died before it could say so).
    job_arn = job["TrainingJobArn"]
    claimed = registration.claim(r.settings, job_arn, holder=holder)
    if not claimed.granted and not claimed.package_arn:
        raise DuplicateInProgress(f"{name} is being registered for its change of {claimed.holder}")
    try:
        existing = claimed.package_arn or find_package_for_job(sagemaker, policy.group, job)
        lineage = {TUNING_JOB_KEY: tuning.arn} if tuning else {}
        request = package_request(
            policy, job, metrics=metrics, event_id=event.id, approve=registry.auto_approve, lineage=lineage
        )
        package_arn = existing or create_model_package(sagemaker, request)
    except BaseException:
        registration.release(r.settings, job_arn, holder=holder)  # the platform's retry claims again
        raise
    if claimed.granted:
        registration.finish(r.settings, job_arn, holder=holder, package_arn=package_arn)
    if existing:
        reason = f"{name} is already registered as {existing}"
        r.record(policy, action="register-model-package", outcome="skipped", reason=reason, **where)
        return {"action": "already-registered", "model_package_arn": existing}

    version = int(package_arn.rsplit("/", 1)[1])
    status = request["ModelApprovalStatus"]
    reason = f"{gate.summary}{of_tuning}; registered as version {version} ({status})"
    r.record(
        policy,
        action="register-model-package",
        outcome="done",
        reason=reason,
        account=registry.account,
        region=registry.region,
        resource=package_arn,
        version=version,
        details={"training_job": job_arn} | ({"tuning_job": tuning.arn} if tuning else {}),
    )
    r.tell(
        policy,
        subject=f"{policy.group} v{version} registered ({status})",
        lines=[reason, package_arn],
        kind="registered",
    )
    count("ModelPackagesRegistered")
    return {"action": "registered", "model_package_arn": package_arn, "approval": status}


def _failed(r: Reaction[TrainingJobEvent], policy: Policy) -> dict[str, Any]:
    detail = r.event.detail
    reason = f"training job {detail.TrainingJobName} failed: {detail.FailureReason or 'no FailureReason given'}"
    _notify_end(r, policy, "failed", reason)
    count("TrainingJobsFailed")
    return {"action": "notified", "reason": reason}


def _stopped(r: Reaction[TrainingJobEvent], policy: Policy) -> dict[str, Any]:
    detail = r.event.detail
    rule = stopped_by(r.client("sagemaker", r.event.account, r.event.region), detail.TrainingJobArn, detail.Tags)
    who = f"by sagemaker-lifecycle, because rule {rule} found issues" if rule else "by a person or another system"
    reason = f"training job {detail.TrainingJobName} was stopped {who}"
    _notify_end(r, policy, "stopped", reason)
    return {"action": "notified", "reason": reason, "stopped_by_product": rule is not None}


def _notify_end(r: Reaction[TrainingJobEvent], policy: Policy, end: str, reason: str) -> None:
    """Record and tell that a job ended without a model to register."""
    detail = r.event.detail
    r.told(
        policy,
        action=f"notify-training-{end}",
        reason=reason,
        resource=detail.TrainingJobArn,
        subject=f"{policy.group}: training job {detail.TrainingJobName} {end}",
        kind=f"training-{end}",
    )
