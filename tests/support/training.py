"""Training jobs as a data scientist starts them, and the Lambda context handlers get, for the reaction tests."""

from __future__ import annotations

from typing import Any

from support.cloud import AUTOMATION, DEV, REGION, Cloud


class Context:
    function_name = "training-state"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{AUTOMATION}:function:training-state"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def create_job(cloud: Cloud, name: str = "churn-xgb-20261127-0900", account: str = DEV) -> dict[str, Any]:
    return create_job_in(cloud.client("sagemaker", account), name, account)


def create_job_in(sagemaker: Any, name: str, account: str, group: str = "churn") -> dict[str, Any]:
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "TrainingInputMode": "File",
        },
        RoleArn=f"arn:aws:iam::{account}:role/SageMakerTrainingRole",
        OutputDataConfig={"S3OutputPath": "s3://example-dev-ml-artifacts/churn/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 86400},
        Tags=[{"Key": "lifecycle:model-package-group", "Value": group}],
    )
    return sagemaker.describe_training_job(TrainingJobName=name)


LONG_GROUP = "Churn-Prediction-" + "x" * 46  # 63 characters, SageMaker's longest group name
