"""Trust checks and the one way to get AWS credentials for an account: `session_for`.

Every session in a workload account is an STS AssumeRole of the workload execution role, narrowed by an inline session
policy to what the acting reaction does (`SESSION_ACTIONS`), and named after the reaction and the event it acts for.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader, create_loader

from lifecycle.config import ConfigurationError, Settings
from lifecycle.errors import AssumeRoleFailed, UntrustedEvent

# Every client the product makes retries with the SDK's adaptive mode (client-side rate limiting + backoff).
CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
# botocore's standard/adaptive backoff (botocore.retries.standard.ExponentialBackoff): attempt i waits at most
# min(2 ** (i - 1), 20) s, plus up to 5 s more when the service sends x-amz-retry-after.
_BACKOFF_CAP_SECONDS = 20
_RETRY_AFTER_EXTRA_SECONDS = 5
_REFRESH_MARGIN_SECONDS = 300
_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]")
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?P<service>[a-z0-9-]+):[a-z0-9-]*:(?P<account>\d{12})?:")
_SOURCES_BY_DETAIL_TYPE_PREFIX = {"SageMaker ": "aws.sagemaker", "CloudWatch Alarm": "aws.cloudwatch"}
# ARNs of these services name the account the resource lives in; it must be the event's own account.
_ACCOUNT_BOUND_SERVICES = frozenset({"sagemaker", "cloudwatch"})
_MAX_CACHED_SESSIONS = 64

# What each reaction may do in a workload account: the inline session policy of its AssumeRole ("Session policies",
# IAM User Guide; AssumeRole, STS API Reference: the session's permissions are the intersection of the role's policies
# and the session policy). The workload role bounds the resources; this table bounds the actions per reaction, so the
# Debugger reaction (stop a job) cannot update an endpoint. Create* calls that carry Tags also need sagemaker:AddTags,
# and those that name a role iam:PassRole ("Dependent actions" in the Service Authorization Reference for SageMaker).
# tests/e2e/test_sandbox_permissions.py checks every call of the demo scenario against this table.
_READ_ENDPOINTS = (
    "sagemaker:DescribeEndpoint",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:DescribeModel",
)
_READ_REGISTRY = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
_REGISTER = (
    "sagemaker:CreateModelPackageGroup",
    "sagemaker:CreateModelPackage",
    "sagemaker:ListModelPackageGroups",
    "sagemaker:AddTags",
    *_READ_REGISTRY,
)
# The four Model Monitor job definitions a deployment creates, one per monitor type (then CreateMonitoringSchedule).
_JOB_DEFINITION_TYPES = ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability")
SESSION_ACTIONS: dict[str, tuple[str, ...]] = {
    "debugger-rule": (
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    ),
    "training-state": ("sagemaker:DescribeTrainingJob", "sagemaker:ListTags", *_REGISTER),
    "tuning-state": ("sagemaker:DescribeHyperParameterTuningJob", "sagemaker:DescribeTrainingJob", *_REGISTER),
    "pipeline-state": (
        "sagemaker:DescribePipeline",
        "sagemaker:DescribePipelineExecution",
        "sagemaker:ListPipelineExecutionSteps",
    ),
    "deployment-state": _READ_ENDPOINTS,
    "schedule-state": ("sagemaker:DescribeMonitoringSchedule",),
    "labeling-state": (
        "sagemaker:DescribeLabelingJob",
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:AddTags",
        "iam:PassRole",
    ),
    "model-package-state": (*_READ_REGISTRY, *_READ_ENDPOINTS),
    "monitor-violation": (
        "sagemaker:DescribeProcessingJob",
        "sagemaker:DescribeMonitoringSchedule",
        "sagemaker:ListMonitoringSchedules",  # a run naming its schedule only by ARN (find_schedule)
        "sagemaker:ListMonitoringExecutions",
        "s3:GetObject",
        "s3:ListBucket",
        *_READ_ENDPOINTS,
        *_READ_REGISTRY,
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:ListTrainingJobs",
        "sagemaker:StartPipelineExecution",
        "sagemaker:ListPipelineExecutions",
        "sagemaker:AddTags",
        "iam:PassRole",
    ),
    "deploy-model": (
        *_READ_REGISTRY,
        *_READ_ENDPOINTS,
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "sagemaker:InvokeEndpoint",
        *(f"sagemaker:Create{kind}JobDefinition" for kind in _JOB_DEFINITION_TYPES),
        *(f"sagemaker:Describe{kind}JobDefinition" for kind in _JOB_DEFINITION_TYPES),
        "sagemaker:CreateMonitoringSchedule",
        "sagemaker:UpdateMonitoringSchedule",
        "sagemaker:DescribeMonitoringSchedule",
        "sagemaker:UpdateModelPackage",  # a stage's on_gate_reject: reject_package
        "sagemaker:AddTags",
        # the rollback alarms: named in guarded updates, left out of a rollback while firing, watched after a change
        # SageMaker cannot guard
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",  # a shadow test's verdict: both variants' metrics
        # a stage's autoscaling (and its registrations read before any update: SageMaker refuses to retype or remove
        # a registered variant); RegisterScalableTarget of a variant also needs these SageMaker and IAM actions
        # ("Auto scaling prerequisites", SageMaker developer guide)
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:DescribeScalingPolicies",
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy",
        "application-autoscaling:TagResource",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "iam:CreateServiceLinkedRole",
        # a batch stage's proof
        "sagemaker:CreateTransformJob",
        "sagemaker:DescribeTransformJob",
        "sagemaker:StopTransformJob",
        "iam:PassRole",
    ),
    "transform-job-state": ("sagemaker:DescribeTransformJob",),
    # The operator CLI, through the workload stack's read-only operator role (never the execution role): it reads
    # stages (`lifecycle status`), the registry (`deploy`/`rollback` check the version) and, for `lifecycle doctor`,
    # the forwarding rule, the execution role's trust and permissions, and the bucket and key policies of artifacts.
    "lifecycle-cli": (
        *_READ_ENDPOINTS,
        *_READ_REGISTRY,
        "sagemaker:DescribeMonitoringSchedule",
        "events:ListRuleNamesByTarget",
        "events:DescribeRule",
        "events:ListTargetsByRule",
        "iam:GetRole",
        "iam:SimulatePrincipalPolicy",
        "s3:GetBucketPolicy",
        "kms:GetKeyPolicy",
    ),
}
# AssumeRole refuses a session policy over 2,048 characters of plaintext (AssumeRole, STS API Reference).
SESSION_POLICY_MAX_CHARS = 2048


def retry_budget_seconds(config: Config = CLIENT_CONFIG) -> float:
    """The longest one SDK call can take with `config` before it gives up: every attempt waits out its connect and
    read timeouts, and every retry waits the longest backoff (capped, plus the retry-after allowance).

    In a client Config `max_attempts` counts the retries after the first attempt; botocore rewrites it in place to
    `total_max_attempts` (attempts in all) once a client is made with the Config (botocore/args.py), so both are read.
    Adaptive mode may also wait for its client-side rate limiter's tokens, which is not bounded here.
    """
    retries = config.retries or {}
    attempts = (
        int(retries["total_max_attempts"])
        if "total_max_attempts" in retries
        else int(retries.get("max_attempts", 0)) + 1
    )
    per_attempt = float(config.connect_timeout) + float(config.read_timeout)
    backoff = sum(
        min(2 ** (retry - 1), _BACKOFF_CAP_SECONDS) + _RETRY_AFTER_EXTRA_SECONDS for retry in range(1, attempts)
    )
    return attempts * per_attempt + backoff


def session_policy(reaction: str) -> str:
    """The inline session policy (compact JSON) that narrows `reaction`'s workload sessions to its own actions."""
    actions = SESSION_ACTIONS.get(reaction)
    if actions is None:
        raise ConfigurationError(f"reaction {reaction!r} has no entry in lifecycle.accounts.SESSION_ACTIONS")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": sorted(set(actions)), "Resource": "*"}],
    }
    return json.dumps(document, separators=(",", ":"))


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
    if not isinstance(account, str) or account not in settings.trusted_accounts:
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


# Workload credentials are per event (CloudTrail attribution: the role session name is the reaction and the event
# id, so a session never acts for a later event under the first event's name); a warm container keeps the most
# recent ones. (account, region, reaction, event id) -> credentials.
_credentials: OrderedDict[tuple[str, str, str, str], _EventCredentials] = OrderedDict()
# Clients are per container, not per event: a boto3 session costs ~15 ms and a client ~5-15 ms to make, more than a
# warm reaction's own work, and a client kept across events keeps its adaptive rate limiter's view of the service.
# A workload client signs each request with the role session of the event being handled (`_Signing`).
# (account, region, reaction, service) -> client; (account, region, reaction) -> its signing credentials.
_clients: dict[tuple[str, str, str, str], Any] = {}
_signing: dict[tuple[str, str, str], _Signing] = {}
_lock = threading.Lock()
_loader: list[Loader] = []


@dataclass(frozen=True)
class _EventCredentials:
    access_key: str
    secret_key: str
    token: str
    expires_at: float


class _Signing(Credentials):
    """The credentials a workload client signs with: the role session of the event the calling thread handles
    (`use`). botocore's request signer reads them on every request (`get_frozen_credentials`), so one client serves
    event after event, each under its own session name. Per thread: a Lambda container runs one event at a time, the
    sandbox and the benchmarks run several containers as threads of one process."""

    def __init__(self) -> None:  # no static keys: botocore's Credentials.__init__ would store some
        self.method = _SigningProvider.METHOD
        self._current = threading.local()

    def use(self, found: _EventCredentials) -> None:
        self._current.found = found

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        found: _EventCredentials | None = getattr(self._current, "found", None)
        if found is None:
            raise ConfigurationError("a workload client was used on a thread that has not asked client_for for it")
        return ReadOnlyCredentials(found.access_key, found.secret_key, found.token)

    @property
    def access_key(self) -> str:  # type: ignore[override]
        return self.get_frozen_credentials().access_key

    @property
    def secret_key(self) -> str:  # type: ignore[override]
        return self.get_frozen_credentials().secret_key

    @property
    def token(self) -> str:  # type: ignore[override]
        return str(self.get_frozen_credentials().token)


class _SigningProvider(CredentialProvider):
    """A botocore credential provider handing a session its `_Signing` object."""

    METHOD = "lifecycle-event-session"

    def __init__(self, signing: _Signing) -> None:
        self._signing = signing

    def load(self) -> Credentials:
        return self._signing


def role_arn_for(account: str, settings: Settings) -> str:
    """The workload execution role the automation assumes in `account`."""
    return f"arn:{settings.partition}:iam::{account}:role/{settings.execution_role_name}"


def _session(region: str, signing: _Signing | None = None) -> boto3.session.Session:
    """A boto3 session sharing one botocore data loader (a session must not parse the service models again:
    SageMaker's takes a quarter of a second), with the function's own credentials or a workload `_Signing`."""
    with _lock:
        if not _loader:
            _loader.append(create_loader())
    core = botocore.session.Session()
    core.register_component("data_loader", _loader[0])
    if signing is not None:
        core.register_component("credential_provider", CredentialResolver([_SigningProvider(signing)]))
    return boto3.session.Session(botocore_session=core, region_name=region)


def _assume(account: str, region: str, settings: Settings, reaction: str, event_id: str) -> _EventCredentials:
    request: dict[str, Any] = {
        "RoleArn": role_arn_for(account, settings),
        "RoleSessionName": _SESSION_NAME_UNSAFE.sub("-", f"{reaction}-{event_id}")[:64],
        "DurationSeconds": 3600,
        "Policy": session_policy(reaction),
    }
    if settings.external_id:
        request["ExternalId"] = settings.external_id
    try:
        sts = own_client("sts", settings, region)
        found = sts.assume_role(**request)["Credentials"]
    except (ClientError, BotoCoreError) as exc:
        raise AssumeRoleFailed(f"cannot assume {request['RoleArn']}: {exc}") from exc
    return _EventCredentials(
        found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"], found["Expiration"].timestamp()
    )


def _own(region: str) -> boto3.session.Session:
    return _session(region)


def event_credentials(
    account: str, region: str, settings: Settings, *, reaction: str, event_id: str
) -> _EventCredentials:
    """The role session `reaction` acts in for event `event_id` in workload `account`/`region`: STS AssumeRole of
    the workload execution role (with the ExternalId when configured), narrowed to the reaction's actions by its
    session policy (`SESSION_ACTIONS`), cached until five minutes before it expires."""
    key = (account, region, reaction, event_id)
    with _lock:
        found = _credentials.get(key)
        if found and found.expires_at - _REFRESH_MARGIN_SECONDS > time.time():
            _credentials.move_to_end(key)
            return found
    found = _assume(account, region, settings, reaction, event_id)
    with _lock:
        _credentials[key] = found
        while len(_credentials) > _MAX_CACHED_SESSIONS:
            _credentials.popitem(last=False)
    return found


def client_for(service: str, account: str, region: str, settings: Settings, *, reaction: str, event_id: str) -> Any:
    """A client of `service` acting in `account`/`region` for `reaction` handling event `event_id`.

    The automation account uses the function's own credentials (one client per service and region serves every
    reaction and event). Any other account is reached through `event_credentials`: the container's client of that
    account, region, reaction and service, signing from now on with this event's role session.
    """
    if account == settings.automation_account_id:
        return _cached_client((account, region, "", service), lambda: _own(region))
    found = event_credentials(account, region, settings, reaction=reaction, event_id=event_id)
    with _lock:
        signing = _signing.setdefault((account, region, reaction), _Signing())
    signing.use(found)
    return _cached_client((account, region, reaction, service), lambda: _session(region, signing))


def _cached_client(key: tuple[str, str, str, str], session: Callable[[], boto3.session.Session]) -> Any:
    with _lock:
        client = _clients.get(key)
    if client is None:
        client = session().client(key[3], config=CLIENT_CONFIG)
        with _lock:
            client = _clients.setdefault(key, client)
    return client


def own_client(service: str, settings: Settings, region: str | None = None) -> Any:
    """A cached client of `service` with the function's own credentials, in the automation account (no role is
    assumed, so there is no session to name): the lifecycle table, the topic, the state machine."""
    return client_for(
        service, settings.automation_account_id, region or settings.region, settings, reaction="", event_id=""
    )


def clear_session_cache() -> None:
    """Forget cached sessions (tests, and after a role change)."""
    with _lock:
        _credentials.clear()
        _clients.clear()
        _signing.clear()
