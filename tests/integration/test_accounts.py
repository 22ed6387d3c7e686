"""Trust checks and `session_for` against moto's STS, in several accounts."""

from __future__ import annotations

import boto3
import pytest
from conftest import AUTOMATION, DEV, PROD, REGION, UNTRUSTED, Cloud
from lifecycle import accounts
from lifecycle.accounts import check_arns_in_account, check_trust, client_for, session_for
from lifecycle.config import get_settings
from lifecycle.errors import UntrustedEvent


def test_the_automation_account_uses_the_functions_own_credentials(cloud: Cloud) -> None:
    session = session_for(AUTOMATION, REGION, get_settings(), reaction="test", event_id="e-1")

    assert session.client("sts").get_caller_identity()["Account"] == AUTOMATION


def test_a_workload_account_is_reached_by_assuming_its_execution_role(cloud: Cloud) -> None:
    session = session_for(DEV, REGION, get_settings(), reaction="training-state", event_id="e-1")

    identity = session.client("sts").get_caller_identity()
    assert identity["Account"] == DEV
    assert ":assumed-role/sagemaker-lifecycle-execution/training-state-e-1" in identity["Arn"]


def test_sessions_are_cached_until_near_expiry(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    first = session_for(PROD, REGION, settings, reaction="r", event_id="e-1")
    assert session_for(PROD, REGION, settings, reaction="r", event_id="e-2") is first
    assert client_for("sagemaker", PROD, REGION, settings, reaction="r", event_id="e-3") is client_for(
        "sagemaker", PROD, REGION, settings, reaction="r", event_id="e-4"
    )

    # When the cached credentials are within the refresh margin of expiry
    cached = accounts._cache[(PROD, REGION)]
    monkeypatch.setattr(cached, "expires_at", cached.expires_at - 3600 * 24)

    assert session_for(PROD, REGION, settings, reaction="r", event_id="e-5") is not first


def test_the_external_id_is_sent_when_configured(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECYCLE_EXTERNAL_ID", "shared-secret-id")
    get_settings.cache_clear()
    own = boto3.session.Session(region_name=REGION)
    sent: list[dict[str, object]] = []
    own.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(dict(params)))
    monkeypatch.setattr(accounts, "_own", lambda region: own)

    session_for(DEV, REGION, get_settings(), reaction="r", event_id="e-1")

    assert sent[0]["ExternalId"] == "shared-secret-id"
    assert sent[0]["RoleArn"] == f"arn:aws:iam::{DEV}:role/sagemaker-lifecycle-execution"


def test_role_session_names_are_made_safe_and_short(cloud: Cloud) -> None:
    session = session_for(DEV, REGION, get_settings(), reaction="debugger-rule", event_id="id with spaces/" + "x" * 100)

    arn = session.client("sts").get_caller_identity()["Arn"]
    name = arn.rsplit("/", 1)[1]
    assert len(name) <= 64
    assert " " not in name


def raw(account: str = DEV, source: str = "aws.sagemaker", detail_type: str = "SageMaker Training Job State Change"):
    return {"id": "e-1", "account": account, "source": source, "detail-type": detail_type}


def test_trusted_event_passes(cloud: Cloud) -> None:
    check_trust(raw(), get_settings())


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (raw(account=UNTRUSTED), "account '999999999999' is not on the allow-list"),
        (raw(source="my.app"), "source 'my.app' is not 'aws.sagemaker'"),
        (raw(source="aws.sagemaker", detail_type="CloudWatch Alarm State Change"), "is not 'aws.cloudwatch'"),
        (raw(detail_type="Something Else"), "unknown detail-type 'Something Else'"),
    ],
    ids=["account-not-allowed", "wrong-source", "alarm-from-sagemaker", "unknown-detail-type"],
)
def test_untrusted_events_are_refused_with_the_reason(cloud: Cloud, event: dict[str, str], reason: str) -> None:
    with pytest.raises(UntrustedEvent) as refused:
        check_trust(event, get_settings())

    assert reason in refused.value.reason


def test_a_detail_naming_a_resource_of_another_account_is_refused() -> None:
    arn = f"arn:aws:sagemaker:us-east-1:{PROD}:training-job/x"

    with pytest.raises(UntrustedEvent, match=f"not in the event's account {DEV}"):
        check_arns_in_account([arn], DEV)
    check_arns_in_account([arn, "arn:aws:s3:::bucket/key"], PROD)
