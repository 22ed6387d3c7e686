"""The lifecycle table: every key of every item the product keeps, built here and nowhere else.

One DynamoDB table in the automation account, partition key `pk`, sort key `sk`, TTL attribute `expiration`. The item
kinds, and the module that reads and writes each:

| item | pk | sk | module |
|---|---|---|---|
| audit record | `GROUP#<group>` | `AUDIT#<iso time>#<event id>#<action>` | `store.audit` |
| idempotency record (powertools) | `IDEMPOTENCY#<reaction>` | hash of the semantic key | `store.idempotency` |
| cool-down of a stage's monitor | `COOLDOWN#<group>#<stage>` | `MONITOR#<monitor>` | `store.cooldown` |
| registration of a training job | `REGISTRATION#<job ARN>` | `CLAIM` | `store.registration` |
| endpoint lease | `LEASE#<account>#<region>#<endpoint>` | `LEASE` | `store.deployments` |
| approval gate | `APPROVAL#<group>` | `<execution>#<stage>` | `store.deployments` |
| stage history | `STAGE#<group>#<stage>` | `DEPLOYED#<time>#<execution>`, `GATE-REJECTED#...` | `store.deployments` |
| restore point | `RESTORE#<execution>` | `STAGE#<stage>` | `store.deployments` |
| scaling restore point | `RESTORE#<execution>` | `SCALING#<stage>` | `store.deployments` |
| shadow verdict wait | `APPROVAL#<group>` | `<execution>#<stage>` (kind `shadow`) | `store.deployments` |
| transform job of a batch stage | `TRANSFORM#<account>#<region>#<job>` | `TOKEN` | `store.deployments` |
| current model of a batch stage | `CURRENT#<group>#<stage>` | `MODEL` | `store.deployments` |

Writes that decide something (a claim, a lease) are single conditional writes, never read-then-write: DynamoDB applies
a condition expression atomically with the write ("Condition expressions", DynamoDB developer guide).
"""

from __future__ import annotations

from typing import Any

from lifecycle.accounts import own_client
from lifecycle.config import Settings

Key = dict[str, dict[str, str]]
PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE = "pk", "sk", "expiration"
CONDITION_FAILED = "ConditionalCheckFailedException"


def table(settings: Settings) -> Any:
    """The lifecycle table's client: the automation account's own credentials (no role is assumed)."""
    return own_client("dynamodb", settings)


def _key(pk: str, sk: str) -> Key:
    return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}


# --- audit -----------------------------------------------------------------------------------------------------------
def audit_partition(group: str) -> str:
    return f"GROUP#{group}"


def audit_sort_key(at: str, event_id: str, action: str) -> str:
    return f"AUDIT#{at}#{event_id}#{action}"


AUDIT_PREFIX, AUDIT_END = "AUDIT#", "AUDIT$"  # every audit sort key sorts between the two


# --- idempotency -----------------------------------------------------------------------------------------------------
def idempotency_partition(reaction: str) -> str:
    """powertools' static partition key of a reaction's idempotency records (it builds their sort keys)."""
    return f"IDEMPOTENCY#{reaction}"


# --- cool-downs and registrations ------------------------------------------------------------------------------------
def cooldown_partition(group: str, stage: str) -> str:
    return f"COOLDOWN#{group}#{stage}"


def cooldown_key(group: str, stage: str, monitor: str) -> Key:
    """One window per monitor of a stage (its type, or the name of the user's schedule it reacts to)."""
    return _key(cooldown_partition(group, stage), f"{COOLDOWN_MONITOR_PREFIX}{monitor}")


COOLDOWN_MONITOR_PREFIX = "MONITOR#"


def registration_key(job_arn: str) -> Key:
    return _key(f"REGISTRATION#{job_arn}", "CLAIM")


REGISTRATION_PREFIX = "REGISTRATION#"


# --- deployments -----------------------------------------------------------------------------------------------------
def lease_key(account: str, region: str, endpoint: str) -> Key:
    return _key(f"LEASE#{account}#{region}#{endpoint}", "LEASE")


def approval_partition(group: str) -> str:
    return f"APPROVAL#{group}"


def approval_key(group: str, execution: str, stage: str) -> Key:
    return _key(approval_partition(group), f"{execution}#{stage}")


def stage_partition(group: str, stage: str) -> str:
    return f"STAGE#{group}#{stage}"


def stage_event_key(group: str, stage: str, kind: str, at: str, execution: str) -> Key:
    prefix = "DEPLOYED" if kind == "deployed" else "GATE-REJECTED"
    return _key(stage_partition(group, stage), f"{prefix}#{at}#{execution}")


def is_deployed_sort_key(sort_key: str) -> bool:
    return sort_key.startswith("DEPLOYED#")


def restore_key(execution: str, stage: str) -> Key:
    return _key(f"RESTORE#{execution}", f"STAGE#{stage}")


def scaling_restore_key(execution: str, stage: str) -> Key:
    return _key(f"RESTORE#{execution}", f"SCALING#{stage}")


def transform_key(account: str, region: str, job: str) -> Key:
    return _key(f"TRANSFORM#{account}#{region}#{job}", "TOKEN")


def current_model_key(group: str, stage: str) -> Key:
    return _key(f"CURRENT#{group}#{stage}", "MODEL")
