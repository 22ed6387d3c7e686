"""Model Monitor: which schedule a processing job ran for, how its execution ended, what it found.

A monitoring run is a processing job that ends `Completed` even when it finds violations. The product
identifies the schedule from the job (the monitoring container's `sagemaker_monitoring_schedule_name`
environment variable, else the schedule whose ARN is the job's `MonitoringScheduleArn`), confirms the outcome with
ListMonitoringExecutions (`CompletedWithViolations`), and reads `constraint_violations.json` from the job's output
in the endpoint's account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import aws_errors, error_code
from lifecycle.errors import ActionRefused, RetryableError
from lifecycle.events import AlarmDetail, ProcessingJobDetail
from lifecycle.policy import MonitorType

SCHEDULE_ENV = "sagemaker_monitoring_schedule_name"
ENDPOINT_ENV = "sagemaker_endpoint_name"
VIOLATIONS_FILE = "constraint_violations.json"
# The CloudWatch namespace of each monitor type's metrics: `aws/sagemaker/Endpoints/<kind>-metrics` for an endpoint's
# monitor (dimensions Endpoint and MonitoringSchedule), `aws/sagemaker/ModelMonitoring/<kind>-metrics` for a batch
# transform monitor (MonitoringSchedule only). Developer guide: "CloudWatch Metrics" (Model Monitor), "Model quality
# metrics and Amazon CloudWatch monitoring", "CloudWatch Metrics for Bias Drift Analysis", "CloudWatch Metrics for
# Feature Attribution Drift Analysis".
_METRICS: dict[str, MonitorType] = {
    "data-metrics": "data_quality",
    "model-metrics": "model_quality",
    "bias-metrics": "bias_drift",
    "explainability-metrics": "feature_attribution_drift",
}
MONITOR_NAMESPACES: dict[str, MonitorType] = {
    f"aws/sagemaker/{where}/{metrics}": kind
    for where in ("Endpoints", "ModelMonitoring")
    for metrics, kind in _METRICS.items()
}
FINAL_EXECUTION_STATES = frozenset({"Completed", "CompletedWithViolations", "Failed", "Stopped"})
MAX_EXECUTION_PAGES = 5
MAX_SCHEDULE_PAGES = 10
_NOT_FOUND_S3 = frozenset({"NoSuchKey", "NoSuchBucket", "404"})
# A constraint_violations.json holds one short entry per violated feature or metric (KBs; 8 MB is thousands of
# features). The report is read from a workload account, so it is not trusted: bounded in size and nesting before it
# is parsed (a deeply nested document would raise RecursionError in the JSON parser, a huge one exhaust memory).
MAX_REPORT_BYTES = 8 * 1024 * 1024
MAX_REPORT_DEPTH = 16


class ExecutionNotFinal(RetryableError):
    """The processing job ended but its monitoring execution is not final (or not listed) yet: retry later."""


@dataclass(frozen=True)
class Finding:
    """One line of `constraint_violations.json`: a feature (or metric), the check it failed, the description.

    Each monitor type names what it checked its own way (developer guide, the "Violations" page of each): data quality
    a `feature_name`, model quality a `metric_name`, bias drift a `metric_name` of a `facet` (= `facet_value`), feature
    attribution drift a `metric_name` (shap) of a `label`.
    """

    feature: str
    check: str
    description: str

    def line(self) -> str:
        return f"{self.feature}: {self.check}: {self.description}"


@dataclass(frozen=True)
class AlarmTarget:
    """What a Model Monitor metric alarm watches: a schedule's metric, and its endpoint (none for a batch transform
    monitor)."""

    endpoint_name: str
    schedule_name: str
    namespace: str
    metric_name: str

    @property
    def monitor_type(self) -> MonitorType:
        return MONITOR_NAMESPACES[self.namespace]


def find_schedule(sagemaker: Any, detail: ProcessingJobDetail) -> dict[str, Any] | None:
    """The monitoring schedule a processing job ran for (its DescribeMonitoringSchedule); None for a processing job
    no schedule started.

    The schedule is named by the monitoring container's Environment, else found by the job's MonitoringScheduleArn
    among the account's schedules: an ARN names the schedule in lower case, so a name is never read from it. When
    the job names both, they must be the same schedule.
    """
    arn = detail.MonitoringScheduleArn
    name = detail.Environment.get(SCHEDULE_ENV) or (arn and _schedule_name_with_arn(sagemaker, arn))
    if not name:
        return None
    schedule = describe_schedule(sagemaker, name)
    if arn and schedule["MonitoringScheduleArn"] != arn:
        raise ActionRefused(
            f"processing job {detail.ProcessingJobName} names schedule {name} in its Environment but {arn} as its "
            f"MonitoringScheduleArn"
        )
    return schedule


def _schedule_name_with_arn(sagemaker: Any, arn: str) -> str:
    request: dict[str, Any] = {"MaxResults": 100}
    for _ in range(MAX_SCHEDULE_PAGES):
        with aws_errors("sagemaker:ListMonitoringSchedules"):
            page = sagemaker.list_monitoring_schedules(**request)
        for summary in page.get("MonitoringScheduleSummaries", []):
            if summary["MonitoringScheduleArn"] == arn:
                return str(summary["MonitoringScheduleName"])
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    raise ActionRefused(f"no monitoring schedule of the account has the ARN {arn}")


def alarm_target(detail: AlarmDetail) -> AlarmTarget | None:
    """The schedule (and endpoint, for an endpoint's monitor) of an alarm on a Model Monitor metric; None for any other
    alarm."""
    for query in detail.configuration.metrics:
        metric = query.metricStat.metric if query.metricStat else None
        if metric is None or metric.namespace not in MONITOR_NAMESPACES:
            continue
        endpoint, schedule = metric.dimensions.get("Endpoint", ""), metric.dimensions.get("MonitoringSchedule")
        batch = metric.namespace.startswith("aws/sagemaker/ModelMonitoring/")
        if schedule and (endpoint or batch):
            return AlarmTarget(endpoint, schedule, metric.namespace, metric.name)
    return None


def describe_schedule(sagemaker: Any, name: str) -> dict[str, Any]:
    """DescribeMonitoringSchedule; a schedule that no longer exists is refused."""
    with aws_errors(
        f"sagemaker:DescribeMonitoringSchedule {name}", missing=f"monitoring schedule {name} does not exist"
    ):
        return dict(sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name))


def find_execution(sagemaker: Any, schedule_name: str, processing_job_arn: str) -> dict[str, Any]:
    """The schedule's execution that ran `processing_job_arn` once it is final, newest executions first.

    `ExecutionNotFinal` (retryable) while it is not listed yet or still Pending/InProgress.
    """
    request: dict[str, Any] = {
        "MonitoringScheduleName": schedule_name,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 100,
    }
    for _ in range(MAX_EXECUTION_PAGES):
        with aws_errors(f"sagemaker:ListMonitoringExecutions {schedule_name}"):
            page = sagemaker.list_monitoring_executions(**request)
        for execution in page.get("MonitoringExecutionSummaries", []):
            if execution.get("ProcessingJobArn") == processing_job_arn:
                if execution["MonitoringExecutionStatus"] not in FINAL_EXECUTION_STATES:
                    raise ExecutionNotFinal(
                        f"execution of {schedule_name} for {processing_job_arn} is "
                        f"{execution['MonitoringExecutionStatus']}"
                    )
                return dict(execution)
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    raise ExecutionNotFinal(f"no execution of {schedule_name} lists {processing_job_arn} yet")


def violations_report_uri(sagemaker: Any, job_name: str) -> str:
    """`<output S3Uri>/constraint_violations.json` of a monitoring job (DescribeProcessingJob)."""
    with aws_errors(f"sagemaker:DescribeProcessingJob {job_name}", missing=f"processing job {job_name} does not exist"):
        job = sagemaker.describe_processing_job(ProcessingJobName=job_name)
    outputs = job.get("ProcessingOutputConfig", {}).get("Outputs", [])
    uris = [o["S3Output"]["S3Uri"] for o in outputs if o.get("S3Output", {}).get("S3Uri")]
    if not uris:
        raise ActionRefused(f"monitoring job {job_name} has no S3 output, so no violations report")
    return f"{uris[0].rstrip('/')}/{VIOLATIONS_FILE}"


def read_violations(s3: Any, uri: str) -> list[Finding]:
    """The violations in a `constraint_violations.json`; a missing, oversized, too deeply nested or unreadable report
    is refused."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    with aws_errors(f"s3:GetObject {uri}"):
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_REPORT_BYTES + 1)
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND_S3:
                raise ActionRefused(f"violations report {uri} is missing") from exc
            raise
    if len(body) > MAX_REPORT_BYTES:
        raise ActionRefused(f"violations report {uri} is larger than {MAX_REPORT_BYTES} bytes")
    if _nesting_exceeds(body, MAX_REPORT_DEPTH):
        raise ActionRefused(f"violations report {uri} nests deeper than {MAX_REPORT_DEPTH} levels")
    try:
        document = json.loads(body)
        entries = document["violations"]
        return [
            Finding(
                feature=_checked(entry)[:256],
                check=str(entry.get("constraint_check_type", "-"))[:128],
                description=str(entry.get("description", ""))[:1000],
            )
            for entry in entries
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ActionRefused(f"violations report {uri} is not a constraint_violations.json document") from exc


def _checked(entry: dict[str, Any]) -> str:
    """What a violation entry names: the feature or metric, with the facet (bias) or label (attribution) it is of."""
    name = str(entry.get("feature_name") or entry.get("metric_name") or "-")
    if entry.get("facet"):
        return f"{name} of {entry['facet']}={entry.get('facet_value', '')}"
    return f"{name} of {entry['label']}" if entry.get("label") else name


def _nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether a JSON text opens more than `limit` arrays/objects inside one another (strings skipped)."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif byte in b"]}":
            depth -= 1
    return False


def summarize(violations: list[Finding], *, limit: int = 20) -> list[str]:
    """One line per violation (at most `limit`, then how many more)."""
    lines = [violation.line() for violation in violations[:limit]]
    if len(violations) > limit:
        lines.append(f"... and {len(violations) - limit} more")
    return lines


# --- retraining ----------------------------------------------------------------------------------------------------
def running_training_jobs(sagemaker: Any, name_prefix: str) -> list[str]:
    """Names of InProgress training jobs whose name starts with `name_prefix` (a group's stage retrains)."""
    with aws_errors(f"sagemaker:ListTrainingJobs {name_prefix}"):
        summaries = sagemaker.list_training_jobs(NameContains=name_prefix, StatusEquals="InProgress", MaxResults=100)[
            "TrainingJobSummaries"
        ]
    return [s["TrainingJobName"] for s in summaries if s["TrainingJobName"].startswith(name_prefix)]


def running_pipeline_executions(sagemaker: Any, pipeline_name: str) -> list[str]:
    """ARNs of the pipeline's executions that are still Executing."""
    with aws_errors(
        f"sagemaker:ListPipelineExecutions {pipeline_name}", missing=f"pipeline {pipeline_name} does not exist"
    ):
        summaries = sagemaker.list_pipeline_executions(
            PipelineName=pipeline_name, SortBy="CreationTime", SortOrder="Descending", MaxResults=100
        )["PipelineExecutionSummaries"]
    return [s["PipelineExecutionArn"] for s in summaries if s.get("PipelineExecutionStatus") == "Executing"]


def start_pipeline_execution(sagemaker: Any, request: dict[str, Any]) -> str:
    """StartPipelineExecution; its ClientRequestToken makes a retried start return the same execution."""
    name = request["PipelineName"]
    with aws_errors(f"sagemaker:StartPipelineExecution {name}", missing=f"pipeline {name} does not exist"):
        return str(sagemaker.start_pipeline_execution(**request)["PipelineExecutionArn"])


# --- rolling back ----------------------------------------------------------------------------------------------------
