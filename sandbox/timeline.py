"""What happened in the sandbox, in order: events, rules, handlers, state machine steps and AWS write calls.

Every line names the account it happened in. `calls` are captured by `CallRecorder`, a botocore hook installed on
every session made while the sandbox runs (the way moto itself hooks botocore), so the product's code is untouched.
"""

from __future__ import annotations

import sys
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


@dataclass(frozen=True)
class Line:
    """One line of the timeline."""

    at: float
    kind: str  # event | rule | handler | step | call | note | act
    account: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def render(self, start: float) -> str:
        return f"{self.at - start:6.2f}s  {self.account or '-':12}  {self.kind:7}  {self.text}"


@dataclass
class Timeline:
    """An append-only list of lines (thread safe: the Step Functions engine runs tasks on its own threads)."""

    lines: list[Line] = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)
    echo: Callable[[str], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, account: str, text: str, **data: Any) -> Line:
        line = Line(time.monotonic(), kind, account, text, data)
        with self._lock:
            self.lines.append(line)
        if self.echo is not None:
            self.echo(line.render(self.start))
        return line

    def of(self, kind: str) -> list[Line]:
        """Every line of one kind, in order."""
        with self._lock:
            return [line for line in self.lines if line.kind == kind]

    def render(self) -> str:
        return "\n".join(line.render(self.start) for line in self.lines)


def printer() -> Callable[[str], None]:
    """Echo to the stdout of now: handlers run with stdout redirected to their log, the timeline must not follow."""
    stream = sys.stdout

    def echo(line: str) -> None:
        print(line, file=stream, flush=True)

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
    credentials land in (moto's own mapping of access keys to accounts). `by_function` also keeps the access key of
    every call a function made, so a test can find the assumed-role session (and its session policy) that made it.
    """

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.calls: list[dict[str, str]] = []
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
