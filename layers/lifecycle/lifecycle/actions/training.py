"""Training jobs: read results, apply the metric gate, stop."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from lifecycle.aws import aws_errors
from lifecycle.policy import MetricGate

STOPPED_BY_TAG = "lifecycle:stopped-by"
_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_NEGATION = {">=": "<", ">": "<=", "<=": ">", "<": ">="}


@dataclass(frozen=True)
class GateResult:
    passed: bool
    summary: str


def evaluate_gate(gate: MetricGate | None, metrics: dict[str, float]) -> GateResult:
    """Apply the policy's metric gate to a job's final metrics. No gate means every completed job passes."""
    if gate is None:
        return GateResult(True, "no metric gate in policy")
    if gate.metric not in metrics:
        known = ", ".join(sorted(metrics)) or "none"
        return GateResult(False, f"{gate.metric} not reported by the job (final metrics: {known}), not registered")
    value = metrics[gate.metric]
    if _COMPARE[gate.comparison](value, gate.threshold):
        return GateResult(True, f"{gate.metric} {value:g} {gate.comparison} {gate.threshold:g}")
    return GateResult(False, f"{gate.metric} {value:g} {_NEGATION[gate.comparison]} {gate.threshold:g}, not registered")


def final_metrics(job: dict[str, Any]) -> dict[str, float]:
    """The last value of each metric of a DescribeTrainingJob response."""
    return {datum["MetricName"]: float(datum["Value"]) for datum in job.get("FinalMetricDataList") or []}


def describe_training_job(sagemaker: Any, name: str) -> dict[str, Any]:
    """DescribeTrainingJob; an unknown job is refused (nothing to act on), other errors are retryable."""
    with aws_errors(f"sagemaker:DescribeTrainingJob {name}", missing=f"training job {name} does not exist"):
        return dict(sagemaker.describe_training_job(TrainingJobName=name))


def stop_training_job(sagemaker: Any, job: dict[str, Any], *, rule: str) -> bool:
    """Stop a job that is still running, tagging it first so the Stopped event can say who stopped it.

    Returns False (and changes nothing) when the job is no longer InProgress.
    """
    if job["TrainingJobStatus"] != "InProgress":
        return False
    name = job["TrainingJobName"]
    with aws_errors(f"sagemaker:AddTags {name}"):
        sagemaker.add_tags(ResourceArn=job["TrainingJobArn"], Tags=[{"Key": STOPPED_BY_TAG, "Value": rule[:256]}])
    with aws_errors(f"sagemaker:StopTrainingJob {name}"):
        sagemaker.stop_training_job(TrainingJobName=name)
    return True


def stopped_by(sagemaker: Any, job_arn: str, tags: dict[str, str]) -> str | None:
    """The rule name when this product stopped the job (from the event's tags, else the job's current tags)."""
    if STOPPED_BY_TAG in tags:
        return tags[STOPPED_BY_TAG]
    with aws_errors(f"sagemaker:ListTags {job_arn}"):
        current = sagemaker.list_tags(ResourceArn=job_arn).get("Tags", [])
    return next((tag["Value"] for tag in current if tag["Key"] == STOPPED_BY_TAG), None)
