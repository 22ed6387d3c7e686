"""`lifecycle dlq list | show ID | redrive [ID...|--all] [--dry-run]`: the automation stack's dead-letter queue.

Two AWS services write dead letters here, each in its own form:
- Lambda, as the on-failure destination of a reaction's function: an invocation record (Lambda Developer Guide,
  "Capturing records of Lambda asynchronous invocations"): the event in `requestPayload`, the function in
  `requestContext.functionArn`, the error in `responsePayload`, the attempts in `approximateInvokeCount`.
- EventBridge, for a rule target it could not deliver to: the event itself as the body; rule, target and error in the
  message attributes RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, RETRY_ATTEMPTS (EventBridge User Guide, "Event
  retry policy and using dead-letter queues").
SNS keeps here the notifications it could not deliver to the email subscription: listed, never redriven.

Redrive delivers the original event again, unchanged, to what failed, the way EventBridge delivers to a rule's
target: an asynchronous Invoke of the reaction's function (Lambda retries it, and dead-letters it again if it still
fails). It cannot go through PutEvents: EventBridge refuses an `aws.*` source there (NotAuthorizedForSourceException,
PutEvents API reference), and would stamp the caller's account on the event, the very field the product's authority
checks read. A dead letter of the forwarding rule (its target is the lifecycle bus) goes to the functions of every
lifecycle-bus rule whose pattern matches the event (TestEventPattern). The message is deleted only after every Invoke
was accepted; idempotency makes a redriven event act once however often it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from lifecycle.aws import aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.errors import LifecycleError
from pydantic import BaseModel, Field
from rich.console import Console
from rich.text import Text

from cli.connect import CliError, client
from cli.render import emit_json
from cli.stack import Stack

# Messages stay invisible to other readers while a command holds them, then are released at once.
_HOLD_SECONDS = 60
# Short polling samples a subset of SQS's servers and may answer empty while messages wait; a long poll asks all of
# them ("Amazon SQS short and long polling", SQS Developer Guide).
_POLL_SECONDS = 1
_MAX_MESSAGES = 1000
_ID_PREFIX_MIN = 8

Kind = Literal["function", "rule", "notification"]


class DeadLetter(BaseModel):
    """One message of the dead-letter queue, read."""

    id: str = Field(description="the SQS message id")
    dead_lettered_at: datetime | None
    receive_count: int
    kind: Kind = Field(description="function: a reaction failed; rule: EventBridge could not deliver; notification")
    failed: str = Field(description="the function or rule that failed")
    target: str = Field(description="what the event was for: a function or bus ARN ('' for a notification)")
    error: str
    attempts: int | None
    event: Any = Field(default=None, description="the original event")
    receipt: str = Field(default="", exclude=True, repr=False)

    @property
    def event_id(self) -> str:
        return str(self.event.get("id", "")) if isinstance(self.event, dict) else ""

    @property
    def what(self) -> str:
        """`detail-type: resource (account)` of the event, or what the message is instead."""
        if self.kind == "notification":
            return "a notification SNS could not deliver"
        if not isinstance(self.event, dict):
            return "not an EventBridge event"
        resources = self.event.get("resources") or [""]
        name = str(resources[0]).rsplit("/", 1)[-1] if isinstance(resources, list) and resources else ""
        return f"{self.event.get('detail-type', '?')}: {name} ({self.event.get('account', '?')})"


def _name(arn: str) -> str:
    """The resource name at the end of a Lambda function or EventBridge rule ARN."""
    if ":function:" in arn:
        return arn.split(":function:", 1)[1].split(":", 1)[0]
    return arn.rsplit("/", 1)[-1]


def _function_arn(arn: str) -> str:
    """A function ARN without its version or alias qualifier (`...:function:name:$LATEST` → `...:function:name`)."""
    return ":".join(arn.split(":")[:7])


def _attribute(message: dict[str, Any], name: str) -> str:
    return str(message.get("MessageAttributes", {}).get(name, {}).get("StringValue", ""))


def parse(message: dict[str, Any]) -> DeadLetter:
    """What one SQS message of the queue says, whichever service wrote it."""
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    common = {
        "id": message["MessageId"],
        "dead_lettered_at": datetime.fromtimestamp(int(sent) / 1000, tz=UTC) if sent else None,
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
        "receipt": message.get("ReceiptHandle", ""),
    }
    try:
        body = json.loads(message.get("Body", ""))
    except json.JSONDecodeError:
        body = message.get("Body", "")
    rule = _attribute(message, "RULE_ARN")
    if rule:
        retries = _attribute(message, "RETRY_ATTEMPTS")
        return DeadLetter(
            **common,
            kind="rule",
            failed=_name(rule),
            target=_attribute(message, "TARGET_ARN"),
            error=": ".join(
                part for part in (_attribute(message, "ERROR_CODE"), _attribute(message, "ERROR_MESSAGE")) if part
            ),
            attempts=int(retries) + 1 if retries.isdigit() else None,
            event=body,
        )
    if isinstance(body, dict) and isinstance(body.get("requestContext"), dict) and "requestPayload" in body:
        context = body["requestContext"]
        response = body.get("responsePayload")
        error = (
            ": ".join(str(response[key]) for key in ("errorType", "errorMessage") if response.get(key))
            if isinstance(response, dict)
            else ""
        )
        function = _function_arn(str(context.get("functionArn", "")))
        return DeadLetter(
            **common,
            kind="function",
            failed=_name(function),
            target=function,
            error=error or str(context.get("condition", "")),
            attempts=context.get("approximateInvokeCount"),
            event=body["requestPayload"],
        )
    return DeadLetter(**common, kind="notification", failed="", target="", error="", attempts=None, event=body)


# --- reading ---------------------------------------------------------------------------------------------------------
@dataclass
class Queue:
    """The dead-letter queue of one automation stack."""

    settings: Settings
    url: str

    @classmethod
    def of(cls, settings: Settings, stack: Stack) -> Queue:
        return cls(settings, stack.output("DeadLetterQueueUrl"))

    @property
    def _sqs(self) -> Any:
        return client("sqs", self.settings)

    def depth(self) -> tuple[int, int]:
        """(messages waiting, messages held by a reader right now), as SQS approximates them."""
        with aws_errors(f"sqs:GetQueueAttributes {self.url}"):
            found = self._sqs.get_queue_attributes(
                QueueUrl=self.url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        return int(found["ApproximateNumberOfMessages"]), int(found["ApproximateNumberOfMessagesNotVisible"])

    @contextmanager
    def held(self) -> Iterator[list[DeadLetter]]:
        """Every message of the queue (up to 1,000), oldest first, held from other readers inside the block; those
        not deleted inside it are released at its end."""
        letters: dict[str, DeadLetter] = {}
        try:
            with aws_errors(f"sqs:ReceiveMessage {self.url}"):
                while len(letters) < _MAX_MESSAGES:
                    batch = self._sqs.receive_message(
                        QueueUrl=self.url,
                        MaxNumberOfMessages=10,
                        VisibilityTimeout=_HOLD_SECONDS,
                        WaitTimeSeconds=_POLL_SECONDS,
                        AttributeNames=["All"],
                        MessageAttributeNames=["All"],
                    ).get("Messages", [])
                    if not batch:
                        break
                    for message in batch:
                        letters[message["MessageId"]] = parse(message)
            yield sorted(
                letters.values(), key=lambda letter: letter.dead_lettered_at or datetime.min.replace(tzinfo=UTC)
            )
        finally:
            self._release([letter for letter in letters.values() if letter.receipt])

    def delete(self, letter: DeadLetter) -> None:
        with aws_errors(f"sqs:DeleteMessage {letter.id}"):
            self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=letter.receipt)
        letter.receipt = ""

    def _release(self, letters: list[DeadLetter]) -> None:
        for start in range(0, len(letters), 10):
            entries = [
                {"Id": str(index), "ReceiptHandle": letter.receipt, "VisibilityTimeout": 0}
                for index, letter in enumerate(letters[start : start + 10])
            ]
            # Not released on failure: visible again once the hold expires (_HOLD_SECONDS).
            with suppress(ClientError, BotoCoreError):
                self._sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)


def listing(settings: Settings, stack: Stack) -> list[DeadLetter]:
    """Every dead letter of the stack, oldest first (released again: `list` changes nothing)."""
    with Queue.of(settings, stack).held() as letters:
        return letters


def find(letters: list[DeadLetter], wanted: str) -> DeadLetter:
    """The letter whose message id is `wanted` or starts with it (at least 8 characters, unambiguous)."""
    exact = [letter for letter in letters if letter.id == wanted]
    if exact:
        return exact[0]
    if len(wanted) < _ID_PREFIX_MIN:
        raise CliError(f"{wanted!r}: give the message id, or at least its first {_ID_PREFIX_MIN} characters")
    found = [letter for letter in letters if letter.id.startswith(wanted)]
    if not found:
        raise CliError(f"no dead letter {wanted!r} in the queue (`lifecycle dlq list` shows what it holds)")
    if len(found) > 1:
        raise CliError(f"{wanted!r} is the start of {len(found)} message ids: give more of it")
    return found[0]


# --- redrive ---------------------------------------------------------------------------------------------------------
class Redrive(BaseModel):
    """What redriving one dead letter did (or would do, with --dry-run)."""

    id: str
    event_id: str
    to: list[str] = Field(default_factory=list, description="the functions the event is (or would be) delivered to")
    redriven: bool = False
    reason: str = Field(default="", description="why it is not redriven")


@dataclass(frozen=True)
class BusRule:
    name: str
    pattern: str
    functions: tuple[str, ...]


class Router:
    """Where an event goes on the lifecycle bus: its rules, their patterns and their Lambda targets."""

    def __init__(self, settings: Settings, stack: Stack) -> None:
        self.settings = settings
        self.bus_arn = stack.output("LifecycleBusArn")
        self._events = client("events", settings)
        self.rules = self._read(stack.output("LifecycleBusName"))
        self.functions = frozenset(function for rule in self.rules for function in rule.functions)

    def _read(self, bus: str) -> list[BusRule]:
        rules: list[BusRule] = []
        kwargs: dict[str, Any] = {"EventBusName": bus}
        with aws_errors(f"events:ListRules {bus}"):
            while True:
                page = self._events.list_rules(**kwargs)
                for rule in page["Rules"]:
                    if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                        continue
                    targets = self._events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
                    functions = tuple(_function_arn(t["Arn"]) for t in targets if ":lambda:" in t["Arn"])
                    rules.append(BusRule(rule["Name"], rule["EventPattern"], functions))
                if not page.get("NextToken"):
                    return rules
                kwargs["NextToken"] = page["NextToken"]

    def matching(self, event: dict[str, Any]) -> list[str]:
        """The functions of every enabled rule whose pattern matches `event`, as EventBridge would deliver it."""
        found: list[str] = []
        with aws_errors("events:TestEventPattern"):
            for rule in self.rules:
                if self._events.test_event_pattern(EventPattern=rule.pattern, Event=json.dumps(event))["Result"]:
                    found += [function for function in rule.functions if function not in found]
        return found

    def destinations(self, letter: DeadLetter) -> list[str]:
        """The functions to deliver `letter`'s event to; `CliError` says why it cannot be redriven."""
        if letter.kind == "notification":
            raise CliError(
                "a notification SNS could not deliver, not an event: read it with `dlq show`, then delete it"
            )
        if not isinstance(letter.event, dict) or not letter.event.get("detail-type"):
            raise CliError("its payload is not an EventBridge event")
        if letter.target == self.bus_arn:
            found = self.matching(letter.event)
            if not found:
                raise CliError("no rule of the lifecycle bus matches the event")
            return found
        if letter.target in self.functions:
            return [letter.target]
        raise CliError(f"{letter.target or 'its target'} is not a function of a lifecycle-bus rule of this stack")


def _invoke(settings: Settings, function: str, event: dict[str, Any]) -> None:
    """Hand `event` to `function` as EventBridge does: an asynchronous Invoke (202: Lambda accepted it)."""
    try:
        answer = client("lambda", settings).invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode()
        )
    except ClientError as exc:
        raise CliError(f"lambda:Invoke {_name(function)}: {error_code(exc)}: {exc}") from exc
    except BotoCoreError as exc:
        raise CliError(f"lambda:Invoke {_name(function)}: {exc}") from exc
    if answer.get("StatusCode") != 202:
        raise CliError(f"lambda:Invoke {_name(function)} answered {answer.get('StatusCode')}, not 202 Accepted")


def redrive(settings: Settings, stack: Stack, ids: list[str] | None, *, dry_run: bool) -> list[Redrive]:
    """Deliver the events of the dead letters `ids` (every one when None) again; delete each message only after
    every Invoke of its event was accepted. With `dry_run`, say where each would go and change nothing."""
    router = Router(settings, stack)
    queue = Queue.of(settings, stack)
    results: list[Redrive] = []
    with queue.held() as letters:
        chosen = letters if ids is None else [find(letters, wanted) for wanted in ids]
        for letter in {letter.id: letter for letter in chosen}.values():
            result = Redrive(id=letter.id, event_id=letter.event_id)
            results.append(result)
            try:
                result.to = router.destinations(letter)
                if dry_run:
                    continue
                for function in result.to:
                    _invoke(settings, function, letter.event)
                queue.delete(letter)
                result.redriven = True
            except (CliError, LifecycleError) as exc:
                result.reason = str(exc)
    return results


# --- the command -----------------------------------------------------------------------------------------------------
def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def summary(letters: list[DeadLetter], stack: str) -> str:
    """Three short lines per dead letter (readable at 80 columns): id, when and what failed; the event; the error."""
    lines = [f"{len(letters)} dead letter(s), oldest first"]
    for letter in letters:
        failed = letter.failed.removeprefix(f"{stack}-") or letter.kind
        attempts = f" after {letter.attempts} attempt(s)" if letter.attempts else ""
        lines += [
            f"{letter.id[:_ID_PREFIX_MIN]}  {_when(letter.dead_lettered_at)} UTC  {failed} failed{attempts}",
            f"  event  {letter.what}",
            f"  error  {letter.error or '-'}",
        ]
    return "\n".join(lines)


def details(letter: DeadLetter) -> str:
    attempts = f" after {letter.attempts} attempt(s)" if letter.attempts else ""
    lines = [
        f"id             {letter.id}",
        f"dead-lettered  {_when(letter.dead_lettered_at)} UTC (read {letter.receive_count} time(s))",
        f"kind           {letter.kind}" + (f": {letter.failed} failed{attempts}" if letter.failed else ""),
        f"target         {letter.target or '-'}",
        f"error          {letter.error or '-'}",
        f"event          {letter.what}" + (f", id {letter.event_id}" if letter.event_id else ""),
        json.dumps(letter.event, indent=2, default=str),
    ]
    return "\n".join(lines)


def command(args: Any, settings: Settings, stack: Stack, out: Console) -> bool:
    """Run `lifecycle dlq ACTION`; False when something asked for could not be done."""
    if args.dlq_command == "list":
        letters = listing(settings, stack)
        if args.json:
            emit_json(out, letters)
        elif letters:
            out.print(summary(letters, settings.stack_name), markup=False, highlight=False)
        else:
            out.print("the dead-letter queue is empty")
        return True
    if args.dlq_command == "show":
        letter = find(listing(settings, stack), args.id)
        if args.json:
            emit_json(out, letter)
        else:
            out.print(details(letter), markup=False, highlight=False)
        return True
    results = redrive(settings, stack, None if args.all else args.ids, dry_run=args.dry_run)
    if args.json:
        emit_json(out, results)
    else:
        _print_redrive(out, results, dry_run=args.dry_run)
    return all(not result.reason for result in results)


def _print_redrive(out: Console, results: list[Redrive], *, dry_run: bool) -> None:
    if not results:
        out.print("the dead-letter queue is empty: nothing to redrive")
    for result in results:
        to = ", ".join(_name(function) for function in result.to)
        if result.reason:
            out.print(Text(f"not redriven {result.id}: {result.reason} (message kept)", style="red"))
        elif dry_run:
            out.print(f"would redrive {result.id} (event {result.event_id}) to {to}")
        else:
            out.print(f"redriven {result.id} (event {result.event_id}) to {to}; message deleted")
