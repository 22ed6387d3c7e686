"""Labeling job state change, end to end through the handler, against moto with the labeling fakes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from lifecycle.actions.labeling import LABELING_JOB_TAG, training_job_name_for
from lifecycle.config import get_settings
from lifecycle.store import audit
from moto.sagemaker.models import sagemaker_backends
from support.cloud import AUTOMATION, DEV, REGION, STAGING, TABLE, Cloud, churn_policy
from support.labeling import ARN, NAME, TRAINING_ROLE, create_labeling_job
from support.training import Context

from functions.labeling_state.app import lambda_handler
from functions.training_state.app import lambda_handler as training_handler
from sandbox.fakes import labeling as fake_labeling
from sandbox.fakes import training as fake_training


def completed(cloud: Cloud, name: str = NAME, *, human: int = 120, machine: int = 380, **job: Any) -> dict[str, Any]:
    create_labeling_job(cloud, name, **job)
    return fake_labeling.complete_labeling_job(DEV, REGION, name, human=human, machine=machine, unlabeled=3)


def training_jobs(account: str) -> dict[str, Any]:
    """moto's training jobs of `account` by name (the objects themselves, so a re-create would show)."""
    return dict(sagemaker_backends[account][REGION].training_jobs)


def trail(group: str = "churn") -> list[tuple[str, str]]:
    return [(entry.action, entry.outcome) for entry in audit.history(group, get_settings())]


def assert_no_training(cloud: Cloud) -> None:
    for account in (DEV, STAGING):
        assert cloud.client("sagemaker", account).list_training_jobs()["TrainingJobSummaries"] == []


def staging_policy(**overrides: Any) -> dict[str, Any]:
    """The churn policy, training in staging on augmented manifests (RecordIO-wrapped, Pipe mode)."""
    training = churn_policy()["training"] | {
        "account": STAGING,
        "role_arn": TRAINING_ROLE,
        "content_type": "application/x-recordio",
        "record_wrapper": "RecordIO",
        "input_mode": "Pipe",
    }
    return churn_policy(training=training, **overrides)


def test_completed_labels_start_training_in_the_account_the_policy_names(cloud: Cloud) -> None:
    # Given a labeling job in dev and a policy that trains in staging
    cloud.publish_policy(staging_policy())
    event = completed(cloud)

    # When the Completed event arrives
    result = lambda_handler(event, Context())

    # Then one training job runs in staging (none in dev), on the output manifest, with lineage tags
    assert result["outcome"] == "acted"
    assert result["action"] == "training-started"
    assert training_jobs(DEV) == {}
    expected_name = training_job_name_for(ARN)
    assert list(training_jobs(STAGING)) == [expected_name]
    job = cloud.client("sagemaker", STAGING).describe_training_job(TrainingJobName=expected_name)
    assert job["TrainingJobArn"] == result["training_job_arn"]
    assert job["RoleArn"] == TRAINING_ROLE
    [channel] = job["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"] == {
        "S3DataType": "AugmentedManifestFile",
        "S3Uri": f"s3://example-dev-ml-labels/churn/{NAME}/manifests/output/output.manifest",
        "S3DataDistributionType": "FullyReplicated",
        "AttributeNames": ["source-ref", "churn-label"],
    }
    assert (channel["ContentType"], channel["RecordWrapperType"], channel["InputMode"]) == (
        "application/x-recordio",
        "RecordIO",
        "Pipe",
    )
    tags = {
        t["Key"]: t["Value"]
        for t in cloud.client("sagemaker", STAGING).list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    }
    assert tags == {"lifecycle:model-package-group": "churn", LABELING_JOB_TAG: ARN, "lifecycle:event-id": event["id"]}
    [(action, outcome)] = trail()
    assert (action, outcome) == ("start-training-job", "done")
    [entry] = audit.history("churn", get_settings())
    assert entry.account == STAGING
    assert entry.details["labels"] == "500 labeled (120 by people, 380 by machine), 3 unlabeled, 0 failed"
    assert cloud.notifications() == []


def test_the_training_job_it_starts_carries_the_chain_on_to_registration(cloud: Cloud) -> None:
    # Given labels turned into a training job in dev (the churn policy's training account)
    cloud.publish_policy(churn_policy())
    lambda_handler(completed(cloud), Context())
    name = training_job_name_for(ARN)

    # When that training job completes with a passing metric
    fake_training.set_state(DEV, REGION, name, status="InProgress", secondary="Training")
    training_event = fake_training.set_state(DEV, REGION, name, status="Completed", metrics={"validation:auc": 0.9})
    result = training_handler(training_event, Context())

    # Then the training reaction found the policy by the lineage tag and registered the model
    assert result["action"] == "registered"
    assert trail() == [("start-training-job", "done"), ("register-model-package", "done")]


@pytest.mark.parametrize("same_id", [True, False], ids=["same-event-twice", "duplicate-with-new-id"])
def test_a_duplicate_event_starts_exactly_one_training_job(cloud: Cloud, same_id: bool) -> None:
    cloud.publish_policy(staging_policy())
    event = completed(cloud)
    duplicate = dict(event, id=event["id"] if same_id else "another-id-for-the-same-change")

    first = lambda_handler(event, Context())
    jobs_after_first = training_jobs(STAGING)
    second = lambda_handler(duplicate, Context())

    # moto re-creating a job of the same name would replace the object: the identical object proves no second create
    assert training_jobs(STAGING) == jobs_after_first
    [job] = training_jobs(STAGING).values()
    assert job is next(iter(jobs_after_first.values()))
    assert first["training_job_arn"] == second["training_job_arn"]
    assert trail() == [("start-training-job", "done")]


def test_a_replay_after_the_idempotency_record_expired_finds_the_existing_job(cloud: Cloud) -> None:
    # Given a training job already started from these labels, and its idempotency record gone (TTL)
    cloud.publish_policy(staging_policy())
    event = completed(cloud)
    lambda_handler(event, Context())
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for item in dynamodb.scan(TableName=TABLE)["Items"]:
        if item["pk"]["S"].startswith("IDEMPOTENCY#"):
            dynamodb.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
    job = next(iter(training_jobs(STAGING).values()))

    # When the event is replayed
    result = lambda_handler(dict(event, id="replayed-a-week-later"), Context())

    # Then describe-before-create finds the job: nothing new is started, and the audit says so
    assert result["action"] == "training-exists"
    assert next(iter(training_jobs(STAGING).values())) is job
    assert trail() == [("start-training-job", "done"), ("start-training-job", "skipped")]


def test_fewer_labels_than_the_policy_minimum_start_no_training_and_say_why(cloud: Cloud) -> None:
    cloud.publish_policy(staging_policy(labeling={"min_labeled_objects": 1000}))
    event = completed(cloud, human=40, machine=0)

    result = lambda_handler(event, Context())

    assert result["action"] == "too-few-labels"
    assert_no_training(cloud)
    [note] = cloud.notifications()
    assert note["kind"] == "too-few-labels"
    assert f"labeling job {NAME} labeled 40 objects, fewer than the policy's minimum of 1000" in note["message"]
    assert "40 labeled (40 by people, 0 by machine), 3 unlabeled, 0 failed" in note["message"]
    assert trail() == [("start-training-job", "skipped")]


def test_exactly_the_minimum_trains(cloud: Cloud) -> None:
    cloud.publish_policy(staging_policy(labeling={"min_labeled_objects": 500}))

    result = lambda_handler(completed(cloud, human=100, machine=400), Context())

    assert result["action"] == "training-started"


@pytest.mark.parametrize("end", ["failed", "stopped"])
def test_a_failed_or_stopped_labeling_job_is_told_with_its_reason_and_counts(cloud: Cloud, end: str) -> None:
    cloud.publish_policy(staging_policy())
    create_labeling_job(cloud)
    if end == "failed":
        event = fake_labeling.fail_labeling_job(
            DEV, REGION, NAME, reason="ClientError: Workteam ARN is not valid", human=12, unlabeled=488
        )
    else:
        event = fake_labeling.stop_labeling_job(DEV, REGION, NAME, human=12, unlabeled=488)[-1]

    result = lambda_handler(event, Context())

    assert result["action"] == "notified"
    [note] = cloud.notifications()
    assert note["kind"] == f"labeling-{end}"
    assert note["subject"] == f"churn: labeling job {NAME} {end}"
    why = "ClientError: Workteam ARN is not valid" if end == "failed" else "no FailureReason given"
    assert (
        f"labeling job {NAME} {end}: {why}; 12 labeled (12 by people, 0 by machine), 488 unlabeled" in note["message"]
    )
    assert trail() == [(f"notify-labeling-{end}", "notified")]
    assert_no_training(cloud)


@pytest.mark.parametrize(
    ("name", "tags", "label"),
    [
        ("fraud-labels-20261126", {"lifecycle:model-package-group": "churn"}, "fraud-label"),
        ("churn-labels-20261126", {}, "fraud-label"),
        ("customers-20261126", {}, "churn-label"),
    ],
    ids=["by-tag-over-prefix", "by-name-prefix", "by-label-attribute"],
)
def test_the_policy_is_found_by_tag_then_name_prefix_then_label_attribute(
    cloud: Cloud, name: str, tags: dict[str, str], label: str
) -> None:
    # Given churn and fraud policies: fraud claims the "fraud-" prefix and the "fraud-label" attribute
    cloud.publish_policy(staging_policy())
    fraud = churn_policy(group="fraud", match={"name_prefixes": ["fraud-"], "label_attribute_names": ["fraud-label"]})
    cloud.publish_policy(fraud)

    result = lambda_handler(completed(cloud, name, tags=tags, label=label), Context())

    # Then the churn policy applies: its training account, its group tag
    assert result["action"] == "training-started"
    [job] = training_jobs(STAGING).values()
    assert {"Key": "lifecycle:model-package-group", "Value": "churn"} in job.tags


def test_a_job_no_policy_claims_is_ignored(cloud: Cloud) -> None:
    cloud.publish_policy(staging_policy())

    result = lambda_handler(completed(cloud, "customers-20261126", label="sentiment"), Context())

    assert result["outcome"] == "ignored"
    assert "no policy claims 'customers-20261126'" in result["reason"]
    assert_no_training(cloud)


def test_the_event_samples_drive_the_handler(cloud: Cloud, load_event) -> None:
    # Given the job the samples name, completed in dev
    cloud.publish_policy(staging_policy())
    completed(cloud)

    # When the sample Completed event is delivered
    result = lambda_handler(load_event("labeling-completed.json"), Context())

    # Then it acts on the job its resources name
    assert result["action"] == "training-started"
    assert list(training_jobs(STAGING)) == [training_job_name_for(ARN)]


# --- bad input ---------------------------------------------------------------------------------------------------
def test_an_event_without_a_labeling_job_arn_is_rejected(cloud: Cloud, load_event) -> None:
    cloud.publish_policy(staging_policy())
    completed(cloud)
    event = load_event("labeling-completed.json")
    event["resources"] = [f"arn:aws:sagemaker:{REGION}:{DEV}:training-job/{NAME}"]

    result = lambda_handler(event, Context())

    assert result["outcome"] == "refused"
    assert result["reason"] == "the event's resources name no labeling job ARN"
    assert_no_training(cloud)
    assert cloud.notifications() == []


def test_an_unknown_labeling_job_is_rejected(cloud: Cloud, load_event) -> None:
    cloud.publish_policy(staging_policy())

    result = lambda_handler(load_event("labeling-completed.json"), Context())

    assert result == {
        "outcome": "refused",
        "reason": f"labeling job {NAME} does not exist",
        "event_id": load_event("labeling-completed.json")["id"],
    }
    assert_no_training(cloud)
    assert trail() == []


def test_a_completed_job_without_an_output_manifest_is_refused_and_told(cloud: Cloud) -> None:
    cloud.publish_policy(staging_policy())
    create_labeling_job(cloud)
    event = fake_labeling.complete_labeling_job(DEV, REGION, NAME, human=10, with_output=False)

    result = lambda_handler(event, Context())
    again = lambda_handler(dict(event, id="a-duplicate"), Context())

    assert result["outcome"] == again["outcome"] == "refused"
    assert result["reason"] == (
        f"labeling job {NAME} completed without an output manifest "
        "(10 labeled (10 by people, 0 by machine), 0 unlabeled, 0 failed)"
    )
    assert_no_training(cloud)
    [note] = cloud.notifications()  # told once, not once per duplicate
    assert (note["kind"], note["subject"]) == ("no-labels", f"churn: cannot train on {NAME}")
    assert trail() == [("start-training-job", "refused")]


def test_a_policy_without_a_training_template_is_refused_and_told(cloud: Cloud) -> None:
    document = churn_policy()
    del document["training"]
    cloud.publish_policy(document)
    event = completed(cloud)

    result = lambda_handler(event, Context())

    assert result["outcome"] == "refused"
    assert result["reason"].startswith("policy of group churn has no training template: add one to train on")
    assert_no_training(cloud)
    [note] = cloud.notifications()
    assert note["kind"] == "no-training-template"
    assert trail() == [("start-training-job", "refused")]


def test_an_event_whose_status_the_job_contradicts_is_rejected(cloud: Cloud) -> None:
    cloud.publish_policy(staging_policy())
    create_labeling_job(cloud)
    event = fake_labeling.stop_labeling_job(DEV, REGION, NAME)[-1]
    forged = dict(event, detail={"LabelingJobStatus": "Completed"})

    result = lambda_handler(forged, Context())

    assert result["outcome"] == "refused"
    assert result["reason"] == f"labeling job {NAME} is Stopped, not Completed as the event says"
    assert_no_training(cloud)


def test_an_in_progress_event_is_ignored(cloud: Cloud) -> None:
    cloud.publish_policy(staging_policy())
    create_labeling_job(cloud)
    event = fake_labeling.stop_labeling_job(DEV, REGION, NAME)[0]

    result = lambda_handler(event, Context())

    assert (result["outcome"], result["reason"]) == ("ignored", "labeling job status Stopping needs no action")


def test_a_labeling_job_arn_of_another_account_is_rejected(cloud: Cloud, load_event) -> None:
    event = load_event("labeling-completed.json")
    event["resources"] = [ARN.replace(DEV, AUTOMATION)]

    result = lambda_handler(event, Context())

    assert result["outcome"] == "refused"
    assert "is not in the event's account" in result["reason"]


def test_a_mixed_case_labeling_job_known_only_by_its_lower_case_arn_starts_training(cloud: Cloud) -> None:
    # Given a mixed-case labeling job of a mixed-case group: its event names it only by its ARN, in lower case
    policy = churn_policy(group="ChurnPrediction", match={"name_prefixes": ["Churn"]})
    cloud.publish_policy(policy)
    event = completed(cloud, "ChurnLabels-2026", tags={"lifecycle:model-package-group": "ChurnPrediction"})
    assert event["resources"] == [f"arn:aws:sagemaker:{REGION}:{DEV}:labeling-job/churnlabels-2026"]

    # When the Completed event arrives
    result = lambda_handler(event, Context())

    # Then the job is described by that name (labeling job names are not case-sensitive) and training starts on its
    # output, tagged with the group's name as written
    assert result["action"] == "training-started"
    [job] = training_jobs(DEV).values()
    assert job.input_data_config[0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://example-dev-ml-labels/churn/ChurnLabels-2026/manifests/output/output.manifest"
    )
    assert {"Key": "lifecycle:model-package-group", "Value": "ChurnPrediction"} in job.tags
    assert trail("ChurnPrediction") == [("start-training-job", "done")]
