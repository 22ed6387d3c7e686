"""The policy's limits, at their edges: the last value accepted and the first refused, and the defaults a policy gets.

Each limit is one SageMaker or Step Functions enforces, or one the product sets to keep a rollout finishable; a policy
one step past it must be refused when it is published, not when a deployment fails half-way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lifecycle.errors import PolicyInvalid
from lifecycle.policy import AbTest, AllAtOnce, Canary, Linear, validate_policy
from support.cloud import PROD, REGION, churn_policy

Edit = Callable[[dict[str, Any]], None]


def _stage(**extra: Any) -> dict[str, Any]:
    return {
        "name": "prod",
        "account": PROD,
        "region": REGION,
        "endpoint_name": "churn-prod",
        "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole",
        "instance_type": "ml.m5.large",
        **extra,
    }


def _document(edit: Edit) -> dict[str, Any]:
    document = churn_policy(deployment={"stages": [_stage()]})
    edit(document)
    return document


def _training(key: str, value: Any) -> Edit:
    return lambda document: document["training"].__setitem__(key, value)


def _stage_field(key: str, value: Any) -> Edit:
    return lambda document: document["deployment"]["stages"][0].__setitem__(key, value)


def _strategy(**strategy: Any) -> Edit:
    return _stage_field("strategy", strategy)


def _monitoring(**monitor: Any) -> Edit:
    return _stage_field("monitoring", [{"type": "data_quality", **monitor}])


def _capture(percent: int) -> Edit:
    return _stage_field("data_capture", {"s3_uri": "s3://example-capture/churn", "percent": percent})


def _stages(count: int) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        document["deployment"]["stages"] = [
            _stage(name=f"s{index}", endpoint_name=f"churn-s{index}") for index in range(count)
        ]

    return edit


def _metric_definitions(count: int) -> Edit:
    return _training("metric_definitions", [{"name": f"m{index}", "regex": "auc=(.*)"} for index in range(count)])


# (what, where the value goes, the last value accepted, the first refused)
EDGES: list[tuple[str, Callable[[Any], Edit], Any, Any]] = [
    ("training instances, at most", lambda v: _training("instance_count", v), 100, 101),
    ("training instances, at least", lambda v: _training("instance_count", v), 1, 0),
    ("training volume, at most", lambda v: _training("volume_size_gb", v), 16384, 16385),
    ("training volume, at least", lambda v: _training("volume_size_gb", v), 1, 0),
    ("training runtime, at most", lambda v: _training("max_runtime_seconds", v), 2419200, 2419201),
    ("training runtime, at least", lambda v: _training("max_runtime_seconds", v), 60, 59),
    ("metric definitions, at most", _metric_definitions, 40, 41),
    ("stage instances, at most", lambda v: _stage_field("instance_count", v), 100, 101),
    ("stage instances, at least", lambda v: _stage_field("instance_count", v), 1, 0),
    ("rollback alarms, at most", lambda v: _stage_field("rollback_alarms", ["a"] * v), 10, 11),
    ("approval timeout, at most", lambda v: _stage_field("approval_timeout_hours", v), 336, 336.01),
    ("approval timeout, above zero", lambda v: _stage_field("approval_timeout_hours", v), 0.01, 0),
    ("provisioning wait, at least", lambda v: _stage_field("wait_timeout_minutes", v), 5, 4),
    ("poll interval, at most", lambda v: _stage_field("poll_seconds", v), 600, 601),
    ("poll interval, at least", lambda v: _stage_field("poll_seconds", v), 1, 0),
    ("stages, at most", _stages, 10, 11),
    ("stages, at least", _stages, 1, 0),
    ("all-at-once bake, at most", lambda v: _strategy(type="all_at_once", wait_seconds=v), 3600, 3601),
    ("all-at-once bake, at least", lambda v: _strategy(type="all_at_once", wait_seconds=v), 0, -1),
    ("canary size, at most", lambda v: _strategy(type="canary", percent=v), 50, 51),
    ("canary size, at least", lambda v: _strategy(type="canary", percent=v), 1, 0),
    ("canary bake, at most", lambda v: _strategy(type="canary", percent=10, wait_seconds=v), 3600, 3601),
    ("canary bake, at least", lambda v: _strategy(type="canary", percent=10, wait_seconds=v), 0, -1),
    ("linear step, at most", lambda v: _strategy(type="linear", percent=v, interval_seconds=60), 50, 51),
    ("linear step, at least", lambda v: _strategy(type="linear", percent=v, interval_seconds=60), 10, 9),
    ("linear interval, at most", lambda v: _strategy(type="linear", percent=50, interval_seconds=v), 3600, 3601),
    ("linear interval, at least", lambda v: _strategy(type="linear", percent=50, interval_seconds=v), 0, -1),
    ("challenger weight, below one", lambda v: _strategy(type="ab", challenger_weight=v), 0.99, 1),
    ("challenger weight, above zero", lambda v: _strategy(type="ab", challenger_weight=v), 0.01, 0),
    ("A/B watch, at most", lambda v: _strategy(type="ab", challenger_weight=0.1, wait_seconds=v), 3600, 3601),
    ("A/B watch, at least", lambda v: _strategy(type="ab", challenger_weight=0.1, wait_seconds=v), 0, -1),
    ("cool-down, at most", lambda v: _monitoring(cooldown_hours=v), 720, 720.5),
    ("cool-down, at least", lambda v: _monitoring(cooldown_hours=v), 0, -1),
    ("capture share, at most", _capture, 100, 101),
    ("capture share, at least", _capture, 1, 0),
    ("smoke test payload, at most", lambda v: _stage_field("smoke_test", {"payload": "x" * v}), 16384, 16385),
    ("labeled objects, at least", lambda v: lambda d: d.update(labeling={"min_labeled_objects": v}), 0, -1),
    ("approver, not empty", lambda v: lambda d: d["registry"].__setitem__("approvers", [v]), "x", ""),
    ("name prefix, not empty", lambda v: lambda d: d["match"].__setitem__("name_prefixes", [v]), "c", ""),
    ("name prefix, at most", lambda v: lambda d: d["match"].__setitem__("name_prefixes", ["c" * v]), 63, 64),
    ("training channel, at most", lambda v: _training("channel_name", "c" * v), 64, 65),
    ("training channel, its characters", lambda v: _training("channel_name", v), "train.v1-a_b", "train data"),
    ("record wrapper, SageMaker's spelling", lambda v: _training("record_wrapper", v), "None", "none"),
]


@pytest.mark.parametrize(("what", "at", "last", "first_refused"), EDGES, ids=[edge[0] for edge in EDGES])
def test_each_limit_accepts_its_last_value_and_refuses_the_next(
    what: str, at: Callable[[Any], Edit], last: Any, first_refused: Any
) -> None:
    validate_policy(_document(at(last)), group="churn")
    with pytest.raises(PolicyInvalid, match=r"\bInput should|at least|at most|List should|String should"):
        validate_policy(_document(at(first_refused)), group="churn")


def test_the_defaults_a_policy_gets_for_what_it_leaves_out() -> None:
    # Given a stage and a training template that say nothing of counts, sizes, waits or shares
    policy = validate_policy(
        churn_policy(
            deployment={
                "stages": [
                    _stage(monitoring=[{"type": "data_quality"}], data_capture={"s3_uri": "s3://example-capture/churn"})
                ]
            },
            gate={"metric": "validation:auc", "threshold": 0.8},
        ),
        group="churn",
    )
    assert policy.training is not None and policy.deployment is not None and policy.gate is not None
    stage = policy.deployment.stages[0]
    # Then training runs one instance on 30 GB for at most a day, and the gate is "at least"
    assert (policy.training.instance_count, policy.training.volume_size_gb) == (1, 30)
    assert policy.training.max_runtime_seconds == 24 * 3600
    assert policy.gate.comparison == ">="
    # and the stage runs one instance, replaced all at once, polled every minute, provisioned within an hour, with a
    # day for a person to approve
    assert (stage.instance_count, stage.poll_seconds, stage.wait_timeout_minutes) == (1, 60, 60)
    assert stage.strategy == AllAtOnce(wait_seconds=0)
    assert stage.approval_timeout_hours == 24
    # and the endpoint captures every request; a monitor runs hourly, cools down a day after acting, and only notifies
    assert stage.data_capture is not None and stage.data_capture.percent == 100
    [monitor] = stage.monitoring
    assert (monitor.schedule_expression, monitor.cooldown_hours, monitor.on_violation) == (
        "cron(0 * ? * * *)",
        24,
        "notify",
    )
    assert monitor.instance_type == "ml.m5.xlarge"
    # and a strategy named without its waits bakes ten minutes
    assert (
        Canary(percent=10).wait_seconds
        == Linear(percent=10).interval_seconds
        == AbTest(challenger_weight=0.1).wait_seconds
        == 600
    )
