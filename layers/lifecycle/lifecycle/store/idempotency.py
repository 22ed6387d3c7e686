"""Semantic idempotency: the same state change acts once, whatever its event id and however often it arrives.

The key is the resource ARN + the state it reached + when it changed (DESIGN §5), never the event id: SageMaker
may emit one state change several times with different ids. Records live in the lifecycle table (one partition per
reaction, `lifecycle.store.idempotency_partition`; powertools builds the sort key) and expire through its TTL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceConnectionError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lifecycle.config import Settings
from lifecycle.errors import AwsCallFailed, DuplicateInProgress
from lifecycle.store import PARTITION_KEY, SORT_KEY, idempotency_partition, table


class SemanticKey(BaseModel):
    """What makes two events the same state change."""

    reaction: str
    resource_arn: str
    state: str
    changed_at: str

    @classmethod
    def of(cls, reaction: str, resource_arn: str, state: str, changed_at: datetime | str) -> SemanticKey:
        when = changed_at.isoformat() if isinstance(changed_at, datetime) else changed_at
        return cls(reaction=reaction, resource_arn=resource_arn, state=state, changed_at=when)


_layers: dict[tuple[str, str], DynamoDBPersistenceLayer] = {}


def _persistence(table_name: str, reaction: str, settings: Settings) -> DynamoDBPersistenceLayer:
    layer = _layers.get((table_name, reaction))
    if layer is not None:
        return layer
    layer = DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr=PARTITION_KEY,
        sort_key_attr=SORT_KEY,
        static_pk_value=idempotency_partition(reaction),
        boto3_client=table(settings),
    )
    _layers[(table_name, reaction)] = layer
    return layer


def clear_persistence_cache() -> None:
    """Forget persistence layers (tests, which swap the AWS behind them)."""
    _layers.clear()


def once(
    key: SemanticKey, settings: Settings, action: Callable[[], dict[str, Any]], *, context: LambdaContext | None
) -> dict[str, Any]:
    """Run `action` once per key; a repeat returns the first run's result without acting.

    If `action` raises, no record is kept, so the retry acts again (and must describe before it creates). With the
    Lambda context, an invocation that times out leaves an in-progress record that expires with the invocation,
    so the platform's retry is not blocked.
    """
    config = IdempotencyConfig(expires_after_seconds=settings.idempotency_ttl_seconds, use_local_cache=False)
    if context is not None:
        config.register_lambda_context(context)

    @idempotent_function(
        data_keyword_argument="key",
        persistence_store=_persistence(settings.table_name, key.reaction, settings),
        config=config,
        key_prefix=key.reaction,
    )
    def run(*, key: SemanticKey) -> dict[str, Any]:
        return action()

    try:
        return run(key=key)
    except IdempotencyAlreadyInProgressError as exc:
        raise DuplicateInProgress(
            f"{key.resource_arn} {key.state}: the same state change is being handled by another invocation"
        ) from exc
    except (
        IdempotencyPersistenceLayerError,
        IdempotencyPersistenceConnectionError,
        IdempotencyInconsistentStateError,
    ) as exc:
        raise AwsCallFailed(f"idempotency record in {settings.table_name}: {exc}") from exc
