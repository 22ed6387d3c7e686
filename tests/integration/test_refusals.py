"""Events the product must not act on: each refused with a clear logged reason, nothing changed."""

from __future__ import annotations

import json

import pytest
from lifecycle.config import get_settings
from lifecycle.observability import logger
from lifecycle.store import audit
from support.cloud import DEV, Cloud, churn_policy
from support.training import Context

from functions.training_state.app import lambda_handler


def assert_nothing_changed(cloud: Cloud) -> None:
    assert cloud.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    assert cloud.notifications() == []
    assert audit.history("churn", get_settings()) == []


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The structured log lines of refusals, as CloudWatch would receive them."""
    refusals = [record for record in caplog.records if getattr(record, "outcome", None) in ("refused", "ignored")]
    return [json.loads(logger.registered_formatter.format(record)) for record in refusals]


def test_the_sample_from_an_account_off_the_allow_list_is_refused(
    cloud: Cloud, load_event, caplog: pytest.LogCaptureFixture
) -> None:
    cloud.publish_policy(churn_policy())
    event = load_event("untrusted-account-training-completed.json")

    result = lambda_handler(event, Context())

    assert result == {
        "outcome": "refused",
        "reason": "account '999999999999' is not on the allow-list",
        "event_id": event["id"],
    }
    [line] = refusal_lines(caplog)
    assert line["event_id"] == event["id"]
    assert line["level"] == "WARNING"
    assert_nothing_changed(cloud)


@pytest.mark.parametrize(
    ("mutate", "outcome", "reason"),
    [
        (lambda e: e.update(source="custom.app"), "refused", "source 'custom.app' is not 'aws.sagemaker'"),
        (lambda e: e["detail"].pop("TrainingJobStatus"), "refused", "detail.TrainingJobStatus: Field required"),
        (
            lambda e: e["detail"].update(TrainingJobArn=f"arn:aws:sagemaker:us-east-1:{DEV[:-1]}9:training-job/x"),
            "refused",
            "is not in the event's account",
        ),
        (
            lambda e: e["detail"].update(Tags={"lifecycle:model-package-group": "unknown-group"}),
            "ignored",
            "no policy for model package group 'unknown-group'",
        ),
        # numbers that overflow a datetime: refused, not raised (OSError/OverflowError would be retried into the DLQ)
        (lambda e: e.update(time=10**20), "refused", "time: Value error, epoch millis"),
        (lambda e: e["detail"].update(LastModifiedTime=1e300), "refused", "detail.LastModifiedTime: Value error"),
    ],
    ids=[
        "wrong-source",
        "malformed",
        "resource-in-another-account",
        "unknown-group",
        "time-overflows",
        "last-modified-overflows",
    ],
)
def test_bad_events_are_refused_with_a_reason_and_change_nothing(
    cloud: Cloud, load_event, caplog: pytest.LogCaptureFixture, mutate, outcome: str, reason: str
) -> None:
    cloud.publish_policy(churn_policy())
    event = load_event("training-completed.json")
    mutate(event)

    result = lambda_handler(event, Context())

    assert result["outcome"] == outcome
    assert reason in result["reason"]
    assert len(refusal_lines(caplog)) == 1
    assert_nothing_changed(cloud)


def test_an_invalid_published_policy_is_refused_naming_group_and_field(cloud: Cloud, load_event) -> None:
    cloud.publish_policy(churn_policy(gate={"metric": "validation:auc", "threshold": "high"}))

    result = lambda_handler(load_event("training-completed.json"), Context())

    assert result["outcome"] == "refused"
    assert "policy of group 'churn' is invalid: gate.threshold: Input should be a valid number" in result["reason"]
    assert_nothing_changed(cloud)


def test_an_event_naming_a_job_that_does_not_exist_is_refused(cloud: Cloud, load_event) -> None:
    cloud.publish_policy(churn_policy())

    result = lambda_handler(load_event("training-completed.json"), Context())

    assert result["outcome"] == "refused"
    assert "training job churn-xgb-20261127-0900 does not exist" in result["reason"]
