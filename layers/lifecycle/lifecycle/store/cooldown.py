"""The cool-down of a stage's monitor: after one corrective action (retrain, roll back), none for N hours.

One item per model package group, stage and monitor in the lifecycle table (`lifecycle.store.cooldown_key`; each
monitor has its own `cooldown_hours`), claimed by a single conditional UpdateItem, never read-then-write, so of any
number of concurrent violations exactly one wins:

    attribute_not_exists(pk) OR until <= :now OR holder = :holder

The holder is the signal that won (its semantic key): when that signal's action fails and is retried, the retry
gets its own claim back, with the same window start, so its deterministic resource names do not change. A loser
gets the current holder's window back from the failed write itself (`ReturnValuesOnConditionCheckFailure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.store import (
    CONDITION_FAILED,
    PARTITION_KEY,
    cooldown_key,
    cooldown_partition,
    table,
)

# How long an expired cool-down item is kept (for people reading the table) before DynamoDB's TTL removes it.
KEEP_AFTER_EXPIRY = timedelta(days=7)


@dataclass(frozen=True)
class Window:
    """A cool-down window: who holds it, from when (the winning signal's time) until when."""

    granted: bool
    holder: str
    started: datetime
    until: datetime

    def describe(self) -> str:
        """`cooling down until 14:00 UTC on 2026-11-27 (since ...)` for a refused claim, for audit and logs."""
        return (
            f"cooling down until {self.until:%H:%M} UTC on {self.until:%Y-%m-%d} "
            f"(window opened {self.started:%Y-%m-%d %H:%M} UTC by {self.holder})"
        )


def claim(
    settings: Settings,
    *,
    group: str,
    stage: str,
    monitor: str,
    hours: float,
    holder: str,
    started: datetime,
    action: str,
    now: datetime | None = None,
) -> Window:
    """Open the cool-down of `group`/`stage`'s `monitor` for `holder` unless another holder's window is still open.

    `started` is when the signal happened (it names what the action creates); the window lasts `hours` from `now`.
    Returns the window: `granted` with this holder's, or not granted with the open window of the current holder.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    until = now + timedelta(hours=hours)
    request: dict[str, Any] = {
        "TableName": settings.table_name,
        "Key": cooldown_key(group, stage, monitor),
        "UpdateExpression": (
            "SET #until = :until, holder = :holder, started = :started, #action = :action, expiration = :expiration"
        ),
        "ConditionExpression": "attribute_not_exists(pk) OR #until <= :now OR holder = :holder",
        "ExpressionAttributeNames": {"#until": "until", "#action": "action"},
        "ExpressionAttributeValues": {
            ":until": {"N": str(int(until.timestamp()))},
            ":now": {"N": str(int(now.timestamp()))},
            ":holder": {"S": holder},
            ":started": {"S": started.astimezone(UTC).isoformat()},
            ":action": {"S": action},
            ":expiration": {"N": str(int((until + KEEP_AFTER_EXPIRY).timestamp()))},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    with aws_errors(f"dynamodb:UpdateItem cool-down {group}/{stage}/{monitor}"):
        try:
            table(settings).update_item(**request)
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            return _held(exc.response.get("Item", {}))
    return Window(granted=True, holder=holder, started=started.astimezone(UTC), until=until)


def _held(item: dict[str, Any]) -> Window:
    return Window(
        granted=False,
        holder=item["holder"]["S"],
        started=datetime.fromisoformat(item["started"]["S"]),
        until=datetime.fromtimestamp(int(item["until"]["N"]), tz=UTC),
    )


def current(settings: Settings, group: str, stage: str, *, now: datetime | None = None) -> tuple[datetime, str] | None:
    """The open cool-down of `group`/`stage` that lasts longest, of any of its monitors: until when, and for which
    action (None when none is open)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    request = {
        "TableName": settings.table_name,
        "KeyConditionExpression": f"{PARTITION_KEY} = :pk",
        "ExpressionAttributeValues": {":pk": {"S": cooldown_partition(group, stage)}},
        "ConsistentRead": True,
    }
    with aws_errors(f"dynamodb:Query cool-downs {group}/{stage}"):
        items = table(settings).query(**request)["Items"]  # one item per monitor of the stage: at most ten
    open_windows = [
        (datetime.fromtimestamp(int(item["until"]["N"]), tz=UTC), item)
        for item in items
        if int(item["until"]["N"]) > now.timestamp()
    ]
    if not open_windows:
        return None
    until, item = max(open_windows, key=lambda found: found[0])
    return until, item.get("action", {}).get("S", "")
