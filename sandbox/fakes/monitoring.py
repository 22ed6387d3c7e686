"""Model Monitor: job definitions, monitoring schedules, their executions, and the signals a monitoring run gives.

moto has no monitoring schedules. These fakes keep schedules and executions on moto's SageMaker backend of the
account and region the request lands in (so they vanish with it), answer Create/Describe/Update/List as
SageMaker does, and let a scenario run a schedule's execution: the processing job SageMaker would start (named
`model-monitoring-<yyyymmddHHMM>-<8 hex>`, with the monitoring container's `Environment` contract and
`MonitoringScheduleArn`), its `constraint_violations.json` under the schedule's output
(`<S3Uri>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>/`), the execution's status, and the
`SageMaker Processing Job State Change` event. `set_alarm` plays CloudWatch: a Model Monitor metric alarm
changing state and its `CloudWatch Alarm State Change` event; `set_schedule_status` a schedule that fails or is
stopped, and its `SageMaker Monitoring Schedule State Change` event.

moto keeps the four job definitions (data quality, model quality, bias, explainability) but replaces one of the same
name and takes an endpoint and a batch transform input at once: `refuse_what_sagemaker_refuses` makes its Create*
refuse both, as SageMaker does.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Literal

from moto.cloudwatch.models import cloudwatch_backends
from moto.dynamodb.models import DynamoDBBackend
from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeProcessingJob, SageMakerModelBackend, sagemaker_backends

from sandbox.fakes import FakeCall, sagemaker_fake
from sandbox.fakes.arns import sagemaker_arn
from sandbox.fakes.training import as_event_detail
from sandbox.world import WORLD

PROCESSING_DETAIL_TYPE = "SageMaker Processing Job State Change"
SCHEDULE_DETAIL_TYPE = "SageMaker Monitoring Schedule State Change"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
DATA_METRICS = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS = "aws/sagemaker/Endpoints/model-metrics"
BIAS_METRICS = "aws/sagemaker/Endpoints/bias-metrics"
VIOLATIONS_FILE = "constraint_violations.json"
CONTAINER_OUTPUT = "/opt/ml/processing/resultdata"
CONTAINER_INPUT = "/opt/ml/processing/input/endpoint"

Outcome = Literal["violations", "no-violations", "failed"]


# --- DynamoDB: conditional writes are atomic -------------------------------------------------------------------------
# The cool-down relies on DynamoDB evaluating a write's condition and applying it atomically. moto 5.2.5 checks the
# condition, then writes, with no lock: two threads can both pass `attribute_not_exists(pk)`, and a reader can see an
# item an UpdateItem has created but not yet filled. Serializing moto's item writes gives the guarantee back.
_ITEM_WRITES = threading.RLock()
ATOMIC_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


def _serialized(write: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(write, "lifecycle_atomic", False):
        return write

    @wraps(write)
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with _ITEM_WRITES:
            return write(*args, **kwargs)

    atomic.lifecycle_atomic = True  # type: ignore[attr-defined]
    return atomic


for _write in ATOMIC_WRITES:
    setattr(DynamoDBBackend, _write, _serialized(getattr(DynamoDBBackend, _write)))


# --- job definitions: what moto keeps, refused as SageMaker refuses ------------------------------------------------
# API type -> (moto backend's store, the create method's keyword of the job input)
JOB_DEFINITIONS = {
    "DataQuality": ("data_quality_job_definitions", "data_quality_job_input"),
    "ModelQuality": ("model_quality_job_definitions", "model_quality_job_input"),
    "ModelBias": ("model_bias_job_definitions", "model_bias_job_input"),
    "ModelExplainability": ("model_explainability_job_definitions", "model_explainability_job_input"),
}


def _snake(api: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in api).lstrip("_")


def _refusing(api: str, create: Callable[..., Any]) -> Callable[..., Any]:
    store, job_input = JOB_DEFINITIONS[api]

    @wraps(create)
    def refusing(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        name = kwargs["job_definition_name"]
        # API reference, Create<Type>JobDefinition: JobDefinitionName "must be unique within an Amazon Web Services
        # Region in the Amazon Web Services account" (error ResourceInUse); moto silently replaces it.
        if name in getattr(self, store):
            raise ResourceInUseException(message=f"Job definition {name} already exists.")
        # Developer guide, "Schedule data quality monitoring jobs" (and model quality, bias drift, feature attribution
        # drift): "You can specify either a batch transform input or an endpoint input, but not both".
        given = kwargs.get(job_input) or {}
        if given.get("EndpointInput") and given.get("BatchTransformInput"):
            raise ValidationError(message="Specify either an EndpointInput or a BatchTransformInput, not both.")
        return create(self, *args, **kwargs)

    refusing.lifecycle_refusing = True  # type: ignore[attr-defined]
    return refusing


def refuse_what_sagemaker_refuses() -> None:
    """Make moto's Create<Type>JobDefinition refuse a duplicate name and two inputs at once (idempotent)."""
    for api in JOB_DEFINITIONS:
        method = f"create_{_snake(api)}_job_definition"
        current = getattr(SageMakerModelBackend, method)
        if not getattr(current, "lifecycle_refusing", False):
            setattr(SageMakerModelBackend, method, _refusing(api, current))


@dataclass
class MonitoringExecution:
    """One run of a schedule, as ListMonitoringExecutions reports it."""

    schedule_name: str
    scheduled_time: datetime
    creation_time: datetime
    last_modified_time: datetime
    status: str
    processing_job_arn: str
    endpoint_name: str
    monitoring_type: str
    failure_reason: str | None = None

    def summary(self) -> dict[str, Any]:
        summary = {
            "MonitoringScheduleName": self.schedule_name,
            "ScheduledTime": self.scheduled_time,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "MonitoringExecutionStatus": self.status,
            "ProcessingJobArn": self.processing_job_arn,
            "EndpointName": self.endpoint_name,
            "MonitoringType": self.monitoring_type,
        }
        return summary | ({"FailureReason": self.failure_reason} if self.failure_reason else {})


@dataclass
class MonitoringSchedule:
    """A monitoring schedule and its executions, newest last."""

    name: str
    arn: str
    config: dict[str, Any]
    endpoint_name: str
    monitoring_type: str
    creation_time: datetime
    last_modified_time: datetime
    tags: list[dict[str, str]]
    status: str = "Scheduled"
    failure_reason: str | None = None
    executions: list[MonitoringExecution] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        summary = {
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "MonitoringScheduleStatus": self.status,
            "EndpointName": self.endpoint_name,
            "MonitoringType": self.monitoring_type,
        }
        definition_name = self.config.get("MonitoringJobDefinitionName")
        return summary | ({"MonitoringJobDefinitionName": definition_name} if definition_name else {})

    def describe(self) -> dict[str, Any]:
        described = {
            "MonitoringScheduleArn": self.arn,
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleStatus": self.status,
            "MonitoringType": self.monitoring_type,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "MonitoringScheduleConfig": self.config,
            "EndpointName": self.endpoint_name,
        }
        if self.failure_reason:
            described["FailureReason"] = self.failure_reason
        if self.executions:
            described["LastMonitoringExecutionSummary"] = self.executions[-1].summary()
        return described


def schedules(backend: SageMakerModelBackend) -> dict[str, MonitoringSchedule]:
    """The monitoring schedules of one account and region (kept on moto's backend, reset with it)."""
    found: dict[str, MonitoringSchedule] | None = getattr(backend, "lifecycle_monitoring_schedules", None)
    if found is None:
        found = {}
        backend.lifecycle_monitoring_schedules = found  # type: ignore[attr-defined]
    return found


def _schedule(backend: SageMakerModelBackend, name: str) -> MonitoringSchedule:
    found = schedules(backend).get(name)
    if found is None:
        arn = sagemaker_arn("monitoring-schedule", name, backend.account_id, backend.region_name)
        raise ResourceNotFound(message=f"Monitoring Schedule {arn} does not exist.")
    return found


def _definition(backend: SageMakerModelBackend, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(monitoring type, the endpoint input) of a schedule config: inline definition or a named job definition."""
    inline = config.get("MonitoringJobDefinition")
    if inline:
        inputs = inline.get("MonitoringInputs", [])
        endpoint_input = inputs[0].get("EndpointInput") if inputs else None
        if not endpoint_input:
            raise ValidationError(message="MonitoringInputs must name one EndpointInput.")
        return config.get("MonitoringType", "DataQuality"), endpoint_input
    name = config.get("MonitoringJobDefinitionName")
    monitoring_type = config.get("MonitoringType")
    if not name or not monitoring_type:
        raise ValidationError(
            message="Either MonitoringJobDefinition or MonitoringJobDefinitionName and MonitoringType are required."
        )
    store, attribute = JOB_DEFINITIONS[monitoring_type]
    definitions = getattr(backend, store)
    if name not in definitions:
        raise ResourceNotFound(message=f"Job definition {name} of type {monitoring_type} does not exist.")
    job_input = getattr(definitions[name], attribute)
    return monitoring_type, job_input["EndpointInput"]


def job_definition_of(backend: SageMakerModelBackend, found: MonitoringSchedule) -> dict[str, Any]:
    """What a schedule runs, in the inline MonitoringJobDefinition's shape (its output, role, image and environment),
    whether it is inline or a named job definition."""
    inline = found.config.get("MonitoringJobDefinition")
    if inline:
        return dict(inline)
    store, _ = JOB_DEFINITIONS[found.monitoring_type]
    described = getattr(backend, store)[found.config["MonitoringJobDefinitionName"]].response_object
    app = described.get(f"{found.monitoring_type}AppSpecification") or {}
    return {
        "MonitoringOutputConfig": described[f"{found.monitoring_type}JobOutputConfig"],
        "MonitoringAppSpecification": {"ImageUri": app.get("ImageUri", "")},
        "Environment": app.get("Environment", {}),
        "RoleArn": described.get("RoleArn"),
    }


def _checked(backend: SageMakerModelBackend, config: dict[str, Any]) -> tuple[str, str]:
    """(monitoring type, endpoint name) of a config whose endpoint exists, as SageMaker requires."""
    monitoring_type, endpoint_input = _definition(backend, config)
    endpoint_name = endpoint_input["EndpointName"]
    if endpoint_name not in backend.endpoints:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    return monitoring_type, endpoint_name


@sagemaker_fake("CreateMonitoringSchedule")
def create_monitoring_schedule(call: FakeCall) -> dict[str, Any]:
    """A schedule on an existing endpoint, `Scheduled` at once; a second one of the same name is refused."""
    name = call.params["MonitoringScheduleName"]
    known = schedules(call.backend)
    arn = sagemaker_arn("monitoring-schedule", name, call.account, call.region)
    if name in known:
        raise ResourceInUseException(message=f"Monitoring Schedule {arn} already exists.")
    config = call.params["MonitoringScheduleConfig"]
    monitoring_type, endpoint_name = _checked(call.backend, config)
    now = datetime.now(UTC)
    known[name] = MonitoringSchedule(
        name=name,
        arn=arn,
        config=config,
        endpoint_name=endpoint_name,
        monitoring_type=monitoring_type,
        creation_time=now,
        last_modified_time=now,
        tags=call.params.get("Tags", []),
    )
    return {"MonitoringScheduleArn": arn}


@sagemaker_fake("DescribeMonitoringSchedule")
def describe_monitoring_schedule(call: FakeCall) -> dict[str, Any]:
    """The stored schedule, its config as given, and the summary of its latest execution once one ran."""
    return _schedule(call.backend, call.params["MonitoringScheduleName"]).describe()


@sagemaker_fake("UpdateMonitoringSchedule")
def update_monitoring_schedule(call: FakeCall) -> dict[str, Any]:
    """Replace a schedule's config (the endpoint must still exist); its executions are kept."""
    found = _schedule(call.backend, call.params["MonitoringScheduleName"])
    config = call.params["MonitoringScheduleConfig"]
    found.monitoring_type, found.endpoint_name = _checked(call.backend, config)
    found.config = config
    found.status = "Scheduled"
    found.last_modified_time = datetime.now(UTC)
    return {"MonitoringScheduleArn": found.arn}


@sagemaker_fake("DeleteMonitoringSchedule")
def delete_monitoring_schedule(call: FakeCall) -> dict[str, Any]:
    """Remove a schedule (and so stop it); one that does not exist is ResourceNotFound (API reference,
    DeleteMonitoringSchedule)."""
    found = _schedule(call.backend, call.params["MonitoringScheduleName"])
    del schedules(call.backend)[found.name]
    return {}


@sagemaker_fake("ListTags")
def list_tags(call: FakeCall) -> dict[str, Any]:
    """The tags of a resource: a monitoring schedule's from its fake (moto has no schedules), any other's from moto
    (API reference, ListTags: "Returns the tags for the specified SageMaker resource")."""
    arn = call.params["ResourceArn"]
    if ":monitoring-schedule/" in arn:
        found = next((known for known in schedules(call.backend).values() if known.arn == arn), None)
        if found is None:
            raise ResourceNotFound(message=f"Monitoring Schedule {arn} does not exist.")
        return {"Tags": found.tags}
    paged, token = call.backend.list_tags(  # moto's own, paginated
        arn=arn, MaxResults=call.params.get("MaxResults"), NextToken=call.params.get("NextToken")
    )
    return {"Tags": paged} | ({"NextToken": token} if token else {})


def _page(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 10)
    page = {key: items[start : start + size]}
    return page | ({"NextToken": str(start + size)} if start + size < len(items) else {})


def _window(params: dict[str, Any], prefix: str, value: datetime) -> bool:
    """`<prefix>Before` / `<prefix>After` filters (epoch seconds on the wire, as botocore sends them)."""
    before, after = params.get(f"{prefix}Before"), params.get(f"{prefix}After")
    return (before is None or value < _aware(before)) and (after is None or value > _aware(after))


def _aware(value: float | str | datetime) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@sagemaker_fake("ListMonitoringSchedules")
def list_monitoring_schedules(call: FakeCall) -> dict[str, Any]:
    """Filter by endpoint, name, status, type and times; sorted newest first unless asked otherwise."""
    params = call.params
    found = [
        s
        for s in schedules(call.backend).values()
        if params.get("EndpointName") in (None, s.endpoint_name)
        and params.get("NameContains", "") in s.name
        and params.get("StatusEquals") in (None, s.status)
        and params.get("MonitoringTypeEquals") in (None, s.monitoring_type)
        and params.get("MonitoringJobDefinitionName") in (None, s.config.get("MonitoringJobDefinitionName"))
        and _window(params, "CreationTime", s.creation_time)
        and _window(params, "LastModifiedTime", s.last_modified_time)
    ]
    sort_key = {"Name": lambda s: s.name, "Status": lambda s: s.status}.get(
        params.get("SortBy", "CreationTime"), lambda s: s.creation_time
    )
    found.sort(key=sort_key, reverse=params.get("SortOrder", "Descending") == "Descending")
    return _page([s.summary() for s in found], params, "MonitoringScheduleSummaries")


@sagemaker_fake("ListMonitoringExecutions")
def list_monitoring_executions(call: FakeCall) -> dict[str, Any]:
    """Filter by schedule, endpoint, status, type and times; sorted newest first unless asked otherwise."""
    params = call.params
    found = [
        e
        for s in schedules(call.backend).values()
        if params.get("MonitoringScheduleName") in (None, s.name)
        and params.get("MonitoringJobDefinitionName") in (None, s.config.get("MonitoringJobDefinitionName"))
        for e in s.executions
        if params.get("EndpointName") in (None, e.endpoint_name)
        and params.get("StatusEquals") in (None, e.status)
        and params.get("MonitoringTypeEquals") in (None, e.monitoring_type)
        and _window(params, "ScheduledTime", e.scheduled_time)
        and _window(params, "CreationTime", e.creation_time)
        and _window(params, "LastModifiedTime", e.last_modified_time)
    ]
    sort_key = {"ScheduledTime": lambda e: e.scheduled_time, "Status": lambda e: e.status}.get(
        params.get("SortBy", "CreationTime"), lambda e: e.creation_time
    )
    found.sort(key=sort_key, reverse=params.get("SortOrder", "Descending") == "Descending")
    return _page([e.summary() for e in found], params, "MonitoringExecutionSummaries")


# --- scripted world: a schedule runs ----------------------------------------------------------------------------------
def default_violations(monitoring_type: str = "DataQuality") -> list[dict[str, str]]:
    """What a run of each monitor type reports when it finds violations, in that type's own schema (developer guide:
    "Schema for Violations", "Model Quality Metrics", "Bias Drift Violations", "Model Feature Attribution Drift
    Violations"): two drifted features, a degraded AUC, a worse class imbalance, a changed SHAP ranking."""
    if monitoring_type == "ModelQuality":
        return [
            {
                "metric_name": "auc",
                "constraint_check_type": "LessThanThreshold",
                "description": "Metric auc with 0.71 was LessThanThreshold '0.8'",
            }
        ]
    if monitoring_type == "ModelBias":
        return [
            {
                "facet": "age",
                "facet_value": "40",
                "metric_name": "CI",
                "constraint_check_type": "bias_drift_check",
                "description": "Value 0.0751544567666083 does not meet the constraint requirement",
            }
        ]
    if monitoring_type == "ModelExplainability":
        return [
            {
                "label": "churn",
                "metric_name": "shap",
                "constraint_check_type": "feature_attribution_drift_check",
                "description": "Feature attribution drift 0.81 exceeds threshold 0.9",
            }
        ]
    return [
        {
            "feature_name": "tenure_months",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance: 0.41 exceeds threshold: 0.1",
        },
        {
            "feature_name": "monthly_charges",
            "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met. Expected: Fractional, Observed: String 12.5%",
        },
    ]


def output_prefix(definition: dict[str, Any], found: MonitoringSchedule, scheduled: datetime) -> str:
    """Where SageMaker writes a run's reports: `<S3Uri>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>`."""
    outputs = definition.get("MonitoringOutputConfig", {}).get("MonitoringOutputs", [])
    if not outputs:
        raise ValueError(f"schedule {found.name} has no MonitoringOutputConfig to write reports to")
    base = outputs[0]["S3Output"]["S3Uri"].rstrip("/")
    return f"{base}/{found.endpoint_name}/{found.name}/{scheduled:%Y/%m/%d/%H}"


def _write(account: str, uri: str, body: dict[str, Any]) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = s3_backends[account]["global"]
    if bucket not in s3.buckets:
        s3.create_bucket(bucket, "us-east-1")
    s3.put_object(bucket, key, json.dumps(body, indent=2).encode())


def run_execution(
    account: str,
    region: str,
    schedule_name: str,
    *,
    outcome: Outcome,
    violations: list[dict[str, str]] | None = None,
    scheduled_time: datetime | None = None,
    write_report: bool = True,
) -> dict[str, Any]:
    """Run one execution of a schedule to `outcome` and emit its processing job's state-change event.

    `violations` default to `default_violations()` when the outcome is "violations"; `write_report=False` leaves
    the run without its `constraint_violations.json` (a report lost or deleted).
    """
    backend = sagemaker_backends[account][region]
    found = _schedule(backend, schedule_name)
    now = datetime.now(UTC)
    scheduled = (scheduled_time or now).replace(minute=0, second=0, microsecond=0)
    suffix = hashlib.sha256(f"{found.arn}{scheduled.isoformat()}".encode()).hexdigest()[:8]
    job_name = f"model-monitoring-{scheduled:%Y%m%d%H%M}-{suffix}"
    definition = job_definition_of(backend, found)
    prefix = output_prefix(definition, found, scheduled)
    job = backend.create_processing_job(
        app_specification={"ImageUri": definition.get("MonitoringAppSpecification", {}).get("ImageUri", "")},
        experiment_config=None,  # type: ignore[arg-type]  (absent, as on a monitoring job)
        network_config=definition.get("NetworkConfig"),  # type: ignore[arg-type]
        processing_inputs=[
            {
                "InputName": "endpoint_input_1",
                "S3Input": {
                    "S3Uri": f"s3://capture/{found.endpoint_name}",
                    "LocalPath": CONTAINER_INPUT,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        processing_job_name=job_name,
        processing_output_config={
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {"S3Uri": prefix, "LocalPath": CONTAINER_OUTPUT, "S3UploadMode": "EndOfJob"},
                }
            ]
        },
        role_arn=definition.get("RoleArn", f"arn:aws:iam::{account}:role/SageMakerMonitoringRole"),
        stopping_condition={"MaxRuntimeInSeconds": 3600},
        tags=[],
    )
    found_violations = (
        (violations if violations is not None else default_violations(found.monitoring_type))
        if outcome == "violations"
        else []
    )
    _finish(job, found, definition, scheduled, outcome=outcome, count=len(found_violations))
    if outcome != "failed" and write_report:
        _write(account, f"{prefix}/{VIOLATIONS_FILE}", {"violations": found_violations})
    now = job.last_modified_time
    execution_status = {"violations": "CompletedWithViolations", "no-violations": "Completed", "failed": "Failed"}
    found.executions.append(
        MonitoringExecution(
            schedule_name=found.name,
            scheduled_time=scheduled,
            creation_time=job.creation_time,
            last_modified_time=now,
            status=execution_status[outcome],
            processing_job_arn=job.arn,
            endpoint_name=found.endpoint_name,
            monitoring_type=found.monitoring_type,
            failure_reason=getattr(job, "failure_reason", None),
        )
    )
    return emit_processing_state(job)


def _finish(
    job: FakeProcessingJob,
    found: MonitoringSchedule,
    definition: dict[str, Any],
    scheduled: datetime,
    *,
    outcome: Outcome,
    count: int,
) -> None:
    """Give the job what a monitoring run's job has: Environment contract, schedule ARN, exit message, end state."""
    job.environment = {
        **definition.get("Environment", {}),
        "dataset_format": '{"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}',
        "dataset_source": CONTAINER_INPUT,
        "output_path": CONTAINER_OUTPUT,
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": found.endpoint_name,
        "sagemaker_monitoring_schedule_name": found.name,
        "start_time": f"{scheduled.replace(hour=(scheduled.hour - 1) % 24):%Y-%m-%dT%H:%M:%SZ}",
        "end_time": f"{scheduled:%Y-%m-%dT%H:%M:%SZ}",
    }
    job.monitoring_schedule_arn = found.arn
    job.last_modified_time = job.processing_end_time = datetime.now(UTC)
    if outcome == "failed":
        job.processing_job_status = "Failed"
        job.failure_reason = "AlgorithmError: Error: Encoding mismatch: Encoding is CSV for endpointInput"
        job.exit_message = "Error: Encoding mismatch: Encoding is CSV for endpointInput"
    elif outcome == "violations":
        job.processing_job_status = "Completed"
        job.exit_message = f"CompletedWithViolations: Job completed successfully with {count} violations."
    else:
        job.processing_job_status = "Completed"
        job.exit_message = "Completed: Job completed successfully with no violations."


def emit_processing_state(job: FakeProcessingJob) -> dict[str, Any]:
    """Emit the processing job's state-change event: its Describe shape, epoch-millis times, Tags as a map."""
    account, region = job.arn.split(":")[4], job.arn.split(":")[3]
    detail: dict[str, Any] = as_event_detail(job.response_object)
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in job.tags or []}
    return WORLD.emit(
        account=account, region=region, detail_type=PROCESSING_DETAIL_TYPE, detail=detail, resources=[job.arn]
    )


# --- scripted world: a Model Monitor metric alarm changes state ------------------------------------------------------
def _alarm_time(when: datetime) -> str:
    """CloudWatch writes alarm state timestamps as `2026-11-27T14:00:12.345+0000`."""
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}+0000"


def set_alarm(
    account: str,
    region: str,
    *,
    alarm_name: str,
    endpoint_name: str,
    schedule_name: str,
    state: Literal["ALARM", "OK"],
    metric_name: str = "feature_baseline_drift_tenure_months",
    namespace: str = DATA_METRICS,
    threshold: float = 0.1,
) -> dict[str, Any]:
    """Create (once) the alarm on a Model Monitor metric, move it to `state` and emit its state-change event."""
    cloudwatch = cloudwatch_backends[account][region]
    # A batch transform monitor's metrics (aws/sagemaker/ModelMonitoring/...) have no Endpoint dimension.
    named = {"Endpoint": endpoint_name, "MonitoringSchedule": schedule_name} if endpoint_name else {}
    named = named or {"MonitoringSchedule": schedule_name}
    dimensions = [{"Name": key, "Value": value} for key, value in named.items()]
    if alarm_name not in cloudwatch.alarms:
        cloudwatch.put_metric_alarm(
            name=alarm_name,
            namespace=namespace,
            metric_name=metric_name,
            metric_data_queries=None,
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            datapoints_to_alarm=1,
            period=3600,
            threshold=threshold,
            statistic="Maximum",
            extended_statistic=None,
            description=f"Model Monitor drift of {metric_name} on {endpoint_name}",
            dimensions=dimensions,
            alarm_actions=[],
            ok_actions=[],
            insufficient_data_actions=[],
            unit=None,
            actions_enabled=True,
            treat_missing_data="notBreaching",
            evaluate_low_sample_count_percentile=None,
            threshold_metric_id=None,
            rule=None,
            tags=[],
        )
    alarm = cloudwatch.alarms[alarm_name]
    previous = {
        "value": alarm.state_value,
        "reason": alarm.state_reason,
        "timestamp": _alarm_time(alarm.state_updated_timestamp),
    }
    reason = (
        f"Threshold Crossed: 1 datapoint [0.41] was greater than the threshold ({threshold})."
        if state == "ALARM"
        else f"Threshold Crossed: 1 datapoint [0.02] was not greater than the threshold ({threshold})."
    )
    cloudwatch.set_alarm_state(alarm_name, reason, json.dumps({"version": "1.0"}), state)
    now = datetime.now(UTC)
    detail = {
        "alarmName": alarm_name,
        "state": {"value": state, "reason": reason, "timestamp": _alarm_time(now)},
        "previousState": previous,
        "configuration": {
            "description": alarm.description,
            "metrics": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "namespace": namespace,
                            "name": metric_name,
                            "dimensions": named,
                        },
                        "period": 3600,
                        "stat": "Maximum",
                    },
                    "returnData": True,
                }
            ],
        },
    }
    return WORLD.emit(
        account=account,
        region=region,
        detail_type=ALARM_DETAIL_TYPE,
        detail=detail,
        resources=[alarm.alarm_arn],
        source="aws.cloudwatch",
    )


# --- scripted world: a schedule fails or is stopped ------------------------------------------------------------------
def set_schedule_status(
    account: str, region: str, name: str, *, status: Literal["Failed", "Stopped", "Scheduled"], reason: str = ""
) -> dict[str, Any]:
    """A schedule becomes `status` (with its FailureReason when it failed) and SageMaker emits its state change.

    The event's detail is the DescribeMonitoringSchedule shape, as SageMaker's other state-change events are: the
    detail of `SageMaker Monitoring Schedule State Change` is not documented beyond its detail-type (EventBridge
    events reference, "Amazon SageMaker AI events")."""
    backend = sagemaker_backends[account][region]
    found = _schedule(backend, name)
    found.status = status
    found.failure_reason = reason if status == "Failed" else None
    found.last_modified_time = datetime.now(UTC)
    detail = as_event_detail(
        {
            "MonitoringScheduleName": found.name,
            "MonitoringScheduleArn": found.arn,
            "MonitoringScheduleStatus": status,
            "MonitoringType": found.monitoring_type,
            "EndpointName": found.endpoint_name or None,
            "FailureReason": found.failure_reason,
            "CreationTime": found.creation_time,
            "LastModifiedTime": found.last_modified_time,
        }
    )
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in found.tags}
    return WORLD.emit(
        account=account, region=region, detail_type=SCHEDULE_DETAIL_TYPE, detail=detail, resources=[found.arn]
    )
