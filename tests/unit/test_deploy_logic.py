"""Deployment logic without AWS: names, requests (validated against botocore's model), inputs, the ASL itself."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lifecycle.actions import deploy
from lifecycle.actions.monitor_schedule import schedule_config, schedule_name
from lifecycle.deployment import (
    ApprovedInput,
    approved_execution_name,
    execution_name,
    package_ref,
    parse_input,
)
from lifecycle.errors import InvalidDeploymentInput
from lifecycle.monitor_images import ANALYZER_IMAGES
from lifecycle.policy import Stage

from sandbox.fakes import validate_request

NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
EXECUTION = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
ASL = Path(__file__).resolve().parents[2] / "statemachines" / "deploy_model.asl.json"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/7"


def stage(**overrides: object) -> Stage:
    document = {
        "name": "prod",
        "account": "444444444444",
        "region": "us-east-1",
        "endpoint_name": "churn-prod",
        "execution_role_arn": "arn:aws:iam::444444444444:role/SageMakerExecution",
        "instance_type": "ml.m5.xlarge",
        "rollback_alarms": ["churn-prod-5xx", "churn-prod-latency"],
        "monitoring": {
            "capture_s3_uri": "s3://example-capture/churn/",
            "reports_s3_uri": "s3://example-monitoring/churn/",
            "baseline_s3_uri": "s3://example-monitoring/churn/baseline",
        },
    }
    document.update(overrides)
    return Stage.model_validate(document)


@given(st.text(min_size=1, max_size=200), st.integers(min_value=1, max_value=10**9), st.text(max_size=40))
def test_resource_names_respect_sagemaker_limits(group: str, version: int, stage_name: str) -> None:
    name = deploy.resource_name(group, f"v{version}", stage_name)
    if any(c.isascii() and c.isalnum() for c in group + stage_name) or version:
        assert NAME.match(name), name
    assert len(name) <= 63


def test_long_names_stay_distinct_and_deterministic() -> None:
    long_group = "a" * 63
    assert deploy.model_name(long_group, 1, "prod") == deploy.model_name(long_group, 1, "prod")
    assert deploy.model_name(long_group, 1, "prod") != deploy.model_name(long_group, 2, "prod")
    assert deploy.config_name("churn", 3, "prod", champion=2) == "churn-v3-prod-ab-v2"


@given(st.text(max_size=300))
def test_execution_names_are_valid(raw: str) -> None:
    name = execution_name("rollback", raw)
    assert EXECUTION.match(name), name


def test_the_approval_execution_name_is_deterministic_per_package_and_time() -> None:
    ref = package_ref(ARN)
    at = datetime(2026, 11, 27, 11, 2, 3, 456000, tzinfo=UTC)
    name = approved_execution_name(ref, at)
    assert name == approved_execution_name(ref, at)
    assert name.startswith("churn-v7-20261127T110203456-")
    assert name != approved_execution_name(ref, at.replace(second=4))
    assert EXECUTION.match(approved_execution_name(package_ref(ARN.replace("churn", "c" * 63)), at))


@pytest.mark.parametrize(
    ("strategy", "routing"),
    [
        ({"type": "all_at_once"}, {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}),
        (
            {"type": "canary", "percent": 10, "wait_seconds": 300},
            {"Type": "CANARY", "WaitIntervalInSeconds": 300, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
        ),
        (
            {"type": "linear", "percent": 25, "interval_seconds": 120},
            {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 120,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            },
        ),
    ],
)
def test_update_endpoint_request_is_valid_for_every_strategy(strategy: dict, routing: dict) -> None:
    config = deploy.deployment_config(stage(strategy=strategy), timeout_seconds=300)
    request = {"EndpointName": "churn-prod", "EndpointConfigName": "churn-v7-prod", "DeploymentConfig": config}

    validate_request("sagemaker", "UpdateEndpoint", request)
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == routing
    assert config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] == 600  # SageMaker's minimum
    assert config["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "churn-prod-5xx"}, {"AlarmName": "churn-prod-latency"}]
    }


def test_model_and_endpoint_config_requests_are_valid() -> None:
    spec = stage(strategy={"type": "ab", "challenger_weight": 0.3})
    model = deploy.model_request(spec, name="churn-v7-prod", group="churn", package_arn=ARN, version=7)
    config = deploy.config_request(
        spec,
        name="churn-v7-prod-ab-v6",
        group="churn",
        package_arn=ARN,
        version=7,
        model="churn-v7-prod",
        champion=(6, "churn-v6-prod"),
    )

    validate_request("sagemaker", "CreateModel", model)
    validate_request("sagemaker", "CreateEndpointConfig", config)
    assert model["PrimaryContainer"] == {"ModelPackageName": ARN}
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]] == [
        ("v7", 0.3),
        ("v6", 0.7),
    ]
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == "s3://example-capture/churn/"


def test_no_data_capture_without_monitoring() -> None:
    config = deploy.config_request(
        stage(monitoring=None), name="c", group="churn", package_arn=ARN, version=7, model="m"
    )
    assert "DataCaptureConfig" not in config


def test_monitoring_schedule_request_is_valid_and_uses_the_regions_analyzer_image() -> None:
    spec = stage()
    assert spec.monitoring is not None
    config = schedule_config(spec, spec.monitoring)

    validate_request(
        "sagemaker",
        "CreateMonitoringSchedule",
        {"MonitoringScheduleName": schedule_name("churn-prod"), "MonitoringScheduleConfig": config},
    )
    image = config["MonitoringJobDefinition"]["MonitoringAppSpecification"]["ImageUri"]
    assert image == "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    assert config["MonitoringJobDefinition"]["BaselineConfig"]["ConstraintsResource"]["S3Uri"] == (
        "s3://example-monitoring/churn/baseline/constraints.json"
    )
    assert len(ANALYZER_IMAGES) > 20


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"kind": "promote"}, "group: Field required"),
        ({"kind": "rollback", "group": "churn", "stage": "prod", "version": 0}, "version: Input should be greater"),
        ({"kind": "deploy", "model_package_arn": "arn:aws:s3:::bucket", "stages": ["prod"]}, "model_package_arn"),
        ({"kind": "deploy", "model_package_arn": ARN, "stages": []}, "stages: List should have at least 1 item"),
        ({"kind": "nuke"}, "does not match any of the expected tags"),
        ("deploy everything", "valid dictionary"),
    ],
)
def test_bad_input_is_refused_with_a_clear_reason(payload: object, message: str) -> None:
    with pytest.raises(InvalidDeploymentInput, match="invalid DeployModel input") as refused:
        parse_input(payload)
    assert message in refused.value.reason


def test_each_manual_sample_is_a_valid_input(load_event) -> None:
    for name in ("deploy", "rollback", "promote"):
        assert parse_input(load_event(f"manual/{name}.json")).kind == name
    started = ApprovedInput(model_package_arn=ARN, approved_at=datetime.now(UTC), event_id="e")
    assert parse_input(json.loads(started.model_dump_json())) == started


def test_every_task_of_the_asl_has_an_explicit_retry_and_a_catch() -> None:
    states = json.loads(ASL.read_text())["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert len(tasks) == 14
    for name, task in tasks.items():
        assert task.get("Retry"), f"{name} has no Retry"
        assert task.get("Catch"), f"{name} has no Catch"
        assert "arn:aws:" not in task["Resource"] or task["Resource"].startswith("arn:aws:states:::"), name
    targets = {state.get("Next") for state in states.values()} | {state.get("Default") for state in states.values()}
    targets |= {c["Next"] for state in states.values() for c in state.get("Catch", []) + state.get("Choices", [])}
    assert targets - {None} <= set(states), "a transition names a state that does not exist"
    throttling = [r for task in tasks.values() for r in task["Retry"] if "ThrottlingError" in r["ErrorEquals"]]
    assert all(r["BackoffRate"] >= 2 for r in throttling)


def test_the_asl_passes_cfn_lint_state_machine_checks() -> None:
    from cfnlint.api import lint

    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "DeployModel": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/deploy-model",
                    "Definition": json.loads(ASL.read_text()),
                    "DefinitionSubstitutions": {
                        "DeployStepFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:deploy-step",
                        "LifecycleTableName": "lifecycle",
                        "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:notifications",
                    },
                },
            }
        },
    }
    matches = lint(json.dumps(template), regions=["us-east-1"])
    assert [str(match) for match in matches] == []
