"""Training job state change, end to end through the handler, against moto in two accounts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lifecycle.accounts import client_for
from lifecycle.actions.registry import TRAINING_JOB_KEY
from lifecycle.config import get_settings
from lifecycle.errors import DuplicateInProgress, ThrottlingError
from lifecycle.store import audit
from support.cloud import AUTOMATION, DEV, REGION, STAGING, TABLE, Cloud, churn_policy
from support.training import LONG_GROUP, Context, create_job, create_job_in

from functions.training_state.app import lambda_handler
from sandbox.fakes import training as fake_training


def completed_event(cloud: Cloud, auc: float, name: str = "churn-xgb-20261127-0900") -> dict[str, Any]:
    create_job(cloud, name)
    fake_training.set_state(DEV, REGION, name, status="InProgress", secondary="Training")
    return fake_training.set_state(DEV, REGION, name, status="Completed", metrics={"validation:auc": auc})


def packages(cloud: Cloud, group: str = "churn") -> list[dict[str, Any]]:
    sagemaker = cloud.client("sagemaker", AUTOMATION)
    summaries = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    return [sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


def test_completed_job_passing_the_gate_is_registered_in_the_registry_account(cloud: Cloud) -> None:
    # Given a policy that trains in dev and registers in the automation account
    cloud.publish_policy(churn_policy())
    event = completed_event(cloud, auc=0.91)

    # When
    result = lambda_handler(event, Context())

    # Then one package, in the registry account, with lineage and metrics
    assert result["outcome"] == "acted"
    assert result["action"] == "registered"
    [package] = packages(cloud)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["CustomerMetadataProperties"][TRAINING_JOB_KEY] == event["detail"]["TrainingJobArn"]
    assert package["CustomerMetadataProperties"]["metric:validation:auc"] == "0.91"
    assert package["ModelPackageArn"].split(":")[4] == AUTOMATION
    [note] = cloud.notifications()
    assert note["kind"] == "registered"


def test_gate_failure_notifies_with_the_numbers_and_registers_nothing(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    event = completed_event(cloud, auc=0.71)

    result = lambda_handler(event, Context())

    assert result["action"] == "gate-failed"
    assert "validation:auc 0.71 < 0.8, not registered" in result["reason"]
    assert cloud.client("sagemaker", AUTOMATION).list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    [note] = cloud.notifications()
    assert "validation:auc 0.71 < 0.8" in note["message"]


@pytest.mark.parametrize("same_id", [True, False], ids=["same-event-twice", "duplicate-with-new-id"])
def test_a_duplicate_event_registers_exactly_one_package(cloud: Cloud, same_id: bool) -> None:
    cloud.publish_policy(churn_policy(registry={"account": AUTOMATION, "region": REGION, "auto_approve": True}))
    event = completed_event(cloud, auc=0.91)
    duplicate = dict(event, id=event["id"] if same_id else "another-id-for-the-same-change")

    first = lambda_handler(event, Context())
    second = lambda_handler(duplicate, Context())

    assert first["action"] == second["action"] == "registered"
    assert len(packages(cloud)) == 1
    assert packages(cloud)[0]["ModelApprovalStatus"] == "Approved"


def test_an_aws_failure_raises_a_typed_error_and_the_retry_registers_once(cloud: Cloud) -> None:
    # Given the registry throttles CreateModelPackage beyond the SDK's own retries
    cloud.publish_policy(churn_policy())
    event = completed_event(cloud, auc=0.91)
    registry = client_for("sagemaker", AUTOMATION, REGION, get_settings(), reaction="test", event_id="-")

    def throttled(**_: object) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateModelPackage")

    registry.meta.events.register("before-call.sagemaker.CreateModelPackage", throttled, unique_id="throttle")

    # When the platform delivers the event: the handler raises, so Lambda retries and finally dead-letters
    with pytest.raises(ThrottlingError, match="sagemaker:CreateModelPackage churn: ThrottlingException"):
        lambda_handler(event, Context())
    assert packages(cloud) == []

    # Then the retry, once AWS recovers, registers exactly one package
    registry.meta.events.unregister("before-call.sagemaker.CreateModelPackage", unique_id="throttle")
    assert lambda_handler(event, Context())["action"] == "registered"
    assert lambda_handler(event, Context())["action"] == "registered"
    assert len(packages(cloud)) == 1


def test_a_sensitive_policy_keeps_event_details_out_of_notifications(cloud: Cloud) -> None:
    # Given a sensitive policy and a failed job whose FailureReason quotes a customer record
    cloud.publish_policy(churn_policy(sensitive=True))
    create_job(cloud)
    event = fake_training.set_state(
        DEV,
        REGION,
        "churn-xgb-20261127-0900",
        status="Failed",
        failure_reason="ClientError: bad row 'jane@example.com'",
    )

    # When
    result = lambda_handler(event, Context())

    # Then people get the decision, the resource ARN and the event id, never the detail
    assert result["action"] == "notified"
    [note] = cloud.notifications()
    assert "jane@example.com" not in note["message"] and "jane@example.com" not in note["subject"]
    assert event["detail"]["TrainingJobArn"] in note["message"]
    assert f"event: {event['id']}" in note["message"]
    assert "failed" in note["message"]


def test_a_sensitive_policy_keeps_the_failure_reason_out_of_the_logs(cloud: Cloud, caplog) -> None:
    # Given a sensitive model whose job fails with a reason that quotes its data
    cloud.publish_policy(churn_policy(sensitive=True))
    create_job(cloud, "churn-xgb-secret")
    failed = fake_training.set_state(
        DEV, REGION, "churn-xgb-secret", status="Failed", failure_reason="ClientError: bad row: jane.doe@example.com"
    )

    # When
    lambda_handler(failed, Context())

    # Then the decision is logged and audited, the reason only audited
    assert "jane.doe@example.com" not in caplog.text
    assert "notify-training-failed: notified" in caplog.text
    [entry] = audit.history("churn", get_settings())
    assert "jane.doe@example.com" in entry.reason


def test_a_retry_without_its_idempotency_record_finds_the_registered_package(cloud: Cloud) -> None:
    # Given a registered job, and another job's package registered after it
    cloud.publish_policy(churn_policy())
    event = completed_event(cloud, auc=0.91)
    assert lambda_handler(event, Context())["action"] == "registered"
    assert lambda_handler(completed_event(cloud, auc=0.95, name="churn-xgb-other"), Context())["action"] == "registered"

    # When the first job's event comes again as a new state change (the idempotency key differs)
    again = dict(event, detail={**event["detail"], "LastModifiedTime": event["detail"]["LastModifiedTime"] + 1000})
    result = lambda_handler(again, Context())

    # Then describe-before-create finds its package: no third package
    assert result["action"] == "already-registered"
    assert result["model_package_arn"].endswith("/churn/1")
    assert len(packages(cloud)) == 2


def test_a_package_whose_registration_was_never_recorded_is_found_under_newer_ones(cloud: Cloud) -> None:
    from lifecycle.store import registration_key

    # Given a job whose package was created by an attempt that died before recording it (no claim left), a package
    # registered before the job ended, and another job's package registered after it
    cloud.publish_policy(churn_policy())
    lambda_handler(completed_event(cloud, auc=0.9, name="churn-xgb-earlier"), Context())
    event = completed_event(cloud, auc=0.91)
    first = lambda_handler(event, Context())["model_package_arn"]
    lambda_handler(completed_event(cloud, auc=0.95, name="churn-xgb-other"), Context())
    job_arn = event["detail"]["TrainingJobArn"]
    cloud.client("dynamodb").delete_item(TableName=TABLE, Key=registration_key(job_arn))

    # When the first job's event comes again as a new state change
    again = dict(event, detail={**event["detail"], "LastModifiedTime": event["detail"]["LastModifiedTime"] + 1000})
    result = lambda_handler(again, Context())

    # Then describe-before-create looks from the newest down, past the newer package, to the job's own: no fourth
    assert (result["action"], result["model_package_arn"]) == ("already-registered", first)
    assert len(packages(cloud)) == 3


def idempotency_records(cloud: Cloud) -> list[dict[str, Any]]:
    items = cloud.client("dynamodb").scan(TableName=TABLE)["Items"]
    return [item for item in items if item["pk"]["S"].startswith("IDEMPOTENCY#")]


@pytest.mark.parametrize(
    ("account", "region"), [(STAGING, REGION), (DEV, "eu-west-1")], ids=["other-account", "other-region"]
)
def test_a_job_outside_the_policys_training_account_is_not_registered(cloud: Cloud, account: str, region: str) -> None:
    # Given an auto-approving policy that trains in dev (us-east-1), and a job of its group that completed elsewhere
    # (a person with an ordinary role in an allow-listed account names a job after the group)
    cloud.publish_policy(churn_policy(registry={"account": AUTOMATION, "region": REGION, "auto_approve": True}))
    sagemaker = cloud.client("sagemaker", account, region)
    create_job_in(sagemaker, "churn-xgb-rogue", account)
    fake_training.set_state(account, region, "churn-xgb-rogue", status="InProgress")
    event = fake_training.set_state(
        account, region, "churn-xgb-rogue", status="Completed", metrics={"validation:auc": 0.99}
    )

    # When
    result = lambda_handler(event, Context())

    # Then it is refused with the reason, and nothing is written anywhere
    assert result["outcome"] == "refused"
    assert f"count only from its training account {DEV} ({REGION}), not from {account} ({region})" in result["reason"]
    assert cloud.client("sagemaker", AUTOMATION).list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    assert audit.history("churn", get_settings()) == []
    assert cloud.notifications() == []
    assert idempotency_records(cloud) == []


def test_a_group_whose_policy_names_no_training_account_takes_no_training_event(cloud: Cloud) -> None:
    document = churn_policy(registry={"account": DEV, "region": REGION})
    del document["training"]
    cloud.publish_policy(document)

    result = lambda_handler(completed_event(cloud, auc=0.95), Context())

    assert result["outcome"] == "refused"
    assert "policy of group churn names no training account" in result["reason"]
    assert audit.history("churn", get_settings()) == []


ROUNDS, THREADS = 10, 6


def deliver(change: dict[str, Any], start: threading.Barrier) -> str:
    """Handle one event once every thread is ready; 'retry' when the handler says another invocation is at it."""
    start.wait()
    try:
        return str(lambda_handler(change, Context())["action"])
    except DuplicateInProgress:
        return "retry"


def test_distinct_events_of_one_job_handled_at_once_register_it_once(cloud: Cloud) -> None:
    # Given an auto-approving policy, and rounds of jobs each completing with THREADS distinct events (SageMaker's
    # at-least-once delivery: the same job, different LastModifiedTime, so different idempotency keys)
    cloud.publish_policy(churn_policy(registry={"account": AUTOMATION, "region": REGION, "auto_approve": True}))
    for round_ in range(ROUNDS):
        name = f"churn-xgb-race-{round_}"
        event = completed_event(cloud, auc=0.91, name=name)
        changes = [
            dict(
                event,
                id=f"{name}-{n}",
                detail={**event["detail"], "LastModifiedTime": event["detail"]["LastModifiedTime"] + n},
            )
            for n in range(THREADS)
        ]
        start = threading.Barrier(THREADS)
        # When they are handled at the same time, by real threads
        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = list(pool.map(deliver, changes, [start] * THREADS))
        # and the platform retries those told another invocation was registering the job
        retried = [
            lambda_handler(c, Context())["action"] for c, o in zip(changes, outcomes, strict=True) if o == "retry"
        ]

        # Then exactly one package, registered by exactly one of them; every other one finds it
        assert outcomes.count("registered") == 1, (round_, outcomes)
        assert set(outcomes) <= {"registered", "already-registered", "retry"}
        assert set(retried) <= {"already-registered"}
        registered = [p for p in packages(cloud) if p["ModelPackageDescription"] == f"Trained by {name}"]
        assert len(registered) == 1, (round_, outcomes)
    assert len(packages(cloud)) == ROUNDS
    done = [
        r for r in audit.history("churn", get_settings()) if (r.action, r.outcome) == ("register-model-package", "done")
    ]
    assert len(done) == ROUNDS


@pytest.mark.parametrize("group", ["ChurnPrediction", LONG_GROUP], ids=["mixed-case", "63-characters"])
def test_a_mixed_case_or_longest_group_is_registered_by_its_name(cloud: Cloud, group: str) -> None:
    # Given the policy of a group whose name is mixed-case (or 63 characters) and a job tagged with it
    assert len(LONG_GROUP) == 63
    cloud.publish_policy(churn_policy(group=group))
    create_job_in(cloud.client("sagemaker", DEV), "churn-xgb-1", DEV, group=group)
    fake_training.set_state(DEV, REGION, "churn-xgb-1", status="InProgress")
    event = fake_training.set_state(DEV, REGION, "churn-xgb-1", status="Completed", metrics={"validation:auc": 0.9})

    # When
    result = lambda_handler(event, Context())

    # Then the package is in that group, its ARN naming the group in lower case; names keep their case everywhere
    assert result["action"] == "registered"
    assert result["model_package_arn"].endswith(f":model-package/{group.lower()}/1")
    [package] = packages(cloud, group)
    assert package["ModelPackageGroupName"] == group
    [record] = audit.history(group, get_settings())
    assert (record.action, record.outcome, record.version) == ("register-model-package", "done", 1)
    [note] = cloud.notifications()
    assert note["subject"].startswith(f"{group} v1 registered")


def test_a_failed_attempt_releases_its_claim_so_another_change_of_the_job_registers_it(cloud: Cloud) -> None:
    # Given CreateModelPackage fails beyond the SDK's retries for one change of the job
    cloud.publish_policy(churn_policy())
    event = completed_event(cloud, auc=0.91)
    registry = client_for("sagemaker", AUTOMATION, REGION, get_settings(), reaction="test", event_id="-")

    def throttled(**_: object) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateModelPackage")

    registry.meta.events.register("before-call.sagemaker.CreateModelPackage", throttled, unique_id="throttle")
    with pytest.raises(ThrottlingError):
        lambda_handler(event, Context())
    registry.meta.events.unregister("before-call.sagemaker.CreateModelPackage", unique_id="throttle")

    # When another change of the same job arrives before the claim would have expired
    later = dict(
        event, id="later", detail={**event["detail"], "LastModifiedTime": event["detail"]["LastModifiedTime"] + 1}
    )
    result = lambda_handler(later, Context())

    # Then it is not told to wait for the failed attempt: it registers the job, once
    assert result["action"] == "registered"
    assert len(packages(cloud)) == 1
