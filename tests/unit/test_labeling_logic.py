"""Pure decisions of the labeling reaction: the event's ARN, the training job's name, and its request."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from lifecycle.actions.labeling import (
    counters_summary,
    labeled_count,
    labeling_job_arn,
    output_manifest,
    training_job_name_for,
    training_request_for,
)
from lifecycle.actions.training import start_training_job, training_channel, training_job_request
from lifecycle.errors import ActionRefused, AwsCallFailed, MalformedEvent
from lifecycle.policy import validate_policy
from support.cloud import DEV, REGION, STAGING, churn_policy

from sandbox.fakes import validate_request

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
labeling_names = st.from_regex(r"\A[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z").filter(lambda name: len(name) <= 63)
accounts = st.from_regex(r"\A\d{12}\Z")
MANIFEST = "s3://example-dev-ml-labels/churn/churn-labels/manifests/output/output.manifest"


def arn_of(name: str, account: str = DEV, region: str = REGION) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:labeling-job/{name}"


@given(name=labeling_names, account=accounts)
def test_the_training_job_name_is_a_valid_sagemaker_name_and_deterministic(name: str, account: str) -> None:
    training_name = training_job_name_for(arn_of(name, account))

    assert NAME_PATTERN.match(training_name), training_name
    assert len(training_name) <= 63
    assert training_name == training_job_name_for(arn_of(name, account))


def test_a_short_name_is_kept_whole_and_readable() -> None:
    assert re.fullmatch(
        r"churn-labels-20261126-train-[0-9a-f]{8}", training_job_name_for(arn_of("churn-labels-20261126"))
    )


def test_two_long_names_with_the_same_start_get_different_training_jobs() -> None:
    first, second = "a" * 60 + "-01", "a" * 60 + "-02"

    names = {training_job_name_for(arn_of(first)), training_job_name_for(arn_of(second))}

    assert len(names) == 2
    assert all(len(name) == 63 and name.startswith("a" * 48 + "-train-") for name in names)


def test_same_named_labeling_jobs_of_two_accounts_get_different_training_jobs() -> None:
    assert training_job_name_for(arn_of("churn-labels", DEV)) != training_job_name_for(arn_of("churn-labels", STAGING))


@pytest.mark.parametrize(
    "resources",
    [
        [],
        [f"arn:aws:sagemaker:{REGION}:{DEV}:training-job/churn-labels"],
        [f"arn:aws:sagemaker:{REGION}:{DEV}:labeling-job/"],
        [f"arn:aws:sagemaker:{REGION}:{DEV}:labeling-job/has_underscore"],
        [f"arn:aws:sagemaker:{REGION}:{DEV}:labeling-job/churn/extra"],
    ],
    ids=["none", "training-job", "no-name", "invalid-name", "extra-path"],
)
def test_events_without_a_labeling_job_arn_are_malformed(resources: list[str]) -> None:
    with pytest.raises(MalformedEvent, match="the event's resources name no labeling job ARN"):
        labeling_job_arn(resources)


def test_the_labeling_job_arn_is_found_among_other_resources() -> None:
    resources = [f"arn:aws:sagemaker:{REGION}:{DEV}:workteam/private-crowd/team", arn_of("churn-labels")]

    assert labeling_job_arn(resources) == arn_of("churn-labels")


def test_counters_read_as_people_read_them_and_missing_ones_count_zero() -> None:
    job = {"LabelCounters": {"TotalLabeled": 500, "HumanLabeled": 120, "MachineLabeled": 380, "Unlabeled": 3}}

    assert counters_summary(job) == "500 labeled (120 by people, 380 by machine), 3 unlabeled, 0 failed"
    assert labeled_count(job) == 500
    assert labeled_count({}) == 0
    assert counters_summary({}) == "0 labeled (0 by people, 0 by machine), 0 unlabeled, 0 failed"


def test_the_output_manifest_is_read_from_the_labeling_job_output() -> None:
    assert output_manifest({"LabelingJobOutput": {"OutputDatasetS3Uri": MANIFEST}}) == MANIFEST
    assert output_manifest({}) is None
    assert output_manifest({"LabelingJobOutput": {}}) is None


@pytest.mark.parametrize(
    "training",
    [
        {},
        {"content_type": "application/x-recordio", "record_wrapper": "RecordIO", "input_mode": "Pipe"},
        {"content_type": "application/jsonlines", "record_wrapper": "None", "input_mode": "File"},
        {"metric_definitions": [{"name": "validation:auc", "regex": "validation-auc:([0-9.]+)"}]},
        {"instance_count": 4, "volume_size_gb": 200, "max_runtime_seconds": 7200, "hyperparameters": {}},
    ],
    ids=["defaults", "recordio-pipe", "jsonlines-file", "metric-definitions", "resources"],
)
def test_the_request_trains_on_the_manifest_and_validates_against_botocore(training: dict[str, Any]) -> None:
    # Given a policy whose training template has these settings
    document = churn_policy()
    document["training"] |= training
    policy = validate_policy(document, group="churn")
    labeling_arn = arn_of("churn-labels-20261126")

    # When the request is built
    request = training_request_for(
        policy, labeling_arn=labeling_arn, manifest=MANIFEST, label_attribute="churn-label", event_id="e" * 300
    )

    # Then SageMaker's model accepts it, and it reads source-ref and the label from the manifest
    validate_request("sagemaker", "CreateTrainingJob", request)
    [channel] = request["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3DataType"] == "AugmentedManifestFile"
    assert channel["DataSource"]["S3DataSource"]["AttributeNames"] == ["source-ref", "churn-label"]
    assert channel.get("ContentType") == training.get("content_type")
    assert channel.get("RecordWrapperType") == training.get("record_wrapper")
    assert channel["InputMode"] == request["AlgorithmSpecification"]["TrainingInputMode"] == policy.training.input_mode
    assert request["TrainingJobName"] == training_job_name_for(labeling_arn)
    tags = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
    assert tags == {
        "lifecycle:model-package-group": "churn",
        "lifecycle:labeling-job": labeling_arn,
        "lifecycle:event-id": "e" * 256,
    }


def test_a_retraining_request_reads_an_s3_prefix_and_validates() -> None:
    policy = validate_policy(churn_policy(), group="churn")
    channel = training_channel(policy.training, policy.training.fresh_data_s3_uri)

    request = training_job_request(policy, name="churn-retrain-20261127", channel=channel, tags={"k": "v"})

    validate_request("sagemaker", "CreateTrainingJob", request)
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"] == {
        "S3DataType": "S3Prefix",
        "S3Uri": "s3://example-dev-ml-data/churn/fresh/",
        "S3DataDistributionType": "FullyReplicated",
    }


def test_a_policy_without_a_training_template_builds_no_request() -> None:
    document = churn_policy()
    del document["training"]
    policy = validate_policy(document, group="churn")

    with pytest.raises(ActionRefused, match="policy of group 'churn' has no training template"):
        training_request_for(policy, labeling_arn=arn_of("x"), manifest=MANIFEST, label_attribute="l", event_id="e")


def _request() -> dict[str, Any]:
    policy = validate_policy(churn_policy(), group="churn")
    return training_request_for(
        policy, labeling_arn=arn_of("churn-labels"), manifest=MANIFEST, label_attribute="churn-label", event_id="e"
    )


def _stubbed() -> tuple[Any, Stubber]:
    sagemaker = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    return sagemaker, Stubber(sagemaker)


def _described(request: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "TrainingJobName": request["TrainingJobName"],
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{DEV}:training-job/{request['TrainingJobName']}",
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "AlgorithmSpecification": request["AlgorithmSpecification"],
        "ModelArtifacts": {"S3ModelArtifacts": ""},
        "ResourceConfig": request["ResourceConfig"],
        "StoppingCondition": request["StoppingCondition"],
        "CreationTime": now,
    }


def test_a_create_lost_to_a_concurrent_run_answers_with_the_job_that_run_created() -> None:
    # Given no job at first, a create refused because another invocation just created it
    request = _request()
    sagemaker, stubber = _stubbed()
    name = {"TrainingJobName": request["TrainingJobName"]}
    stubber.add_client_error("describe_training_job", "ValidationException", "Requested resource not found", 400, name)
    stubber.add_client_error("create_training_job", "ValidationException", "job names must be unique", 400, request)
    stubber.add_response("describe_training_job", _described(request), name)

    # When the job is started
    with stubber:
        started = start_training_job(sagemaker, request)

    # Then the existing job is the answer, and this call created nothing
    assert (started.arn, started.created) == (_described(request)["TrainingJobArn"], False)
    stubber.assert_no_pending_responses()


def test_a_create_that_fails_for_another_reason_raises_a_retryable_error() -> None:
    request = _request()
    sagemaker, stubber = _stubbed()
    name = {"TrainingJobName": request["TrainingJobName"]}
    stubber.add_client_error("describe_training_job", "ValidationException", "Requested resource not found", 400, name)
    stubber.add_client_error("create_training_job", "ResourceLimitExceeded", "ml.m5.xlarge limit", 400, request)
    stubber.add_client_error("describe_training_job", "ValidationException", "Requested resource not found", 400, name)

    with (
        stubber,
        pytest.raises(AwsCallFailed, match=r"CreateTrainingJob .*ResourceLimitExceeded: ml\.m5\.xlarge limit"),
    ):
        start_training_job(sagemaker, request)
