"""Section 4: what a deployment costs: two stages (staging all at once + one approval, prod canary with an alarm), a
shadow test of prod promoted by a person, a batch stage proved by its transform job.

The executions are the ones `benchmarks/deploy_transitions.py` runs (the real ASL on moto's engine, the deploy step
Lambda in-process); this module times each Lambda invocation and prices the run.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks import deploy_transitions
from benchmarks.meter import AwsMeter
from benchmarks.warm import Latency, percentile, quiet
from sandbox import lambdas

# Public list prices, us-east-1, read on https://aws.amazon.com/step-functions/pricing/ and
# https://aws.amazon.com/lambda/pricing/ on 2026-11-27.
STEP_FUNCTIONS_STANDARD_PER_TRANSITION = 0.025 / 1000  # USD, Standard workflows, per state transition
LAMBDA_X86_PER_GB_SECOND = 0.0000166667  # USD, x86, first pricing tier
LAMBDA_PER_REQUEST = 0.20 / 1_000_000  # USD
LAMBDA_MEMORY_GB = 512 / 1024  # template.yaml Globals: MemorySize 512
TARGET_TRANSITIONS = 40


@dataclass(frozen=True)
class DeploymentCost:
    status: str
    transitions: int  # every state entered, wait-loop iterations included
    loop_repeats: int  # states entered by wait-loop iterations beyond each stage's first pass
    invocations: int
    billed_ms: int  # each invocation rounded up to the next millisecond, as Lambda bills
    durations_ms: tuple[float, ...]

    @property
    def fixed_transitions(self) -> int:
        return self.transitions - self.loop_repeats

    @property
    def step_functions_usd(self) -> float:
        return self.transitions * STEP_FUNCTIONS_STANDARD_PER_TRANSITION

    @property
    def lambda_usd(self) -> float:
        return (
            self.invocations * LAMBDA_PER_REQUEST + self.billed_ms / 1000 * LAMBDA_MEMORY_GB * LAMBDA_X86_PER_GB_SECOND
        )


@contextlib.contextmanager
def _timed_invocations(durations: list[float]) -> Iterator[None]:
    """Time every in-process Lambda invocation (`sandbox.lambdas` installs `_invoke` as moto's Lambda backend)."""
    original = lambdas._invoke

    def timed(*args: Any, **kwargs: Any) -> bytes:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            durations.append((time.perf_counter() - started) * 1000)

    lambdas._invoke = timed  # type: ignore[assignment]
    try:
        yield
    finally:
        lambdas._invoke = original  # type: ignore[assignment]


@contextlib.contextmanager
def _restored() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        lambdas.clear()


@contextlib.contextmanager
def _warm_container(samples: list[tuple[float, float, int]]) -> Iterator[None]:
    """The deploy step's container kept warm, as Lambda keeps it between the steps of executions: the sandbox gives
    every invocation cold caches (settings, sessions, clients, policies); here only the first one starts cold. Each
    invocation is timed: (wall ms, CPU ms of the product's own work outside AWS calls, AWS calls)."""
    from lifecycle.config import get_settings

    from sandbox import cloud

    original_invoke, original_reset = lambdas._invoke, cloud.reset_product_caches
    cold = [True]

    def reset_first_only() -> None:
        if cold[0]:
            cold[0] = False
            original_reset()

    def timed(*args: Any, **kwargs: Any) -> bytes:
        meter = AwsMeter()
        with meter.installed(), meter.frozen_heap():
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return original_invoke(*args, **kwargs)
            finally:
                overhead = time.thread_time() - cpu - meter.cpu_seconds
                samples.append(((time.perf_counter() - started) * 1000, overhead * 1000, meter.calls))

    lambdas._invoke = timed  # type: ignore[assignment]
    cloud.reset_product_caches = reset_first_only  # type: ignore[assignment]
    get_settings.cache_clear = lambda: None  # type: ignore[method-assign]  (the container's settings stay read)
    try:
        yield
    finally:
        lambdas._invoke = original_invoke  # type: ignore[assignment]
        cloud.reset_product_caches = original_reset  # type: ignore[assignment]
        del get_settings.cache_clear  # type: ignore[attr-defined]  (the lru_cache's own method again)
        original_reset()


def measure_warm(deployments: int) -> Latency:
    """Warm latency of the deploy step over `deployments` successive deployments, after one that warms the container
    up (its first invocation starts cold, and its first call to each account makes that account's clients)."""
    samples: list[tuple[float, float, int]] = []
    ends: list[int] = []
    with _restored(), open(os.devnull, "w") as sink, quiet(sink), _warm_container(samples):
        runs = deploy_transitions.successive(deployments + 1, after_each=lambda: ends.append(len(samples)))
    counted = samples[ends[0] :]
    totals = [total for total, _, _ in counted]
    overheads = [overhead for _, overhead, _ in counted]
    return Latency(
        reaction="deploy_step",
        path=f"{deployments} deployments",
        events=len(counted),
        total_p50_ms=percentile(totals, 50),
        total_p99_ms=percentile(totals, 99),
        overhead_p50_ms=percentile(overheads, 50),
        overhead_p99_ms=percentile(overheads, 99),
        aws_calls=statistics.median(calls for _, _, calls in counted),
        outcomes=dict(Counter(run.status.lower() for run in runs[1:])),
    )


def measure(scenario: str = "two-stage deployment") -> DeploymentCost:
    """The cost of the measured execution of `scenario` (a key of `deploy_transitions.SCENARIOS`): Lambda invocations
    are counted from its start (a deployment that only sets the stage up is not)."""
    durations: list[float] = []
    with _restored(), open(os.devnull, "w") as sink, quiet(sink), _timed_invocations(durations):
        run = deploy_transitions.SCENARIOS[scenario](durations.clear)
    return DeploymentCost(
        status=run.status,
        transitions=len(run.states),
        loop_repeats=deploy_transitions.loop_repeats(run),
        invocations=len(durations),
        billed_ms=sum(math.ceil(ms) for ms in durations),
        durations_ms=tuple(durations),
    )
