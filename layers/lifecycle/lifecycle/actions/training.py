"""Training jobs: start from the policy's template, read results, apply the metric gate, stop."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import aws_errors
from lifecycle.errors import ActionRefused
from lifecycle.names import metadata_text
from lifecycle.policy import MetricGate, Policy, TrainingTemplate

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


def describe_tuning_job(sagemaker: Any, name: str) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob; an unknown tuning job is refused (nothing to act on)."""
    with aws_errors(
        f"sagemaker:DescribeHyperParameterTuningJob {name}", missing=f"hyperparameter tuning job {name} does not exist"
    ):
        return dict(sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))


def stop_training_job(sagemaker: Any, job: dict[str, Any], *, rule: str) -> bool:
    """Stop a job that is still running, tagging it first so the Stopped event can say who stopped it.

    Returns False (and changes nothing) when the job is no longer InProgress.
    """
    if job["TrainingJobStatus"] != "InProgress":
        return False
    name = job["TrainingJobName"]
    with aws_errors(f"sagemaker:AddTags {name}"):
        sagemaker.add_tags(
            ResourceArn=job["TrainingJobArn"], Tags=[{"Key": STOPPED_BY_TAG, "Value": metadata_text(rule, limit=256)}]
        )
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


def training_channel(template: TrainingTemplate, s3_uri: str, *, attribute_names: Sequence[str] = ()) -> dict[str, Any]:
    """The input channel of a training job started from `template`, reading `s3_uri`.

    With `attribute_names`, `s3_uri` is an augmented manifest (a Ground Truth output manifest) and the job reads
    those attributes of each line (e.g. `source-ref` and the label attribute); without, it is an S3 prefix (e.g.
    the policy's `fresh_data_s3_uri` for a retrain). Content type and record wrapper come from the template.
    """
    source: dict[str, Any] = {
        "S3DataType": "AugmentedManifestFile" if attribute_names else "S3Prefix",
        "S3Uri": s3_uri,
        "S3DataDistributionType": "FullyReplicated",
    }
    if attribute_names:
        source["AttributeNames"] = list(attribute_names)
    channel: dict[str, Any] = {
        "ChannelName": template.channel_name,
        "DataSource": {"S3DataSource": source},
        "InputMode": template.input_mode,
    }
    if template.content_type:
        channel["ContentType"] = template.content_type
    if template.record_wrapper:
        channel["RecordWrapperType"] = template.record_wrapper
    return channel


def training_job_request(policy: Policy, *, name: str, channel: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """The CreateTrainingJob request of the policy's training template (pure: validated in tests).

    `name` must already be a valid, deterministic training job name; tags are made to fit AWS's tag pattern and
    lengths. With the template's `output_kms_key_arn` the artifacts are encrypted with that key (see `Policy`).
    """
    template = policy.training
    if template is None:
        raise ActionRefused(f"policy of group {policy.group!r} has no training template")
    algorithm: dict[str, Any] = {"TrainingImage": template.image, "TrainingInputMode": template.input_mode}
    if template.metric_definitions:
        algorithm["MetricDefinitions"] = [{"Name": d.name, "Regex": d.regex} for d in template.metric_definitions]
    output: dict[str, Any] = {"S3OutputPath": template.output_s3_uri}
    if template.output_kms_key_arn:
        output["KmsKeyId"] = template.output_kms_key_arn
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": algorithm,
        "RoleArn": template.role_arn,
        "HyperParameters": dict(template.hyperparameters),
        "InputDataConfig": [channel],
        "OutputDataConfig": output,
        "ResourceConfig": {
            "InstanceType": template.instance_type,
            "InstanceCount": template.instance_count,
            "VolumeSizeInGB": template.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": template.max_runtime_seconds},
        "Tags": [
            {"Key": metadata_text(key, limit=128), "Value": metadata_text(value, limit=256)}
            for key, value in tags.items()
        ],
    }


@dataclass(frozen=True)
class StartedJob:
    """A training job the product asked for: its ARN, and whether this call created it (False: it existed)."""

    arn: str
    created: bool


def _existing_job_arn(sagemaker: Any, name: str) -> str | None:
    try:
        return str(describe_training_job(sagemaker, name)["TrainingJobArn"])
    except ActionRefused:
        return None


def start_training_job(sagemaker: Any, request: dict[str, Any]) -> StartedJob:
    """Start the job unless one with its (deterministic) name exists: describe before create.

    A create that fails because a concurrent run created the job first is answered with that job.
    """
    name = request["TrainingJobName"]
    existing = _existing_job_arn(sagemaker, name)
    if existing:
        return StartedJob(existing, created=False)
    with aws_errors(f"sagemaker:CreateTrainingJob {name}"):
        try:
            arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
        except ClientError:
            existing = _existing_job_arn(sagemaker, name)
            if existing is None:
                raise
            return StartedJob(existing, created=False)
    return StartedJob(str(arn), created=True)
