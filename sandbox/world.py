"""What SageMaker would say: the events the fakes emit when a resource changes state.

SageMaker publishes a state change to the default event bus of the account the resource lives in; the
workload-account stack forwards it to the automation bus. Fakes call `emit`; the sandbox router drains `WORLD`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class World:
    """Events emitted and not yet delivered, in order."""

    emitted: list[dict[str, Any]] = field(default_factory=list)

    def emit(
        self,
        *,
        account: str,
        region: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: list[str],
        source: str = "aws.sagemaker",
    ) -> dict[str, Any]:
        """Record the EventBridge event SageMaker (or CloudWatch) would publish for a state change."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": resources,
            "detail": detail,
        }
        self.emitted.append(event)
        return event

    def drain(self) -> list[dict[str, Any]]:
        """Take every emitted event out of the world, oldest first."""
        events, self.emitted = self.emitted, []
        return events


WORLD = World()


def epoch_millis(when: datetime) -> int:
    """SageMaker events carry timestamps as epoch milliseconds."""
    return int(when.timestamp() * 1000)
