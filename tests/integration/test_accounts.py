"""Trust checks and `client_for` against moto's STS, in several accounts."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import boto3
import pytest
from botocore.config import Config
from lifecycle import accounts
from lifecycle.accounts import (
    SESSION_ACTIONS,
    SESSION_POLICY_MAX_CHARS,
    account_of,
    check_arns_in_account,
    check_trust,
    client_for,
    event_credentials,
    retry_budget_seconds,
    session_policy,
)
from lifecycle.config import ConfigurationError, get_settings
from lifecycle.errors import UntrustedEvent
from support.cloud import AUTOMATION, DEV, PROD, REGION, UNTRUSTED, Cloud


def _caller(client: object) -> str:
    return str(client.get_caller_identity()["Arn"])  # type: ignore[attr-defined]


def test_the_automation_account_uses_the_functions_own_credentials(cloud: Cloud) -> None:
    sts = client_for("sts", AUTOMATION, REGION, get_settings(), reaction="test", event_id="e-1")

    assert sts.get_caller_identity()["Account"] == AUTOMATION


def test_a_workload_account_is_reached_by_assuming_its_execution_role(cloud: Cloud) -> None:
    sts = client_for("sts", DEV, REGION, get_settings(), reaction="training-state", event_id="e-1")

    identity = sts.get_caller_identity()
    assert identity["Account"] == DEV
    assert ":assumed-role/sagemaker-lifecycle-execution/training-state-e-1" in identity["Arn"]


def test_an_events_role_session_is_cached_for_it_until_near_expiry(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    sent = _assume_role_requests(monkeypatch)
    first = event_credentials(PROD, REGION, settings, reaction="deploy-model", event_id="e-1")
    assert event_credentials(PROD, REGION, settings, reaction="deploy-model", event_id="e-1") is first
    assert len(sent) == 1

    # When the cached credentials are within the refresh margin of expiry
    monkeypatch.setitem(
        accounts._credentials,
        (PROD, REGION, "deploy-model", "e-1"),
        dataclasses.replace(first, expires_at=time.time() + 60),
    )

    assert event_credentials(PROD, REGION, settings, reaction="deploy-model", event_id="e-1") != first
    assert len(sent) == 2


def test_a_later_event_acts_under_its_own_session_name_through_the_containers_client(cloud: Cloud) -> None:
    # CloudTrail attribution: the client kept for the container must not act for the next event under the first's name.
    settings = get_settings()
    first = client_for("sts", PROD, REGION, settings, reaction="deploy-model", event_id="e-1")
    first_name = _caller(first).rsplit("/", 1)[1]
    second = client_for("sts", PROD, REGION, settings, reaction="deploy-model", event_id="e-2")
    other = client_for("sts", PROD, REGION, settings, reaction="model-package-state", event_id="e-2")

    assert second is first  # one client per container, account, region, reaction and service
    assert other is not first  # another reaction has another session policy, so another client
    names = [first_name, _caller(second).rsplit("/", 1)[1], _caller(other).rsplit("/", 1)[1]]
    assert names == ["deploy-model-e-1", "deploy-model-e-2", "model-package-state-e-2"]


def test_a_container_keeps_its_clients_across_events(cloud: Cloud) -> None:
    settings = get_settings()

    assert client_for("sagemaker", AUTOMATION, REGION, settings, reaction="audit", event_id="e-1") is client_for(
        "sagemaker", AUTOMATION, REGION, settings, reaction="notify", event_id="e-2"
    )
    assert client_for("sagemaker", DEV, REGION, settings, reaction="training-state", event_id="e-1") is client_for(
        "sagemaker", DEV, REGION, settings, reaction="training-state", event_id="e-2"
    )


def test_containers_running_side_by_side_sign_with_their_own_events_session(cloud: Cloud) -> None:
    # The sandbox and the benchmarks run several containers as threads of one process, sharing its clients.
    settings = get_settings()
    names: dict[str, str] = {}
    here = client_for("sts", DEV, REGION, settings, reaction="training-state", event_id="e-1")

    def other_container() -> None:
        there = client_for("sts", DEV, REGION, settings, reaction="training-state", event_id="e-2")
        names["there"] = _caller(there).rsplit("/", 1)[1]
        names["same client"] = str(there is here)

    thread = threading.Thread(target=other_container)
    thread.start()
    thread.join()
    names["here"] = _caller(here).rsplit("/", 1)[1]

    assert names == {"there": "training-state-e-2", "same client": "True", "here": "training-state-e-1"}


def test_a_workload_client_cannot_sign_on_a_thread_that_did_not_ask_for_it(cloud: Cloud) -> None:
    here = client_for("sts", DEV, REGION, get_settings(), reaction="training-state", event_id="e-1")
    failures: list[Exception] = []

    def elsewhere() -> None:
        try:
            here.get_caller_identity()
        except ConfigurationError as exc:
            failures.append(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()

    assert len(failures) == 1  # never signed with another thread's event, nor unsigned


def _assume_role_requests(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    own = boto3.session.Session(region_name=REGION)
    sent: list[dict[str, object]] = []
    own.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(dict(params)))
    monkeypatch.setattr(accounts, "_own", lambda region: own)
    return sent


def test_the_external_id_is_sent_when_configured(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECYCLE_EXTERNAL_ID", "shared-secret-id")
    get_settings.cache_clear()
    sent = _assume_role_requests(monkeypatch)

    event_credentials(DEV, REGION, get_settings(), reaction="training-state", event_id="e-1")

    assert sent[0]["ExternalId"] == "shared-secret-id"
    assert sent[0]["RoleArn"] == f"arn:aws:iam::{DEV}:role/sagemaker-lifecycle-execution"


def test_each_reaction_assumes_the_role_narrowed_to_its_own_actions(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _assume_role_requests(monkeypatch)

    event_credentials(PROD, REGION, get_settings(), reaction="debugger-rule", event_id="e-1")

    policy = json.loads(str(sent[0]["Policy"]))
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert "sagemaker:StopTrainingJob" in actions
    assert "sagemaker:UpdateEndpoint" not in actions  # the Debugger reaction cannot touch endpoints
    assert len(str(sent[0]["Policy"])) <= SESSION_POLICY_MAX_CHARS


def test_every_reaction_session_policy_fits_assume_role() -> None:
    # AssumeRole refuses more than 2,048 characters of session policy plaintext (STS API Reference).
    for reaction in SESSION_ACTIONS:
        assert len(session_policy(reaction)) <= SESSION_POLICY_MAX_CHARS, reaction


def test_a_reaction_without_a_session_policy_cannot_act_in_a_workload_account(cloud: Cloud) -> None:
    with pytest.raises(ConfigurationError, match=r"no entry in lifecycle\.accounts\.SESSION_ACTIONS"):
        event_credentials(DEV, REGION, get_settings(), reaction="made-up", event_id="e-1")


def test_the_retry_budget_counts_every_attempt_timeout_and_backoff() -> None:
    # 5 retries = 6 attempts of (5 s connect + 30 s read), backoffs 1+2+4+8+16 s, each up to 5 s more (retry-after)
    config = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5, read_timeout=30)

    assert retry_budget_seconds(config) == 6 * 35 + (1 + 2 + 4 + 8 + 16) + 5 * 5
    # botocore rewrites max_attempts to total_max_attempts in place once a client is made with the Config
    boto3.client("sts", region_name=REGION, config=config)
    assert retry_budget_seconds(config) == 6 * 35 + (1 + 2 + 4 + 8 + 16) + 5 * 5


def test_role_session_names_are_made_safe_and_short(cloud: Cloud) -> None:
    event_id = "id with spaces/" + "x" * 100
    sts = client_for("sts", DEV, REGION, get_settings(), reaction="debugger-rule", event_id=event_id)

    arn = _caller(sts)
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


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:cloudwatch:us-east-1:{PROD}:alarm:churn-prod-5xx",
        f"arn:aws-us-gov:sagemaker:us-gov-west-1:{PROD}:endpoint/churn-prod",
    ],
    ids=["cloudwatch-alarm", "sagemaker-in-another-partition"],
)
def test_every_account_bound_arn_of_another_account_is_refused_and_its_own_account_s_passes(arn: str) -> None:
    # Given an event from dev whose detail names an alarm or a SageMaker resource of prod
    with pytest.raises(UntrustedEvent, match=f"not in the event's account {DEV}"):
        check_arns_in_account([f"arn:aws:s3:::bucket/{DEV}", arn], DEV)
    # Then the same detail from prod passes, as does an ARN of a service whose ARNs name no account
    check_arns_in_account([arn], PROD)
    check_arns_in_account([f"arn:aws:s3:::bucket-{DEV}/key", f"arn:aws:iam::{DEV}:role/x"], PROD)


def test_the_account_an_arn_names() -> None:
    assert account_of(f"arn:aws:sagemaker:us-east-1:{PROD}:endpoint/churn-prod") == PROD
    assert account_of(f"arn:aws:iam::{DEV}:role/x") == DEV
    assert account_of("arn:aws:s3:::bucket/key") == ""
    assert account_of("churn-prod") == ""


def test_an_alarm_event_from_cloudwatch_is_trusted(cloud: Cloud) -> None:
    check_trust(raw(source="aws.cloudwatch", detail_type="CloudWatch Alarm State Change"), get_settings())


def test_the_automation_account_is_trusted_for_its_own_events_without_being_listed(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stack forwards its own account's SageMaker events (the registry may live there); AllowedAccountIds lists
    # the workload accounts only.
    monkeypatch.setenv("LIFECYCLE_ALLOWED_ACCOUNTS", f"{DEV},{PROD}")
    get_settings.cache_clear()

    check_trust(raw(account=AUTOMATION), get_settings())
    with pytest.raises(UntrustedEvent, match="not on the allow-list"):
        check_trust(raw(account=UNTRUSTED), get_settings())


@pytest.mark.parametrize("account", [{"id": DEV}, [DEV], 222222222222, None], ids=["object", "list", "number", "null"])
def test_an_account_that_is_not_a_string_is_refused_not_a_crash(cloud: Cloud, account: object) -> None:
    with pytest.raises(UntrustedEvent, match="not on the allow-list"):
        check_trust({**raw(), "account": account}, get_settings())
