"""Ground Truth labeling jobs: find the job an event names, read it, and name the training job it leads to."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from lifecycle.actions.registry import EVENT_ID_KEY
from lifecycle.actions.training import training_channel, training_job_request
from lifecycle.aws import aws_errors
from lifecycle.errors import ActionRefused, MalformedEvent
from lifecycle.policy import GROUP_TAG, Policy

LABELING_JOB_TAG = "lifecycle:labeling-job"
# The attribute of each output manifest line that points at the labeled object.
SOURCE_ATTRIBUTE = "source-ref"
_LABELING_JOB_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:labeling-job/(?P<name>[a-zA-Z0-9-]{1,63})$"
)
_MAX_NAME = 63


def labeling_job_arn(resources: list[str]) -> str:
    """The labeling job ARN among an event's `resources` (SageMaker puts it there; the detail has only the status)."""
    for arn in resources:
        if _LABELING_JOB_ARN.match(arn):
            return arn
    raise MalformedEvent("the event's resources name no labeling job ARN")


def labeling_job_name(arn: str) -> str:
    """The name part of a labeling job ARN, to describe the job by: the event names the job only by its ARN.

    The ARN names the job in lower case; that finds it because "LabelingJobName is not case sensitive" (API
    reference, CreateLabelingJob). Everything after the describe uses the name DescribeLabelingJob returns.
    """
    return arn.rsplit("/", 1)[1]


def describe_labeling_job(sagemaker: Any, name: str) -> dict[str, Any]:
    """DescribeLabelingJob; an unknown job is refused (nothing to act on), other errors are retryable."""
    with aws_errors(f"sagemaker:DescribeLabelingJob {name}", missing=f"labeling job {name} does not exist"):
        return dict(sagemaker.describe_labeling_job(LabelingJobName=name))


def training_job_name_for(labeling_arn: str) -> str:
    """The deterministic name of the training job started on a labeling job's output.

    `<labeling job name>-train-<8 hex of the labeling job ARN>`, the name cut so the whole fits SageMaker's 63
    characters. The hash is of the ARN, not the name: two long names that share their first 48 characters, and
    same-named labeling jobs of two accounts that train in one account, still get different training jobs.
    """
    digest = hashlib.sha256(labeling_arn.encode()).hexdigest()[:8]
    suffix = f"-train-{digest}"
    return labeling_job_name(labeling_arn)[: _MAX_NAME - len(suffix)] + suffix


def tags_of(job: dict[str, Any]) -> dict[str, str]:
    """The job's tags (DescribeLabelingJob returns them) as a map."""
    return {tag["Key"]: tag["Value"] for tag in job.get("Tags") or []}


def labeled_count(job: dict[str, Any]) -> int:
    """How many objects the job labeled (by people and by machine)."""
    return int((job.get("LabelCounters") or {}).get("TotalLabeled", 0))


def counters_summary(job: dict[str, Any]) -> str:
    """The label counters of a job in one line people read."""
    counters = job.get("LabelCounters") or {}
    return (
        f"{counters.get('TotalLabeled', 0)} labeled ({counters.get('HumanLabeled', 0)} by people, "
        f"{counters.get('MachineLabeled', 0)} by machine), {counters.get('Unlabeled', 0)} unlabeled, "
        f"{counters.get('FailedNonRetryableError', 0)} failed"
    )


def output_manifest(job: dict[str, Any]) -> str | None:
    """The S3 URI of the job's output (augmented) manifest, when it has one."""
    uri = (job.get("LabelingJobOutput") or {}).get("OutputDatasetS3Uri")
    return str(uri) if uri else None


def training_request_for(
    policy: Policy, *, labeling_arn: str, manifest: str, label_attribute: str, event_id: str
) -> dict[str, Any]:
    """The CreateTrainingJob request that trains on a labeling job's output manifest (pure: validated in tests).

    The manifest is an augmented-manifest channel reading `source-ref` and the label attribute of each line. The
    lineage tags let the training reaction find the policy and say which labels and which event started the job.
    """
    if policy.training is None:
        raise ActionRefused(f"policy of group {policy.group!r} has no training template")
    channel = training_channel(policy.training, manifest, attribute_names=[SOURCE_ATTRIBUTE, label_attribute])
    tags = {GROUP_TAG: policy.group, LABELING_JOB_TAG: labeling_arn, EVENT_ID_KEY: event_id}
    return training_job_request(policy, name=training_job_name_for(labeling_arn), channel=channel, tags=tags)
