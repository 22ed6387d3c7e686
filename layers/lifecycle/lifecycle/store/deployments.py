"""The deployment items of the lifecycle table: endpoint leases, approval gates and shadow verdicts, stage history,
restore points (of endpoint configs and of autoscaling), transform jobs waited on, the current model of batch stages.

Their keys are `lifecycle.store`'s. Writes that decide (taking a lease, answering a gate) are conditional.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, get_type_hints

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
    current_model_key,
    is_deployed_sort_key,
    lease_key,
    restore_key,
    scaling_restore_key,
    stage_event_key,
    stage_partition,
    table,
    transform_key,
)

APPROVAL_KEPT = timedelta(days=15)
RESTORE_POINT_KEPT = timedelta(days=30)
STAGE_HISTORY_KEPT = timedelta(days=400)


def _epoch(when: datetime) -> str:
    return str(int(when.timestamp()))


def _text(item: dict[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    return str(value["S"]) if value else default


Row = TypeVar("Row")


def _attributes(row: Any, *, leave_out: frozenset[str] = frozenset()) -> dict[str, dict[str, str]]:
    """An item's attributes from one of the dataclasses below: each field under its name, an int as a number."""
    attributes = {}
    for field in fields(row):
        value = getattr(row, field.name)
        if field.name not in leave_out:
            attributes[field.name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
    return attributes


def _row(row_type: type[Row], item: dict[str, Any], /, **given: Any) -> Row:
    """One of the dataclasses below read back from its item (`given`: fields the item does not hold as such). An
    attribute the item lacks reads as the field's default, or as "" for a text field without one."""
    types = get_type_hints(row_type)
    values: dict[str, Any] = {}
    for field in fields(row_type):  # type: ignore[arg-type]
        if field.name in given:
            continue
        if field.name in item:
            values[field.name] = int(item[field.name]["N"]) if types[field.name] is int else _text(item, field.name)
        elif field.default is not MISSING:
            values[field.name] = field.default
        elif types[field.name] is int:
            raise KeyError(f"{row_type.__name__} item without its number {field.name!r}")
        else:
            values[field.name] = ""
    return row_type(**values, **given)


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
        **_attributes(replace(lease, acquired_at=lease.acquired_at or now.isoformat())),
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
            return _row(Lease, exc.response.get("Item") or {})
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
    return _row(Lease, found) if found else None


# --- approval gates --------------------------------------------------------------------------------------------------
Decision = Literal["approved", "rejected", "promote", "end"]
WaitKind = Literal["gate", "shadow"]


_ANSWER = frozenset({"decision", "answered_by", "reason"})  # written by answer_approval only


@dataclass(frozen=True)
class Approval:
    """A task token an execution waits on: an approval gate, or a shadow test's verdict (`kind`), and the answer a
    person (or the registry) gave, once given."""

    group: str
    execution: str
    stage: str
    version: int
    token: str
    requested_at: str
    decision: str = ""
    answered_by: str = ""
    reason: str = ""
    kind: WaitKind = "gate"

    @classmethod
    def of(cls, item: dict[str, Any]) -> Approval:
        return _row(cls, item, kind="shadow" if _text(item, "kind") == "shadow" else "gate")


def keep_approval(settings: Settings, approval: Approval, *, keep: timedelta = APPROVAL_KEPT) -> None:
    """Keep the task token of a gate (or a shadow test), for `lifecycle approve|reject|promote|end-shadow` and for a
    rejection of the package; at least `keep` (a shadow may wait longer than a gate)."""
    now = datetime.now(UTC)
    with aws_errors("dynamodb:PutItem approval gate"):
        table(settings).put_item(
            TableName=settings.table_name,
            Item={
                **approval_key(approval.group, approval.execution, approval.stage),
                **_attributes(approval, leave_out=_ANSWER),  # kept unanswered: the answer is a conditional write
                "expiration": {"N": _epoch(now + max(keep, APPROVAL_KEPT))},
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
        return _row(cls, item, kind="deployed" if is_deployed_sort_key(_text(item, SORT_KEY)) else "gate-rejected")


def record_stage_event(settings: Settings, group: str, stage: str, event: StageEvent) -> None:
    """Add to the stage's history (what rollback targeting reads)."""
    now = datetime.now(UTC)
    with aws_errors(f"dynamodb:PutItem stage history {group}/{stage}"):
        table(settings).put_item(
            TableName=settings.table_name,
            Item={
                **stage_event_key(group, stage, event.kind, event.at, event.execution),
                **_attributes(replace(event, detail=event.detail[:1000]), leave_out=frozenset({"kind"})),  # in the key
                "expiration": {"N": _epoch(now + STAGE_HISTORY_KEPT)},
            },
        )


def stage_history(settings: Settings, group: str, stage: str) -> list[StageEvent]:
    """Every recorded deployment and gate rejection of a stage, oldest first."""
    events = [StageEvent.of(item) for item in _query(settings, "stage history", stage_partition(group, stage))]
    return sorted(events, key=lambda event: event.at)


# --- restore points --------------------------------------------------------------------------------------------------
def _keep_first(settings: Settings, what: str, key: dict[str, Any], attribute: str, value: str) -> str:
    """Keep `value` under `key` unless something is kept there already (one conditional write): returns what is kept."""
    with aws_errors(f"dynamodb:PutItem {what}"):
        try:
            table(settings).put_item(
                TableName=settings.table_name,
                Item={
                    **key,
                    attribute: {"S": value},
                    "expiration": {"N": _epoch(datetime.now(UTC) + RESTORE_POINT_KEPT)},
                },
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            return _text(exc.response.get("Item") or {}, attribute, value)
    return value


def _kept(settings: Settings, what: str, key: dict[str, Any], attribute: str) -> str | None:
    with aws_errors(f"dynamodb:GetItem {what}"):
        item = table(settings).get_item(TableName=settings.table_name, Key=key, ConsistentRead=True)
    found = item.get("Item")
    return _text(found, attribute) if found else None


def keep_restore_point(settings: Settings, execution: str, stage: str, config: str) -> str:
    """Before an endpoint changes: the config to restore, kept where a retried step finds it again (the step's own
    output is lost when the Lambda fails after UpdateEndpoint went through). The first one an execution keeps for a
    stage stays (a canary completed after a gate changes the endpoint twice): returns the one kept."""
    return _keep_first(settings, "restore point", restore_key(execution, stage), "config", config)


def restore_point(settings: Settings, execution: str, stage: str) -> str | None:
    """The config an execution kept before changing a stage's endpoint, if it did."""
    return _kept(settings, "restore point", restore_key(execution, stage), "config")


def keep_scaling_restore_point(settings: Settings, execution: str, stage: str, snapshot: str) -> str:
    """Before an execution first changes a stage's autoscaling: the registrations to restore (`lifecycle.deploy.scaling`
    snapshot). The first one kept stays; returns the one kept."""
    return _keep_first(settings, "scaling restore point", scaling_restore_key(execution, stage), "snapshot", snapshot)


def scaling_restore_point(settings: Settings, execution: str, stage: str) -> str | None:
    """The autoscaling snapshot an execution kept before changing a stage's registrations, if it did."""
    return _kept(settings, "scaling restore point", scaling_restore_key(execution, stage), "snapshot")


# --- transform jobs of batch stages ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransformWait:
    """A transform job a batch stage's execution waits on (its task token), until the job's state change answers."""

    account: str
    region: str
    job: str
    token: str
    execution: str
    group: str
    stage: str
    version: int


def keep_transform_wait(settings: Settings, wait: TransformWait, *, keep: timedelta) -> None:
    """Keep the task token a transform job's end answers (a retried step's newer token replaces the older one)."""
    with aws_errors(f"dynamodb:PutItem transform job {wait.job}"):
        table(settings).put_item(
            TableName=settings.table_name,
            Item={
                **transform_key(wait.account, wait.region, wait.job),
                **_attributes(wait),
                "expiration": {"N": _epoch(datetime.now(UTC) + keep)},
            },
        )


def transform_wait(settings: Settings, account: str, region: str, job: str) -> TransformWait | None:
    """The execution waiting on transform job `job` of `account`/`region` (None when the product did not start it)."""
    with aws_errors(f"dynamodb:GetItem transform job {job}"):
        item = table(settings).get_item(
            TableName=settings.table_name, Key=transform_key(account, region, job), ConsistentRead=True
        )
    found = item.get("Item")
    return _row(TransformWait, found) if found else None


# --- current model of batch stages -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CurrentModel:
    """What a batch stage runs now: the model and version its last successful transform job proved."""

    version: int
    model: str
    transform_job: str
    output: str
    at: str
    execution: str


def record_current_model(settings: Settings, group: str, stage: str, current: CurrentModel) -> None:
    """The batch stage's current model, after its transform job proved it (what `lifecycle status` shows)."""
    with aws_errors(f"dynamodb:PutItem current model {group}/{stage}"):
        table(settings).put_item(
            TableName=settings.table_name,
            Item={
                **current_model_key(group, stage),
                **_attributes(current),
            },
        )


def current_model(settings: Settings, group: str, stage: str) -> CurrentModel | None:
    """The batch stage's current model (None before its first successful transform job)."""
    with aws_errors(f"dynamodb:GetItem current model {group}/{stage}"):
        item = table(settings).get_item(
            TableName=settings.table_name, Key=current_model_key(group, stage), ConsistentRead=True
        )
    found = item.get("Item")
    return _row(CurrentModel, found) if found else None
