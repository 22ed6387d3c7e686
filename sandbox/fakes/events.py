"""EventBridge where moto lacks it or accepts what EventBridge refuses.

- TestEventPattern (moto raises NotImplementedError): EventBridge's own matcher for one event, with the array
  semantics of `sandbox.patterns`. The event must carry the fields the API reference calls mandatory (TestEventPattern,
  `Event`: id, account, source, time, region, resources, detail-type).
- PutEvents refuses an entry whose `Source` starts with `aws.`, with `NotAuthorizedForSourceException` in its result
  entry (PutEvents API reference, PutEventsResultEntry `ErrorCode`: "You do not have permissions to publish events with
  this source onto this event bus"; the `aws.` prefix is reserved for AWS services' own events). moto accepts it, so a
  tool that re-sent a SageMaker event through PutEvents would work here and fail in AWS.
"""

from __future__ import annotations

import json
from typing import Any

from moto.events.exceptions import InvalidEventPatternException, ValidationException
from moto.events.models import EventsBackend
from moto.events.responses import EventsHandler

from sandbox.patterns import matches

MANDATORY_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")
RESERVED_SOURCE_PREFIX = "aws."
_PUT_EVENTS = EventsBackend.__dict__["put_events"]
_MAX_ENTRIES = 10


def _test_event_pattern(self: EventsHandler) -> str:
    try:
        pattern = json.loads(self._get_param("EventPattern") or "")
    except json.JSONDecodeError as exc:
        raise InvalidEventPatternException(reason=f"the pattern is not JSON: {exc}") from exc
    try:
        event = json.loads(self._get_param("Event") or "")
    except json.JSONDecodeError as exc:
        raise ValidationException(f"Parameter Event is not valid JSON: {exc}") from exc
    missing = [name for name in MANDATORY_EVENT_FIELDS if not isinstance(event, dict) or name not in event]
    if missing:
        raise ValidationException(f"Parameter Event is not valid: it lacks {', '.join(missing)}")
    if not isinstance(pattern, dict):
        raise InvalidEventPatternException(reason="the pattern is not a JSON object")
    return json.dumps({"Result": matches(pattern, event)})


def _put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(events) > _MAX_ENTRIES:
        return list(_PUT_EVENTS(self, events))  # moto refuses the whole request, as EventBridge does
    refused = [str(entry.get("Source", "")).startswith(RESERVED_SOURCE_PREFIX) for entry in events]
    delivered = iter(_PUT_EVENTS(self, [e for e, no in zip(events, refused, strict=True) if not no]))
    return [
        {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
        if no
        else next(delivered)
        for no in refused
    ]


def install() -> None:
    """Put both in moto's EventBridge (idempotent)."""
    EventsHandler.test_event_pattern = _test_event_pattern  # type: ignore[method-assign,assignment]
    EventsBackend.put_events = _put_events  # type: ignore[method-assign]
