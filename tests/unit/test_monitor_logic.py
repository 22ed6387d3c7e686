"""Model Monitor logic without AWS: schedule and alarm identification, stage matching, names, requests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lifecycle.actions.training import training_channel, training_job_request
from lifecycle.events import AlarmEvent, parse_event
from lifecycle.monitoring.signals import Finding, alarm_target, summarize
from lifecycle.policy import Policy, match_stage
from lifecycle.reactions.monitor_violation import (
    Violation,
    pipeline_request,
    retrain_name,
    retrain_prefix,
    retrain_tags,
)
from lifecycle.store.cooldown import Window
from lifecycle.store.idempotency import SemanticKey
from support.cloud import DEV, PROD, REGION, churn_policy

from sandbox.fakes import validate_request
from sandbox.fakes.strict import service_model, strict_errors

EVENTS = Path(__file__).resolve().parents[2] / "events"
# SageMaker's training job name: its pattern alone admits longer names ('-' repeats), its max is 63.
TRAINING_JOB_NAME = service_model("sagemaker").shape_for("TrainingJobName")


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def stage_doc(name: str, account: str, endpoint: str) -> dict[str, Any]:
    return {"name": name, "account": account, "region": REGION, "endpoint_name": endpoint}


def violation(**training: Any) -> Violation:
    document = churn_policy()
    document["training"] = {**document["training"], **training}
    document["deployment"] = {
        "stages": [
            {
                **stage_doc("prod", PROD, "churn-prod"),
                "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole",
                "instance_type": "ml.m5.xlarge",
                "monitoring": [{"type": "data_quality", "on_violation": "retrain"}],
            }
        ]
    }
    policy = Policy.model_validate(document)
    assert policy.deployment is not None
    at = datetime(2026, 11, 27, 13, 5, 12, tzinfo=UTC)
    signal = f"arn:aws:sagemaker:{REGION}:{PROD}:processing-job/model-monitoring-202611271300-d3493922"
    key = SemanticKey.of("monitor-violation", signal, "CompletedWithViolations", at)
    stage = policy.deployment.stages[0]
    return Violation(policy, stage, stage.monitoring[0], signal, at, ["drift"], {}, key)


def test_an_alarm_names_its_endpoint_and_schedule_only_on_a_model_monitor_metric() -> None:
    event = parse_event(sample("monitor-alarm.json"), AlarmEvent)
    raw = sample("monitor-alarm.json")
    raw["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["namespace"] = "AWS/SageMaker"
    other = parse_event(raw, AlarmEvent)

    target = alarm_target(event.detail)

    assert target is not None
    assert (target.endpoint_name, target.schedule_name) == ("churn-prod", "churn-prod-data-quality")
    assert target.metric_name == "feature_baseline_drift_tenure_months"
    assert alarm_target(other.detail) is None


def test_an_endpoint_maps_to_the_policy_stage_running_it_in_that_account_and_region() -> None:
    documents: dict[str, Any] = {
        "fraud": {"deployment": {"stages": [stage_doc("prod", PROD, "fraud-prod")]}},
        "churn": {
            "deployment": {"stages": [stage_doc("staging", DEV, "churn-prod"), stage_doc("prod", PROD, "churn-prod")]}
        },
        "broken": None,
        "odd": {"deployment": {"stages": "not a list"}},
    }

    assert match_stage(documents, account=PROD, region=REGION, endpoint="churn-prod") == ("churn", "prod")
    assert match_stage(documents, account=DEV, region=REGION, endpoint="churn-prod") == ("churn", "staging")
    assert match_stage(documents, account=PROD, region="eu-west-1", endpoint="churn-prod") is None
    assert match_stage(documents, account=PROD, region=REGION, endpoint="unknown") is None


@given(
    group=st.from_regex(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", fullmatch=True),
    stage=st.from_regex(r"^[a-z][a-z0-9-]{0,15}$", fullmatch=True),
    started=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)),
)
def test_retrain_names_are_valid_deterministic_and_share_the_stage_prefix(
    group: str, stage: str, started: datetime
) -> None:
    name = retrain_name(group, stage, started, "holder")

    assert strict_errors(name, TRAINING_JOB_NAME) == [], name
    assert name == retrain_name(group, stage, started, "holder")
    assert name != retrain_name(group, stage, started, "another holder")
    assert name.startswith(retrain_prefix(group, stage))


def test_the_retrain_request_is_valid_for_sagemaker_and_tagged_for_registration() -> None:
    # Given
    v = violation()
    assert v.policy.training is not None and v.policy.training.fresh_data_s3_uri is not None
    name = retrain_name("churn", "prod", v.at, v.holder)
    channel = training_channel(v.policy.training, v.policy.training.fresh_data_s3_uri)

    # When
    request = training_job_request(v.policy, name=name, channel=channel, tags=retrain_tags(v, "event-1"))

    # Then
    validate_request("sagemaker", "CreateTrainingJob", request)
    assert re.match(r"^churn-prod-retrain-20261127130512-[0-9a-f]{6}$", request["TrainingJobName"])
    assert {"Key": "lifecycle:model-package-group", "Value": "churn"} in request["Tags"]
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] == "S3Prefix"


def test_the_pipeline_request_is_valid_and_passes_fresh_data_only_to_a_named_parameter() -> None:
    named = pipeline_request(violation(pipeline_name="churn-train", pipeline_data_parameter="InputData"), "n-1")
    unnamed = pipeline_request(violation(pipeline_name="churn-train"), "n-1")

    validate_request("sagemaker", "StartPipelineExecution", named)
    validate_request("sagemaker", "StartPipelineExecution", unnamed)
    assert named["PipelineParameters"] == [{"Name": "InputData", "Value": "s3://example-dev-ml-data/churn/fresh/"}]
    assert "PipelineParameters" not in unnamed
    assert len(named["ClientRequestToken"]) == 64
    assert (
        named["ClientRequestToken"]
        == pipeline_request(violation(pipeline_name="churn-train"), "n-1")["ClientRequestToken"]
    )


def test_a_refused_cool_down_says_until_when_in_utc() -> None:
    window = Window(
        granted=False,
        holder="arn:...:processing-job/model-monitoring-202611271300-d3493922",
        started=datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
        until=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
    )

    assert window.describe().startswith("cooling down until 14:00 UTC on 2026-11-27 (window opened 2026-11-27 08:00")


@pytest.mark.parametrize(("count", "lines"), [(2, 2), (25, 21)])
def test_summaries_list_each_violation_up_to_a_limit(count: int, lines: int) -> None:
    findings = [Finding(f"f{i}", "baseline_drift_check", "drifted") for i in range(count)]

    summary = summarize(findings)

    assert len(summary) == lines
    assert summary[0] == "f0: baseline_drift_check: drifted"
    assert count <= 20 or summary[-1] == "... and 5 more"
