"""The Model Registry: groups and packages, created at most once per training job."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from lifecycle.aws import aws_errors
from lifecycle.names import metadata_text
from lifecycle.policy import GROUP_TAG, Policy

TRAINING_JOB_KEY = "lifecycle:training-job-arn"
TUNING_JOB_KEY = "lifecycle:tuning-job-arn"
EVENT_ID_KEY = "lifecycle:event-id"
_RECENT = 100  # ListModelPackages maximum: candidates are filtered by description before any describe


def ensure_group(sagemaker: Any, group: str) -> bool:
    """Create the model package group if it does not exist; True when it was created."""
    with aws_errors(f"sagemaker:ListModelPackageGroups {group}"):
        existing = sagemaker.list_model_package_groups(NameContains=group, MaxResults=100)[
            "ModelPackageGroupSummaryList"
        ]
    if any(summary["ModelPackageGroupName"] == group for summary in existing):
        return False
    with aws_errors(f"sagemaker:CreateModelPackageGroup {group}"):
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription="Managed by sagemaker-lifecycle",
            Tags=[{"Key": GROUP_TAG, "Value": group}],
        )
    return True


def package_description(job: dict[str, Any]) -> str:
    """The description of a package registered from `job`: it names the job, so a list call finds candidates."""
    return f"Trained by {job['TrainingJobName']}"[:1000]


def find_package_for_job(sagemaker: Any, group: str, job: dict[str, Any]) -> str | None:
    """The ARN of a package already registered from this training job (describe before create).

    The recent packages whose description names the job are described, and the one whose lineage metadata holds the
    job's ARN is it: one list call, and a describe only for a real candidate.
    """
    since: datetime | None = job.get("TrainingEndTime")
    with aws_errors(f"sagemaker:ListModelPackages {group}"):
        summaries = sagemaker.list_model_packages(
            ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending", MaxResults=_RECENT
        )["ModelPackageSummaryList"]
    for summary in summaries:
        if since is not None and summary["CreationTime"] < since:
            break
        if summary.get("ModelPackageDescription") != package_description(job):
            continue
        with aws_errors(f"sagemaker:DescribeModelPackage {summary['ModelPackageArn']}"):
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package.get("CustomerMetadataProperties", {}).get(TRAINING_JOB_KEY) == job["TrainingJobArn"]:
            return str(summary["ModelPackageArn"])
    return None


def package_request(
    policy: Policy,
    job: dict[str, Any],
    *,
    metrics: dict[str, float],
    event_id: str,
    approve: bool,
    lineage: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The CreateModelPackage request for a training job that passed the gate (pure: validated in tests).

    No `Tags`: a package registered into a group "uses the tags associated with the model group" and SageMaker
    refuses a tag argument with `ModelPackageGroupName` (API reference, CreateModelPackage). The lineage (training
    job, event, and any `lineage` more: the tuning job it was the best of) is in `CustomerMetadataProperties`; the
    group carries the product's tag (`ensure_group`).
    """
    registry = policy.registry
    container: dict[str, Any] = {
        "Image": registry.inference_image or job["AlgorithmSpecification"]["TrainingImage"],
        "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
    }
    inference: dict[str, Any] = {
        "Containers": [container],
        "SupportedContentTypes": list(registry.supported_content_types),
        "SupportedResponseMIMETypes": list(registry.supported_response_types),
    }
    if registry.realtime_instance_types:
        inference["SupportedRealtimeInferenceInstanceTypes"] = list(registry.realtime_instance_types)
    metadata = {TRAINING_JOB_KEY: job["TrainingJobArn"], EVENT_ID_KEY: metadata_text(event_id, limit=256)}
    metadata |= {key: metadata_text(value, limit=256) for key, value in (lineage or {}).items()}
    for name, value in sorted(metrics.items())[:40]:
        metadata.setdefault(metadata_text(f"metric:{name}", limit=128), f"{value:g}")
    request: dict[str, Any] = {
        "ModelPackageGroupName": policy.group,
        "ModelPackageDescription": package_description(job),
        "InferenceSpecification": inference,
        "ModelApprovalStatus": "Approved" if approve else "PendingManualApproval",
        "CustomerMetadataProperties": metadata,
        "ClientToken": hashlib.sha256(job["TrainingJobArn"].encode()).hexdigest()[:36],
    }
    if registry.metrics_report_s3_uri:
        report = registry.metrics_report_s3_uri.format(training_job_name=job["TrainingJobName"])
        request["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report}}}
    return request


def create_model_package(sagemaker: Any, request: dict[str, Any]) -> str:
    """CreateModelPackage; returns the new package's ARN."""
    with aws_errors(f"sagemaker:CreateModelPackage {request['ModelPackageGroupName']}"):
        return str(sagemaker.create_model_package(**request)["ModelPackageArn"])
