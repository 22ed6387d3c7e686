"""A data-quality monitoring schedule on a prod endpoint, as the tests of the monitor reaction and its fakes need."""

from __future__ import annotations

from typing import Any

from sandbox.fakes import validate_request
from support.cloud import PROD, Cloud

ENDPOINT = "churn-prod"

SCHEDULE = "churn-prod-data-quality"

REPORTS = "s3://example-prod-monitoring/churn"

IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def schedule_config(endpoint: str = ENDPOINT, expression: str = "cron(0 * ? * * *)") -> dict[str, Any]:
    """An inline data-quality schedule config, as a deployment would create it."""
    return {
        "ScheduleConfig": {"ScheduleExpression": expression},
        "MonitoringJobDefinition": {
            "BaselineConfig": {
                "ConstraintsResource": {"S3Uri": f"{REPORTS}/baseline/constraints.json"},
                "StatisticsResource": {"S3Uri": f"{REPORTS}/baseline/statistics.json"},
            },
            "MonitoringInputs": [
                {"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}}
            ],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [
                    {"S3Output": {"S3Uri": f"{REPORTS}/reports", "LocalPath": "/opt/ml/processing/output"}}
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
            },
            "MonitoringAppSpecification": {"ImageUri": IMAGE},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "RoleArn": f"arn:aws:iam::{PROD}:role/SageMakerMonitoringRole",
        },
        "MonitoringType": "DataQuality",
    }


def create_endpoint(cloud: Cloud, account: str = PROD, name: str = ENDPOINT) -> None:
    """A model, its endpoint config and an InService endpoint in `account`."""
    sagemaker = cloud.client("sagemaker", account)
    sagemaker.create_model(
        ModelName=f"{name}-model",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://example-prod-ml-artifacts/churn/model.tar.gz"},
        ExecutionRoleArn=f"arn:aws:iam::{account}:role/SageMakerExecutionRole",
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def create_schedule(
    cloud: Cloud, account: str = PROD, name: str = SCHEDULE, endpoint: str = ENDPOINT, with_endpoint: bool = True
) -> str:
    """An endpoint (unless it exists) and a monitoring schedule on it; returns the schedule's ARN."""
    if with_endpoint:
        create_endpoint(cloud, account, endpoint)
    request = {"MonitoringScheduleName": name, "MonitoringScheduleConfig": schedule_config(endpoint)}
    validate_request("sagemaker", "CreateMonitoringSchedule", request)
    return cloud.client("sagemaker", account).create_monitoring_schedule(**request)["MonitoringScheduleArn"]
