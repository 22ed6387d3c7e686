"""Hyperparameter tuning jobs: trials that are real training jobs, and the best of them as SageMaker picks it.

moto creates a tuning job `Completed` at once with a fixed, made-up `BestTrainingJob` ("FakeTrainingJobName"). Here a
scenario runs a tuning job as SageMaker does: it launches its trials (training jobs named `<tuning job>-<NNN>-<8 hex>`,
carrying the tuning job's tags, as the API reference says of CreateHyperParameterTuningJob `Tags`, and its ARN in
`TuningJobArn`), each ends with its objective metric and emits its own `SageMaker Training Job State Change`, then the
tuning job ends and emits `SageMaker HyperParameter Tuning Job State Change`. DescribeHyperParameterTuningJob answers
from the trials: the status counters, and `BestTrainingJob` the completed trial with the best objective value
(`Maximize` the highest, `Minimize` the lowest).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from moto.sagemaker.exceptions import ResourceNotFound
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend, sagemaker_backends

from sandbox.fakes import FakeCall, sagemaker_fake
from sandbox.fakes import training as fake_training
from sandbox.fakes.training import XGBOOST_IMAGE, as_event_detail
from sandbox.world import WORLD

DETAIL_TYPE = "SageMaker HyperParameter Tuning Job State Change"
STATUS_COUNTERS = ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped")


def _tuning_job(backend: SageMakerModelBackend, name: str) -> Any:
    found = backend.hyper_parameter_tuning_jobs.get(name)
    if found is None:
        raise ResourceNotFound(message=f"Amazon SageMaker can't find a tuning job with name {name}")
    return found


def trials_of(backend: SageMakerModelBackend, arn: str) -> list[FakeTrainingJob]:
    """The training jobs a tuning job launched, in the order it launched them."""
    return [job for job in backend.training_jobs.values() if getattr(job, "tuning_job_arn", None) == arn]


def _objective_value(job: FakeTrainingJob, metric: str) -> float | None:
    values = [datum["Value"] for datum in job.final_metric_data_list or [] if datum["MetricName"] == metric]
    return float(values[-1]) if values else None


def _summary(job: FakeTrainingJob, tuning: Any, objective: dict[str, str], value: float) -> dict[str, Any]:
    return {
        "TrainingJobName": job.training_job_name,
        "TrainingJobArn": job.arn,
        "TuningJobName": tuning.hyper_parameter_tuning_job_name,
        "CreationTime": job.creation_time,
        "TrainingStartTime": job.creation_time,
        "TrainingEndTime": job.training_end_time,
        "TrainingJobStatus": job.training_job_status,
        "TunedHyperParameters": dict(job.hyper_parameters or {}),
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "Type": objective["Type"],
            "MetricName": objective["MetricName"],
            "Value": value,
        },
        "ObjectiveStatus": "Succeeded",
    }


def describe(backend: SageMakerModelBackend, name: str) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob as SageMaker answers it, from the tuning job's trials."""
    tuning = _tuning_job(backend, name)
    objective = tuning.hyper_parameter_tuning_job_config["HyperParameterTuningJobObjective"]
    trials = trials_of(backend, tuning.arn)
    counters = dict.fromkeys(STATUS_COUNTERS, 0)
    scored = []
    for job in trials:
        status = job.training_job_status if job.training_job_status in counters else "NonRetryableError"
        counters["InProgress" if status == "Stopping" else status] += 1
        value = _objective_value(job, objective["MetricName"])
        if job.training_job_status == "Completed" and value is not None:
            scored.append((value, job))
    described = {key: value for key, value in tuning.describe().items() if value is not None}
    described.pop("OverallBestTrainingJob", None)  # only with a warm start
    described.pop("BestTrainingJob", None)
    described["TrainingJobStatusCounters"] = counters
    described["ObjectiveStatusCounters"] = {"Succeeded": len(scored), "Pending": 0, "Failed": len(trials) - len(scored)}
    if scored:
        pick = max if objective["Type"] == "Maximize" else min
        value, best = pick(scored, key=lambda scored_job: scored_job[0])
        described["BestTrainingJob"] = _summary(best, tuning, objective, value)
    return described


@sagemaker_fake("DescribeHyperParameterTuningJob")
def describe_hyper_parameter_tuning_job(call: FakeCall) -> dict[str, Any]:
    """The tuning job with its counters and its best trial (moto makes one up)."""
    return describe(call.backend, call.params["HyperParameterTuningJobName"])


def run_tuning_job(
    sagemaker: Any,
    name: str,
    *,
    account: str,
    region: str,
    group: str,
    objective: dict[str, str],
    values: list[float],
    status: str = "Completed",
    reason: str = "",
) -> dict[str, Any]:
    """A data scientist's tuning job of `len(values)` trials, tagged with its group: each trial completes with its
    objective value, then the tuning job ends `status`. Returns the tuning job's event (the trials' are emitted
    first, in order)."""
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": objective,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": len(values), "MaxParallelTrainingJobs": 10},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]},
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"objective": "binary:logistic"},
            "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
            "RoleArn": f"arn:aws:iam::{account}:role/SageMakerTrainingRole",
            "OutputDataConfig": {"S3OutputPath": f"s3://example-dev-ml-artifacts/{group}/tuning/"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        },
        Tags=[{"Key": "lifecycle:model-package-group", "Value": group}],
    )
    backend = sagemaker_backends[account][region]
    tuning = _tuning_job(backend, name)
    tuning.hyper_parameter_tuning_job_status = "InProgress"
    for index, value in enumerate(values, 1):
        suffix = hashlib.sha256(f"{name}/{index}".encode()).hexdigest()[:8]
        trial = f"{name}-{index:03d}-{suffix}"
        fake_training.start_job(sagemaker, trial, account=account, region=region, group=group)
        job = backend.training_jobs[trial]
        job.tuning_job_arn = tuning.arn  # DescribeTrainingJob's TuningJobArn
        job.hyper_parameters = {"objective": "binary:logistic", "eta": f"{0.1 + 0.4 * index / len(values):.3f}"}
        fake_training.set_state(account, region, trial, status="Completed", metrics={objective["MetricName"]: value})
    return end_tuning_job(account, region, name, status=status, reason=reason)


def end_tuning_job(account: str, region: str, name: str, *, status: str, reason: str = "") -> dict[str, Any]:
    """The tuning job reaches `status` (Completed, Failed, Stopped) and SageMaker emits its state change: the detail
    is the DescribeHyperParameterTuningJob shape (epoch-millis times, Tags as a map)."""
    backend = sagemaker_backends[account][region]
    tuning = _tuning_job(backend, name)
    now = datetime.now(UTC)
    tuning.hyper_parameter_tuning_job_status = status
    tuning.failure_reason = reason
    tuning.last_modified_time = tuning.hyper_parameter_tuning_end_time = now
    detail: dict[str, Any] = as_event_detail(describe(backend, name))
    if not reason:
        detail.pop("FailureReason", None)
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in tuning.tags or []}
    return WORLD.emit(account=account, region=region, detail_type=DETAIL_TYPE, detail=detail, resources=[tuning.arn])
