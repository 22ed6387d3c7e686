"""Transform jobs as SageMaker runs them: InProgress until they end, each change a `SageMaker Transform Job State
Change` event.

moto creates every transform job `Completed`, emits no event, silently replaces a job of the same name, starts one on
a model that does not exist, and has no StopTransformJob. These fakes keep moto's job objects (DescribeTransformJob
and ListTransformJobs still find them) and refuse what SageMaker refuses:
- a job name already used in the account and Region (API reference, CreateTransformJob `TransformJobName`: "The
  name must be unique within an Amazon Web Services Region in an Amazon Web Services account");
- a model that does not exist there (CreateTransformJob `ModelName`: "must be the name of an existing Amazon SageMaker
  model within an Amazon Web Services Region in an Amazon Web Services account");
- stopping a job that is not InProgress (StopTransformJob moves a running job to Stopping, then Stopped).
A scenario ends a job with `finish` (Completed, or Failed with a reason): the product never polls it, its event does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import FakeTransformJob, sagemaker_backends

from sandbox.fakes import FakeCall, sagemaker_fake
from sandbox.fakes.training import as_event_detail
from sandbox.world import WORLD

DETAIL_TYPE = "SageMaker Transform Job State Change"


def _job(account: str, region: str, name: str) -> FakeTransformJob:
    jobs = sagemaker_backends[account][region].transform_jobs
    if name not in jobs:
        arn = FakeTransformJob.arn_formatter(name, account, region)
        raise ValidationError(message=f"Could not find transform job '{arn}'.")
    return jobs[name]


def event_detail(job: FakeTransformJob) -> dict[str, Any]:
    """The event detail SageMaker sends: the DescribeTransformJob shape, epoch-millis times, Tags as a map."""
    detail: dict[str, Any] = as_event_detail(job.response_object)
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in job.tags or []}
    if not detail.get("FailureReason"):
        detail.pop("FailureReason", None)
    return detail


def _emit(account: str, region: str, job: FakeTransformJob) -> None:
    WORLD.emit(account=account, region=region, detail_type=DETAIL_TYPE, detail=event_detail(job), resources=[job.arn])


def _set(account: str, region: str, job: FakeTransformJob, status: str, reason: str = "") -> None:
    now = datetime.now(UTC)
    job.transform_job_status = status
    job.failure_reason = reason
    job.last_modified_time = now
    if status in ("Completed", "Failed", "Stopped"):
        job.transform_end_time = now
    _emit(account, region, job)


@sagemaker_fake("CreateTransformJob")
def create_transform_job(call: FakeCall) -> dict[str, Any]:
    params = call.params
    name = params["TransformJobName"]
    backend = call.backend
    if name in backend.transform_jobs:
        arn = FakeTransformJob.arn_formatter(name, call.account, call.region)
        raise ResourceInUseException(
            message=f"Transform job names must be unique within an AWS account and region, and a transform job with "
            f"this name already exists ({arn})"
        )
    backend.describe_model(params["ModelName"])  # ValidationException: Could not find model
    job = backend.create_transform_job(
        transform_job_name=name,
        model_name=params["ModelName"],
        max_concurrent_transforms=params.get("MaxConcurrentTransforms"),
        model_client_config=params.get("ModelClientConfig"),
        max_payload_in_mb=params.get("MaxPayloadInMB"),
        batch_strategy=params.get("BatchStrategy"),
        environment=params.get("Environment"),
        transform_input=params["TransformInput"],
        transform_output=params["TransformOutput"],
        data_capture_config=params.get("DataCaptureConfig"),
        transform_resources=params["TransformResources"],
        data_processing=params.get("DataProcessing"),
        tags=params.get("Tags", []),
        experiment_config=params.get("ExperimentConfig"),
    )
    job.transform_end_time = None
    _set(call.account, call.region, job, "InProgress")
    return {"TransformJobArn": job.arn}


@sagemaker_fake("StopTransformJob")
def stop_transform_job(call: FakeCall) -> dict[str, Any]:
    job = _job(call.account, call.region, call.params["TransformJobName"])
    if job.transform_job_status != "InProgress":
        raise ValidationError(
            message=f"Transform job {job.arn} is {job.transform_job_status}: only a running job stops"
        )
    _set(call.account, call.region, job, "Stopping")
    _set(call.account, call.region, job, "Stopped", "Stopped by StopTransformJob")
    return {}


def finish(account: str, region: str, name: str, *, status: str = "Completed", reason: str = "") -> None:
    """The job ends (`Completed`, or `Failed` with `reason`): SageMaker emits its state change."""
    job = _job(account, region, name)
    assert job.transform_job_status == "InProgress", f"{name} is {job.transform_job_status}, not running"
    _set(account, region, job, status, reason)


def running(account: str, region: str) -> list[str]:
    """Names of the transform jobs that run now, oldest first."""
    jobs = sagemaker_backends[account][region].transform_jobs.values()
    return [job.transform_job_name for job in jobs if job.transform_job_status == "InProgress"]


def complete_running(accounts: list[str], region: str) -> list[tuple[str, str]]:
    """Every job still running in `accounts` completes (what SageMaker does with a sound job, given time): the
    (account, job) of each."""
    finished = [(account, name) for account in accounts for name in running(account, region)]
    for account, name in finished:
        finish(account, region, name)
    return finished
