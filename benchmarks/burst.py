"""Section 3: an HPO sweep ends 1,000 training jobs at once; a tenth pass the metric gate; duplicates mixed in. Then a
1,000-trial hyperparameter tuning job under `training.tuning: best`: its trials' events and its own `Completed` end in
one registered package, and the AWS calls that took.

Every event goes through the sandbox's router: the workload account's forwarding rule, the automation bus rules of
template.yaml, the real handler in-process. The router gives each invocation a fresh container's caches (it resets
settings, sessions and policies per invocation), so every event also pays AssumeRole and client creation: the rate is
a floor for warm containers.
"""

from __future__ import annotations

import copy
import os
import resource
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from benchmarks.meter import AwsMeter
from benchmarks.warm import quiet, training_job
from sandbox.cloud import AUTOMATION, DEV, REGION, Sandbox
from sandbox.fakes import training as fake_training
from sandbox.fakes import tuning as fake_tuning
from sandbox.router import Router
from sandbox.world import WORLD

FUNCTION = "TrainingStateFunction"


@dataclass(frozen=True)
class Burst:
    jobs: int
    deliveries: int
    seconds: float
    registered: int
    actions: dict[str, int]  # what the training reaction did, over all deliveries
    failed_invocations: int
    peak_rss_mb: float

    @property
    def events_per_second(self) -> float:
        return self.deliveries / self.seconds


def sweep(
    sandbox: Sandbox, jobs: int, *, prefix: str = "churn-hpo-sweep", pass_every: int = 10, duplicate_every: int = 10
) -> list[dict[str, Any]]:
    """The Completed events of a sweep of `jobs` jobs (every `pass_every`-th passes the gate), every
    `duplicate_every`-th followed by a duplicate: alternately of a job that passed the gate and of one that failed."""
    events = []
    for index in range(jobs):
        name = f"{prefix}-{index:04d}"
        training_job(sandbox, name)
        auc = 0.91 if index % pass_every == 0 else 0.71
        events.append(fake_training.set_state(DEV, REGION, name, status="Completed", metrics={"validation:auc": auc}))
    stream = []
    for index, event in enumerate(events):
        stream.append(event)
        if index % duplicate_every == duplicate_every - 1:
            back = duplicate_every - 1 if index // duplicate_every % 2 == 0 else duplicate_every // 2
            stream.append(dict(copy.deepcopy(events[index - back]), id=f"duplicate-{index}"))
    return stream


def measure(sandbox: Sandbox, jobs: int = 1000) -> Burst:
    """`jobs` Completed events through the router (`sweep`)."""
    stream = sweep(sandbox, jobs)
    WORLD.drain()
    router = Router(sandbox)
    started = time.perf_counter()
    with open(os.devnull, "w") as sink, quiet(sink):
        for event in stream:
            router.deliver(event)
    seconds = time.perf_counter() - started
    WORLD.drain()
    invocations = [i for d in router.deliveries for i in d.invocations]
    registered = packages(sandbox)
    return Burst(
        jobs=jobs,
        deliveries=len(stream),
        seconds=seconds,
        registered=registered,
        actions=dict(Counter(str((i.result or {}).get("action")) for i in invocations if i.function == FUNCTION)),
        failed_invocations=sum(1 for i in invocations if i.error),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


@dataclass(frozen=True)
class Sweep:
    trials: int
    deliveries: int
    seconds: float
    registered: int
    aws_calls: int
    calls_by_operation: dict[str, int]  # the most frequent, most first
    failed_invocations: int

    @property
    def events_per_second(self) -> float:
        return self.deliveries / self.seconds


def packages(sandbox: Sandbox) -> int:
    """How many packages group churn holds in the registry."""
    sagemaker = sandbox.client("sagemaker", AUTOMATION)
    if not sagemaker.list_model_package_groups(NameContains="churn")["ModelPackageGroupSummaryList"]:
        return 0
    return len(
        [
            package
            for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName="churn")
            for package in page["ModelPackageSummaryList"]
        ]
    )


def measure_tuning(sandbox: Sandbox, trials: int = 1000) -> Sweep:
    """A tuning job of `trials` trials (the policy's default `training.tuning: best`): every trial's Completed, then
    the tuning job's, through the router; how many packages that registered and the AWS calls the handlers made."""
    WORLD.drain()
    tuning_event = fake_tuning.run_tuning_job(
        sandbox.client("sagemaker", DEV),
        "churn-hpo-1000",
        account=DEV,
        region=REGION,
        group="churn",
        objective={"Type": "Maximize", "MetricName": "validation:auc"},
        values=[0.70 + 0.25 * ((index * 389) % trials) / trials for index in range(trials)],
    )
    stream = [
        event
        for event in WORLD.drain()
        if event["detail-type"] == "SageMaker Training Job State Change"
        and event["detail"]["TrainingJobStatus"] == "Completed"
    ]
    stream.append(tuning_event)
    before = packages(sandbox)
    router = Router(sandbox)
    meter = AwsMeter()
    started = time.perf_counter()
    with open(os.devnull, "w") as sink, quiet(sink), meter.installed():
        for event in stream:
            router.deliver(event)
    seconds = time.perf_counter() - started
    WORLD.drain()
    invocations = [i for d in router.deliveries for i in d.invocations]
    return Sweep(
        trials=trials,
        deliveries=len(stream),
        seconds=seconds,
        registered=packages(sandbox) - before,
        aws_calls=meter.calls,
        calls_by_operation=dict(Counter(meter.operations).most_common(6)),
        failed_invocations=sum(1 for i in invocations if i.error),
    )
