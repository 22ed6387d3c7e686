"""The Model Monitor data-quality schedule of an endpoint: created, or updated to the stage's policy."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.deploy.endpoints import resource_name
from lifecycle.errors import InvalidDeploymentInput
from lifecycle.monitoring.images import ANALYZER_IMAGES
from lifecycle.policy import GROUP_TAG, Stage, StageMonitoring

_PROCESSING_INPUT = "/opt/ml/processing/input/endpoint"
_PROCESSING_OUTPUT = "/opt/ml/processing/output"


def schedule_name(endpoint_name: str) -> str:
    """One data-quality schedule per endpoint."""
    return resource_name(endpoint_name, "data-quality")


def analyzer_image(region: str) -> str:
    """The Model Monitor analyzer image of `region` (from the generated table)."""
    image = ANALYZER_IMAGES.get(region)
    if image is None:
        raise InvalidDeploymentInput(f"no Model Monitor analyzer image is known for region {region}")
    return image


def schedule_config(stage: Stage, monitoring: StageMonitoring) -> dict[str, Any]:
    """MonitoringScheduleConfig of a data-quality schedule on the stage's endpoint (pure: validated in tests)."""
    if monitoring.reports_s3_uri is None:
        raise InvalidDeploymentInput(f"stage {stage.name} asks for monitoring but monitoring.reports_s3_uri is not set")
    definition: dict[str, Any] = {
        "MonitoringInputs": [
            {
                "EndpointInput": {
                    "EndpointName": stage.endpoint_name,
                    "LocalPath": _PROCESSING_INPUT,
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                }
            }
        ],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": monitoring.reports_s3_uri,
                        "LocalPath": _PROCESSING_OUTPUT,
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        "MonitoringResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": monitoring.instance_type, "VolumeSizeInGB": 20}
        },
        "MonitoringAppSpecification": {"ImageUri": analyzer_image(stage.region)},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Environment": {"dataset_format": '{"sagemakerCaptureJson": {}}', "publish_cloudwatch_metrics": "Enabled"},
        "RoleArn": stage.execution_role_arn,
    }
    if monitoring.baseline_s3_uri:
        base = monitoring.baseline_s3_uri.rstrip("/")
        definition["BaselineConfig"] = {
            "ConstraintsResource": {"S3Uri": f"{base}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{base}/statistics.json"},
        }
    return {
        "ScheduleConfig": {"ScheduleExpression": monitoring.schedule_expression},
        "MonitoringJobDefinition": definition,
        "MonitoringType": "DataQuality",
    }


def ensure_schedule(sagemaker: Any, stage: Stage, *, group: str) -> str:
    """Create the endpoint's data-quality schedule, or update it to the policy; returns 'created' or 'updated'."""
    if stage.monitoring is None:
        raise InvalidDeploymentInput(f"stage {stage.name} asks for no monitoring")
    name = schedule_name(stage.endpoint_name)
    config = schedule_config(stage, stage.monitoring)
    with aws_errors(f"sagemaker:DescribeMonitoringSchedule {name}"):
        try:
            sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
            exists = True
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            exists = False
    if exists:
        with aws_errors(f"sagemaker:UpdateMonitoringSchedule {name}"):
            sagemaker.update_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=config)
        return "updated"
    with aws_errors(f"sagemaker:CreateMonitoringSchedule {name}"):
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=name,
            MonitoringScheduleConfig=config,
            Tags=[{"Key": GROUP_TAG, "Value": group}],
        )
    return "created"


def monitor_status(sagemaker: Any, endpoint_name: str) -> str:
    """What the endpoint's data-quality monitor last said: `no schedule`, `no run yet`, or the last run's status."""
    name = schedule_name(endpoint_name)
    with aws_errors(f"sagemaker:DescribeMonitoringSchedule {name}"):
        try:
            schedule = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            return "no schedule"
    last = schedule.get("LastMonitoringExecutionSummary") or {}
    status = last.get("MonitoringExecutionStatus")
    return f"last run {status}" if status else "no run yet"
