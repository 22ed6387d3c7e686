"""Trust checks and the one way to get AWS credentials for an account: `session_for`."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lifecycle.config import Settings
from lifecycle.errors import AssumeRoleFailed, UntrustedEvent

# Every client the product makes retries with the SDK's adaptive mode (client-side rate limiting + backoff).
CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
_REFRESH_MARGIN_SECONDS = 300
_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]")
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?P<service>[a-z0-9-]+):[a-z0-9-]*:(?P<account>\d{12})?:")
_SOURCES_BY_DETAIL_TYPE_PREFIX = {"SageMaker ": "aws.sagemaker", "CloudWatch Alarm": "aws.cloudwatch"}
# ARNs of these services name the account the resource lives in; it must be the event's own account.
_ACCOUNT_BOUND_SERVICES = frozenset({"sagemaker", "cloudwatch"})


def check_trust(raw: dict[str, Any], settings: Settings) -> None:
    """Refuse an event whose source does not fit its detail-type or whose account is not allow-listed.

    Runs on the raw event before any parsing, so nothing from an untrusted sender reaches the models.
    """
    detail_type = str(raw.get("detail-type", ""))
    source = raw.get("source")
    expected = next(
        (src for prefix, src in _SOURCES_BY_DETAIL_TYPE_PREFIX.items() if detail_type.startswith(prefix)), None
    )
    if expected is None:
        raise UntrustedEvent(f"unknown detail-type {detail_type[:100]!r}")
    if source != expected:
        raise UntrustedEvent(f"source {str(source)[:100]!r} is not {expected!r} for {detail_type!r}")
    account = raw.get("account")
    if account not in settings.allowed_accounts:
        raise UntrustedEvent(f"account {str(account)[:20]!r} is not on the allow-list")


def check_arns_in_account(arns: list[str], account: str) -> None:
    """Refuse an event whose detail names a SageMaker/CloudWatch resource of another account than `account`."""
    for arn in arns:
        match = _ARN_ACCOUNT.match(arn)
        if match and match["service"] in _ACCOUNT_BOUND_SERVICES and match["account"] not in (None, account):
            raise UntrustedEvent(f"resource {arn[:200]} is not in the event's account {account}")


def account_of(arn: str) -> str:
    """The account id an ARN names ('' when it names none)."""
    match = _ARN_ACCOUNT.match(arn)
    return (match["account"] or "") if match else ""


@dataclass
class _Cached:
    session: boto3.session.Session
    expires_at: float
    clients: dict[str, Any]


_cache: dict[tuple[str, str], _Cached] = {}
_lock = threading.Lock()


def role_arn_for(account: str, settings: Settings) -> str:
    """The workload execution role the automation assumes in `account`."""
    return f"arn:{settings.partition}:iam::{account}:role/{settings.execution_role_name}"


def _assume(account: str, region: str, settings: Settings, session_name: str) -> _Cached:
    request: dict[str, Any] = {
        "RoleArn": role_arn_for(account, settings),
        "RoleSessionName": _SESSION_NAME_UNSAFE.sub("-", session_name)[:64],
        "DurationSeconds": 3600,
    }
    if settings.external_id:
        request["ExternalId"] = settings.external_id
    try:
        sts = _own(region).client("sts", config=CLIENT_CONFIG)
        credentials = sts.assume_role(**request)["Credentials"]
    except (ClientError, BotoCoreError) as exc:
        raise AssumeRoleFailed(f"cannot assume {request['RoleArn']}: {exc}") from exc
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
    return _Cached(session, credentials["Expiration"].timestamp(), {})


def _own(region: str) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


def _entry(account: str, region: str, settings: Settings, session_name: str) -> _Cached:
    key = (account, region)
    with _lock:
        cached = _cache.get(key)
        if cached and cached.expires_at - _REFRESH_MARGIN_SECONDS > time.time():
            return cached
    if account == settings.automation_account_id:
        cached = _Cached(_own(region), float("inf"), {})
    else:
        cached = _assume(account, region, settings, session_name)
    with _lock:
        _cache[key] = cached
    return cached


def session_for(
    account: str, region: str, settings: Settings, *, reaction: str, event_id: str
) -> boto3.session.Session:
    """A boto3 session acting in `account`/`region`.

    The automation account uses the function's own credentials; any other account is reached by STS AssumeRole of
    the workload execution role (with the ExternalId when configured). Sessions are cached per account and region
    until five minutes before their credentials expire. The role session name says which reaction and event acted,
    so CloudTrail in the workload account answers "why did this happen".
    """
    return _entry(account, region, settings, f"{reaction}-{event_id}").session


def client_for(service: str, account: str, region: str, settings: Settings, *, reaction: str, event_id: str) -> Any:
    """A cached client of `service` acting in `account`/`region` through `session_for`'s session."""
    entry = _entry(account, region, settings, f"{reaction}-{event_id}")
    client = entry.clients.get(service)
    if client is None:
        client = entry.session.client(service, config=CLIENT_CONFIG)
        entry.clients[service] = client
    return client


def clear_session_cache() -> None:
    """Forget cached cross-account sessions (tests, and after a role change)."""
    with _lock:
        _cache.clear()
