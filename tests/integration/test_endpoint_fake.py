"""The endpoint fakes behave like SageMaker: status transitions, validation, alarm rollback, events, InvokeEndpoint.

One test per sandbox hook, so a moto upgrade that breaks one fails loudly.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from conftest import PROD, REGION, Cloud

from sandbox.fakes import endpoints
from sandbox.world import WORLD

ROLE = f"arn:aws:iam::{PROD}:role/SageMakerExecution"


@pytest.fixture
def sagemaker(cloud: Cloud):
    endpoints.reset()
    WORLD.drain()
    client = cloud.client("sagemaker", PROD)
    for version in (1, 2):
        client.create_model(ModelName=f"m{version}", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
        client.create_endpoint_config(
            EndpointConfigName=f"c{version}",
            ProductionVariants=[
                {
                    "VariantName": f"v{version}",
                    "ModelName": f"m{version}",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 1.0,
                }
            ],
        )
    yield client
    endpoints.reset()


def statuses() -> list[str]:
    return [e["detail"]["EndpointStatus"] for e in WORLD.drain() if e["detail-type"] == endpoints.STATE_CHANGE]


def test_create_goes_creating_then_in_service_with_events(sagemaker) -> None:
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    first = sagemaker.describe_endpoint(EndpointName="ep")["EndpointStatus"]
    second = sagemaker.describe_endpoint(EndpointName="ep")["EndpointStatus"]
    assert (first, second) == ("InService", "InService")
    assert statuses() == ["CREATING", "IN_SERVICE"]


def test_update_with_blue_green_reaches_the_new_config(sagemaker) -> None:
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    sagemaker.describe_endpoint(EndpointName="ep")
    WORLD.drain()

    sagemaker.update_endpoint(
        EndpointName="ep",
        EndpointConfigName="c2",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "WaitIntervalInSeconds": 0,
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                }
            }
        },
    )
    described = sagemaker.describe_endpoint(EndpointName="ep")

    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "c2")
    assert statuses() == ["UPDATING", "IN_SERVICE"]


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
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    sagemaker.describe_endpoint(EndpointName="ep")
    WORLD.drain()

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
