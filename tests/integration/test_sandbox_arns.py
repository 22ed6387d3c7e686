"""SageMaker ARNs name resources in lower case while `*Name` fields keep their case; the sandbox does the same."""

from __future__ import annotations

from support.cloud import PROD, REGION, Cloud

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def test_models_endpoint_configs_and_endpoints_have_lower_case_arns(cloud: Cloud) -> None:
    # Given mixed-case names
    sagemaker = cloud.client("sagemaker", PROD)

    # When the resources are created
    model_arn = sagemaker.create_model(
        ModelName="Churn-Model",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"},
        ExecutionRoleArn=f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole",
    )["ModelArn"]
    config_arn = sagemaker.create_endpoint_config(
        EndpointConfigName="Churn-Config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "Churn-Model",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )["EndpointConfigArn"]
    endpoint_arn = sagemaker.create_endpoint(EndpointName="Churn-Prod", EndpointConfigName="Churn-Config")[
        "EndpointArn"
    ]

    # Then each ARN names it in lower case, and Describe answers with the name as given
    assert model_arn == f"arn:aws:sagemaker:{REGION}:{PROD}:model/churn-model"
    assert config_arn == f"arn:aws:sagemaker:{REGION}:{PROD}:endpoint-config/churn-config"
    assert endpoint_arn == f"arn:aws:sagemaker:{REGION}:{PROD}:endpoint/churn-prod"
    assert sagemaker.describe_endpoint(EndpointName="Churn-Prod")["EndpointName"] == "Churn-Prod"
