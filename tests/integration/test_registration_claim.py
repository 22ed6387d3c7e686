"""The registration claim: one conditional write per attempt, released on failure, expiring with its invocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lifecycle.config import get_settings
from lifecycle.store import registration
from support.cloud import DEV, REGION, TABLE, Cloud

JOB = f"arn:aws:sagemaker:{REGION}:{DEV}:training-job/churn-xgb-1"
PACKAGE = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/churn/1"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_a_live_claim_is_refused_to_another_holder_and_given_back_to_its_own(cloud: Cloud) -> None:
    settings = get_settings()

    first = registration.claim(settings, JOB, holder="change-a", now=T0)
    other = registration.claim(settings, JOB, holder="change-b", now=T0 + timedelta(seconds=1))
    again = registration.claim(settings, JOB, holder="change-a", now=T0 + timedelta(seconds=2))

    assert first.granted and again.granted
    assert (other.granted, other.holder, other.package_arn) == (False, "change-a", "")


def test_a_claim_expires_with_the_longest_invocation(cloud: Cloud) -> None:
    settings = get_settings()
    registration.claim(settings, JOB, holder="change-a", now=T0)

    late = T0 + timedelta(seconds=registration.CLAIM_SECONDS + 1)

    assert registration.claim(settings, JOB, holder="change-b", now=late).granted


def test_a_claim_is_held_for_the_longest_invocation_and_free_the_second_it_ends(cloud: Cloud) -> None:
    # A Lambda invocation runs at most 15 minutes: a claim that old belongs to an invocation that no longer exists
    settings = get_settings()
    registration.claim(settings, JOB, holder="change-a", now=T0)

    assert not registration.claim(settings, JOB, holder="change-b", now=T0 + timedelta(seconds=899)).granted
    assert registration.claim(settings, JOB, holder="change-b", now=T0 + timedelta(seconds=900)).granted


def test_a_released_claim_can_be_taken_and_a_release_by_another_holder_changes_nothing(cloud: Cloud) -> None:
    settings = get_settings()
    registration.claim(settings, JOB, holder="change-a", now=T0)

    registration.release(settings, JOB, holder="change-b")
    assert not registration.claim(settings, JOB, holder="change-b", now=T0).granted
    registration.release(settings, JOB, holder="change-a")
    assert registration.claim(settings, JOB, holder="change-b", now=T0).granted


def test_a_registered_job_answers_its_package_to_every_later_claim(cloud: Cloud) -> None:
    settings = get_settings()
    registration.claim(settings, JOB, holder="change-a", now=T0)
    registration.finish(settings, JOB, holder="change-a", package_arn=PACKAGE, now=T0)

    later = registration.claim(settings, JOB, holder="change-a", now=T0 + timedelta(days=1))
    registration.release(settings, JOB, holder="change-a")

    assert (later.granted, later.package_arn) == (False, PACKAGE)
    [item] = cloud.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert item["pk"]["S"] == f"REGISTRATION#{JOB}"
    assert item["package_arn"]["S"] == PACKAGE
    assert int(item["expiration"]["N"]) == int((T0 + timedelta(seconds=settings.idempotency_ttl_seconds)).timestamp())
