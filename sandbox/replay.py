"""`python -m sandbox replay EVENT.json`: seed what the event refers to, deliver it, run everything it causes.

Seeding makes the sandbox hold the resources an event names as SageMaker would have them (e.g. the training job of a
training job state change, in the event's account, with its status, final metrics, artifacts, rule statuses and tags),
so the handlers' Describe calls see what the event says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from moto.sagemaker.models import sagemaker_backends

from sandbox.cloud import ROOT, Sandbox, mount_code
from sandbox.router import Delivery, Router
from sandbox.timeline import Timeline
from sandbox.world import WORLD

POLICIES = ROOT / "sandbox" / "policies"
Seeder = Callable[[Sandbox, dict[str, Any]], str]
_SEEDERS: dict[str, Seeder] = {}


class InputError(Exception):
    """An input file the sandbox cannot use (unreadable, not JSON/YAML, invalid policy)."""


def seeder(detail_type: str) -> Callable[[Seeder], Seeder]:
    """Register how to seed the resources of events of `detail_type`."""

    def register(fn: Seeder) -> Seeder:
        _SEEDERS[detail_type] = fn
        return fn

    return register


def _when(millis: Any) -> datetime:
    if isinstance(millis, int | float):
        return datetime.fromtimestamp(millis / 1000, UTC)
    if isinstance(millis, str) and millis.isdigit():
        return datetime.fromtimestamp(int(millis) / 1000, UTC)
    if isinstance(millis, str):
        return datetime.fromisoformat(millis.replace("Z", "+00:00"))
    return datetime.now(UTC)


def _timestamps(items: list[dict[str, Any]] | None, *keys: str) -> list[dict[str, Any]]:
    return [{**item, **{key: _when(item[key]) for key in keys if key in item}} for item in items or []]


@seeder("SageMaker Training Job State Change")
def seed_training_job(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The training job, in the event's account, in the state the event reports."""
    detail, account, region = event["detail"], event["account"], event["region"]
    name = detail["TrainingJobName"]
    jobs = sagemaker_backends[account][region].training_jobs
    if name not in jobs:
        output = {key: value for key, value in detail["OutputDataConfig"].items() if value}
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "AlgorithmSpecification": detail["AlgorithmSpecification"],
            "RoleArn": detail["RoleArn"],
            "OutputDataConfig": output,
            "ResourceConfig": detail["ResourceConfig"],
            "StoppingCondition": detail["StoppingCondition"],
            "HyperParameters": detail.get("HyperParameters", {}),
            "Tags": [{"Key": key, "Value": value} for key, value in (detail.get("Tags") or {}).items()],
        }
        if detail.get("InputDataConfig"):
            request["InputDataConfig"] = detail["InputDataConfig"]
        sandbox.client("sagemaker", account, region).create_training_job(**request)
    job = jobs[name]  # moto creates every job Completed: set what the event says
    job.training_job_status = detail["TrainingJobStatus"]
    job.secondary_status = detail.get("SecondaryStatus", detail["TrainingJobStatus"])
    job.failure_reason = detail.get("FailureReason")
    job.last_modified_time = _when(detail.get("LastModifiedTime"))
    job.training_end_time = _when(detail["TrainingEndTime"]) if detail.get("TrainingEndTime") else None
    job.final_metric_data_list = _timestamps(detail.get("FinalMetricDataList"), "Timestamp")
    job.model_artifacts = detail.get("ModelArtifacts")  # absent until the job has written its model
    job.debug_rule_evaluation_statuses = _timestamps(detail.get("DebugRuleEvaluationStatuses"), "LastModifiedTime")
    job.profiler_rule_evaluation_statuses = _timestamps(
        detail.get("ProfilerRuleEvaluationStatuses"), "LastModifiedTime"
    )
    return f"training job {name} ({job.training_job_status})"


@seeder("SageMaker Model Package State Change")
def seed_model_package(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The group and its versions up to the event's: earlier versions Approved (the group's history), the event's
    version with the event's approval status, inference specification, metadata and tags."""
    detail, account, region = event["detail"], event["account"], event["region"]
    group, version = detail["ModelPackageGroupName"], int(detail["ModelPackageVersion"])
    sagemaker = sandbox.client("sagemaker", account, region)
    tags = [{"Key": key, "Value": value} for key, value in (detail.get("Tags") or {}).items()]
    existing = sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
    if not any(summary["ModelPackageGroupName"] == group for summary in existing):
        sagemaker.create_model_package_group(ModelPackageGroupName=group, Tags=tags)
    count = len(sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])
    for number in range(count + 1, version + 1):
        last = number == version
        metadata = detail.get("CustomerMetadataProperties") if last else None
        # A package of a group takes its group's tags; SageMaker refuses Tags (and an empty metadata map) here.
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=detail.get("ModelPackageDescription", "") if last else f"version {number}",
            InferenceSpecification=detail["InferenceSpecification"],
            ModelApprovalStatus=detail["ModelApprovalStatus"] if last else "Approved",
            **({"CustomerMetadataProperties": metadata} if metadata else {}),
        )
    return f"model package group {group} with versions 1..{version} (v{version} {detail['ModelApprovalStatus']})"


GROUND_TRUTH_LAMBDAS = "arn:aws:lambda:us-east-1:432418664414:function"  # AWS-owned pre/post-labeling functions


def labeling_job_request(name: str, account: str, region: str = "us-east-1") -> dict[str, Any]:
    """A CreateLabelingJob request for the churn data set (label attribute `churn-label`)."""
    return {
        "LabelingJobName": name,
        "LabelAttributeName": "churn-label",
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://example-dev-ml-data/churn/in.manifest"}}
        },
        "OutputConfig": {"S3OutputPath": "s3://example-dev-ml-labels/churn/"},
        "RoleArn": f"arn:aws:iam::{account}:role/GroundTruthRole",
        "HumanTaskConfig": {
            "WorkteamArn": f"arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/churn-team",
            "UiConfig": {"UiTemplateS3Uri": "s3://example-dev-ml-data/churn/template.liquid"},
            "PreHumanTaskLambdaArn": f"{GROUND_TRUTH_LAMBDAS}:PRE-TextMultiClass",
            "TaskTitle": "Will this customer churn?",
            "TaskDescription": "Read the account history and choose churn or stay",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 300,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"{GROUND_TRUTH_LAMBDAS}:ACS-TextMultiClass"
            },
        },
    }


@seeder("SageMaker Ground Truth Labeling Job State Change")
def seed_labeling_job(sandbox: Sandbox, event: dict[str, Any]) -> str:
    """The labeling job named in `resources`, ended the way the event says (labels written for Completed)."""
    from sandbox.fakes import labeling

    account, region = event["account"], event["region"]
    name = str(event["resources"][0]).rsplit("/", 1)[1]
    status = event["detail"]["LabelingJobStatus"]
    sandbox.client("sagemaker", account, region).create_labeling_job(**labeling_job_request(name, account, region))
    if status == "Completed":
        labeling.complete_labeling_job(account, region, name, human=120, machine=380)
    elif status == "Failed":
        labeling.fail_labeling_job(account, region, name, reason="ClientError: the input manifest is not readable")
    elif status in ("Stopping", "Stopped"):
        labeling.stop_labeling_job(account, region, name, reason="stopped by a person", human=40)
    return f"labeling job {name} ({status})"


def seed(sandbox: Sandbox, event: dict[str, Any]) -> None:
    """Create what `event` refers to, in its account, as SageMaker would have it."""
    account = str(event.get("account", ""))
    fn = _SEEDERS.get(str(event.get("detail-type", "")))
    if fn is None or not isinstance(event.get("detail"), dict):
        sandbox.timeline.add("note", account, f"nothing to seed for {event.get('detail-type')!r}")
        return
    sandbox.timeline.add("note", account, f"seeded {fn(sandbox, event)}")
    WORLD.drain()  # the seeding's own events (a registered package, a finished job): the replayed event is delivered


# -------------------------------------------------------------------------------------------------------------------
# inputs
# -------------------------------------------------------------------------------------------------------------------
def read_event(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read event file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"event file {path} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InputError(f"event file {path} holds a JSON {type(document).__name__}, not an EventBridge event object")
    return document


def read_policy(path: Path) -> dict[str, Any]:
    """A policy file (YAML or JSON), validated by the product's own model."""
    mount_code()
    from lifecycle.errors import PolicyInvalid
    from lifecycle.policy import validate_policy

    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read policy file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"policy file {path} is not YAML/JSON: {exc}") from exc
    group = document.get("group") if isinstance(document, dict) else None
    if not isinstance(group, str):
        raise InputError(f"invalid policy {path}: it must be a mapping with a `group` name")
    try:
        validate_policy(document, group=group)
    except PolicyInvalid as exc:
        raise InputError(f"invalid policy {path}: {exc}") from exc
    return dict(document)


def sample_policies() -> list[Path]:
    return sorted(POLICIES.glob("*.yaml"))


# -------------------------------------------------------------------------------------------------------------------
# the run
# -------------------------------------------------------------------------------------------------------------------
def outcome_of(deliveries: list[Delivery]) -> tuple[str, str]:
    """acted when any handler acted; else failed, rejected or ignored, with the first reason given."""
    invocations = [invocation for delivery in deliveries for invocation in delivery.invocations]
    for wanted in ("acted", "failed", "rejected", "ignored"):
        found = [invocation for invocation in invocations if invocation.outcome == wanted]
        if found:
            reason = found[0].error or str((found[0].result or {}).get("reason", ""))
            return wanted, "" if wanted == "acted" else reason
    if deliveries and not deliveries[0].forwarded:
        return "ignored", "no forwarding rule of the event's account matches it"
    return "ignored", "no rule of the automation bus matches the event"


def replay(event: dict[str, Any], policies: list[dict[str, Any]], timeline: Timeline) -> dict[str, Any]:
    """Run one event through a fresh sandbox; the report `--json` prints."""
    with Sandbox(timeline=timeline) as sandbox:
        for policy in policies:
            sandbox.publish_policy(policy)
        seed(sandbox, event)
        router = Router(sandbox)
        deliveries = router.emit_and_settle(event)
        outcome, reason = outcome_of(deliveries)
        template_rules = sandbox.deployment.template["Resources"]
        rules = list(
            dict.fromkeys(rule for delivery in deliveries for rule in delivery.rules if rule in template_rules)
        )
        report: dict[str, Any] = {"outcome": outcome, "reason": reason, "rules": rules}
        report["actions"] = list(sandbox.recorder.calls)
        report["executions"] = [
            {"stateMachine": e.state_machine, "name": e.name, "status": e.status, "states": e.states}
            for e in router.executions
        ]
        report["events"] = [
            {"id": d.event.get("id"), "detail-type": d.event.get("detail-type"), "account": d.event.get("account")}
            for d in deliveries
        ]
        return report
