"""The serving fields of a stage (issue 16): autoscaling, serverless and batch stages, the shadow strategy, and what
`policy validate` refuses because SageMaker would (each rule in docs/aws-rules.md)."""

from __future__ import annotations

from typing import Any

import pytest
from lifecycle.errors import PolicyInvalid
from lifecycle.policy import Shadow, validate_policy
from support.cloud import PROD, REGION, churn_policy

SERVERLESS = {"memory_mb": 2048, "max_concurrency": 10, "provisioned_concurrency": 2}
BATCH = {
    "input_s3_uri": "s3://example-prod-ml-data/churn/scoring/",
    "output_s3_uri": "s3://example-prod-ml-predictions/churn/",
    "instance_type": "ml.m5.xlarge",
}
AUTOSCALING = {"min": 2, "max": 4, "target": {"invocations_per_instance": 100}}


def stage(**extra: Any) -> dict[str, Any]:
    found = {
        "name": "prod",
        "account": PROD,
        "region": REGION,
        "endpoint_name": "churn-prod",
        "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole",
        "instance_type": "ml.m5.large",
        **extra,
    }
    return {key: value for key, value in found.items() if value is not None}


def validated(**extra: Any):
    return validate_policy(churn_policy(deployment={"stages": [stage(**extra)]}), group="churn")


def refusal(**extra: Any) -> str:
    with pytest.raises(PolicyInvalid) as invalid:
        validated(**extra)
    return invalid.value.reason


def test_each_stage_kind_with_its_serving_fields_is_valid() -> None:
    scaled = validated(instance_count=2, autoscaling=AUTOSCALING).deployment.stages[0]
    assert scaled.autoscaling is not None and (scaled.autoscaling.min, scaled.autoscaling.max) == (2, 4)
    serverless = validated(instance_type=None, serverless=SERVERLESS, strategy={"type": "canary", "percent": 10})
    assert serverless.deployment.stages[0].serverless.provisioned_concurrency == 2
    batch = validated(endpoint_name=None, instance_type=None, batch=BATCH).deployment.stages[0]
    assert batch.endpoint_name is None and batch.batch.split_type == "Line"
    shadow = validated(strategy={"type": "shadow", "percent": 20, "minimum_hours": 24}).deployment.stages[0]
    assert isinstance(shadow.strategy, Shadow) and shadow.strategy.minimum_seconds() == 86400


@pytest.mark.parametrize(
    ("strategy", "refused"),
    [
        ({"type": "ab", "challenger_weight": 0.1}, "strategy ab"),  # multiple production variants
        ({"type": "shadow", "percent": 20, "minimum_hours": 1}, "strategy shadow"),  # shadow variants
    ],
)
def test_a_serverless_stage_refuses_the_strategies_serverless_inference_does_not_support(
    strategy: dict[str, Any], refused: str
) -> None:
    reason = refusal(instance_type=None, serverless=SERVERLESS, strategy=strategy)
    assert f"a serverless stage cannot have {refused}" in reason


def test_a_serverless_stage_refuses_instances_autoscaling_and_data_capture() -> None:
    assert "cannot have instance_type" in refusal(serverless=SERVERLESS)
    assert "cannot have autoscaling" in refusal(instance_type=None, serverless=SERVERLESS, autoscaling=AUTOSCALING)
    monitoring = {
        "capture_s3_uri": "s3://example-prod-ml-capture/churn/",
        "reports_s3_uri": "s3://example-prod-ml-monitoring/churn/",
        "baseline_s3_uri": "s3://example-prod-ml-monitoring/churn/baseline/",
    }
    assert "cannot have monitoring" in refusal(instance_type=None, serverless=SERVERLESS, monitoring=monitoring)


def test_provisioned_concurrency_cannot_exceed_max_concurrency() -> None:
    reason = refusal(instance_type=None, serverless={**SERVERLESS, "provisioned_concurrency": 11})
    assert "provisioned_concurrency (11) is more than max_concurrency (10)" in reason


def test_a_batch_stage_has_no_endpoint_fields_and_an_endpoint_stage_needs_them() -> None:
    assert "a batch stage has no endpoint, so endpoint_name" in refusal(instance_type=None, batch=BATCH)
    assert "endpoint_name is required" in refusal(endpoint_name=None)
    assert "instance_type is required" in refusal(instance_type=None)


def test_autoscaling_bounds_hold_the_starting_fleet() -> None:
    assert "min (5) is more than max (4)" in refusal(autoscaling={**AUTOSCALING, "min": 5})
    assert "instance_count (1) must lie within autoscaling min (2) and max (4)" in refusal(autoscaling=AUTOSCALING)
    assert "instance_count (5) must lie within" in refusal(instance_count=5, autoscaling=AUTOSCALING)
    for count in (2, 4):  # the bounds themselves are a fleet autoscaling may keep
        [prod] = validated(instance_count=count, autoscaling=AUTOSCALING).deployment.stages
        assert (prod.instance_count, prod.autoscaling.min, prod.autoscaling.max) == (count, 2, 4)
    assert "name one target" in refusal(instance_count=2, autoscaling={**AUTOSCALING, "target": {}})
    reason = refusal(instance_count=2, autoscaling={**AUTOSCALING, "target": {"metric": "CPUUtilization"}})
    assert "a metric target needs its value" in reason
