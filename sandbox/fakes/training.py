"""Training jobs: StopTrainingJob, scripted end states with metrics, and Debugger/profiler rule statuses.

moto creates every training job `Completed` and never reports rule statuses. These fakes let a scenario run a
job `InProgress`, have a rule find issues, stop it, or end it with chosen metrics, each change emitting the
`SageMaker Training Job State Change` event SageMaker would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend, sagemaker_backends

from sandbox.fakes import FakeCall, sagemaker_fake
from sandbox.world import WORLD, epoch_millis

DETAIL_TYPE = "SageMaker Training Job State Change"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
_MOTO_CREATE_TRAINING_JOB = SageMakerModelBackend.create_training_job


def _create_training_job(self: SageMakerModelBackend, training_job_name: str, *args: Any, **kwargs: Any) -> Any:
    """moto silently replaces a training job of the same name; SageMaker refuses, and so does the sandbox."""
    if training_job_name in self.training_jobs:
        arn = FakeTrainingJob.arn_formatter(training_job_name, self.account_id, self.region_name)
        raise ResourceInUseException(
            message=f"Training job names must be unique within an AWS account and region, and a training job with "
            f"this name already exists ({arn})"
        )
    return _MOTO_CREATE_TRAINING_JOB(self, training_job_name, *args, **kwargs)


def refuse_duplicate_names() -> None:
    """Make moto's CreateTrainingJob refuse an existing name, as SageMaker does (idempotent)."""
    SageMakerModelBackend.create_training_job = _create_training_job  # type: ignore[method-assign]


def _job(account: str, region: str, name: str) -> FakeTrainingJob:
    jobs = sagemaker_backends[account][region].training_jobs
    if name not in jobs:
        arn = FakeTrainingJob.arn_formatter(name, account, region)
        raise ValidationError(message=f"Requested resource not found: {arn}")
    return jobs[name]


def as_event_detail(value: Any) -> Any:
    """An API response as SageMaker puts it in an event: epoch-millis times, no nulls."""
    if isinstance(value, datetime):
        return epoch_millis(value)
    if isinstance(value, dict):
        return {key: as_event_detail(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [as_event_detail(item) for item in value]
    return value


def training_event_detail(job: FakeTrainingJob) -> dict[str, Any]:
    """The event detail SageMaker sends: the DescribeTrainingJob shape, epoch-millis times, Tags as a map."""
    detail: dict[str, Any] = as_event_detail(job.response_object)
    detail.pop("ResponseMetadata", None)
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in job.tags or []}
    return detail


def emit_state(job: FakeTrainingJob) -> dict[str, Any]:
    """Emit the state-change event of `job` as it is now."""
    account, region = job.arn.split(":")[4], job.arn.split(":")[3]
    return WORLD.emit(
        account=account, region=region, detail_type=DETAIL_TYPE, detail=training_event_detail(job), resources=[job.arn]
    )


def set_state(
    account: str,
    region: str,
    name: str,
    *,
    status: str,
    secondary: str | None = None,
    failure_reason: str | None = None,
    metrics: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Move a job to `status` (scripted by a scenario) and emit its event."""
    job = _job(account, region, name)
    now = datetime.now(UTC)
    job.training_job_status = status
    job.secondary_status = secondary or status
    job.last_modified_time = now
    if status in ("Completed", "Failed", "Stopped"):
        job.training_end_time = now
    else:
        job.training_end_time = None
    if failure_reason is not None:
        job.failure_reason = failure_reason
    if metrics is not None:
        job.final_metric_data_list = [
            {"MetricName": name_, "Value": float(value), "Timestamp": now} for name_, value in metrics.items()
        ]
    return emit_state(job)


def start_job(sagemaker: Any, name: str, *, account: str, region: str, group: str) -> dict[str, Any]:
    """A data scientist starts a training job in `account`, tagged with its model package group; it runs
    (InProgress/Training). Returns the InProgress event."""
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        RoleArn=f"arn:aws:iam::{account}:role/SageMakerTrainingRole",
        OutputDataConfig={"S3OutputPath": f"s3://example-dev-ml-artifacts/{group}/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 86400},
        Tags=[{"Key": "lifecycle:model-package-group", "Value": group}],
    )
    return set_state(account, region, name, status="InProgress", secondary="Training")


def set_rule_status(
    account: str, region: str, name: str, *, rule: str, status: str, details: str = "", profiler: bool = False
) -> dict[str, Any]:
    """Set one Debugger (or profiler) rule's evaluation status on a running job and emit the job's event."""
    job = _job(account, region, name)
    attribute = "profiler_rule_evaluation_statuses" if profiler else "debug_rule_evaluation_statuses"
    statuses = [s for s in getattr(job, attribute, None) or [] if s["RuleConfigurationName"] != rule]
    statuses.append(
        {
            "RuleConfigurationName": rule,
            "RuleEvaluationJobArn": job.arn.replace(":training-job/", ":processing-job/")[:200]
            + f"-{rule.lower()}"[:40],
            "RuleEvaluationStatus": status,
            **({"StatusDetails": details} if details else {}),
            "LastModifiedTime": datetime.now(UTC),
        }
    )
    setattr(job, attribute, statuses)
    job.last_modified_time = datetime.now(UTC)
    return emit_state(job)


@sagemaker_fake("StopTrainingJob")
def stop_training_job(call: FakeCall) -> dict[str, Any]:
    """InProgress → Stopping → Stopped, as SageMaker does; stopping a job that is not running is refused."""
    job = _job(call.account, call.region, call.params["TrainingJobName"])
    if job.training_job_status != "InProgress":
        raise ValidationError(
            message=f"The request was rejected because the training job is in status {job.training_job_status}."
        )
    set_state(call.account, call.region, job.training_job_name, status="Stopping")
    set_state(call.account, call.region, job.training_job_name, status="Stopped", secondary="Stopped")
    return {}
