"""A Ground Truth labeling job of the churn data set, as the labeling tests need."""

from __future__ import annotations

from sandbox.fakes import labeling as fake_labeling
from support.cloud import DEV, REGION, STAGING, Cloud

NAME = "churn-labels-20261126"

ARN = f"arn:aws:sagemaker:{REGION}:{DEV}:labeling-job/{NAME}"

TRAINING_ROLE = f"arn:aws:iam::{STAGING}:role/SageMakerTrainingRole"


def create_labeling_job(
    cloud: Cloud, name: str = NAME, *, label: str = "churn-label", tags: dict[str, str] | None = None
) -> None:
    cloud.client("sagemaker", DEV).create_labeling_job(
        LabelingJobName=name,
        LabelAttributeName=label,
        InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://example-dev-ml-data/churn/in.manifest"}}},
        OutputConfig={"S3OutputPath": "s3://example-dev-ml-labels/churn/"},
        RoleArn=f"arn:aws:iam::{DEV}:role/GroundTruthRole",
        HumanTaskConfig={
            "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{DEV}:workteam/private-crowd/churn-team",
            "UiConfig": {"UiTemplateS3Uri": "s3://example-dev-ml-data/churn/template.liquid"},
            "PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:PRE-TextMultiClass",
            "TaskTitle": "Will this customer churn?",
            "TaskDescription": "Read the account history and choose churn or stay",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 300,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:ACS-TextMultiClass"
            },
        },
        Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
    )
    fake_labeling.WORLD.drain()
