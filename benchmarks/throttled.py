"""Section 3b: the HPO burst under SageMaker throttling, in virtual time, with the function's reserved concurrency.

A sweep's completions reach the training reaction at once. Lambda runs at most `FunctionConcurrency` containers
(template.yaml) and keeps the rest in the function's asynchronous queue; a failed invocation is retried after one
minute, then two, then sent to the on-failure queue ("How Lambda handles errors and retries with asynchronous
invocation", Lambda Developer Guide). SageMaker answers `ThrottlingException` when an API's rate is exceeded
(`RATES`), and the SDK retries with the product's client config (adaptive mode).

Nothing here waits in real time. The containers are threads taking turns on one virtual clock: a thread runs until it
sleeps (botocore's retry backoff, the adaptive rate limiter's token bucket, an idle container waiting for work), and
the clock then jumps to the earliest wake-up. The product's own work takes no virtual time, so the drain time is what
the rate limits, the SDK's backoff and Lambda's retry delays make it; the figures compare it with the least time the
rate limits allow for the calls that had to succeed.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import re
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import botocore.retries.bucket
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse
from moto.iam.models import get_account_id_from

from benchmarks.burst import packages, sweep
from benchmarks.warm import function_of, quiet, warm_container
from sandbox.cloud import Sandbox
from sandbox.world import WORLD

FOLDER = "training_state"
FUNCTION = "TrainingStateFunction"
# Lambda's asynchronous retries of a failed invocation: one minute before the second attempt, two before the third;
# an event is sent to the on-failure destination once its retries (EventInvokeConfig.MaximumRetryAttempts) are spent
# or it is older than MaximumEventAgeInSeconds, throttled waits in the queue included.
RETRY_DELAYS_SECONDS = (60.0, 120.0)
IDLE_POLL_SECONDS = 1.0
TARGET_DRAIN_RATIO = 1.5

# Requests per second per account and Region, by operation prefix. AWS publishes no per-API rates for SageMaker's
# control plane: the developer guide says only that the throttling limits of Create*, Describe* and the other
# management APIs are not adjustable (Quotas, SageMaker AI Developer Guide), and "Amazon SageMaker AI endpoints and
# quotas" (AWS General Reference) lists none. These are assumptions, deliberately low: reads 5/s, writes 1/s, each a
# token bucket holding one second of requests. `RATE_SCALE` runs the same burst at other rates.
RATES: dict[str, float] = {"Describe": 5.0, "List": 5.0, "Search": 5.0, "Create": 1.0, "Update": 1.0, "Stop": 1.0}
RATE_SCALE = 1.0
_CREDENTIAL = re.compile(r"Credential=(?P<key>[A-Z0-9]+)/\d{8}/(?P<region>[a-z0-9-]+)/")


@dataclass(frozen=True)
class LambdaSettings:
    """What template.yaml gives the training reaction: reserved concurrency (the parameter's default) and its
    asynchronous invocation config."""

    containers: int
    retries: int
    max_event_age_seconds: float


def lambda_settings() -> LambdaSettings:
    from sandbox.cloud import AUTOMATION, REGION
    from sandbox.sam import translate

    template = translate(REGION, AUTOMATION)
    config = template["Resources"][f"{FUNCTION}EventInvokeConfig"]["Properties"]
    return LambdaSettings(
        containers=int(template["Parameters"]["FunctionConcurrency"]["Default"]),
        retries=int(config["MaximumRetryAttempts"]),
        max_event_age_seconds=float(config["MaximumEventAgeInSeconds"]),
    )


def describe_rates() -> str:
    return ", ".join(f"{prefix}* {rate * RATE_SCALE:g}/s" for prefix, rate in RATES.items())


class VirtualClock:
    """Threads that take turns: one runs at a time, and time moves only when the running one sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self._condition = threading.Condition()
        self._sleepers: list[tuple[float, int, int]] = []  # (wake at, order, thread id)
        self._order = itertools.count()
        self._running: int | None = None
        self._members: set[int] = set()

    def owns(self) -> bool:
        return threading.get_ident() in self._members

    def join(self) -> None:
        """The calling thread becomes a member; it runs once `start` hands out the first turn."""
        me = threading.get_ident()
        with self._condition:
            self._members.add(me)
            heapq.heappush(self._sleepers, (self.now, next(self._order), me))
            self._condition.notify_all()
            self._condition.wait_for(lambda: self._running == me)

    def start(self, members: int) -> None:
        """Called by the coordinating thread once `members` threads joined: the first one runs."""
        with self._condition:
            self._condition.wait_for(lambda: len(self._sleepers) == members)
            self._next()

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        with self._condition:
            heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), me))
            self._next()
            self._condition.wait_for(lambda: self._running == me)

    def leave(self) -> None:
        with self._condition:
            self._members.discard(threading.get_ident())
            if self._sleepers:
                self._next()
            else:
                self._running = None

    def _next(self) -> None:
        wake, _, member = heapq.heappop(self._sleepers)
        self.now = max(self.now, wake)
        self._running = member
        self._condition.notify_all()


@contextlib.contextmanager
def virtual_time(clock: VirtualClock) -> Iterator[None]:
    """botocore's retry sleep and its adaptive token bucket on `clock`, for the clock's member threads.

    The token bucket waits on a condition variable with a real timeout; in virtual time it sleeps on the clock
    instead (with its lock released, as the condition's wait would release it).
    """

    def sleep(seconds: float) -> None:
        (clock.sleep if clock.owns() else time.sleep)(seconds)

    def now() -> float:
        return clock.now if clock.owns() else time.time()

    shim = types.SimpleNamespace(sleep=sleep, time=now, monotonic=now, perf_counter=time.perf_counter)

    def acquire(bucket: Any, amount: int, block: bool) -> bool:
        bucket._refill()
        while amount > bucket._current_capacity:
            if not block:
                raise botocore.retries.bucket.CapacityNotAvailableError()
            # at least a microsecond: a wait of 1e-16 s would not move the clock (float rounding) and spin
            wait = max(bucket._sleep_amount(amount), 1e-6)
            bucket._lock.release()
            try:
                sleep(wait)
            finally:
                bucket._lock.acquire()
            bucket._refill()
        bucket._current_capacity -= amount
        return True

    saved = (botocore.endpoint.time, botocore.retries.bucket.time, botocore.retries.bucket.TokenBucket._acquire)
    botocore.endpoint.time = shim  # type: ignore[assignment]
    botocore.retries.bucket.time = shim  # type: ignore[assignment]
    botocore.retries.bucket.TokenBucket._acquire = acquire  # type: ignore[method-assign]
    try:
        yield
    finally:
        botocore.endpoint.time, botocore.retries.bucket.time, botocore.retries.bucket.TokenBucket._acquire = saved


@dataclass
class Throttle:
    """SageMaker's rate limits: a token bucket per account, Region and operation, on the virtual clock."""

    clock: VirtualClock
    scale: float = RATE_SCALE
    accepted: Counter[tuple[str, str]] = field(default_factory=Counter)  # (account, operation) -> requests let through
    throttled: Counter[tuple[str, str]] = field(default_factory=Counter)
    _buckets: dict[tuple[str, str, str], tuple[float, float]] = field(default_factory=dict)  # -> (tokens, at)

    def rate(self, operation: str) -> float | None:
        prefix = next((p for p in RATES if operation.startswith(p)), None)
        return RATES[prefix] * self.scale if prefix else None

    def admit(self, request: AWSPreparedRequest) -> bool:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if not target.startswith("SageMaker."):
            return True
        operation = target.split(".", 1)[1]
        rate = self.rate(operation)
        authorization = request.headers.get("Authorization", b"")
        match = _CREDENTIAL.search(authorization.decode() if isinstance(authorization, bytes) else authorization)
        if rate is None or match is None:
            return True
        return self.take((get_account_id_from(match["key"]), match["region"], operation), rate)

    def take(self, key: tuple[str, str, str], rate: float) -> bool:
        """A token from the bucket of (account, region, operation), refilled at `rate` per second up to one second
        of requests; False (throttled) when it is empty."""
        account, _, operation = key
        tokens, at = self._buckets.get(key, (rate, self.clock.now))
        tokens = min(rate, tokens + (self.clock.now - at) * rate)
        if tokens < 1:
            self._buckets[key] = (tokens, self.clock.now)
            self.throttled[(account, operation)] += 1
            return False
        self._buckets[key] = (tokens - 1, self.clock.now)
        self.accepted[(account, operation)] += 1
        return True

    def least_seconds(self) -> float:
        """The least time in which the accepted requests fit their rate limits (each bucket starts full)."""
        return max(
            (max(0.0, (count - self.rate(op)) / self.rate(op)) for (_, op), count in self.accepted.items()),  # type: ignore[operator]
            default=0.0,
        )

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """In front of moto: a request over its rate is answered as SageMaker answers it, HTTP 400
        ThrottlingException (the SDK treats it as a throttling error: botocore/retries/standard.py)."""
        original = BotocoreStubber.__call__
        throttle = self

        def call(stubber: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
            if stubber.enabled and throttle.clock.owns() and not throttle.admit(request):
                body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
                headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "throttled"}
                return AWSResponse(request.url, 400, headers, MockRawResponse(body))  # type: ignore[arg-type]
            return original(stubber, event_name, request, **kwargs)

        BotocoreStubber.__call__ = call  # type: ignore[method-assign]
        try:
            yield
        finally:
            BotocoreStubber.__call__ = original  # type: ignore[method-assign]


@dataclass(frozen=True)
class ThrottledBurst:
    deliveries: int
    containers: int
    drain_seconds: float  # virtual
    least_seconds: float  # what the rate limits allow for the requests that went through
    registered: int
    actions: dict[str, int]
    lambda_retries: int
    retry_reasons: dict[str, int]  # exception type -> failed invocations Lambda retried
    dead_lettered: int
    lost: int  # neither acted on nor dead-lettered
    accepted: dict[str, int]  # operation -> requests SageMaker served (all accounts)
    throttled: dict[str, int]  # operation -> requests SageMaker refused
    real_seconds: float

    @property
    def ratio(self) -> float:
        return self.drain_seconds / self.least_seconds if self.least_seconds else float("inf")


@dataclass
class _Queued:
    event: dict[str, Any]
    due: float
    order: int
    attempts: int = 0
    received: float = 0.0


@dataclass
class _AsyncQueue:
    """Lambda's asynchronous invocation of one function: its queue, its reserved containers taking events from it,
    its retries of failed invocations and its on-failure destination (`dead`)."""

    clock: VirtualClock
    settings: LambdaSettings
    queue: list[tuple[float, int, _Queued]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    dead: list[_Queued] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    busy: int = 0

    def put(self, events: list[dict[str, Any]]) -> None:
        for order, event in enumerate(events):
            item = _Queued(event, self.clock.now, order, received=self.clock.now)
            heapq.heappush(self.queue, (item.due, item.order, item))

    def container(self, invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """One container's loop, on the virtual clock: take the next due event, run it, retry or dead-letter it."""
        self.clock.join()
        try:
            while self.queue or self.busy:
                if not self.queue or self.queue[0][0] > self.clock.now:
                    self.clock.sleep(self.queue[0][0] - self.clock.now if self.queue else IDLE_POLL_SECONDS)
                    continue
                _, _, item = heapq.heappop(self.queue)
                if self.clock.now - item.received > self.settings.max_event_age_seconds:
                    self.dead.append(item)
                    continue
                self.busy += 1
                try:
                    self.results.append(invoke(item.event))
                except Exception as exc:  # the Lambda runtime reports any unhandled error as a failed invocation
                    self._failed(item, exc)
                finally:
                    self.busy -= 1
        finally:
            self.clock.leave()

    def _failed(self, item: _Queued, exc: Exception) -> None:
        item.attempts += 1
        if item.attempts > self.settings.retries:
            self.dead.append(item)
            return
        self.retries[type(exc).__name__] += 1
        item.due = self.clock.now + RETRY_DELAYS_SECONDS[item.attempts - 1]
        heapq.heappush(self.queue, (item.due, item.order, item))


def measure(sandbox: Sandbox, jobs: int = 1000, settings: LambdaSettings | None = None) -> ThrottledBurst:
    """The sweep of section 3 (`burst.sweep`) through the training reaction's reserved containers."""
    settings = settings or lambda_settings()
    stream = sweep(sandbox, jobs, prefix="churn-throttled")
    WORLD.drain()
    clock = VirtualClock()
    throttle = Throttle(clock)
    lambda_ = _AsyncQueue(clock, settings)
    lambda_.put(stream)
    started = time.perf_counter()
    with (
        warm_container(function_of(sandbox, FOLDER)) as invoke,
        virtual_time(clock),
        throttle.installed(),
        open("/dev/null", "w") as sink,
        quiet(sink),
    ):
        threads = [
            threading.Thread(target=lambda_.container, args=(invoke,), daemon=True) for _ in range(settings.containers)
        ]
        for thread in threads:
            thread.start()
        clock.start(settings.containers)
        for thread in threads:
            thread.join()
    real = time.perf_counter() - started
    WORLD.drain()
    registered = packages(sandbox)
    return ThrottledBurst(
        deliveries=len(stream),
        containers=settings.containers,
        drain_seconds=clock.now,
        least_seconds=throttle.least_seconds(),
        registered=registered,
        actions=dict(Counter(str(result.get("action") or result.get("outcome")) for result in lambda_.results)),
        lambda_retries=sum(lambda_.retries.values()),
        retry_reasons=dict(lambda_.retries),
        dead_lettered=len(lambda_.dead),
        lost=len(stream) - len(lambda_.results) - len(lambda_.dead),
        accepted=_by_operation(throttle.accepted),
        throttled=_by_operation(throttle.throttled),
        real_seconds=real,
    )


def _by_operation(counts: Counter[tuple[str, str]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for (_, operation), count in counts.items():
        totals[operation] += count
    return dict(sorted(totals.items()))
