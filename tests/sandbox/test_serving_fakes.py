"""The fakes of issue 16 refuse what AWS refuses: Application Auto Scaling of SageMaker variants, endpoint configs with
shadow or serverless variants, updates of autoscaled endpoints, and transform jobs (each rule in docs/aws-rules.md).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from support.cloud import PROD, REGION, Cloud

from sandbox.fakes import endpoints, scaling, transform
from sandbox.world import WORLD

ROLE = f"arn:aws:iam::{PROD}:role/SageMakerExecution"
RESOURCE = "endpoint/ep/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def variant(name: str, model: str, *, instance_type: str = "ml.m5.large", count: int = 2) -> dict:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": instance_type,
        "InitialInstanceCount": count,
        "InitialVariantWeight": 1.0,
    }


def serverless(name: str, model: str, **config: int) -> dict:
    return {
        "VariantName": name,
        "ModelName": model,
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5, **config},
    }


@pytest.fixture
def sagemaker(cloud: Cloud):
    endpoints.reset()
    scaling.reset()
    WORLD.drain()
    client = cloud.client("sagemaker", PROD)
    for model in ("m1", "m2"):
        client.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    client.create_endpoint_config(EndpointConfigName="c1", ProductionVariants=[variant("AllTraffic", "m1")])
    client.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    client.describe_endpoint(EndpointName="ep")  # InService
    yield client
    endpoints.reset()
    scaling.reset()


@pytest.fixture
def autoscaling(cloud: Cloud):
    return cloud.client("application-autoscaling", PROD)


def register(autoscaling, resource: str = RESOURCE, **bounds: int) -> None:
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION, **bounds
    )


def refused(call, code: str = "ValidationException") -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code, caught.value.response["Error"]
    return str(caught.value.response["Error"]["Message"])


# --- Application Auto Scaling ----------------------------------------------------------------------------------------
def test_a_variant_that_is_not_deployed_cannot_be_registered(sagemaker, autoscaling) -> None:
    message = refused(lambda: register(autoscaling, "endpoint/ep/variant/Missing", MinCapacity=1, MaxCapacity=2))
    assert "does not exist" in message
    refused(lambda: register(autoscaling, "endpoint/nowhere/variant/AllTraffic", MinCapacity=1, MaxCapacity=2))


def test_a_new_target_needs_its_bounds_and_min_at_most_max(sagemaker, autoscaling) -> None:
    assert "required" in refused(lambda: register(autoscaling, MinCapacity=1))
    assert "less than or equal" in refused(lambda: register(autoscaling, MinCapacity=3, MaxCapacity=2))
    register(autoscaling, MinCapacity=1, MaxCapacity=2)  # then the same target may change one bound
    register(autoscaling, MaxCapacity=3)
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)


def test_a_policy_needs_a_registered_target_and_deregistering_deletes_its_policies(sagemaker, autoscaling) -> None:
    policy = {
        "PolicyName": "p",
        "ServiceNamespace": "sagemaker",
        "ResourceId": RESOURCE,
        "ScalableDimension": DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 100.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
    }
    refused(lambda: autoscaling.put_scaling_policy(**policy), "ObjectNotFoundException")
    register(autoscaling, MinCapacity=1, MaxCapacity=2)
    autoscaling.put_scaling_policy(**policy)

    autoscaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=RESOURCE, ScalableDimension=DIMENSION
    )

    assert autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
    deregister = lambda: autoscaling.deregister_scalable_target(  # noqa: E731
        ServiceNamespace="sagemaker", ResourceId=RESOURCE, ScalableDimension=DIMENSION
    )
    refused(deregister, "ObjectNotFoundException")


def test_a_throttled_operation_answers_throttling_exception(sagemaker, autoscaling) -> None:
    scaling.throttle("RegisterScalableTarget", 100)  # more than the SDK's own retries
    refused(lambda: register(autoscaling, MinCapacity=1, MaxCapacity=2), "ThrottlingException")
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    scaling.reset()
    register(autoscaling, MinCapacity=1, MaxCapacity=2)


# --- endpoint configs and updates ------------------------------------------------------------------------------------
def test_a_shadow_config_has_one_production_and_one_shadow_variant(sagemaker) -> None:
    two = [variant("A", "m1"), variant("B", "m1")]
    message = refused(
        lambda: sagemaker.create_endpoint_config(
            EndpointConfigName="bad", ProductionVariants=two, ShadowProductionVariants=[variant("Shadow", "m2")]
        )
    )
    assert "exactly one production variant and one shadow variant" in message
    sagemaker.create_endpoint_config(
        EndpointConfigName="good",
        ProductionVariants=[variant("AllTraffic", "m1")],
        ShadowProductionVariants=[variant("Shadow", "m2")],
    )
    described = sagemaker.describe_endpoint_config(EndpointConfigName="good")
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["Shadow"]


def test_serverless_variants_refuse_instances_shadows_data_capture_and_too_much_provisioned_concurrency(
    sagemaker,
) -> None:
    both = {**serverless("AllTraffic", "m1"), "InstanceType": "ml.m5.large"}
    assert "exactly one of InstanceType and ServerlessConfig" in refused(
        lambda: sagemaker.create_endpoint_config(EndpointConfigName="x1", ProductionVariants=[both])
    )
    assert "ProvisionedConcurrency" in refused(
        lambda: sagemaker.create_endpoint_config(
            EndpointConfigName="x2", ProductionVariants=[serverless("AllTraffic", "m1", ProvisionedConcurrency=6)]
        )
    )
    assert "no shadow variant" in refused(
        lambda: sagemaker.create_endpoint_config(
            EndpointConfigName="x3",
            ProductionVariants=[serverless("AllTraffic", "m1")],
            ShadowProductionVariants=[serverless("Shadow", "m2")],
        )
    )
    capture = {
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://bucket/capture/",
        "CaptureOptions": [{"CaptureMode": "Input"}],
    }
    assert "data capture" in refused(
        lambda: sagemaker.create_endpoint_config(
            EndpointConfigName="x4", ProductionVariants=[serverless("AllTraffic", "m1")], DataCaptureConfig=capture
        )
    )


def test_an_update_may_not_retype_or_remove_a_registered_variant_and_keeps_its_scaled_count(
    sagemaker, autoscaling
) -> None:
    register(autoscaling, MinCapacity=2, MaxCapacity=4)
    endpoints.scale(PROD, REGION, "ep", "AllTraffic", 4)
    sagemaker.create_endpoint_config(
        EndpointConfigName="retyped", ProductionVariants=[variant("AllTraffic", "m2", instance_type="ml.m5.xlarge")]
    )
    sagemaker.create_endpoint_config(EndpointConfigName="renamed", ProductionVariants=[variant("Other", "m2")])
    sagemaker.create_endpoint_config(EndpointConfigName="c2", ProductionVariants=[variant("AllTraffic", "m2")])

    assert "changes the instance type of variant AllTraffic" in refused(
        lambda: sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="retyped")
    )
    assert "removes variant AllTraffic" in refused(
        lambda: sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="renamed")
    )
    # a new model on the same instance type is allowed, and RetainAllVariantProperties keeps the 4 instances
    sagemaker.update_endpoint(
        EndpointName="ep",
        EndpointConfigName="c2",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
    )
    for _ in range(3):
        described = sagemaker.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "c2"
    assert [v["CurrentInstanceCount"] for v in described["ProductionVariants"]] == [4]


# --- transform jobs --------------------------------------------------------------------------------------------------
def job_request(name: str, model: str = "m1") -> dict:
    return {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://in/x/"}}},
        "TransformOutput": {"S3OutputPath": "s3://out/x/"},
        "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    }


def test_a_transform_job_runs_until_it_ends_each_change_an_event(sagemaker) -> None:
    sagemaker.create_transform_job(**job_request("job-1"))
    assert sagemaker.describe_transform_job(TransformJobName="job-1")["TransformJobStatus"] == "InProgress"

    transform.finish(PROD, REGION, "job-1", status="Failed", reason="ClientError: bad input")

    described = sagemaker.describe_transform_job(TransformJobName="job-1")
    assert (described["TransformJobStatus"], described["FailureReason"]) == ("Failed", "ClientError: bad input")
    events = [e["detail"] for e in WORLD.drain() if e["detail-type"] == transform.DETAIL_TYPE]
    assert [e["TransformJobStatus"] for e in events] == ["InProgress", "Failed"]


def test_a_transform_job_name_is_unique_and_its_model_must_exist(sagemaker) -> None:
    sagemaker.create_transform_job(**job_request("job-1"))
    assert "must be unique" in refused(lambda: sagemaker.create_transform_job(**job_request("job-1")), "ResourceInUse")
    assert "Could not find model" in refused(lambda: sagemaker.create_transform_job(**job_request("job-2", "nope")))


def test_only_a_running_transform_job_stops(sagemaker) -> None:
    sagemaker.create_transform_job(**job_request("job-1"))
    sagemaker.stop_transform_job(TransformJobName="job-1")
    assert sagemaker.describe_transform_job(TransformJobName="job-1")["TransformJobStatus"] == "Stopped"
    refused(lambda: sagemaker.stop_transform_job(TransformJobName="job-1"))
