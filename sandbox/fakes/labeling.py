"""Ground Truth labeling jobs: CreateLabelingJob, DescribeLabelingJob, and scripted ends (Completed / Failed / Stopped).

moto has no labeling jobs. These fakes keep them in moto's SageMaker backend of the account and region the request
lands in (so moto's reset clears them), answer in DescribeLabelingJob's shape, and let a scenario end a job the way
Ground Truth does: Completed with label counters and an output manifest written to S3, or Failed / Stopped with a
reason. Every status change emits the `SageMaker Ground Truth Labeling Job State Change` event: its detail holds only
the status, the job ARN is in `resources`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import sagemaker_backends

from sandbox.fakes import FakeCall, sagemaker_fake
from sandbox.fakes.arns import sagemaker_arn
from sandbox.world import WORLD

DETAIL_TYPE = "SageMaker Ground Truth Labeling Job State Change"
_ENDED = ("Completed", "Failed", "Stopped")


@dataclass
class FakeLabelingJob:
    """One labeling job: the CreateLabelingJob request and what happened to it since."""

    account: str
    region: str
    request: dict[str, Any]
    status: str = "InProgress"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    counters: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("TotalLabeled", "HumanLabeled", "MachineLabeled", "FailedNonRetryableError", "Unlabeled"), 0
        )
    )
    failure_reason: str | None = None
    output_manifest: str | None = None

    @property
    def name(self) -> str:
        return str(self.request["LabelingJobName"])

    @property
    def arn(self) -> str:
        return sagemaker_arn("labeling-job", self.name, self.account, self.region)

    def describe(self) -> dict[str, Any]:
        """The DescribeLabelingJob response."""
        copied = (
            "LabelAttributeName",
            "InputConfig",
            "OutputConfig",
            "RoleArn",
            "LabelCategoryConfigS3Uri",
            "StoppingConditions",
            "LabelingJobAlgorithmsConfig",
            "HumanTaskConfig",
            "Tags",
        )
        response: dict[str, Any] = {
            "LabelingJobStatus": self.status,
            "LabelCounters": dict(self.counters),
            "CreationTime": self.created,
            "LastModifiedTime": self.last_modified,
            "JobReferenceCode": hashlib.sha256(self.arn.encode()).hexdigest()[:24],
            "LabelingJobName": self.name,
            "LabelingJobArn": self.arn,
            **{key: self.request[key] for key in copied if key in self.request},
        }
        if self.failure_reason:
            response["FailureReason"] = self.failure_reason
        if self.output_manifest:
            response["LabelingJobOutput"] = {"OutputDatasetS3Uri": self.output_manifest}
        return response


def _jobs(account: str, region: str) -> dict[str, FakeLabelingJob]:
    """The labeling jobs of an account and region by lower-cased name: "LabelingJobName is not case sensitive. For
    example, Example-job and example-job are considered the same labeling job name by Ground Truth" (API reference,
    CreateLabelingJob)."""
    backend = sagemaker_backends[account][region]
    jobs: dict[str, FakeLabelingJob] = backend.__dict__.setdefault("labeling_jobs", {})
    return jobs


def labeling_job(account: str, region: str, name: str) -> FakeLabelingJob:
    """The labeling job `name`, as SageMaker refuses an unknown one."""
    job = _jobs(account, region).get(name.lower())
    if job is None:
        arn = sagemaker_arn("labeling-job", name, account, region)
        raise ResourceNotFound(message=f"Could not find labeling job '{arn}'.")
    return job


def _emit(job: FakeLabelingJob) -> dict[str, Any]:
    return WORLD.emit(
        account=job.account,
        region=job.region,
        detail_type=DETAIL_TYPE,
        detail={"LabelingJobStatus": job.status},
        resources=[job.arn],
    )


def _set_status(job: FakeLabelingJob, status: str) -> dict[str, Any]:
    job.status = status
    job.last_modified = datetime.now(UTC)
    return _emit(job)


@sagemaker_fake("CreateLabelingJob")
def create_labeling_job(call: FakeCall) -> dict[str, Any]:
    """Create the job InProgress (and emit that); a name already used in the account and region, in any case, is
    refused."""
    jobs = _jobs(call.account, call.region)
    name = call.params["LabelingJobName"]
    if name.lower() in jobs:
        raise ResourceInUseException(message=f"Labeling job {name} already exists.")
    job = FakeLabelingJob(call.account, call.region, dict(call.params))
    jobs[name.lower()] = job
    _emit(job)
    return {"LabelingJobArn": job.arn}


@sagemaker_fake("DescribeLabelingJob")
def describe_labeling_job(call: FakeCall) -> dict[str, Any]:
    return labeling_job(call.account, call.region, call.params["LabelingJobName"]).describe()


def _running(account: str, region: str, name: str) -> FakeLabelingJob:
    job = labeling_job(account, region, name)
    if job.status in _ENDED:
        raise ValidationError(message=f"Labeling job {name} already ended: {job.status}.")
    return job


def _count(job: FakeLabelingJob, *, human: int, machine: int, unlabeled: int, failed: int) -> None:
    job.counters = {
        "TotalLabeled": human + machine,
        "HumanLabeled": human,
        "MachineLabeled": machine,
        "FailedNonRetryableError": failed,
        "Unlabeled": unlabeled,
    }


def manifest_lines(job: FakeLabelingJob, *, human: int, machine: int) -> list[dict[str, Any]]:
    """Output manifest lines as Ground Truth writes them: `source-ref`, the label and its metadata per object."""
    attribute = job.request["LabelAttributeName"]
    source = job.request["InputConfig"]["DataSource"].get("S3DataSource", {}).get("ManifestS3Uri", "s3://input/x")
    prefix = source.rsplit("/", 1)[0]
    now = job.last_modified.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return [
        {
            "source-ref": f"{prefix}/objects/{index:06d}.jpg",
            attribute: index % 2,
            f"{attribute}-metadata": {
                "class-name": "positive" if index % 2 else "negative",
                "confidence": 0.95 if index < human else 0.81,
                "type": "groundtruth/image-classification",
                "job-name": f"labeling-job/{job.name}",
                "human-annotated": "yes" if index < human else "no",
                "creation-date": now,
            },
        }
        for index in range(human + machine)
    ]


def _write_s3(account: str, region: str, uri: str, body: bytes) -> None:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    s3 = s3_backends[account]["aws"]
    if bucket not in s3_backends.bucket_accounts:
        s3.create_bucket(bucket, region)
    s3.put_object(bucket, key, body)


def complete_labeling_job(
    account: str,
    region: str,
    name: str,
    *,
    human: int,
    machine: int = 0,
    unlabeled: int = 0,
    failed: int = 0,
    with_output: bool = True,
) -> dict[str, Any]:
    """End the job Completed with these counts, its output manifest written to S3, and emit the event.

    `with_output=False` ends it without `LabelingJobOutput` (what a scenario uses to test that refusal).
    """
    job = _running(account, region, name)
    _count(job, human=human, machine=machine, unlabeled=unlabeled, failed=failed)
    if with_output:
        output = job.request["OutputConfig"]["S3OutputPath"].rstrip("/")
        job.output_manifest = f"{output}/{job.name}/manifests/output/output.manifest"
        lines = manifest_lines(job, human=human, machine=machine)
        _write_s3(account, region, job.output_manifest, "".join(json.dumps(line) + "\n" for line in lines).encode())
    return _set_status(job, "Completed")


def fail_labeling_job(
    account: str, region: str, name: str, *, reason: str, human: int = 0, machine: int = 0, unlabeled: int = 0
) -> dict[str, Any]:
    """End the job Failed with `reason` and the counts reached, and emit the event."""
    job = _running(account, region, name)
    _count(job, human=human, machine=machine, unlabeled=unlabeled, failed=0)
    job.failure_reason = reason
    return _set_status(job, "Failed")


def stop_labeling_job(
    account: str, region: str, name: str, *, reason: str | None = None, human: int = 0, unlabeled: int = 0
) -> list[dict[str, Any]]:
    """Stop the job (Stopping, then Stopped, each emitted), with the counts reached; returns both events."""
    job = _running(account, region, name)
    _count(job, human=human, machine=0, unlabeled=unlabeled, failed=0)
    job.failure_reason = reason
    return [_set_status(job, "Stopping"), _set_status(job, "Stopped")]
