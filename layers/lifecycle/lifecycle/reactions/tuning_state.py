"""Hyperparameter tuning job state change: Completed → its best training job through the gate, registered once, with
the tuning job in its lineage (`training.tuning: best`, the default); Failed / Stopped → notify.

A tuning job's trials are training jobs like any other and each emits its own `Completed`: with `best` the training
reaction leaves them (a 1,000-trial sweep would otherwise flood the registry and the approvers), and this reaction
registers the one the tuning job found best on its objective. With `each` every trial that passes the gate is
registered by the training reaction, and this one does nothing.
"""

from __future__ import annotations

from typing import Any

from lifecycle.actions.training import describe_training_job, describe_tuning_job
from lifecycle.errors import ActionRefused, IgnoredEvent
from lifecycle.events import TuningJobEvent
from lifecycle.observability import count
from lifecycle.policy import Policy, check_training_source, find_policy
from lifecycle.reaction import Reaction
from lifecycle.reactions.training_state import TuningLineage, register_job
from lifecycle.store.idempotency import SemanticKey

REACTION = "tuning-state"


def on_tuning_state(r: Reaction[TuningJobEvent]) -> dict[str, Any]:
    """Decide what a tuning job's new state means for its model, once per state change."""
    detail = r.event.detail
    steps = {"Completed": _completed, "Failed": _ended, "Stopped": _ended}
    step = steps.get(detail.HyperParameterTuningJobStatus)
    if step is None:
        raise IgnoredEvent(f"tuning job status {detail.HyperParameterTuningJobStatus} needs no action")
    policy = find_policy(r.settings, tags=detail.Tags, name=detail.HyperParameterTuningJobName)
    check_training_source(policy, account=r.event.account, region=r.event.region)
    if step is _completed and policy.training is not None and policy.training.tuning == "each":
        raise IgnoredEvent(
            f"tuning job {detail.HyperParameterTuningJobName} completed: with training.tuning: each, every trial is "
            "registered when it completes"
        )
    key = SemanticKey.of(
        REACTION, detail.HyperParameterTuningJobArn, detail.HyperParameterTuningJobStatus, detail.LastModifiedTime
    )
    return r.once(key, lambda: step(r, policy))


def objective_of(tuning: dict[str, Any]) -> str:
    """`validation:auc 0.93 (Maximize), best of 50 trials`: what the best job won on (a DescribeHyperParameterTuningJob
    answer)."""
    best = tuning.get("BestTrainingJob") or {}
    metric = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    trials = sum(int(n) for n in (tuning.get("TrainingJobStatusCounters") or {}).values())
    value = metric.get("Value")
    shown = f"{value:g}" if isinstance(value, int | float) else "?"
    return f"{metric.get('MetricName', '?')} {shown} ({metric.get('Type', '?')}), best of {trials} trials"


def _completed(r: Reaction[TuningJobEvent], policy: Policy) -> dict[str, Any]:
    event = r.event
    name = event.detail.HyperParameterTuningJobName
    sagemaker = r.client("sagemaker", event.account, event.region)
    tuning = describe_tuning_job(sagemaker, name)
    if tuning["HyperParameterTuningJobStatus"] != "Completed":
        raise ActionRefused(f"tuning job {name} is {tuning['HyperParameterTuningJobStatus']}, not Completed")
    best = tuning.get("BestTrainingJob")
    if not best:
        raise ActionRefused(f"tuning job {name} completed without a best training job (no trial met its objective)")
    job = describe_training_job(sagemaker, best["TrainingJobName"])
    lineage = TuningLineage(arn=tuning["HyperParameterTuningJobArn"], name=name, objective=objective_of(tuning))
    count("TuningJobsCompleted")
    return register_job(r, policy, job, holder=event.detail.LastModifiedTime.isoformat(), tuning=lineage)


def _ended(r: Reaction[TuningJobEvent], policy: Policy) -> dict[str, Any]:
    """Failed or Stopped: nothing is registered (a stopped tuning job's trials are its own business); people are
    told, with the reason and how far it got."""
    detail = r.event.detail
    status = detail.HyperParameterTuningJobStatus.lower()
    counters = ", ".join(f"{k} {v}" for k, v in detail.TrainingJobStatusCounters.items() if v) or "no trials"
    reason = (
        f"tuning job {detail.HyperParameterTuningJobName} {status}: {detail.FailureReason or 'no FailureReason given'}"
        f"; trials: {counters}; nothing registered"
    )
    r.told(
        policy,
        action=f"notify-tuning-{status}",
        reason=reason,
        resource=detail.HyperParameterTuningJobArn,
        subject=f"{policy.group}: tuning job {detail.HyperParameterTuningJobName} {status}",
        kind=f"tuning-{status}",
    )
    return {"action": "notified", "reason": reason}
