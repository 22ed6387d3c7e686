"""The training fakes are pinned to the real API: request validation, transitions, emitted event shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from lifecycle.events import TrainingJobEvent, parse_event
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse
from support.cloud import DEV, REGION, Cloud
from support.training import create_job

from sandbox.fakes import install, validate_request
from sandbox.fakes import training as fake_training

SAMPLES = Path(__file__).resolve().parents[2] / "events"


def test_install_hooks_moto_s_sagemaker_responder() -> None:
    # A moto upgrade that changes how responses dispatch must fail here, loudly.
    assert "StopTrainingJob" in install()
    assert callable(SageMakerResponse.stop_training_job)


def test_requests_are_validated_against_botocore_s_model() -> None:
    validate_request("sagemaker", "StopTrainingJob", {"TrainingJobName": "churn-1"})
    with pytest.raises(ValidationError, match="Missing required parameter"):
        validate_request("sagemaker", "StopTrainingJob", {})
    with pytest.raises(ValidationError, match="Unknown parameter"):
        validate_request("sagemaker", "StopTrainingJob", {"TrainingJobName": "churn-1", "Force": True})


def test_stop_moves_a_running_job_through_stopping_to_stopped(cloud: Cloud) -> None:
    create_job(cloud, "churn-1")
    fake_training.set_state(DEV, REGION, "churn-1", status="InProgress")
    fake_training.WORLD.drain()
    sagemaker = cloud.client("sagemaker", DEV)

    sagemaker.stop_training_job(TrainingJobName="churn-1")

    assert sagemaker.describe_training_job(TrainingJobName="churn-1")["TrainingJobStatus"] == "Stopped"
    assert [e["detail"]["TrainingJobStatus"] for e in fake_training.WORLD.drain()] == ["Stopping", "Stopped"]


def test_stopping_a_job_that_is_not_running_is_refused_like_sagemaker_does(cloud: Cloud) -> None:
    create_job(cloud, "churn-1")
    sagemaker = cloud.client("sagemaker", DEV)

    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.stop_training_job(TrainingJobName="churn-1")
    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.stop_training_job(TrainingJobName="no-such-job")


def test_rule_statuses_show_in_describe_and_in_the_event(cloud: Cloud) -> None:
    create_job(cloud, "churn-1")
    fake_training.set_state(DEV, REGION, "churn-1", status="InProgress")

    event = fake_training.set_rule_status(DEV, REGION, "churn-1", rule="Overfit", status="IssuesFound", details="d")

    described = cloud.client("sagemaker", DEV).describe_training_job(TrainingJobName="churn-1")
    assert described["DebugRuleEvaluationStatuses"][0]["RuleEvaluationStatus"] == "IssuesFound"
    assert parse_event(event, TrainingJobEvent).detail.DebugRuleEvaluationStatuses[0].StatusDetails == "d"


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped"])
def test_emitted_events_have_the_shape_of_the_samples(cloud: Cloud, status: str) -> None:
    create_job(cloud, "churn-1")
    sample = json.loads((SAMPLES / f"training-{status.lower()}.json").read_text())

    event = fake_training.set_state(DEV, REGION, "churn-1", status=status, metrics={"validation:auc": 0.9})

    assert set(event) == set(sample)
    assert {"TrainingJobName", "TrainingJobArn", "TrainingJobStatus", "LastModifiedTime", "Tags"} <= set(
        event["detail"]
    )
    assert isinstance(event["detail"]["LastModifiedTime"], int)
    assert parse_event(event, TrainingJobEvent).status == status


def test_a_second_training_job_with_the_same_name_is_refused_like_sagemaker_does(cloud: Cloud) -> None:
    first = create_job(cloud, "churn-1")

    with pytest.raises(ClientError, match="ResourceInUse"):
        create_job(cloud, "churn-1")
    assert create_job(cloud, "churn-2")["TrainingJobArn"] != first["TrainingJobArn"]


def test_arns_name_the_job_in_lower_case_and_tagging_by_that_arn_finds_it(cloud: Cloud) -> None:
    # Given a mixed-case training job
    job = create_job(cloud, "Churn-XGB-1")
    sagemaker = cloud.client("sagemaker", DEV)

    # Then its ARN names it in lower case, its name keeps its case
    assert job["TrainingJobArn"] == f"arn:aws:sagemaker:{REGION}:{DEV}:training-job/churn-xgb-1"
    assert job["TrainingJobName"] == "Churn-XGB-1"
    # and AddTags / ListTags by that ARN reach it, as they do on SageMaker
    sagemaker.add_tags(ResourceArn=job["TrainingJobArn"], Tags=[{"Key": "k", "Value": "v"}])
    assert {"Key": "k", "Value": "v"} in sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.list_tags(ResourceArn=f"arn:aws:sagemaker:{REGION}:{DEV}:training-job/no-such-job")
