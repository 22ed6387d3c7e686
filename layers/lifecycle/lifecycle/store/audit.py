"""The audit trail: one DynamoDB item per decision, queryable per model package group.

Its items live in the lifecycle table (keys: `lifecycle.store`), one partition per group, sorted by time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel, Field

from lifecycle.aws import aws_errors
from lifecycle.config import Settings
from lifecycle.store import AUDIT_END, AUDIT_PREFIX, PARTITION_KEY, SORT_KEY, audit_partition, audit_sort_key, table

Outcome = Literal["done", "skipped", "refused", "failed", "notified"]
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class AuditRecord(BaseModel):
    """Who/what/where/why of one decision."""

    group: str
    action: str = Field(description="what was decided, e.g. register-model-package, stop-training-job")
    outcome: Outcome
    reason: str
    event_id: str
    reaction: str
    account: str
    region: str
    resource: str = ""
    version: int | None = None
    details: dict[str, str] = Field(default_factory=dict)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def item(self) -> dict[str, Any]:
        """The DynamoDB item (attribute-value form) of this record."""
        body = self.model_dump(mode="json", exclude_none=True)
        item = {
            PARTITION_KEY: audit_partition(self.group),
            SORT_KEY: audit_sort_key(body["at"], self.event_id, self.action),
            **body,
        }
        return {key: _serializer.serialize(value) for key, value in item.items()}


def record(entry: AuditRecord, settings: Settings) -> None:
    """Write one audit record in the automation account's table."""
    with aws_errors("dynamodb:PutItem audit record"):
        table(settings).put_item(TableName=settings.table_name, Item=entry.item())


def history(group: str, settings: Settings, *, since: datetime | None = None) -> list[AuditRecord]:
    """The audit trail of a group, oldest first."""
    start = f"{AUDIT_PREFIX}{since.astimezone(UTC).isoformat()}" if since else AUDIT_PREFIX
    kwargs: dict[str, Any] = {
        "TableName": settings.table_name,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :start AND :end",
        "ExpressionAttributeValues": {
            ":pk": {"S": audit_partition(group)},
            ":start": {"S": start},
            ":end": {"S": AUDIT_END},
        },
    }
    records: list[AuditRecord] = []
    with aws_errors("dynamodb:Query audit trail"):
        while True:
            page = table(settings).query(**kwargs)
            records += [
                AuditRecord.model_validate({k: _deserializer.deserialize(v) for k, v in item.items()})
                for item in page["Items"]
            ]
            if "LastEvaluatedKey" not in page:
                return records
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
