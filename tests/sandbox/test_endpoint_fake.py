"""The endpoint fakes behave like SageMaker: status transitions, validation, alarm rollback, events, InvokeEndpoint.

One test per sandbox hook, so a moto upgrade that breaks one fails loudly.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from support.cloud import PROD, REGION, Cloud

from sandbox.fakes import endpoints
from sandbox.world import WORLD

ROLE = f"arn:aws:iam::{PROD}:role/SageMakerExecution"


def variant(name: str, model: str, weight: float = 1.0, count: int = 1) -> dict:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": count,
        "InitialVariantWeight": weight,
    }


@pytest.fixture
def sagemaker(cloud: Cloud):
    endpoints.reset()
    WORLD.drain()
    client = cloud.client("sagemaker", PROD)
    for version in (1, 2):
        client.create_model(ModelName=f"m{version}", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    # c1 and c2 keep the variant name (guarded updates between them are allowed); renamed and ab change the set
    client.create_endpoint_config(EndpointConfigName="c1", ProductionVariants=[variant("AllTraffic", "m1", count=4)])
    client.create_endpoint_config(EndpointConfigName="c2", ProductionVariants=[variant("AllTraffic", "m2", count=4)])
    client.create_endpoint_config(EndpointConfigName="renamed", ProductionVariants=[variant("v2", "m2")])
    client.create_endpoint_config(
        EndpointConfigName="ab", ProductionVariants=[variant("AllTraffic", "m1", 0.8), variant("Challenger", "m2", 0.2)]
    )
    yield client
    endpoints.reset()


def in_service(sagemaker, config: str = "c1") -> None:
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName=config)
    sagemaker.describe_endpoint(EndpointName="ep")
    WORLD.drain()


def blue_green(routing: dict, **policy) -> dict:
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing, **policy}}


CANARY = {"Type": "CANARY", "WaitIntervalInSeconds": 0, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}


def statuses() -> list[str]:
    return [e["detail"]["EndpointStatus"] for e in WORLD.drain() if e["detail-type"] == endpoints.STATE_CHANGE]


def test_create_goes_creating_then_in_service_with_events(sagemaker) -> None:
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    first = sagemaker.describe_endpoint(EndpointName="ep")["EndpointStatus"]
    second = sagemaker.describe_endpoint(EndpointName="ep")["EndpointStatus"]
    assert (first, second) == ("InService", "InService")
    assert statuses() == ["CREATING", "IN_SERVICE"]


def test_update_with_blue_green_reaches_the_new_config(sagemaker) -> None:
    in_service(sagemaker)

    sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=blue_green(CANARY))
    described = sagemaker.describe_endpoint(EndpointName="ep")

    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "c2")
    assert "PendingDeploymentSummary" not in described
    assert statuses() == ["UPDATING", "IN_SERVICE"]


def test_while_updating_the_endpoint_names_its_old_config_and_the_new_one_is_pending(sagemaker) -> None:
    # API reference, DescribeEndpoint: PendingDeploymentSummary "is only returned when the endpoint is creating or
    # updating with a new endpoint configuration"; EndpointConfigName stays the one in service until then
    in_service(sagemaker)
    endpoints.script(PROD, REGION, "ep").hold = 1

    sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="c2", DeploymentConfig=blue_green(CANARY))
    updating = sagemaker.describe_endpoint(EndpointName="ep")
    done = sagemaker.describe_endpoint(EndpointName="ep")

    assert (updating["EndpointStatus"], updating["EndpointConfigName"]) == ("Updating", "c1")
    assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "c2"
    assert (done["EndpointStatus"], done["EndpointConfigName"]) == ("InService", "c2")
    assert "PendingDeploymentSummary" not in done


@pytest.mark.parametrize(
    ("config", "deployment", "refusal"),
    [
        # developer guide, "Exclusions": a guarded update keeps the variant names of the old config
        ("renamed", blue_green(CANARY), "keep the variant names of the old one"),
        ("ab", blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}), "keep the variant names"),
        ("ab", {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}}, "keep the variant names"),
        # API reference, TrafficRoutingConfig: canary at most 50%, linear steps 10-50% of the capacity
        (
            "c2",
            blue_green(
                {"Type": "CANARY", "WaitIntervalInSeconds": 0, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 60}}
            ),
            "CanarySize must be less than or equal to 50%",
        ),
        (
            "c2",
            blue_green(
                {"Type": "CANARY", "WaitIntervalInSeconds": 0, "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 3}}
            ),
            "CanarySize must be less than or equal to 50%",
        ),
        (
            "c2",
            blue_green(
                {
                    "Type": "LINEAR",
                    "WaitIntervalInSeconds": 0,
                    "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 5},
                }
            ),
            "LinearStepSize must be 10-50%",
        ),
        # API reference, BlueGreenUpdatePolicy: the timeout must exceed the rollout's total waiting time
        (
            "c2",
            blue_green(
                {
                    "Type": "LINEAR",
                    "WaitIntervalInSeconds": 600,
                    "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                },
                MaximumExecutionTimeoutInSeconds=3600,
            ),
            "must be larger than the total waiting time of the deployment (6000 s)",
        ),
        (
            "c2",
            blue_green(
                {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600},
                TerminationWaitInSeconds=300,
                MaximumExecutionTimeoutInSeconds=900,
            ),
            "(900) must be larger than the total waiting time of the deployment (900 s)",
        ),
    ],
)
def test_updates_sagemaker_refuses_are_refused(sagemaker, config: str, deployment: dict, refusal: str) -> None:
    in_service(sagemaker)

    with pytest.raises(ClientError) as refused:
        sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName=config, DeploymentConfig=deployment)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refusal in refused.value.response["Error"]["Message"]
    assert sagemaker.describe_endpoint(EndpointName="ep")["EndpointConfigName"] == "c1"


def test_an_update_without_deployment_config_may_change_the_variant_set(sagemaker) -> None:
    in_service(sagemaker)

    sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="ab")

    described = sagemaker.describe_endpoint(EndpointName="ep")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "ab")


def test_invoke_endpoint_on_a_named_variant(cloud: Cloud, sagemaker) -> None:
    in_service(sagemaker, "ab")
    runtime = cloud.client("sagemaker-runtime", PROD)

    answer = runtime.invoke_endpoint(
        EndpointName="ep", Body=b"{}", ContentType="application/json", TargetVariant="Challenger"
    )

    assert answer["InvokedProductionVariant"] == "Challenger"
    with pytest.raises(ClientError, match="Variant Canary not found"):
        runtime.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json", TargetVariant="Canary")


def test_update_rolls_back_when_a_named_alarm_is_in_alarm(cloud: Cloud, sagemaker) -> None:
    cloudwatch = cloud.client("cloudwatch", PROD)
    cloudwatch.put_metric_alarm(
        AlarmName="ep-5xx",
        MetricName="Invocation5XXErrors",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="ep-5xx", StateValue="ALARM", StateReason="test")
    in_service(sagemaker)

    sagemaker.update_endpoint(
        EndpointName="ep",
        EndpointConfigName="c2",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "ep-5xx"}]},
        },
    )
    rolling = sagemaker.describe_endpoint(EndpointName="ep")["EndpointStatus"]
    back = sagemaker.describe_endpoint(EndpointName="ep")

    assert rolling == "RollingBack"
    assert (back["EndpointStatus"], back["EndpointConfigName"]) == ("InService", "c1")
    events = WORLD.drain()
    assert [e["detail"]["EndpointStatus"] for e in events if e["detail-type"] == endpoints.STATE_CHANGE] == [
        "UPDATING",
        "ROLLING_BACK",
        "IN_SERVICE",
    ]
    assert {e["detail-type"] for e in events} == {endpoints.STATE_CHANGE, endpoints.DEPLOYMENT_CHANGE}


def test_update_is_validated_against_botocores_model_and_sagemakers_rules(sagemaker) -> None:
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="c2")  # still Creating
    sagemaker.describe_endpoint(EndpointName="ep")
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="missing")
    # botocore's model, as every fake request is checked: a canary size needs its Type
    from moto.sagemaker.exceptions import ValidationError

    from sandbox.fakes import validate_request

    with pytest.raises(ValidationError, match="Missing required parameter"):
        validate_request(
            "sagemaker",
            "UpdateEndpoint",
            {
                "EndpointName": "ep",
                "EndpointConfigName": "c2",
                "DeploymentConfig": {
                    "BlueGreenUpdatePolicy": {
                        "TrafficRoutingConfiguration": {
                            "Type": "CANARY",
                            "WaitIntervalInSeconds": 0,
                            "CanarySize": {"Value": 10},
                        }
                    }
                },
            },
        )


def test_scripted_failure_and_invocations(cloud: Cloud, sagemaker) -> None:
    endpoints.script(PROD, REGION, "ep").fail_next_with = "CapacityError: no ml.m5.large"
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    failed = sagemaker.describe_endpoint(EndpointName="ep")
    assert (failed["EndpointStatus"], failed["FailureReason"]) == ("Failed", "CapacityError: no ml.m5.large")

    sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="c2")  # a Failed endpoint can be updated
    assert sagemaker.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
    runtime = cloud.client("sagemaker-runtime", PROD)
    endpoints.script(PROD, REGION, "ep").answer = '{"predictions": [0.93]}'
    answer = runtime.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
    assert answer["Body"].read() == b'{"predictions": [0.93]}'
    endpoints.script(PROD, REGION, "ep").model_error = "model crashed"
    with pytest.raises(ClientError, match="model crashed"):
        runtime.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
    with pytest.raises(ClientError, match="not found"):
        runtime.invoke_endpoint(EndpointName="missing", Body=b"{}", ContentType="application/json")
