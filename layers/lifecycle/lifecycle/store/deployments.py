"""The deployment items of the lifecycle table: endpoint leases, approval gates, stage history, restore points.

Their keys are `lifecycle.store`'s. Writes that decide (taking a lease, answering a gate) are conditional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from lifecycle.aws import aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.store import (
    CONDITION_FAILED,
    PARTITION_KEY,
    SORT_KEY,
    Key,
    approval_key,
    approval_partition,
    is_deployed_sort_key,
    lease_key,
    restore_key,
    stage_event_key,
    stage_partition,
    table,
)

APPROVAL_KEPT = timedelta(days=15)
RESTORE_POINT_KEPT = timedelta(days=30)
STAGE_HISTORY_KEPT = timedelta(days=400)


def _epoch(when: datetime) -> str:
    return str(int(when.timestamp()))


def _text(item: dict[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    return str(value["S"]) if value else default


def _number(item: dict[str, Any], name: str) -> int:
    return int(item[name]["N"])


def _query(settings: Settings, what: str, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": settings.table_name,
        "KeyConditionExpression": f"{PARTITION_KEY} = :pk"
        + (f" AND begins_with({SORT_KEY}, :prefix)" if sk_prefix else ""),
        "ExpressionAttributeValues": {":pk": {"S": pk}, **({":prefix": {"S": sk_prefix}} if sk_prefix else {})},
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    with aws_errors(f"dynamodb:Query {what}"):
        while True:
            page = table(settings).query(**request)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- endpoint leases -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """An endpoint, where it lives: what a lease is taken on."""

    account: str
    region: str
    name: str

    def key(self) -> Key:
        return lease_key(self.account, self.region, self.name)


@dataclass(frozen=True)
class Lease:
    """Who acts on an endpoint: one DeployModel execution at a time."""

    holder: str = ""
    execution_arn: str = ""
    group: str = ""
    version: int = 0
    kind: str = ""
    stage: str = ""
    acquired_at: str = ""

    @classmethod
    def of(cls, item: dict[str, Any]) -> Lease:
        return cls(
            holder=_text(item, "holder"),
            execution_arn=_text(item, "execution_arn"),
            group=_text(item, "group"),
            version=_number(item, "version") if "version" in item else 0,
            kind=_text(item, "kind"),
            stage=_text(item, "stage"),
            acquired_at=_text(item, "acquired_at"),
        )

    def describe(self) -> str:
        return f"{self.holder} ({self.kind} of {self.group} v{self.version}, since {self.acquired_at})"


def acquire_lease(
    settings: Settings, endpoint: Endpoint, lease: Lease, *, keep: timedelta, replacing: str | None = None
) -> Lease | None:
    """Take `endpoint`'s lease for `lease.holder`: when nobody holds it, when the holder already is us (a retried step),
    or when it is held by `replacing` (a holder found no longer running). Returns None when taken, else the holder.

    The item expires after `keep` (DynamoDB's TTL is only the clean-up: a live holder is what counts)."""
    now = datetime.now(UTC)
    condition = "attribute_not_exists(pk) OR holder = :me" + (" OR holder = :stale" if replacing else "")
    values: dict[str, Any] = {":me": {"S": lease.holder}}
    if replacing:
        values[":stale"] = {"S": replacing}
    item = {
        **endpoint.key(),
        "holder": {"S": lease.holder},
        "execution_arn": {"S": lease.execution_arn},
        "group": {"S": lease.group},
        "version": {"N": str(lease.version)},
        "kind": {"S": lease.kind},
        "stage": {"S": lease.stage},
        "acquired_at": {"S": lease.acquired_at or now.isoformat()},
        "expiration": {"N": _epoch(now + keep)},
    }
    with aws_errors(f"dynamodb:PutItem lease of {endpoint.name}"):
        try:
            table(settings).put_item(
                TableName=settings.table_name,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            return Lease.of(exc.response.get("Item") or {})
    return None


def release_lease(settings: Settings, endpoint: Endpoint, holder: str) -> bool:
    """Give `endpoint`'s lease back if `holder` has it; False when it was not (or no longer) theirs."""
    with aws_errors(f"dynamodb:DeleteItem lease of {endpoint.name}"):
        try:
            table(settings).delete_item(
                TableName=settings.table_name,
                Key=endpoint.key(),
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": holder}},
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            return False
    return True


def lease_of(settings: Settings, endpoint: Endpoint) -> Lease | None:
    """Who holds `endpoint`'s lease now (None when nobody does)."""
    with aws_errors(f"dynamodb:GetItem lease of {endpoint.name}"):
        item = table(settings).get_item(TableName=settings.table_name, Key=endpoint.key(), ConsistentRead=True)
    found = item.get("Item")
    return Lease.of(found) if found else None


# --- approval gates --------------------------------------------------------------------------------------------------
Decision = Literal["approved", "rejected"]


@dataclass(frozen=True)
class Approval:
    """A gate an execution waits on (its task token), and the answer a person gave, once given."""

    group: str
    execution: str
    stage: str
    version: int
    token: str
    requested_at: str
    decision: str = ""
    answered_by: str = ""
    reason: str = ""

    @classmethod
    def of(cls, item: dict[str, Any]) -> Approval:
        return cls(
            group=_text(item, "group"),
            execution=_text(item, "execution"),
            stage=_text(item, "stage"),
            version=_number(item, "version"),
            token=_text(item, "token"),
            requested_at=_text(item, "requested_at"),
            decision=_text(item, "decision"),
            answered_by=_text(item, "answered_by"),
            reason=_text(item, "reason"),
        )


def keep_approval(settings: Settings, approval: Approval) -> None:
    """Keep the task token of a gate, for `lifecycle approve|reject` and for a rejection of the package."""
    now = datetime.now(UTC)
    with aws_errors("dynamodb:PutItem approval gate"):
        table(settings).put_item(
            TableName=settings.table_name,
            Item={
                **approval_key(approval.group, approval.execution, approval.stage),
                "group": {"S": approval.group},
                "execution": {"S": approval.execution},
                "stage": {"S": approval.stage},
                "version": {"N": str(approval.version)},
                "token": {"S": approval.token},
                "requested_at": {"S": approval.requested_at},
                "expiration": {"N": _epoch(now + APPROVAL_KEPT)},
            },
        )


def approvals(settings: Settings, group: str, *, execution: str | None = None) -> list[Approval]:
    """The gates of `group` (of one execution when given), answered or not."""
    items = _query(settings, "approval gates", approval_partition(group), f"{execution}#" if execution else "")
    return [Approval.of(item) for item in items]


def answer_approval(settings: Settings, approval: Approval, *, decision: Decision, by: str, reason: str) -> bool:
    """Write a person's answer on a gate that has none yet; False when it was already answered (or is gone).

    The answer is kept in the table before the task token is used, so the state machine reads who decided and why
    whatever the Step Functions error cause carries."""
    with aws_errors("dynamodb:UpdateItem approval answer"):
        try:
            table(settings).update_item(
                TableName=settings.table_name,
                Key=approval_key(approval.group, approval.execution, approval.stage),
                UpdateExpression="SET decision = :decision, answered_by = :by, reason = :reason, answered_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(decision)",
                ExpressionAttributeValues={
                    ":decision": {"S": decision},
                    ":by": {"S": by[:512]},
                    ":reason": {"S": reason[:1000]},
                    ":at": {"S": datetime.now(UTC).isoformat()},
                },
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            return False
    return True


# --- stage history ---------------------------------------------------------------------------------------------------
StageEventKind = Literal["deployed", "gate-rejected"]


@dataclass(frozen=True)
class StageEvent:
    """A version completed a deployment to a stage, or was rejected at its gate."""

    kind: StageEventKind
    version: int
    at: str
    execution: str
    detail: str = ""

    @classmethod
    def of(cls, item: dict[str, Any]) -> StageEvent:
        return cls(
            kind="deployed" if is_deployed_sort_key(_text(item, SORT_KEY)) else "gate-rejected",
            version=_number(item, "version"),
            at=_text(item, "at"),
            execution=_text(item, "execution"),
            detail=_text(item, "detail"),
        )


def record_stage_event(settings: Settings, group: str, stage: str, event: StageEvent) -> None:
    """Add to the stage's history (what rollback targeting reads)."""
    now = datetime.now(UTC)
    with aws_errors(f"dynamodb:PutItem stage history {group}/{stage}"):
        table(settings).put_item(
            TableName=settings.table_name,
            Item={
                **stage_event_key(group, stage, event.kind, event.at, event.execution),
                "version": {"N": str(event.version)},
                "at": {"S": event.at},
                "execution": {"S": event.execution},
                "detail": {"S": event.detail[:1000]},
                "expiration": {"N": _epoch(now + STAGE_HISTORY_KEPT)},
            },
        )


def stage_history(settings: Settings, group: str, stage: str) -> list[StageEvent]:
    """Every recorded deployment and gate rejection of a stage, oldest first."""
    events = [StageEvent.of(item) for item in _query(settings, "stage history", stage_partition(group, stage))]
    return sorted(events, key=lambda event: event.at)


# --- restore points --------------------------------------------------------------------------------------------------
def keep_restore_point(settings: Settings, execution: str, stage: str, config: str) -> str:
    """Before an endpoint changes: the config to restore, kept where a retried step finds it again (the step's own
    output is lost when the Lambda fails after UpdateEndpoint went through). The first one an execution keeps for a
    stage stays (a canary completed after a gate changes the endpoint twice): returns the one kept."""
    with aws_errors("dynamodb:PutItem restore point"):
        try:
            table(settings).put_item(
                TableName=settings.table_name,
                Item={
                    **restore_key(execution, stage),
                    "config": {"S": config},
                    "expiration": {"N": _epoch(datetime.now(UTC) + RESTORE_POINT_KEPT)},
                },
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            return _text(exc.response.get("Item") or {}, "config", config)
    return config


def restore_point(settings: Settings, execution: str, stage: str) -> str | None:
    """The config an execution kept before changing a stage's endpoint, if it did."""
    with aws_errors("dynamodb:GetItem restore point"):
        item = table(settings).get_item(
            TableName=settings.table_name, Key=restore_key(execution, stage), ConsistentRead=True
        )
    found = item.get("Item")
    return _text(found, "config") if found else None
