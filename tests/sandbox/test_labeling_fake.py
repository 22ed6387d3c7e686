"""The labeling job fakes behave like Ground Truth: validated requests, status transitions, the events it emits."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lifecycle.events import LabelingJobEvent, parse_event
from moto.sagemaker.exceptions import ValidationError
from support.cloud import DEV, REGION, STAGING, Cloud
from support.labeling import NAME, create_labeling_job

from sandbox.fakes import install
from sandbox.fakes import labeling as fake_labeling
from sandbox.fakes.strict import operation_model, strict_errors


def shape_of(node: Any) -> Any:
    """The keys of `node` (recursively) and the types of its leaves: what two events must share."""
    if isinstance(node, dict):
        return {key: shape_of(value) for key, value in node.items()}
    if isinstance(node, list):
        return [shape_of(item) for item in node]
    return type(node).__name__


def describe_output_errors(response: dict[str, Any]) -> list[str]:
    shape = operation_model("sagemaker", "DescribeLabelingJob").output_shape
    return strict_errors({key: value for key, value in response.items() if key != "ResponseMetadata"}, shape)


def test_the_fakes_are_installed() -> None:
    assert {"CreateLabelingJob", "DescribeLabelingJob"} <= set(install())


def test_a_request_botocore_refuses_is_refused_by_the_fake(cloud: Cloud) -> None:
    # Given a client that skips its own validation, as a hand-made HTTP call would
    client = boto3.client("sagemaker", region_name=REGION, config=Config(parameter_validation=False))

    # When CreateLabelingJob lacks HumanTaskConfig and OutputConfig
    with pytest.raises(ClientError) as refused:
        client.create_labeling_job(
            LabelingJobName="churn-labels",
            LabelAttributeName="churn-label",
            InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://b/in.manifest"}}},
            RoleArn=f"arn:aws:iam::{DEV}:role/GroundTruthRole",
        )

    # Then SageMaker's error comes back, naming what is missing, and no job exists
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "HumanTaskConfig" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError, match="ResourceNotFound"):
        client.describe_labeling_job(LabelingJobName="churn-labels")


def test_a_new_job_is_in_progress_and_described_in_sagemakers_shape(cloud: Cloud) -> None:
    # When a job is created
    create_labeling_job(cloud, tags={"team": "churn"})
    job = cloud.client("sagemaker", DEV).describe_labeling_job(LabelingJobName=NAME)

    # Then it is InProgress, nothing labeled yet, its tags returned, the response valid for botocore's model
    assert job["LabelingJobStatus"] == "InProgress"
    assert job["LabelingJobArn"] == f"arn:aws:sagemaker:{REGION}:{DEV}:labeling-job/{NAME}"
    assert job["LabelCounters"]["TotalLabeled"] == 0
    assert job["Tags"] == [{"Key": "team", "Value": "churn"}]
    assert "LabelingJobOutput" not in job
    assert describe_output_errors(job) == []


def test_a_name_already_used_is_refused_and_jobs_live_in_their_own_account(cloud: Cloud) -> None:
    create_labeling_job(cloud)

    with pytest.raises(ClientError, match="ResourceInUse"):
        create_labeling_job(cloud)
    with pytest.raises(ClientError, match="ResourceNotFound"):
        cloud.client("sagemaker", STAGING).describe_labeling_job(LabelingJobName=NAME)


def test_names_are_not_case_sensitive_and_the_arn_names_the_job_in_lower_case(cloud: Cloud) -> None:
    # Given a mixed-case job ("LabelingJobName is not case sensitive": API reference, CreateLabelingJob)
    create_labeling_job(cloud, "ChurnLabels")
    sagemaker = cloud.client("sagemaker", DEV)

    # Then its ARN names it in lower case, its name keeps its case, either case finds it
    job = sagemaker.describe_labeling_job(LabelingJobName="churnlabels")
    assert job["LabelingJobName"] == "ChurnLabels"
    assert job["LabelingJobArn"] == f"arn:aws:sagemaker:{REGION}:{DEV}:labeling-job/churnlabels"
    assert sagemaker.describe_labeling_job(LabelingJobName="ChurnLabels")["LabelingJobArn"] == job["LabelingJobArn"]
    # and the same name in another case is the same job: refused
    with pytest.raises(ClientError, match="ResourceInUse"):
        create_labeling_job(cloud, "churnlabels")


def test_completing_writes_the_output_manifest_and_counts(cloud: Cloud) -> None:
    create_labeling_job(cloud)

    event = fake_labeling.complete_labeling_job(DEV, REGION, NAME, human=3, machine=2, unlabeled=1, failed=1)

    job = cloud.client("sagemaker", DEV).describe_labeling_job(LabelingJobName=NAME)
    assert job["LabelingJobStatus"] == "Completed"
    assert job["LabelCounters"] == {
        "TotalLabeled": 5,
        "HumanLabeled": 3,
        "MachineLabeled": 2,
        "FailedNonRetryableError": 1,
        "Unlabeled": 1,
    }
    manifest = job["LabelingJobOutput"]["OutputDatasetS3Uri"]
    assert manifest == f"s3://example-dev-ml-labels/churn/{NAME}/manifests/output/output.manifest"
    assert describe_output_errors(job) == []
    body = cloud.client("s3", DEV).get_object(Bucket="example-dev-ml-labels", Key=manifest.split("/", 3)[3])["Body"]
    lines = [json.loads(line) for line in body.read().decode().splitlines()]
    assert len(lines) == 5
    assert all({"source-ref", "churn-label", "churn-label-metadata"} <= set(line) for line in lines)
    assert [line["churn-label-metadata"]["human-annotated"] for line in lines] == ["yes"] * 3 + ["no"] * 2
    assert event["detail"] == {"LabelingJobStatus": "Completed"}


@pytest.mark.parametrize(
    ("sample", "end"),
    [("labeling-completed.json", "complete"), ("labeling-failed.json", "fail"), ("labeling-stopped.json", "stop")],
)
def test_emitted_events_have_the_shape_of_the_samples(cloud: Cloud, load_event, sample: str, end: str) -> None:
    # Given the sample of this outcome, and the same outcome scripted on the fake
    create_labeling_job(cloud)
    if end == "complete":
        event = fake_labeling.complete_labeling_job(DEV, REGION, NAME, human=1)
    elif end == "fail":
        event = fake_labeling.fail_labeling_job(DEV, REGION, NAME, reason="ClientError: no workers")
    else:
        event = fake_labeling.stop_labeling_job(DEV, REGION, NAME)[-1]
    expected = load_event(sample)

    # Then the emitted event has the sample's shape and values, bar its id and time
    assert shape_of(event) == shape_of(expected)
    assert {k: v for k, v in event.items() if k not in ("id", "time")} == {
        k: v for k, v in expected.items() if k not in ("id", "time")
    }
    assert parse_event(event, LabelingJobEvent).status == expected["detail"]["LabelingJobStatus"]


def test_every_status_change_is_emitted_in_order(cloud: Cloud) -> None:
    create_labeling_job(cloud)

    fake_labeling.stop_labeling_job(DEV, REGION, NAME, reason="stopped by the data team", human=7, unlabeled=3)

    statuses = [event["detail"]["LabelingJobStatus"] for event in fake_labeling.WORLD.drain()]
    assert statuses == ["Stopping", "Stopped"]
    job = cloud.client("sagemaker", DEV).describe_labeling_job(LabelingJobName=NAME)
    assert (job["LabelingJobStatus"], job["FailureReason"]) == ("Stopped", "stopped by the data team")
    assert job["LabelCounters"]["HumanLabeled"] == 7


def test_creating_emits_in_progress(cloud: Cloud) -> None:
    fake_labeling.WORLD.drain()

    cloud.client("sagemaker", DEV).create_labeling_job(**_create_request())

    [event] = fake_labeling.WORLD.drain()
    assert event["detail"] == {"LabelingJobStatus": "InProgress"}
    assert event["resources"] == [f"arn:aws:sagemaker:{REGION}:{DEV}:labeling-job/other-labels"]
    job = cloud.client("sagemaker", DEV).describe_labeling_job(LabelingJobName="other-labels")
    assert job["LabelingJobStatus"] == "InProgress"
    assert describe_output_errors(job) == []


def _create_request() -> dict[str, Any]:
    return {
        "LabelingJobName": "other-labels",
        "LabelAttributeName": "label",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://b/in.manifest"}}},
        "OutputConfig": {"S3OutputPath": "s3://b/out/"},
        "RoleArn": f"arn:aws:iam::{DEV}:role/GroundTruthRole",
        "HumanTaskConfig": {
            "WorkteamArn": f"arn:aws:sagemaker:{REGION}:{DEV}:workteam/private-crowd/team",
            "UiConfig": {"UiTemplateS3Uri": "s3://b/template.liquid"},
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 60,
        },
    }


def test_an_ended_job_cannot_end_again(cloud: Cloud) -> None:
    create_labeling_job(cloud)
    fake_labeling.complete_labeling_job(DEV, REGION, NAME, human=1)

    with pytest.raises(ValidationError, match="already ended: Completed"):
        fake_labeling.fail_labeling_job(DEV, REGION, NAME, reason="late")
