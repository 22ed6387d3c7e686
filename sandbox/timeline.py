"""What happened in the sandbox, in order: events, rules, handlers, state machine steps, AWS write calls and the
notifications people received.

Every line names the account it happened in. `calls` are captured by `CallRecorder`, a botocore hook installed on
every session made while the sandbox runs (the way moto itself hooks botocore), so the product's code is untouched.
The concise view shows about one line per decision: what people and SageMaker did (`world`), each handler's outcome,
each notification's subject, each execution's end (or the gate it waits at), and the sandbox's notes; `verbose`
shows every line, the notifications' full text included.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.handlers import BUILTIN_HANDLERS
from moto.iam.models import get_account_id_from

from sandbox import runtime

_READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Query", "Scan", "BatchGet", "Search", "Receive", "AssumeRole")
_CONTEXT_KEY = "sandbox_call"
# A call is named as IAM names its action: the service prefix of the Service Authorization Reference, which is the
# client's signing name except for CloudWatch (signing name `monitoring`, actions `cloudwatch:*`).
_IAM_PREFIXES = {"monitoring": "cloudwatch"}
_ALWAYS_SHOWN = frozenset({"world", "notify", "note"})


@dataclass(frozen=True)
class Line:
    """One line of the timeline.

    kind: event | rule | handler | step | call | note | notify | world. `decision` lines are the concise view: a
    handler's outcome and an execution's end carry `outcome` / `status` in their data.
    """

    at: float
    kind: str
    account: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def decision(self) -> bool:
        return self.kind in _ALWAYS_SHOWN or "outcome" in self.data or "status" in self.data

    def render(self, start: float, *, verbose: bool = False) -> str:
        head = f"{self.at - start:6.2f}s  {self.account or '-':12}  {self.kind:7}  {self.text}"
        body = self.data.get("message", "") if verbose and self.kind == "notify" else ""
        return head + "".join(f"\n{'':33}| {text}" for text in str(body).splitlines())


@dataclass
class Timeline:
    """An append-only list of lines (thread safe: the Step Functions engine runs tasks on its own threads).

    `echo` receives each line as it is added: the decisions only, or every line when `verbose`; `quiet()` keeps lines
    from `echo` for a while (a replay's seeding: what it made is said in one note)."""

    lines: list[Line] = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)
    echo: Callable[[str], None] | None = None
    verbose: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _quiet: int = field(default=0, init=False)

    def add(self, kind: str, account: str, text: str, **data: Any) -> Line:
        line = Line(time.monotonic(), kind, account, text, data)
        with self._lock:
            self.lines.append(line)
            shown = self.echo is not None and not self._quiet and (self.verbose or line.decision)
        if shown and self.echo is not None:
            self.echo(line.render(self.start, verbose=self.verbose))
        return line

    @contextmanager
    def quiet(self) -> Iterator[None]:
        with self._lock:
            self._quiet += 1
        try:
            yield
        finally:
            with self._lock:
                self._quiet -= 1

    def of(self, kind: str) -> list[Line]:
        """Every line of one kind, in order."""
        with self._lock:
            return [line for line in self.lines if line.kind == kind]

    def render(self, *, verbose: bool = True) -> str:
        with self._lock:
            lines = list(self.lines)
        return "\n".join(line.render(self.start, verbose=verbose) for line in lines if verbose or line.decision)


def printer() -> Callable[[str], None]:
    """Echo to the stdout of now: handlers run with stdout redirected to their log, the timeline must not follow.
    Each line is one write under a lock, so lines from the Step Functions engine's threads never run into each other."""
    stream = runtime.process_stdout()
    lock = threading.Lock()

    def echo(line: str) -> None:
        with lock:
            stream.write(line + "\n")
            stream.flush()

    return echo


def is_write(operation: str) -> bool:
    """True for an API call that changes something (Describe/List/Get/Query... and AssumeRole do not)."""
    return not operation.startswith(_READ_ONLY_PREFIXES)


def _resource(params: dict[str, Any], parsed: dict[str, Any]) -> str:
    """What a call acted on: the ARN it returned, else the first ARN/name/URL it was given."""
    for key, value in parsed.items():
        if key.endswith("Arn") and isinstance(value, str):
            return value
    for suffix in ("Arn", "Name", "Url", "Id"):
        for key, value in params.items():
            if key.endswith(suffix) and isinstance(value, str):
                return value
    return ""


class CallRecorder:
    """Records every successful write call made through botocore while `recording()` is active.

    Each record is `{account, region, call: "service:Operation", resource}`; the account is the one the
    credentials land in (moto's own mapping of access keys to accounts). Notifications (SNS Publish) are kept too, as
    `{account, topic, subject, message}`. `by_function` also keeps the access key of
    every call a function made, so a test can find the assumed-role session (and its session policy) that made it.
    """

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.calls: list[dict[str, str]] = []
        self.notifications: list[dict[str, str]] = []
        self.by_function: list[dict[str, str]] = []
        self._active = 0
        self._lock = threading.Lock()
        self._handlers: list[tuple[str, Callable[..., None]]] = [
            ("before-parameter-build", self._on_params),
            ("before-call", self._on_before_call),
            ("after-call", self._on_after_call),
        ]

    def install(self) -> None:
        """Hook botocore: every session created from now on (and its clients) reports its calls here."""
        BUILTIN_HANDLERS.extend(self._handlers)

    def uninstall(self) -> None:
        for handler in self._handlers:
            if handler in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.remove(handler)

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Attribute the calls made inside this block to the product."""
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1

    def _on_params(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context[_CONTEXT_KEY] = {"params": dict(params), "operation": model.name}

    def _on_before_call(self, model: Any, request_signer: Any, context: dict[str, Any], **_: Any) -> None:
        call = context.get(_CONTEXT_KEY)
        if call is None:
            return
        credentials = request_signer._credentials  # botocore keeps no public accessor on the signer
        call["access_key"] = credentials.access_key if credentials else ""
        call["account"] = get_account_id_from(credentials.access_key) if credentials else ""
        call["region"] = request_signer.region_name

    def _on_after_call(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        call = context.get(_CONTEXT_KEY)
        if call is None or self._active == 0 or http_response.status_code >= 300:
            return
        service = model.service_model.signing_name or model.service_model.endpoint_prefix
        service = _IAM_PREFIXES.get(service, service)
        function = runtime.current_function()
        if function:  # every call a function made, reads too: what its role must allow
            with self._lock:
                self.by_function.append(
                    {
                        "function": function,
                        "account": call.get("account", ""),
                        "call": f"{service}:{model.name}",
                        "access_key": call.get("access_key", ""),
                    }
                )
        if not is_write(model.name):
            return
        entry = {
            "account": call.get("account", ""),
            "region": call.get("region", ""),
            "call": f"{service}:{model.name}",
            "resource": _resource(call["params"], parsed),
        }
        with self._lock:
            self.calls.append(entry)
        self.timeline.add("call", entry["account"], f"{entry['call']}  {entry['resource']}", call=entry)
        if entry["call"] == "sns:Publish":
            self._notified(entry, call["params"])

    def _notified(self, call: dict[str, str], params: dict[str, Any]) -> None:
        """What people read: the subject and text of a notification (SNS Publish)."""
        sent = {
            "account": call["account"],
            "topic": str(params.get("TopicArn") or params.get("TargetArn") or ""),
            "subject": str(params.get("Subject") or ""),
            "message": str(params.get("Message") or ""),
        }
        with self._lock:
            self.notifications.append(sent)
        first = sent["message"].splitlines()[0] if sent["message"] else ""
        self.timeline.add("notify", sent["account"], sent["subject"] or first, message=sent["message"])
