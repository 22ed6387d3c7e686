"""The policy of a model package group: what the product does for that model, and its loader.

Users keep one document per group in git and publish it (as JSON) to SSM Parameter Store under
`/<stack>/policies/<group>`. Functions read it through powertools Parameters, cached for five minutes.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Iterator
from functools import lru_cache
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import botocore.session
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import UnknownRegionError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lifecycle.aws import THROTTLING_CODES
from lifecycle.config import Settings
from lifecycle.errors import (
    AwsCallFailed,
    PolicyInvalid,
    PolicyNotFound,
    RetryableError,
    ThrottlingError,
    UntrustedEvent,
)

GROUP_TAG = "lifecycle:model-package-group"
POLICY_CACHE_SECONDS = 300
# The largest BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds SageMaker accepts (botocore model: max 28800).
ROLLOUT_MAX_SECONDS = 28800

AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")]
GroupName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
EndpointName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
ResourceName = EndpointName  # every SageMaker name of that pattern (endpoints, schedules, ...)
S3Uri = Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", max_length=1024)]
RoleArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@/_-]+$", max_length=2048)]
InstanceType = Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")]
# A full KMS key ARN (S3 API reference, SSEKMSEncryption.KMSKeyArn); it also fits CreateTrainingJob's
# OutputDataConfig.KmsKeyId (`[a-zA-Z0-9:/_-]*`, at most 2048).
KmsKeyArn = Annotated[
    str, Field(pattern=r"^arn:aws[a-zA-Z0-9-]*:kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]+$", max_length=2048)
]


class _Strict(BaseModel):
    """Policy documents refuse unknown keys: a typo must not silently turn a guardrail off."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use (cold start)


class MetricDefinition(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    regex: Annotated[str, Field(min_length=1, max_length=500)]


class TrainingTemplate(_Strict):
    """How to start a training job for this model (after labeling, or to retrain)."""

    account: AccountId
    region: Region
    role_arn: RoleArn
    image: Annotated[str, Field(min_length=1, max_length=255)]
    instance_type: InstanceType
    instance_count: Annotated[int, Field(ge=1, le=100)] = 1
    volume_size_gb: Annotated[int, Field(ge=1, le=16384)] = 30
    max_runtime_seconds: Annotated[int, Field(ge=60, le=28 * 24 * 3600)] = 24 * 3600
    hyperparameters: dict[Annotated[str, Field(max_length=256)], Annotated[str, Field(max_length=2500)]] = Field(
        default_factory=dict
    )
    metric_definitions: list[MetricDefinition] = Field(default_factory=list, max_length=40)
    input_s3_uri: S3Uri | None = None
    fresh_data_s3_uri: S3Uri | None = None
    output_s3_uri: S3Uri
    output_kms_key_arn: KmsKeyArn | None = Field(
        default=None,
        description="customer managed key that encrypts the model artifacts (OutputDataConfig.KmsKeyId); without "
        "it SageMaker uses the training account's aws/s3 key, which no other account can use",
    )
    channel_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9\.\-_]{1,64}$")] = "train"
    input_mode: Literal["File", "Pipe", "FastFile"] = "Pipe"
    content_type: Annotated[str, Field(max_length=256)] | None = None
    record_wrapper: Literal["None", "RecordIO"] | None = None
    pipeline_name: GroupName | None = None
    pipeline_data_parameter: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-_]{1,256}$")] | None = Field(
        default=None, description="the pipeline's parameter that receives fresh_data_s3_uri when a retrain starts it"
    )
    tuning: Literal["best", "each"] = Field(
        default="best",
        description="for a hyperparameter tuning job: best registers its best training job once, when the tuning job "
        "completes (its trials are not registered); each registers every trial that passes the gate",
    )


class MetricGate(_Strict):
    """A training job is registered only when `metric comparison threshold` holds."""

    metric: Annotated[str, Field(min_length=1, max_length=255)]
    comparison: Literal[">=", ">", "<=", "<"] = ">="
    threshold: Annotated[float, Field(allow_inf_nan=False)]  # NaN compares false both ways: no gate at all


class Registry(_Strict):
    """Where passing models are registered, how they are approved, and what the package says about inference."""

    account: AccountId
    region: Region
    auto_approve: bool = False
    inference_image: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    supported_content_types: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=lambda: ["application/json"], min_length=1
    )
    supported_response_types: list[Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=lambda: ["application/json"], min_length=1
    )
    realtime_instance_types: list[InstanceType] = Field(default_factory=list)
    metrics_report_s3_uri: (
        Annotated[str, Field(pattern=r"^s3://.*\{training_job_name\}.*$", max_length=1024)] | None
    ) = Field(default=None, description="s3:// URI template of a model-quality report; {training_job_name}")
    approvers: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(default_factory=list)


class DebuggerPolicy(_Strict):
    """Debugger / profiler rules whose `IssuesFound` stops the training job (others only notify)."""

    stop_on_rules: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(default_factory=list)


class LabelingPolicy(_Strict):
    min_labeled_objects: Annotated[int, Field(ge=0)] = 0


class Match(_Strict):
    """How resources the product did not create are mapped to this group (after the lineage tag)."""

    name_prefixes: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(default_factory=list)
    label_attribute_names: list[Annotated[str, Field(min_length=1, max_length=127)]] = Field(default_factory=list)


class AllAtOnce(_Strict):
    type: Literal["all_at_once"] = "all_at_once"
    wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 0

    def total_wait_seconds(self) -> int:
        """The baking period after the one shift."""
        return self.wait_seconds


class Canary(_Strict):
    type: Literal["canary"] = "canary"
    # TrafficRoutingConfig.CanarySize: "Value must be less than or equal to 50% of the variant's total instance count".
    percent: Annotated[int, Field(ge=1, le=50)]
    wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 600

    def total_wait_seconds(self) -> int:
        """Two shifts (the canary, then the rest), each followed by a baking period."""
        return 2 * self.wait_seconds


class Linear(_Strict):
    type: Literal["linear"] = "linear"
    # TrafficRoutingConfig.LinearStepSize: "Value must be 10-50% of the variant's total instance count" (API reference).
    percent: Annotated[int, Field(ge=10, le=50)]
    interval_seconds: Annotated[int, Field(ge=0, le=3600)] = 600

    def total_wait_seconds(self) -> int:
        """One baking period after each of the ceil(100 / percent) steps."""
        return math.ceil(100 / self.percent) * self.interval_seconds


class AbTest(_Strict):
    type: Literal["ab"] = "ab"
    challenger_weight: Annotated[float, Field(gt=0, lt=1)]
    wait_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        default=600, description="how long the product watches the stage's rollback alarms after the variants change"
    )

    def total_wait_seconds(self) -> int:
        return self.wait_seconds


class ShadowCompare(_Strict):
    """How the shadow variant's CloudWatch metrics must compare with the production variant's to be promoted."""

    metric: Literal["ModelLatency", "Invocation5XXErrors"] = Field(
        default="ModelLatency",
        description="ModelLatency: the average; Invocation5XXErrors: errors per invocation",
    )
    max_regression: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = Field(
        default=0.1,
        description="how much worse the shadow may be: a fraction of production's average latency (0.1 = 10% "
        "slower), or of all invocations for the error rate (0.01 = one point more)",
    )
    min_invocations: Annotated[int, Field(ge=1, le=10**9)] = Field(
        default=100, description="fewer shadow invocations than this is no evidence: the shadow is ended, not promoted"
    )


class Shadow(_Strict):
    type: Literal["shadow"] = "shadow"
    percent: Annotated[int, Field(ge=1, le=100)] = Field(
        description="the share of production requests SageMaker copies to the new version (its answers go nowhere)"
    )
    # SageMaker's own shadow tests last at most 30 days ("Create a shadow test", developer guide).
    minimum_hours: Annotated[float, Field(gt=0, le=720, allow_inf_nan=False)] = Field(
        description="how long the shadow runs before its metrics are compared (people may decide earlier)"
    )
    compare: ShadowCompare = Field(default_factory=ShadowCompare)
    wait_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        default=600, description="the baking period of the promotion (guarded, the stage's alarms armed)"
    )

    def total_wait_seconds(self) -> int:
        """The promotion's baking period (the shadow's own time is not part of a SageMaker deployment)."""
        return self.wait_seconds

    def minimum_seconds(self) -> int:
        return max(1, round(self.minimum_hours * 3600))


Strategy = Annotated[AllAtOnce | Canary | Linear | AbTest | Shadow, Field(discriminator="type")]


# --- how a stage serves ---------------------------------------------------------------------------------------------
class ScalingTarget(_Strict):
    """What target tracking keeps at `value`: invocations per instance, or a named CloudWatch metric of the variant."""

    invocations_per_instance: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None, description="SageMakerVariantInvocationsPerInstance (per minute)"
    )
    metric: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="a metric with the dimensions EndpointName and VariantName, e.g. CPUUtilization"
    )
    namespace: Annotated[str, Field(min_length=1, max_length=255)] = "/aws/sagemaker/Endpoints"
    statistic: Literal["Average", "Minimum", "Maximum", "SampleCount", "Sum"] = "Average"
    value: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None, description="the metric's target value (with `metric`)"
    )

    @model_validator(mode="after")
    def _one_target(self) -> ScalingTarget:
        if (self.invocations_per_instance is None) == (self.metric is None):
            raise ValueError("name one target: invocations_per_instance, or metric (with value)")
        if (self.metric is None) != (self.value is None):
            raise ValueError("a metric target needs its value (and a value needs its metric)")
        return self


class Autoscaling(_Strict):
    """Application Auto Scaling of the stage's main variant: a scalable target and a target-tracking policy."""

    min: Annotated[int, Field(ge=1, le=100)]
    max: Annotated[int, Field(ge=1, le=100)]
    target: ScalingTarget
    scale_in_cooldown: Annotated[int, Field(ge=0, le=3600)] = 300
    scale_out_cooldown: Annotated[int, Field(ge=0, le=3600)] = 60

    @model_validator(mode="after")
    def _min_below_max(self) -> Autoscaling:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is more than max ({self.max})")
        return self


class Serverless(_Strict):
    """A serverless endpoint (ProductionVariantServerlessConfig) instead of instances."""

    memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144]
    max_concurrency: Annotated[int, Field(ge=1, le=200)]
    provisioned_concurrency: Annotated[int, Field(ge=1, le=200)] | None = None

    @model_validator(mode="after")
    def _provisioned_within_max(self) -> Serverless:
        # ProductionVariantServerlessConfig.ProvisionedConcurrency: "Should be less than or equal to MaxConcurrency".
        if self.provisioned_concurrency is not None and self.provisioned_concurrency > self.max_concurrency:
            raise ValueError(
                f"provisioned_concurrency ({self.provisioned_concurrency}) is more than max_concurrency "
                f"({self.max_concurrency})"
            )
        return self


class Batch(_Strict):
    """A batch stage: no endpoint; the model is proved by a transform job on `input_s3_uri`."""

    input_s3_uri: S3Uri
    output_s3_uri: S3Uri
    instance_type: InstanceType
    instance_count: Annotated[int, Field(ge=1, le=100)] = 1
    content_type: Annotated[str, Field(max_length=256)] | None = None
    split_type: Literal["None", "Line", "RecordIO", "TFRecord"] = "Line"


class SmokeTest(_Strict):
    # The deployment carries the stage (payload included) in its Step Functions state, which AWS caps at 256 KB for
    # the whole plan: a sample request of a few KB is what a smoke test needs.
    payload: Annotated[str, Field(min_length=1, max_length=16 * 1024)]
    content_type: Annotated[str, Field(max_length=1024)] = "application/json"
    expect_contains: Annotated[str, Field(max_length=1024)] | None = None


# The monitoring schedule expressions SageMaker supports (ScheduleConfig, SageMaker API Reference): hourly, daily at an
# hour (00-23), every N hours (01-24) from an hour. `NOW` (one run) also needs DataAnalysisStartTime/EndTime.
_HOUR = r"(?:[01]?\d|2[0-3])"
_SCHEDULE = re.compile(rf"^cron\(0 (?:\*|{_HOUR}|{_HOUR}/(?:0?[1-9]|1\d|2[0-4])) \? \* \* \*\)$")
MonitorType = Literal["data_quality", "model_quality", "bias_drift", "feature_attribution_drift"]
Attribute = Annotated[str, Field(min_length=1, max_length=256)]


class DataCapture(_Strict):
    """What the stage's endpoint captures (its endpoint config's DataCaptureConfig): what its monitors analyze."""

    s3_uri: S3Uri
    percent: Annotated[int, Field(ge=1, le=100)] = 100


class BaseMonitor(_Strict):
    """What every monitor of a stage has: when it runs, what a violation does (with its own cool-down), and whose
    schedule it is."""

    type: MonitorType
    schedule_expression: Annotated[str, Field(min_length=1, max_length=256)] = "cron(0 * ? * * *)"
    on_violation: Literal["retrain", "rollback", "notify"] = "notify"
    cooldown_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 24
    reports_s3_uri: S3Uri | None = Field(
        default=None,
        description="where the schedule the deployment creates writes its reports; without it the schedule is yours "
        "and the product only reacts to it",
    )
    schedule_name: ResourceName | None = Field(
        default=None,
        description="your own schedule this monitor reacts to (a batch transform monitor, say); without it the "
        "schedule of this type on the stage's endpoint",
    )
    baseline_s3_uri: S3Uri | None = Field(
        default=None, description="prefix holding the baseline job's output (constraints, and statistics)"
    )
    instance_type: InstanceType = "ml.m5.xlarge"

    @field_validator("schedule_expression")
    @classmethod
    def _supported_schedule(cls, expression: str) -> str:
        if not _SCHEDULE.match(expression):
            raise ValueError(
                "SageMaker accepts cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H, 0-23) or "
                "cron(0 H/N ? * * *) (every N hours, 1-24, from hour H); NOW needs a data analysis window the product "
                "does not set (ScheduleConfig, SageMaker API Reference)"
            )
        return expression

    @model_validator(mode="after")
    def _created_or_named(self) -> BaseMonitor:
        if self.reports_s3_uri and self.schedule_name:
            raise ValueError(
                "reports_s3_uri asks the deployment to create this monitor's schedule, schedule_name names a schedule "
                "of yours: set one of them"
            )
        return self

    @property
    def created_by_deployment(self) -> bool:
        """Whether the deployment creates this monitor's job definition and schedule (else it only reacts)."""
        return self.reports_s3_uri is not None

    @property
    def key(self) -> str:
        """What tells this monitor from the stage's others: its own schedule's name, else its type."""
        return self.schedule_name or self.type


class DataQualityMonitor(BaseMonitor):
    """Drift of the captured inputs from the baseline's statistics and constraints (Model Monitor's analyzer)."""

    type: Literal["data_quality"] = "data_quality"


class ModelQualityMonitor(BaseMonitor):
    """The model's quality metrics on captured predictions merged with ground truth labels (Model Monitor's
    analyzer)."""

    type: Literal["model_quality"] = "model_quality"
    problem_type: Literal["BinaryClassification", "MulticlassClassification", "Regression"]
    ground_truth_s3_uri: S3Uri
    inference_attribute: Attribute | None = None
    probability_attribute: Attribute | None = None
    probability_threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class ClarifyMonitor(BaseMonitor):
    """A SageMaker Clarify monitor: its analysis configuration and which parts of the captured records it reads."""

    analysis_config_s3_uri: S3Uri = Field(description="the Clarify analysis configuration (analysis_config.json)")
    features_attribute: Attribute | None = None
    inference_attribute: Attribute | None = None
    probability_attribute: Attribute | None = None
    probability_threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class BiasDriftMonitor(ClarifyMonitor):
    """Drift of the bias metrics (SageMaker Clarify) of the predictions against ground truth labels."""

    type: Literal["bias_drift"] = "bias_drift"
    ground_truth_s3_uri: S3Uri


class FeatureAttributionDriftMonitor(ClarifyMonitor):
    """Drift of the features' attributions (SHAP values, SageMaker Clarify) from the baseline's."""

    type: Literal["feature_attribution_drift"] = "feature_attribution_drift"


Monitor = Annotated[
    DataQualityMonitor | ModelQualityMonitor | BiasDriftMonitor | FeatureAttributionDriftMonitor,
    Field(discriminator="type"),
]
# What a stage's single monitor of policies before the monitors list said: its keys, and where each goes now.
_LEGACY_CAPTURE = {"capture_s3_uri": "s3_uri", "capture_percent": "percent"}


def migrated_stage(stage: Any) -> tuple[Any, str | None]:
    """A stage document with a single-monitor `monitoring` mapping (the form before the list of monitors) in today's
    form: its data-quality monitor in the list, its data capture in `data_capture`; and the deprecation note, or None
    when there was nothing to migrate."""
    if isinstance(stage, dict) and "monitoring" in stage and stage["monitoring"] is None:
        return {key: value for key, value in stage.items() if key != "monitoring"}, None  # null was "no monitor"
    monitoring = stage.get("monitoring") if isinstance(stage, dict) else None
    if not isinstance(monitoring, dict):
        return stage, None
    capture = {new: monitoring[old] for old, new in _LEGACY_CAPTURE.items() if old in monitoring}
    monitor = {"type": "data_quality"} | {k: v for k, v in monitoring.items() if k not in _LEGACY_CAPTURE}
    migrated = {**stage, "monitoring": [monitor]} | ({"data_capture": capture} if capture else {})
    note = (
        "a single monitor (a mapping) is deprecated and read as one data_quality monitor: write `monitoring:` as a "
        "list of monitors, each with its type (data_quality, model_quality, bias_drift, feature_attribution_drift)"
        + (", and capture_s3_uri/capture_percent as `data_capture: {s3_uri, percent}`" if capture else "")
    )
    return migrated, note


def deprecations(document: Any) -> list[str]:
    """`field: note` for each deprecated form a policy document uses (still read, migrated, until removed)."""
    deployment = document.get("deployment") if isinstance(document, dict) else None
    stages = deployment.get("stages") if isinstance(deployment, dict) else None
    notes = []
    for index, stage in enumerate(stages if isinstance(stages, list) else []):
        _, note = migrated_stage(stage)
        if note:
            notes.append(f"deployment.stages[{index}].monitoring: {note}")
    return notes


class Stage(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")]
    account: AccountId
    region: Region
    endpoint_name: EndpointName | None = Field(default=None, description="required, except for a batch stage")
    execution_role_arn: RoleArn
    instance_type: InstanceType | None = Field(
        default=None, description="required, except for a serverless or batch stage"
    )
    instance_count: Annotated[int, Field(ge=1, le=100)] = 1
    autoscaling: Autoscaling | None = None
    serverless: Serverless | None = None
    batch: Batch | None = None
    strategy: Strategy = Field(default_factory=AllAtOnce)
    rollback_alarms: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=10
    )
    smoke_test: SmokeTest | None = None
    approval_required: bool = False
    approval: Literal["before_traffic", "at_canary"] = Field(
        default="before_traffic",
        description="where the gate sits: before anything in the stage changes, or with the canary share serving",
    )
    approval_timeout_hours: Annotated[float, Field(gt=0, le=24 * 14)] = 24
    on_gate_reject: Literal["keep_package", "reject_package"] = Field(
        default="keep_package", description="reject_package also marks the package Rejected in the registry"
    )
    wait_timeout_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = Field(
        default=60,
        description="how long SageMaker may take to provision the stage's new fleet (a batch stage: to run its "
        "transform job)",
    )
    poll_seconds: Annotated[int, Field(ge=1, le=600)] = Field(
        default=60, description="how often the DeployModel state machine checks the endpoint (a Wait-state loop)"
    )
    data_capture: DataCapture | None = None
    monitoring: list[Monitor] = Field(default_factory=list, max_length=10)

    @model_validator(mode="before")
    @classmethod
    def _single_monitor_migrated(cls, data: Any) -> Any:
        return migrated_stage(data)[0]

    def rollout_seconds(self) -> int:
        """How long a rollout of this stage may take: provisioning plus every baking period of the strategy."""
        return self.wait_timeout_minutes * 60 + self.strategy.total_wait_seconds()

    @model_validator(mode="after")
    def _rollout_fits_sagemaker(self) -> Stage:
        # BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds: 600-28800, and "should be larger than the total
        # waiting time specified in TerminationWaitInSeconds and WaitIntervalInSeconds" (API reference).
        if self.rollout_seconds() > ROLLOUT_MAX_SECONDS:
            raise ValueError(
                f"stage {self.name}: provisioning ({self.wait_timeout_minutes} min) plus the strategy's baking periods "
                f"({self.strategy.total_wait_seconds()} s) is {self.rollout_seconds()} s, more than SageMaker's "
                f"maximum deployment time of {ROLLOUT_MAX_SECONDS} s: shorten the waits or use larger steps"
            )
        return self

    def _extras(self) -> list[str]:
        """The instance-endpoint settings this stage sets (by value: a plan re-validates a dumped stage)."""
        found = {
            "endpoint_name": self.endpoint_name is not None,
            "instance_type": self.instance_type is not None,
            "instance_count": self.instance_count != 1,
            "autoscaling": self.autoscaling is not None,
            "monitoring": bool(self.monitoring),
            "data_capture": self.data_capture is not None,
            "rollback_alarms": bool(self.rollback_alarms),
            "smoke_test": self.smoke_test is not None,
            f"strategy {self.strategy.type}": self.strategy != AllAtOnce(),
            "approval at_canary": self.approval == "at_canary",
        }
        return [name for name, present in found.items() if present]

    @model_validator(mode="after")
    def _serves_one_way(self) -> Stage:
        """An instance endpoint, a serverless endpoint or a batch stage, each with only what SageMaker allows it."""
        if self.batch is not None:
            extras = self._extras() + (["serverless"] if self.serverless else [])
            if extras:
                raise ValueError(
                    f"stage {self.name}: a batch stage has no endpoint, so {', '.join(extras)} do not apply (its "
                    "transform job runs on batch.instance_type)"
                )
            return self
        if not self.endpoint_name:
            raise ValueError(f"stage {self.name}: endpoint_name is required (or batch, for a batch stage)")
        if self.serverless is not None:
            allowed = {"endpoint_name", "rollback_alarms", "smoke_test"} | {
                f"strategy {t}" for t in ("all_at_once", "canary", "linear")
            }
            refused = [name for name in self._extras() if name not in allowed]
            if refused:
                raise ValueError(
                    f"stage {self.name}: a serverless stage cannot have {', '.join(refused)}: SageMaker Serverless "
                    "Inference has no instances to count or scale and supports neither multiple production variants "
                    "(A/B, a canary variant), shadow variants, data capture nor Model Monitor; its deployments are "
                    "blue/green all_at_once, canary or linear"
                )
            return self
        if not self.instance_type:
            raise ValueError(f"stage {self.name}: instance_type is required (or serverless, or batch)")
        scaling = self.autoscaling
        if scaling and not scaling.min <= self.instance_count <= scaling.max:
            raise ValueError(
                f"stage {self.name}: instance_count ({self.instance_count}) must lie within autoscaling min "
                f"({scaling.min}) and max ({scaling.max}): it is the fleet a new config starts with"
            )
        return self

    @model_validator(mode="after")
    def _monitors_fit_the_endpoint(self) -> Stage:
        keys = [monitor.key for monitor in self.monitoring]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(
                f"stage {self.name}: two monitors of {', '.join(repeated)}: one schedule per type on an endpoint (name "
                "other schedules of yours with schedule_name)"
            )
        created = [monitor.type for monitor in self.monitoring if monitor.created_by_deployment]
        if created and self.data_capture is None:
            raise ValueError(
                f"stage {self.name}: the deployment creates the {', '.join(created)} schedule(s) from what the "
                "endpoint captures: set data_capture (or drop reports_s3_uri to keep a schedule of yours)"
            )
        return self

    def monitor_for(self, key: str) -> BaseMonitor | None:
        """The stage's monitor of that key (a type, or the name of a schedule of yours)."""
        return next((monitor for monitor in self.monitoring if monitor.key == key), None)

    @model_validator(mode="after")
    def _gate_at_canary_needs_a_canary(self) -> Stage:
        if self.approval == "at_canary" and not (self.approval_required and isinstance(self.strategy, Canary)):
            raise ValueError(
                f"stage {self.name}: approval: at_canary needs approval_required: true and a canary strategy "
                "(the canary share serves while a person decides)"
            )
        return self


class Deployment(_Strict):
    stages: list[Stage] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _unique_stage_names(self) -> Deployment:
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        return self

    @model_validator(mode="after")
    def _one_stage_per_endpoint(self) -> Deployment:
        # Two stages on one endpoint would deploy over each other (and each restore the other's "previous" config).
        seen: dict[tuple[str, str, str], str] = {}
        for stage in self.stages:
            if stage.endpoint_name is None:  # a batch stage
                continue
            where = (stage.account, stage.region, stage.endpoint_name)
            if where in seen:
                raise ValueError(
                    f"stages {seen[where]!r} and {stage.name!r} name one endpoint "
                    f"({stage.endpoint_name} in {stage.account}/{stage.region}): each stage needs its own"
                )
            seen[where] = stage.name
        return self


class Notifications(_Strict):
    topic_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")] | None = (
        None
    )


class Policy(_Strict):
    """One model package group's policy."""

    group: GroupName
    match: Match = Field(default_factory=Match)
    training: TrainingTemplate | None = None
    gate: MetricGate | None = None
    registry: Registry
    debugger: DebuggerPolicy = Field(default_factory=DebuggerPolicy)
    labeling: LabelingPolicy = Field(default_factory=LabelingPolicy)
    deployment: Deployment | None = None
    notifications: Notifications = Field(default_factory=Notifications)
    sensitive: bool = False

    @model_validator(mode="after")
    def _cross_account_artifacts_need_a_key(self) -> Policy:
        """Artifacts read in another account than training's must be encrypted with a key that account may use.

        Without `OutputDataConfig.KmsKeyId`, SageMaker encrypts the model artifacts with "the default KMS key for
        Amazon S3 for your role's account" (API reference, CreateTrainingJob, OutputDataConfig.KmsKeyId): an AWS
        managed key, whose key policy no other account can be granted, so a registry or a stage in another account
        could not load the model.
        """
        training = self.training
        if training is None or training.output_kms_key_arn:
            return self
        stages = self.deployment.stages if self.deployment else []
        readers = [("registry", self.registry.account), *((f"stage {stage.name}", stage.account) for stage in stages)]
        others = [f"{what} (account {account})" for what, account in readers if account != training.account]
        if others:
            raise ValueError(
                f"training.output_kms_key_arn is required: {', '.join(others)} must read model artifacts trained in "
                f"account {training.account}, which the account's default aws/s3 key does not allow; name a customer "
                "managed KMS key those accounts are granted"
            )
        return self


def check_training_source(policy: Policy, *, account: str, region: str) -> None:
    """Authority comes from the policy, never from the event: a training job's event counts for a group only when it
    comes from the policy's training account and region (an allow-listed account only proves the event genuine).
    Refused before anything is read or written."""
    template = policy.training
    if template is None:
        raise UntrustedEvent(
            f"policy of group {policy.group} names no training account: no training job event counts for it"
        )
    if (account, region) != (template.account, template.region):
        raise UntrustedEvent(
            f"training job events of group {policy.group} count only from its training account {template.account} "
            f"({template.region}), not from {account} ({region})"
        )


def _unwrapped(annotation: Any) -> Any:
    """The type inside `Annotated[...]` and `X | None`."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if get_origin(annotation) in (Union, UnionType):
            members = [member for member in get_args(annotation) if member is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _step(annotation: Any, part: str | int) -> Any:
    """The type at `part` of a value of type `annotation` (a field, an item, a map value, a union's tagged member)."""
    annotation = _unwrapped(annotation)
    origin = get_origin(annotation)
    if origin in (Union, UnionType):  # a discriminated union: pydantic puts the member's tag in the path
        return next(
            (
                member
                for member in get_args(annotation)
                if isinstance(member, type)
                and issubclass(member, BaseModel)
                and any(  # the member's tag: a Literal field whose default is `part` (`type` here, `kind` for inputs)
                    get_origin(field.annotation) is Literal and field.default == part
                    for field in member.model_fields.values()
                )
            ),
            None,
        )
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
        found = annotation.model_fields.get(part)
        return found.annotation if found else None
    if origin is list and isinstance(part, int):
        return get_args(annotation)[0]
    if origin is dict and isinstance(part, str):
        return get_args(annotation)[1]
    return None


def _type_at(model: Any, loc: tuple[str | int, ...]) -> Any:
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return _unwrapped(annotation)


def _suggestion(wrong: object, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(wrong), choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def _hint(error: Any, model: Any) -> str:
    """What to write instead: the key or value meant (a typo), the keys allowed here, or the quotes YAML needs."""
    loc, wrong = tuple(error["loc"]), error.get("input")
    hints: list[str] = []
    if error["type"] == "extra_forbidden":
        owner = _type_at(model, loc[:-1])
        if isinstance(owner, type) and issubclass(owner, BaseModel):
            allowed = list(owner.model_fields)
            hints = [_suggestion(loc[-1], allowed), f"allowed here: {', '.join(allowed)}"]
    elif error["type"] == "literal_error":
        expected = _type_at(model, loc)
        hints = [_suggestion(wrong, [str(value) for value in get_args(expected)])] if expected is not None else []
    elif error["type"] == "union_tag_invalid":
        context = error.get("ctx", {})
        hints = [_suggestion(context.get("tag"), re.findall(r"'([^']*)'", str(context.get("expected_tags", ""))))]
    elif error["type"] == "string_type" and isinstance(wrong, int | float) and not isinstance(wrong, bool):
        if loc and loc[-1] == "account" and len(str(wrong)) != 12:
            hints = [
                "YAML read unquoted digits as a number, dropping leading zeros or reading them as octal: "
                'write the 12 digits in quotes, e.g. account: "012345678901"'
            ]
        else:
            hints = [f'YAML reads unquoted digits as a number: write it in quotes, "{wrong}"']
    said = " ".join(hint for hint in hints if hint)
    return f" ({said})" if said else ""


def describe_errors(exc: ValidationError, model: Any = Policy) -> list[str]:
    """`field.path[1].x: what was expected, got what` for each error, in the style users read, with what to write
    instead when it can be told: the key meant and the keys allowed (an unknown key), the value meant (a typo in a
    choice), the quotes an account id needs in YAML."""
    lines = []
    for error in exc.errors(include_url=False):
        path = ""
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        got = error.get("input")
        shown = f", got {got!r}" if not isinstance(got, dict | list) and error["type"] != "missing" else ""
        lines.append(f"{path or '<document>'}: {error['msg']}{shown}{_hint(error, model)}")
    return lines


def validate_policy(document: Any, *, group: str) -> Policy:
    """Validate a policy document; the error names the group and every bad field."""
    try:
        policy = Policy.model_validate(document)
    except ValidationError as exc:
        raise PolicyInvalid(f"policy of group {group!r} is invalid: " + "; ".join(describe_errors(exc))) from exc
    if policy.group != group:
        raise PolicyInvalid(f"policy published for group {group!r} names group {policy.group!r}")
    return policy


_ARN = re.compile(r"^arn:(?P<partition>[a-z-]+):[a-z0-9-]+:[a-z0-9-]*:(?P<account>\d{12})?:")


@lru_cache(maxsize=64)
def partition_of(region: str) -> str | None:
    """The partition a region belongs to, from the SDK's endpoint data (None for a region it does not know)."""
    try:
        return str(botocore.session.get_session().get_partition_for_region(region))
    except UnknownRegionError:
        return None


def _fields(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every field of a dumped policy, nested ones included (`deployment.stages[1].account`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, str(key), item
            yield from _fields(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _fields(item, f"{path}[{index}]")


def installation_problems(policy: Policy, *, trusted_accounts: Collection[str], partition: str) -> list[str]:
    """What makes a valid policy unusable by one installation, as `field: why`.

    Every account the policy names (an `account` field, or the account inside an ARN: roles, topics, keys) must be one
    the stack trusts (its AllowedAccountIds and its own account), so a policy cannot send a step to an account the
    installer never admitted; every region and ARN must be in the stack's partition, where its roles and bus live.
    """
    problems = []
    for path, key, value in _fields(policy.model_dump(mode="json", exclude_none=True)):
        if not isinstance(value, str):
            continue
        arn = _ARN.match(value)
        account = value if key == "account" else (arn["account"] if arn else None)
        if account and account not in trusted_accounts:
            problems.append(f"{path}: account {account} is not on the stack's allow-list (AllowedAccountIds)")
        if arn and arn["partition"] != partition:
            problems.append(f"{path}: ARN in partition {arn['partition']!r}, the stack's is {partition!r}")
        if key == "region" and partition_of(value) != partition:
            where = partition_of(value)
            found = f"partition {where!r}" if where else "no partition the SDK knows"
            problems.append(f"{path}: region {value} is in {found}, the stack's is {partition!r}")
    return problems


def load_policy(group: str, settings: Settings) -> Policy:
    """The validated policy of `group`, from SSM (cached). `PolicyNotFound` when none is published; `PolicyInvalid`
    when it is invalid, or names an account off the stack's allow-list or a region of another partition."""
    name = f"{settings.policy_path}/{group}"
    try:
        document = parameters.get_parameter(name, transform="json", max_age=POLICY_CACHE_SECONDS)
    except parameters.exceptions.TransformParameterError as exc:
        raise PolicyInvalid(f"policy of group {group!r} at {name} is not valid JSON") from exc
    except parameters.exceptions.GetParameterError as exc:
        if "ParameterNotFound" in repr(exc.__cause__) or "ParameterNotFound" in str(exc):
            raise PolicyNotFound(f"no policy for model package group {group!r} (expected at {name})") from exc
        raise ssm_failure(f"ssm:GetParameter {name}", exc) from exc
    policy = validate_policy(document, group=group)
    problems = installation_problems(policy, trusted_accounts=settings.trusted_accounts, partition=settings.partition)
    if problems:
        raise PolicyInvalid(
            f"policy of group {group!r} is refused by stack {settings.stack_name!r}: " + "; ".join(problems)
        )
    return policy


def ssm_failure(what: str, exc: parameters.exceptions.GetParameterError) -> RetryableError:
    """powertools reports every SSM failure as GetParameterError (the SDK error only in its text): make it the
    product's typed, retryable error, so throttling and 5xx are retried and dead-lettered like any AWS failure."""
    text = str(exc)
    throttled = any(f"({code})" in text for code in THROTTLING_CODES)
    return (ThrottlingError if throttled else AwsCallFailed)(f"{what}: {text}"[:1000])


def match_group(documents: dict[str, Any], *, name: str, label_attribute: str | None = None) -> str | None:
    """The group whose policy claims `name` by its longest name prefix, else by label attribute name. Two policies
    claiming it with prefixes of the same length: the group first by name (the same answer whatever order SSM lists
    the policies in).

    Pure: `documents` maps group name to the raw policy document. Documents that are not even shaped like a policy
    are skipped here; the chosen one is validated by `load_policy`.
    """
    best: tuple[int, str] | None = None
    by_label: str | None = None
    for group, document in sorted(documents.items()):
        match = document.get("match", {}) if isinstance(document, dict) else {}
        for prefix in match.get("name_prefixes", []) if isinstance(match, dict) else []:
            if isinstance(prefix, str) and name.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), group)
        labels = match.get("label_attribute_names", []) if isinstance(match, dict) else []
        if by_label is None and label_attribute and label_attribute in labels:
            by_label = group
    return best[1] if best else by_label


def match_stage(documents: dict[str, Any], *, account: str, region: str, endpoint: str) -> tuple[str, str] | None:
    """(group, stage name) of the policy whose deployment stage runs `endpoint` in `account`/`region`.

    Pure: `documents` maps group name to the raw policy document (None for one that is not JSON). The first group in
    name order wins; the chosen policy is validated by `load_policy`.
    """
    for group, document in sorted(documents.items()):
        deployment = document.get("deployment") if isinstance(document, dict) else None
        stages = deployment.get("stages", []) if isinstance(deployment, dict) else []
        for stage in stages if isinstance(stages, list) else []:
            if not isinstance(stage, dict):
                continue
            if (stage.get("account"), stage.get("region"), stage.get("endpoint_name")) == (account, region, endpoint):
                return group, str(stage.get("name"))
    return None


def policy_for_endpoint(settings: Settings, *, account: str, region: str, endpoint: str) -> tuple[Policy, Stage]:
    """The validated policy and stage that run `endpoint` in `account`/`region`; `PolicyNotFound` when none does."""
    found = match_stage(policy_documents(settings), account=account, region=region, endpoint=endpoint)
    if found is None:
        raise PolicyNotFound(f"no policy deploys endpoint {endpoint} in account {account} ({region})")
    policy = load_policy(found[0], settings)
    stage = next((s for s in (policy.deployment.stages if policy.deployment else []) if s.name == found[1]), None)
    if stage is None:
        raise PolicyNotFound(f"policy of group {policy.group} no longer has stage {found[1]}")
    return policy, stage


def policy_documents(settings: Settings) -> dict[str, Any]:
    """Every published policy document by group, raw (cached): for matching a resource to its group."""
    try:
        return dict(parameters.get_parameters(settings.policy_path, transform="json", max_age=POLICY_CACHE_SECONDS))
    except parameters.exceptions.GetParameterError as exc:
        raise ssm_failure(f"ssm:GetParametersByPath {settings.policy_path}", exc) from exc


def find_policy(settings: Settings, *, tags: dict[str, str], name: str, label_attribute: str | None = None) -> Policy:
    """The policy for a resource: its lineage tag, then a policy's name prefix, then its label attribute name."""
    group = tags.get(GROUP_TAG)
    if group:
        return load_policy(group, settings)
    group = match_group(policy_documents(settings), name=name, label_attribute=label_attribute)
    if group is None:
        raise PolicyNotFound(f"no policy claims {name!r} (no {GROUP_TAG} tag, no matching name prefix)")
    return load_policy(group, settings)
