"""The Model Monitor schedules of a stage's endpoint: one per monitor the deployment creates, each running the job
definition of its type (data quality, model quality, bias drift, feature attribution drift), created, or updated to the
stage's policy.

A job definition cannot be changed (there is no Update*JobDefinition), so its name carries a digest of its content: a
policy that changes makes a new definition and the schedule is updated to run it (UpdateMonitoringSchedule); the same
policy finds its definition and schedule as they are and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.deploy.endpoints import resource_name
from lifecycle.errors import InvalidDeploymentInput
from lifecycle.monitoring.images import ANALYZER_IMAGES, CLARIFY_IMAGES
from lifecycle.policy import (
    GROUP_TAG,
    BaseMonitor,
    BiasDriftMonitor,
    ClarifyMonitor,
    DataQualityMonitor,
    ModelQualityMonitor,
    MonitorType,
    Stage,
)

_PROCESSING_INPUT = "/opt/ml/processing/input/endpoint"
_PROCESSING_OUTPUT = "/opt/ml/processing/output"
_DIGEST = 8
# The API's name of each monitor type: MonitoringScheduleConfig.MonitoringType, and the prefix of its job definition's
# operations and request members (CreateModelBiasJobDefinition, ModelBiasAppSpecification, ...).
API_TYPES: dict[MonitorType, str] = {
    "data_quality": "DataQuality",
    "model_quality": "ModelQuality",
    "bias_drift": "ModelBias",
    "feature_attribution_drift": "ModelExplainability",
}
MONITOR_TYPES: dict[str, MonitorType] = {api: monitor for monitor, api in API_TYPES.items()}
# Where each type's baseline job writes the constraints a schedule checks against (the SDK's suggested_constraints:
# constraints.json of the analyzer, analysis.json of SageMaker Clarify).
_CONSTRAINTS_FILE: dict[MonitorType, str] = {
    "data_quality": "constraints.json",
    "model_quality": "constraints.json",
    "bias_drift": "analysis.json",
    "feature_attribution_drift": "analysis.json",
}


def schedule_name(endpoint_name: str, monitor_type: MonitorType) -> str:
    """One schedule per monitor type on an endpoint: `<endpoint>-data-quality`, `<endpoint>-bias-drift`, ..."""
    return resource_name(endpoint_name, monitor_type.replace("_", "-"))


def monitor_schedule_name(stage: Stage, monitor: BaseMonitor) -> str:
    """The schedule a monitor of the stage reacts to: the one named in its policy, else the product's."""
    return monitor.schedule_name or schedule_name(stage.endpoint_name, monitor.type)


def _image(monitor: BaseMonitor, region: str) -> str:
    """Model Monitor's analyzer runs data- and model-quality monitors; SageMaker Clarify the bias and attribution
    ones."""
    clarify = isinstance(monitor, ClarifyMonitor)
    image = (CLARIFY_IMAGES if clarify else ANALYZER_IMAGES).get(region)
    which = "SageMaker Clarify" if clarify else "Model Monitor analyzer"
    if image is None:
        raise InvalidDeploymentInput(f"no {which} image is known for region {region}")
    return image


def _endpoint_input(stage: Stage, monitor: BaseMonitor) -> dict[str, Any]:
    """The captured requests and answers of the stage's endpoint, and which of their attributes the monitor reads."""
    endpoint: dict[str, Any] = {
        "EndpointName": stage.endpoint_name,
        "LocalPath": _PROCESSING_INPUT,
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }
    attributes = {
        "FeaturesAttribute": getattr(monitor, "features_attribute", None),
        "InferenceAttribute": getattr(monitor, "inference_attribute", None),
        "ProbabilityAttribute": getattr(monitor, "probability_attribute", None),
        "ProbabilityThresholdAttribute": getattr(monitor, "probability_threshold", None),
    }
    return endpoint | {key: value for key, value in attributes.items() if value is not None}


def _app_specification(stage: Stage, monitor: BaseMonitor) -> dict[str, Any]:
    app: dict[str, Any] = {"ImageUri": _image(monitor, stage.region)}
    environment = {"publish_cloudwatch_metrics": "Enabled"}
    if isinstance(monitor, DataQualityMonitor):
        environment["dataset_format"] = '{"sagemakerCaptureJson": {}}'
    if isinstance(monitor, ModelQualityMonitor):
        app["ProblemType"] = monitor.problem_type
    if isinstance(monitor, ClarifyMonitor):
        app["ConfigUri"] = monitor.analysis_config_s3_uri
    return app | {"Environment": environment}


def _baseline(monitor: BaseMonitor) -> dict[str, Any] | None:
    if monitor.baseline_s3_uri is None:
        return None
    base = monitor.baseline_s3_uri.rstrip("/")
    baseline: dict[str, Any] = {"ConstraintsResource": {"S3Uri": f"{base}/{_CONSTRAINTS_FILE[monitor.type]}"}}
    if isinstance(monitor, DataQualityMonitor):
        baseline["StatisticsResource"] = {"S3Uri": f"{base}/statistics.json"}
    return baseline


def job_definition_request(stage: Stage, monitor: BaseMonitor, *, group: str) -> dict[str, Any]:
    """The Create<Type>JobDefinition request of a monitor the deployment creates (pure: validated in tests); its name
    is `<endpoint>-<type>-<digest of its content>`."""
    if monitor.reports_s3_uri is None:
        raise InvalidDeploymentInput(f"stage {stage.name}: the {monitor.type} monitor is not created by the deployment")
    api = API_TYPES[monitor.type]
    job_input: dict[str, Any] = {"EndpointInput": _endpoint_input(stage, monitor)}
    if isinstance(monitor, ModelQualityMonitor | BiasDriftMonitor):
        job_input["GroundTruthS3Input"] = {"S3Uri": monitor.ground_truth_s3_uri}
    content: dict[str, Any] = {
        f"{api}AppSpecification": _app_specification(stage, monitor),
        f"{api}JobInput": job_input,
        f"{api}JobOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": monitor.reports_s3_uri,
                        "LocalPath": _PROCESSING_OUTPUT,
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        "JobResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": monitor.instance_type, "VolumeSizeInGB": 20}
        },
        "RoleArn": stage.execution_role_arn,
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    baseline = _baseline(monitor)
    if baseline is not None:
        content[f"{api}BaselineConfig"] = baseline
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:_DIGEST]
    name = resource_name(stage.endpoint_name, monitor.type.replace("_", "-"), digest)
    return {"JobDefinitionName": name, **content, "Tags": [{"Key": GROUP_TAG, "Value": group}]}


def schedule_config(monitor: BaseMonitor, definition_name: str) -> dict[str, Any]:
    """MonitoringScheduleConfig of a monitor: its schedule running its job definition (pure: validated in tests)."""
    return {
        "ScheduleConfig": {"ScheduleExpression": monitor.schedule_expression},
        "MonitoringJobDefinitionName": definition_name,
        "MonitoringType": API_TYPES[monitor.type],
    }


def _snake(api: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in api).lstrip("_")


def _ensure_definition(sagemaker: Any, monitor: BaseMonitor, request: dict[str, Any]) -> bool:
    """Create the job definition unless one of its (content-derived) name exists; True when this call created it."""
    name, operation = request["JobDefinitionName"], _snake(API_TYPES[monitor.type])
    with aws_errors(f"sagemaker:Describe{API_TYPES[monitor.type]}JobDefinition {name}"):
        try:
            getattr(sagemaker, f"describe_{operation}_job_definition")(JobDefinitionName=name)
            return False
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
    with aws_errors(f"sagemaker:Create{API_TYPES[monitor.type]}JobDefinition {name}"):
        try:
            getattr(sagemaker, f"create_{operation}_job_definition")(**request)
        except ClientError as exc:
            if error_code(exc) != "ResourceInUse":  # a concurrent attempt created it first: the same content
                raise
            return False
    return True


def _describe(sagemaker: Any, name: str) -> dict[str, Any] | None:
    with aws_errors(f"sagemaker:DescribeMonitoringSchedule {name}"):
        try:
            return dict(sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name))
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            return None


@dataclass(frozen=True)
class Ensured:
    """What the deployment did to one monitor's schedule: created, updated or unchanged, and its name."""

    schedule: str
    outcome: str
    definition: str


def ensure_monitor(sagemaker: Any, stage: Stage, monitor: BaseMonitor, *, group: str) -> Ensured:
    """Create the monitor's job definition and schedule, or update the schedule to the policy's definition."""
    request = job_definition_request(stage, monitor, group=group)
    definition = request["JobDefinitionName"]
    _ensure_definition(sagemaker, monitor, request)
    name = monitor_schedule_name(stage, monitor)
    config = schedule_config(monitor, definition)
    existing = _describe(sagemaker, name)
    if existing is None:
        with aws_errors(f"sagemaker:CreateMonitoringSchedule {name}"):
            sagemaker.create_monitoring_schedule(
                MonitoringScheduleName=name, MonitoringScheduleConfig=config, Tags=[{"Key": GROUP_TAG, "Value": group}]
            )
        return Ensured(name, "created", definition)
    current = existing.get("MonitoringScheduleConfig") or {}
    if all(current.get(key) == value for key, value in config.items()):
        return Ensured(name, "unchanged", definition)
    with aws_errors(f"sagemaker:UpdateMonitoringSchedule {name}"):
        sagemaker.update_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=config)
    return Ensured(name, "updated", definition)


def monitor_status(sagemaker: Any, stage: Stage) -> str:
    """What the stage's monitors last said, per monitor: `no schedule`, `no run yet`, or the last run's status."""
    said = []
    for monitor in stage.monitoring:
        schedule = _describe(sagemaker, monitor_schedule_name(stage, monitor))
        last = (schedule or {}).get("LastMonitoringExecutionSummary") or {}
        status = last.get("MonitoringExecutionStatus")
        state = "no schedule" if schedule is None else f"last run {status}" if status else "no run yet"
        said.append(f"{monitor.key} {state}")
    return "; ".join(said) or "not monitored"
