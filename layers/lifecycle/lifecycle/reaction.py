"""The one way every reaction runs: trust → parse → act, with refusals logged and failures raised.

A handler is `return run(event, reaction=..., model=..., act=...)`; `act` holds the decisions and gets a
`Reaction` that gives it clients in the right account, audit records and notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext

from lifecycle.accounts import check_arns_in_account, check_trust
from lifecycle.config import get_settings
from lifecycle.context import Context
from lifecycle.errors import RefusedEvent
from lifecycle.events import LifecycleEvent, event_id_of, parse_event
from lifecycle.observability import count, logger, metrics
from lifecycle.policy import Policy
from lifecycle.store.audit import Outcome
from lifecycle.store.idempotency import SemanticKey, once

E = TypeVar("E", bound=LifecycleEvent)


@dataclass(frozen=True)
class Reaction(Context, Generic[E]):
    """What an `act` function needs: the trusted, parsed event and the context to act, record and tell."""

    event: E
    lambda_context: LambdaContext | None

    def once(self, key: SemanticKey, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run `action` once per semantic key (see `lifecycle.store.idempotency`)."""
        return once(key, self.settings, action, context=self.lambda_context)

    def client(self, service: str, account: str | None = None, region: str | None = None) -> Any:
        """A client acting in `account`/`region`, by default the event's."""
        return self.client_in(service, account or self.event.account, region or self.event.region)

    def record(
        self,
        policy: Policy,
        *,
        action: str,
        outcome: Outcome,
        reason: str,
        account: str,
        region: str,
        resource: str = "",
        version: int | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        """The audit record of one decision taken for this event, under the policy's group."""
        self.audit(
            group=policy.group,
            action=action,
            outcome=outcome,
            reason=reason,
            account=account,
            region=region,
            resource=resource,
            version=version,
            details=details,
            sensitive=policy.sensitive,
        )

    def told(
        self,
        policy: Policy,
        *,
        action: str,
        reason: str,
        resource: str,
        subject: str,
        kind: str,
        lines: list[str] | None = None,
        version: int | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        """A decision that ends in telling people: its audit record (outcome `notified`, in the event's account and
        region) and the notification (`lines`, by default the reason)."""
        self.record(
            policy,
            action=action,
            outcome="notified",
            reason=reason,
            account=self.event.account,
            region=self.event.region,
            resource=resource,
            version=version,
            details=details,
        )
        self.tell(policy, subject=subject, lines=[reason] if lines is None else lines, kind=kind)

    def tell(self, policy: Policy, *, subject: str, lines: list[str], kind: str) -> None:
        """Notify people, on the policy's topic when it names one.

        For a `sensitive` policy the message holds only the decision (the subject), the resource ARN and the event
        id: no detail of the event (failure reasons, rule findings, ...) leaves for a mailbox.
        """
        if policy.sensitive:
            lines = [subject, f"resource: {self.event.primary_arn}"]
        self.notify(
            group=policy.group,
            subject=subject,
            lines=[*lines, f"event: {self.event.id}"],
            kind=kind,
            topic_arn=policy.notifications.topic_arn,
        )


def run(
    raw: Any,
    context: LambdaContext | None,
    *,
    reaction: str,
    model: type[E] | tuple[type[E], ...],
    act: Callable[[Reaction[E]], dict[str, Any]],
) -> dict[str, Any]:
    """Run one reaction on one raw EventBridge event.

    Refused events (untrusted, malformed, no policy, nothing to act on) are logged with their reason and event id
    and change nothing. Anything else that goes wrong raises, so the platform retries and then dead-letters.
    """
    settings = get_settings()
    event_id = event_id_of(raw)
    logger.append_keys(event_id=event_id, reaction=reaction)
    metrics.add_dimension(name="reaction", value=reaction)  # per reaction on the dashboard (template.yaml)
    try:
        if not isinstance(raw, dict):
            raise RefusedEvent(f"event is a {type(raw).__name__}, not a JSON object")
        check_trust(raw, settings)
        event = parse_event(raw, model)
        check_arns_in_account(event.named_arns(), event.account)
        result = act(Reaction(settings=settings, name=reaction, event_id=event.id, event=event, lambda_context=context))
    except RefusedEvent as refusal:
        logger.warning(
            f"{refusal.outcome}: {refusal.reason}",
            extra={"outcome": refusal.outcome, "reason": refusal.reason, "error": type(refusal).__name__},
        )
        count(f"Events{refusal.outcome.capitalize()}")
        return {"outcome": refusal.outcome, "reason": refusal.reason, "event_id": event_id}
    count("EventsActedOn")
    return {"outcome": "acted", "event_id": event_id, **result}
