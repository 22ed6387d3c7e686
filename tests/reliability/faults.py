"""Fault injection for the reliability runner: a botocore `before-call` hook, never product code.

Installed like the sandbox's `CallRecorder` (appended to botocore's `BUILTIN_HANDLERS`, so every session made while
it is installed carries it). While `enabled`, each AWS call of a service with a rate fails with that probability,
drawn from a seeded RNG: throttling, an internal error (HTTP 500), a read timeout, or, for STS AssumeRole, access
denied. The call then never reaches (moto's) AWS, exactly as when the SDK gives up before the service acted.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.handlers import BUILTIN_HANDLERS

# Calls the sandbox itself makes while the product runs (following executions): never faulted.
_HARNESS_CALLS = frozenset({"states:DescribeExecution", "states:GetExecutionHistory", "states:ListExecutions"})
KINDS = ("throttling", "internal", "timeout")


def _client_error(code: str, message: str, status: int, operation: str) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": f"{message} (injected)"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


class FaultInjector:
    """Fails a configurable fraction of AWS calls per service (`rates`: signing name → probability)."""

    def __init__(self, rates: dict[str, float], seed: int) -> None:
        self.rates = rates
        self.injected: Counter[str] = Counter()  # "service:kind" → count
        self.enabled = False
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._handler: tuple[str, Callable[..., None]] = ("before-call", self._before_call)

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def install(self) -> None:
        BUILTIN_HANDLERS.append(self._handler)

    def uninstall(self) -> None:
        if self._handler in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(self._handler)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Inject faults inside this block."""
        previous, self.enabled = self.enabled, True
        try:
            yield
        finally:
            self.enabled = previous

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No faults inside this block (the scripted world's own calls, the redrive)."""
        previous, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = previous

    def _before_call(self, model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        service = model.service_model.signing_name or model.service_model.endpoint_prefix
        operation = model.name
        if f"{service}:{operation}" in _HARNESS_CALLS:
            return
        rate = self.rates.get(service, 0.0)
        with self._lock:
            if rate <= 0 or self._rng.random() >= rate:
                return
            kind = "access-denied" if operation == "AssumeRole" else self._rng.choice(KINDS)
            self.injected[f"{service}:{kind}"] += 1
        if kind == "access-denied":
            raise _client_error("AccessDenied", "not authorized to perform sts:AssumeRole", 403, operation)
        if kind == "throttling":
            raise _client_error("ThrottlingException", "Rate exceeded", 400, operation)
        if kind == "internal":
            raise _client_error("InternalFailure", "We encountered an internal error", 500, operation)
        raise ReadTimeoutError(endpoint_url=f"https://{service}.us-east-1.amazonaws.com/")
