"""Models of the EventBridge events the product reacts to.

One model per event a rule routes to a reaction: training job, hyperparameter tuning job, labeling job, model package,
processing job (Model Monitor runs), transform job (batch stages), pipeline execution, endpoint deployment,
monitoring schedule and `CloudWatch Alarm State Change`. All three timestamp forms SageMaker uses are accepted
(epoch-millis number, epoch-millis string, ISO string) and fields AWS adds later are kept, not refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from lifecycle.errors import MalformedEvent

_MILLIS = re.compile(r"^\d{1,16}(\.\d+)?$")
# Every instant an event may name lies between the epoch and the last millisecond of year 9999 (what datetime can
# hold): anything outside is malformed, refused at the edge rather than overflowing later (10**20, 1e300).
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
_LATEST_MILLIS = int(_LATEST.timestamp() * 1000)


def _from_millis(millis: float) -> datetime:
    if not 0 <= millis <= _LATEST_MILLIS:  # also refuses NaN
        raise ValueError(f"epoch millis {str(millis)[:30]} are outside 1970..9999")
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _to_datetime(value: object) -> object:
    """Accept epoch millis (number or digit string) and ISO 8601; always return an aware UTC datetime within
    1970..9999."""
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, int | float):
        return _from_millis(value)
    if isinstance(value, str):
        if _MILLIS.match(value):
            return _from_millis(float(value))
        if len(value) > 40:
            raise ValueError("timestamp string too long")
        parsed = datetime.fromisoformat(value)
        try:
            instant = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except OverflowError as exc:
            raise ValueError(f"timestamp {value!r} is outside 1970..9999") from exc
        if not _EARLIEST <= instant <= _LATEST:
            raise ValueError(f"timestamp {value!r} is outside 1970..9999")
        return instant
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    raise ValueError(f"expected epoch millis or an ISO 8601 string, got {type(value).__name__}")


def _capitalized(value: object) -> object:
    """`FAILED`, `failed` and `Failed` alike: `Failed` (other values are left to the field's own check)."""
    return value.capitalize() if isinstance(value, str) else value


EventTime = Annotated[datetime, BeforeValidator(_to_datetime)]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")]
Arn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.{1,1024}$", max_length=2048)]
ResourceName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
Text = Annotated[str, Field(max_length=10240)]
# SageMaker's `Integer` and `Float` shapes are 32-bit. JSON has no NaN or Infinity (RFC 8259), though Python's parser
# reads them (and `1e400` as infinity): a number outside these bounds is malformed, not a value to act on.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Float32 = Annotated[float, Field(ge=-3.4028235e38, le=3.4028235e38, allow_inf_nan=False)]
# `<group>/<version>` (or the group alone): the group's name is up to 63 characters, so the whole may be longer.
PackageName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}(/\d{1,10})?$")]
TagMap = dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=256)]]


class _Model(BaseModel):
    # defer_build: a model's validator is built when it first validates, not at import: a handler pays for the one
    # event model it parses, not for all of them, on its cold start.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, defer_build=True)


# --- training job -------------------------------------------------------------------------------------------------
class MetricDatum(_Model):
    MetricName: Annotated[str, Field(min_length=1, max_length=255)]
    Value: Float32
    Timestamp: EventTime | None = None


class RuleEvaluationStatus(_Model):
    RuleConfigurationName: Annotated[str, Field(min_length=1, max_length=256)]
    RuleEvaluationStatus: Literal["InProgress", "NoIssuesFound", "IssuesFound", "Error", "Stopping", "Stopped"]
    RuleEvaluationJobArn: Arn | None = None
    StatusDetails: Text | None = None
    LastModifiedTime: EventTime | None = None


class AlgorithmSpec(_Model):
    TrainingImage: Annotated[str, Field(max_length=255)] | None = None
    TrainingInputMode: str | None = None


class Artifacts(_Model):
    S3ModelArtifacts: Annotated[str, Field(pattern=r"^(https|s3)://", max_length=1024)]


class TrainingJobDetail(_Model):
    TrainingJobName: ResourceName
    TrainingJobArn: Arn
    TrainingJobStatus: Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
    SecondaryStatus: Annotated[str, Field(max_length=64)] | None = None
    FailureReason: Text | None = None
    CreationTime: EventTime | None = None
    TrainingStartTime: EventTime | None = None
    TrainingEndTime: EventTime | None = None
    LastModifiedTime: EventTime
    HyperParameters: dict[str, Annotated[str, Field(max_length=2500)]] = Field(default_factory=dict)
    AlgorithmSpecification: AlgorithmSpec | None = None
    RoleArn: Arn | None = None
    ModelArtifacts: Artifacts | None = None
    FinalMetricDataList: list[MetricDatum] = Field(default_factory=list)
    DebugRuleEvaluationStatuses: list[RuleEvaluationStatus] | None = None
    ProfilerRuleEvaluationStatuses: list[RuleEvaluationStatus] | None = None
    Tags: TagMap = Field(default_factory=dict)


# --- labeling job ----------------------------------------------------------------------------------------------------
class LabelingJobDetail(_Model):
    LabelingJobStatus: Literal["Initializing", "InProgress", "Completed", "Failed", "Stopping", "Stopped"]


# --- model package ---------------------------------------------------------------------------------------------------
class ModelPackageDetail(_Model):
    ModelPackageGroupName: ResourceName
    ModelPackageVersion: Annotated[Int32, Field(ge=1)]
    ModelPackageArn: Arn
    ModelPackageName: PackageName | None = None
    ModelApprovalStatus: Literal["Approved", "Rejected", "PendingManualApproval"]
    ModelPackageStatus: Literal["Pending", "InProgress", "Completed", "Failed", "Deleting"] | None = None
    ApprovalDescription: Text | None = None
    CreationTime: EventTime
    LastModifiedTime: EventTime | None = None
    InferenceSpecification: dict[str, Any] | None = None
    ModelMetrics: dict[str, Any] | None = None
    CustomerMetadataProperties: TagMap = Field(default_factory=dict)
    UpdatedModelPackageFields: list[Annotated[str, Field(max_length=128)]] = Field(default_factory=list)
    Tags: TagMap = Field(default_factory=dict)


# --- processing job (Model Monitor runs) -----------------------------------------------------------------------------
class ProcessingJobDetail(_Model):
    ProcessingJobName: ResourceName
    ProcessingJobArn: Arn
    ProcessingJobStatus: Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
    ExitMessage: Text | None = None
    FailureReason: Text | None = None
    MonitoringScheduleArn: Arn | None = None
    Environment: dict[Annotated[str, Field(max_length=256)], Annotated[str, Field(max_length=256)]] = Field(
        default_factory=dict
    )
    ProcessingEndTime: EventTime | None = None
    LastModifiedTime: EventTime
    Tags: TagMap = Field(default_factory=dict)


# --- transform job (a batch stage's proof) ---------------------------------------------------------------------------
class TransformJobDetail(_Model):
    TransformJobName: ResourceName
    TransformJobArn: Arn
    TransformJobStatus: Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
    FailureReason: Text | None = None
    ModelName: ResourceName | None = None
    CreationTime: EventTime | None = None
    TransformStartTime: EventTime | None = None
    TransformEndTime: EventTime | None = None
    LastModifiedTime: EventTime | None = None
    Tags: TagMap = Field(default_factory=dict)


# --- CloudWatch alarm ------------------------------------------------------------------------------------------------
class AlarmState(_Model):
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: Text | None = None
    timestamp: EventTime


class AlarmMetric(_Model):
    namespace: Annotated[str, Field(max_length=255)]
    name: Annotated[str, Field(max_length=255)]
    dimensions: dict[str, Annotated[str, Field(max_length=1024)]] = Field(default_factory=dict)


class AlarmMetricStat(_Model):
    metric: AlarmMetric


class AlarmMetricQuery(_Model):
    id: Annotated[str, Field(max_length=255)]
    metricStat: AlarmMetricStat | None = None


class AlarmConfiguration(_Model):
    metrics: list[AlarmMetricQuery] = Field(default_factory=list)
    description: Text | None = None


class AlarmDetail(_Model):
    alarmName: Annotated[str, Field(min_length=1, max_length=255)]
    state: AlarmState
    previousState: AlarmState | None = None
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)


# --- hyperparameter tuning job ---------------------------------------------------------------------------------------
class TuningJobDetail(_Model):
    # HyperParameterTuningJobName: at most 32 characters (service model, HyperParameterTuningJobName)
    HyperParameterTuningJobName: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")]
    HyperParameterTuningJobArn: Arn
    HyperParameterTuningJobStatus: Literal[
        "Completed", "InProgress", "Failed", "Stopped", "Stopping", "Deleting", "DeleteFailed"
    ]
    FailureReason: Text | None = None
    CreationTime: EventTime | None = None
    LastModifiedTime: EventTime
    TrainingJobStatusCounters: dict[Annotated[str, Field(max_length=64)], Int32] = Field(default_factory=dict)
    Tags: TagMap = Field(default_factory=dict)


# --- pipeline execution (keys in camelCase, unlike every other SageMaker event) ---------------------------------------
class PipelineExecutionDetail(_Model):
    pipelineArn: Arn
    pipelineExecutionArn: Arn
    pipelineExecutionDisplayName: Annotated[str, Field(max_length=256)] | None = None
    currentPipelineExecutionStatus: Literal[
        "Executing", "Stopping", "Stopped", "Failed", "Succeeded", "CompletedWithFailures"
    ]
    previousPipelineExecutionStatus: Annotated[str, Field(max_length=64)] | None = None
    executionStartTime: EventTime | None = None
    executionEndTime: EventTime | None = None
    pipelineExecutionDescription: Annotated[str, Field(max_length=3072)] | None = None


# --- endpoint deployment ---------------------------------------------------------------------------------------------
# EndpointStatus as events spell it: the API's status in upper snake case (InService -> IN_SERVICE).
EndpointEventStatus = Literal[
    "OUT_OF_SERVICE",
    "CREATING",
    "UPDATING",
    "SYSTEM_UPDATING",
    "ROLLING_BACK",
    "IN_SERVICE",
    "DELETING",
    "FAILED",
    "UPDATE_ROLLBACK_FAILED",
]


class PendingDeployment(_Model):
    EndpointConfigName: ResourceName


class EndpointDeploymentDetail(_Model):
    EndpointName: ResourceName
    EndpointArn: Arn
    EndpointConfigName: ResourceName | None = None
    EndpointStatus: EndpointEventStatus
    PendingDeploymentSummary: PendingDeployment | None = None
    FailureReason: Text | None = None
    CreationTime: EventTime | None = None
    LastModifiedTime: EventTime
    Tags: TagMap = Field(default_factory=dict)


# --- monitoring schedule ---------------------------------------------------------------------------------------------
class MonitoringScheduleDetail(_Model):
    MonitoringScheduleName: ResourceName
    MonitoringScheduleArn: Arn
    # ScheduleStatus (Pending, Failed, Scheduled, Stopped), in whichever case the event spells it
    MonitoringScheduleStatus: Annotated[
        Literal["Pending", "Failed", "Scheduled", "Stopped"], BeforeValidator(_capitalized)
    ]
    MonitoringType: Literal["DataQuality", "ModelQuality", "ModelBias", "ModelExplainability"] | None = None
    EndpointName: ResourceName | None = None
    FailureReason: Annotated[str, Field(max_length=1024)] | None = None
    CreationTime: EventTime | None = None
    LastModifiedTime: EventTime
    Tags: TagMap = Field(default_factory=dict)


# --- the envelope ----------------------------------------------------------------------------------------------------
class LifecycleEvent(_Model):
    """An EventBridge event; subclasses fix `detail-type`, `source` and the detail model."""

    DETAIL_TYPE: ClassVar[str]
    SOURCE: ClassVar[str] = "aws.sagemaker"

    version: str = "0"
    id: Annotated[str, Field(min_length=1, max_length=256)]
    detail_type: str = Field(alias="detail-type")
    source: str
    account: AccountId
    time: EventTime
    region: Region
    resources: list[Arn] = Field(default_factory=list, max_length=100)
    detail: _Model

    @property
    def primary_arn(self) -> str:
        """The ARN of the resource whose state changed."""
        return self.resources[0] if self.resources else ""

    @property
    def status(self) -> str:
        """The state the resource changed to."""
        raise NotImplementedError

    @property
    def changed_at(self) -> datetime:
        """When the resource changed (its LastModifiedTime when the event has one, else the event time)."""
        return self.time

    def named_arns(self) -> list[str]:
        """Every ARN the event names; trust requires each SageMaker/CloudWatch one to be in `account`."""
        return [*self.resources, self.primary_arn]


class TrainingJobEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker Training Job State Change"
    detail: TrainingJobDetail

    @property
    def primary_arn(self) -> str:
        return self.detail.TrainingJobArn

    @property
    def status(self) -> str:
        return self.detail.TrainingJobStatus

    @property
    def changed_at(self) -> datetime:
        return self.detail.LastModifiedTime

    def named_arns(self) -> list[str]:
        return [*self.resources, self.detail.TrainingJobArn]


class LabelingJobEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker Ground Truth Labeling Job State Change"
    detail: LabelingJobDetail

    @property
    def status(self) -> str:
        return self.detail.LabelingJobStatus


class ModelPackageEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker Model Package State Change"
    detail: ModelPackageDetail

    @property
    def primary_arn(self) -> str:
        return self.detail.ModelPackageArn

    @property
    def status(self) -> str:
        return self.detail.ModelApprovalStatus

    @property
    def changed_at(self) -> datetime:
        return self.detail.LastModifiedTime or self.detail.CreationTime


class ProcessingJobEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker Processing Job State Change"
    detail: ProcessingJobDetail

    @property
    def primary_arn(self) -> str:
        return self.detail.ProcessingJobArn

    @property
    def status(self) -> str:
        return self.detail.ProcessingJobStatus

    @property
    def changed_at(self) -> datetime:
        return self.detail.LastModifiedTime

    def named_arns(self) -> list[str]:
        arns = [*self.resources, self.detail.ProcessingJobArn]
        return [*arns, self.detail.MonitoringScheduleArn] if self.detail.MonitoringScheduleArn else arns


class TransformJobEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker Transform Job State Change"
    detail: TransformJobDetail

    @property
    def primary_arn(self) -> str:
        return self.detail.TransformJobArn

    @property
    def status(self) -> str:
        return self.detail.TransformJobStatus

    @property
    def changed_at(self) -> datetime:
        return self.detail.TransformEndTime or self.detail.LastModifiedTime or self.time

    def named_arns(self) -> list[str]:
        return [*self.resources, self.detail.TransformJobArn]


class AlarmEvent(LifecycleEvent):
    DETAIL_TYPE = "CloudWatch Alarm State Change"
    SOURCE = "aws.cloudwatch"
    detail: AlarmDetail

    @property
    def status(self) -> str:
        return self.detail.state.value

    @property
    def changed_at(self) -> datetime:
        return self.detail.state.timestamp


class TuningJobEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker HyperParameter Tuning Job State Change"
    detail: TuningJobDetail

    @property
    def primary_arn(self) -> str:
        return self.detail.HyperParameterTuningJobArn

    @property
    def status(self) -> str:
        return self.detail.HyperParameterTuningJobStatus

    @property
    def changed_at(self) -> datetime:
        return self.detail.LastModifiedTime

    def named_arns(self) -> list[str]:
        return [*self.resources, self.detail.HyperParameterTuningJobArn]


class PipelineExecutionEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker Model Building Pipeline Execution Status Change"
    detail: PipelineExecutionDetail

    @property
    def primary_arn(self) -> str:
        return self.detail.pipelineExecutionArn

    @property
    def status(self) -> str:
        return self.detail.currentPipelineExecutionStatus

    @property
    def changed_at(self) -> datetime:
        return self.detail.executionEndTime or self.time

    def named_arns(self) -> list[str]:
        return [*self.resources, self.detail.pipelineArn, self.detail.pipelineExecutionArn]


class EndpointDeploymentEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker Endpoint Deployment State Change"
    detail: EndpointDeploymentDetail

    @property
    def primary_arn(self) -> str:
        return self.detail.EndpointArn

    @property
    def status(self) -> str:
        return self.detail.EndpointStatus

    @property
    def changed_at(self) -> datetime:
        return self.detail.LastModifiedTime

    def named_arns(self) -> list[str]:
        return [*self.resources, self.detail.EndpointArn]


class MonitoringScheduleEvent(LifecycleEvent):
    DETAIL_TYPE = "SageMaker Monitoring Schedule State Change"
    detail: MonitoringScheduleDetail

    @property
    def primary_arn(self) -> str:
        return self.detail.MonitoringScheduleArn

    @property
    def status(self) -> str:
        return self.detail.MonitoringScheduleStatus

    @property
    def changed_at(self) -> datetime:
        return self.detail.LastModifiedTime

    def named_arns(self) -> list[str]:
        return [*self.resources, self.detail.MonitoringScheduleArn]


E = TypeVar("E", bound=LifecycleEvent)

EVENT_MODELS: dict[str, type[LifecycleEvent]] = {
    model.DETAIL_TYPE: model
    for model in (
        TrainingJobEvent,
        LabelingJobEvent,
        ModelPackageEvent,
        ProcessingJobEvent,
        TransformJobEvent,
        AlarmEvent,
        TuningJobEvent,
        PipelineExecutionEvent,
        EndpointDeploymentEvent,
        MonitoringScheduleEvent,
    )
}


def event_id_of(raw: object) -> str:
    """The event id for log lines, even from an event too broken to parse."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return raw["id"][:256]
    return "<no id>"


def parse_event(raw: object, expected: type[E] | tuple[type[E], ...]) -> E:
    """Validate a raw EventBridge event as `expected` (or, for a handler of several kinds, as the one its detail-type
    names: the detail-type discriminates); raise `MalformedEvent` naming the first bad field."""
    if not isinstance(raw, dict):
        raise MalformedEvent(f"event is a {type(raw).__name__}, not a JSON object")
    kinds = expected if isinstance(expected, tuple) else (expected,)
    detail_type = raw.get("detail-type")
    model = next((kind for kind in kinds if detail_type == kind.DETAIL_TYPE), None)
    if model is None:
        wanted = " or ".join(repr(kind.DETAIL_TYPE) for kind in kinds)
        raise MalformedEvent(f"detail-type {str(detail_type)[:100]!r} is not {wanted}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedEvent(f"{where}: {first['msg']} ({exc.error_count()} error(s))") from exc
