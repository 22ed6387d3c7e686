"""The one context every decision acts through: a reaction handling an event, or a DeployModel step of an execution.

It gives clients in an account (the workload execution role, assumed for this actor and this event, with the actor's
session policy; the automation account's own credentials for the lifecycle table, the topic and the state machine),
the audit record of each decision, and notifications to people. `lifecycle.reaction.Reaction` and
`lifecycle.deploy.steps.StepContext` are this context with what their caller knows (the event; the plan and stage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifecycle.accounts import client_for, own_client
from lifecycle.config import Settings
from lifecycle.notify import notify
from lifecycle.observability import logger
from lifecycle.store.audit import AuditRecord, Outcome, record


@dataclass(frozen=True)
class Context:
    """Who acts (`name`: the reaction, or `deploy-model`), for what (`event_id`: the event, or the execution)."""

    settings: Settings
    name: str
    event_id: str

    def client_in(self, service: str, account: str, region: str) -> Any:
        """A client acting in `account`/`region` (AssumeRole there, unless it is the automation account)."""
        return client_for(service, account, region, self.settings, reaction=self.name, event_id=self.event_id)

    def own(self, service: str) -> Any:
        """A client with the function's own credentials in the automation account."""
        return own_client(service, self.settings)

    def audit(
        self,
        *,
        group: str,
        action: str,
        outcome: Outcome,
        reason: str,
        account: str,
        region: str,
        resource: str = "",
        version: int | None = None,
        details: dict[str, str] | None = None,
        sensitive: bool = False,
    ) -> None:
        """Write the audit record of one decision, and log it (for a sensitive policy the log line leaves out the
        reason: it stays in the encrypted table)."""
        record(
            AuditRecord(
                group=group,
                action=action,
                outcome=outcome,
                reason=reason,
                event_id=self.event_id,
                reaction=self.name,
                account=account,
                region=region,
                resource=resource,
                version=version,
                details=details or {},
            ),
            self.settings,
        )
        message = f"{action}: {outcome}" if sensitive else f"{action}: {outcome}: {reason}"
        logger.info(message, extra={"group": group, "resource": resource, "account": account})

    def notify(self, *, group: str, subject: str, lines: list[str], kind: str, topic_arn: str | None = None) -> None:
        """Tell people on the stack's topic, or on `topic_arn` (the policy's)."""
        notify(self.settings, subject=subject, lines=lines, group=group, kind=kind, topic_arn=topic_arn)
