"""Section 2: warm per-event latency of each reaction, in-process against moto, on the deployed sandbox.

Each reaction gets its own stream of distinct events (one resource each, so every event does real work: describe,
create, record, tell), run through the real handler in one warm container (caches kept, as Lambda keeps them). The
first event pays the container's first-use costs (AssumeRole, clients, policy fetch) and is not counted. Then a
tenth of the events is sent again under new event ids: the duplicate path, answered by the idempotency record.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.meter import AwsMeter
from sandbox import runtime
from sandbox.cloud import AUTOMATION, DEV, REGION, Function, Sandbox
from sandbox.fakes import labeling as fake_labeling
from sandbox.fakes import training as fake_training
from sandbox.replay import labeling_job_request
from sandbox.world import WORLD

ROOT = Path(__file__).resolve().parent.parent
TARGET_OVERHEAD_P99_MS = 5.0


@dataclass(frozen=True)
class Latency:
    reaction: str
    path: str  # "new" (distinct resources) or "duplicate" (idempotency hit)
    events: int
    total_p50_ms: float
    total_p99_ms: float
    overhead_p50_ms: float  # CPU time of the product's own work (outside AWS calls) on the invoking thread
    overhead_p99_ms: float
    aws_calls: float  # per event (median)
    outcomes: dict[str, int]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def training_job(sandbox: Sandbox, name: str, account: str = DEV) -> None:
    fake_training.start_job(sandbox.client("sagemaker", account), name, account=account, region=REGION, group="churn")


def completed_training(sandbox: Sandbox, index: int) -> dict[str, Any]:
    """A job of the sweep ends Completed with validation:auc above the gate (the reaction registers it)."""
    name = f"churn-warm-{index:05d}"
    training_job(sandbox, name)
    return fake_training.set_state(DEV, REGION, name, status="Completed", metrics={"validation:auc": 0.91})


def debugger_issues(sandbox: Sandbox, index: int) -> dict[str, Any]:
    """A running job's LossNotDecreasing rule finds issues (the policy stops on it)."""
    name = f"churn-debug-{index:05d}"
    training_job(sandbox, name)
    return fake_training.set_rule_status(DEV, REGION, name, rule="LossNotDecreasing", status="IssuesFound")


def labeling_completed(sandbox: Sandbox, index: int) -> dict[str, Any]:
    """A Ground Truth job completes with 500 labels (the reaction starts training on them)."""
    name = f"churn-labels-{index:05d}"
    sandbox.client("sagemaker", DEV).create_labeling_job(**labeling_job_request(name, DEV))
    return fake_labeling.complete_labeling_job(DEV, REGION, name, human=120, machine=380)


def package_pending(sandbox: Sandbox, index: int) -> dict[str, Any]:
    """A package is registered PendingManualApproval (the reaction asks the approvers)."""
    sagemaker = sandbox.client("sagemaker", AUTOMATION)
    if index == 0:
        sagemaker.create_model_package_group(ModelPackageGroupName="churn")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification={
            "Containers": [
                {"Image": fake_training.XGBOOST_IMAGE, "ModelDataUrl": f"s3://example-ml/churn/{index}/model.tar.gz"}
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"metric:validation:auc": "0.91"},
    )["ModelPackageArn"]
    event = json.loads((ROOT / "events" / "model-package-pending.json").read_text())
    millis = int(datetime.now(UTC).timestamp() * 1000)
    event["id"] = f"pending-{index}"
    event["resources"] = [arn]
    event["detail"] |= {
        "ModelPackageArn": arn,
        "ModelPackageVersion": int(arn.rsplit("/", 1)[1]),
        "CreationTime": millis,
        "LastModifiedTime": millis,
    }
    return dict(event)


def monitor_violations(sandbox: Sandbox, index: int) -> dict[str, Any]:
    """A Model Monitor run on prod ends with violations (seeded by `monitor_run_due`, just before its event: the
    reaction looks for its execution among the schedule's newest)."""
    sample = json.loads((ROOT / "events" / "monitor-violations.json").read_text())
    text = json.dumps(sample).replace(sample["detail"]["ProcessingJobName"], f"model-monitoring-warm-{index:05d}")
    return dict(json.loads(text) | {"id": f"monitor-{index}"})


def monitor_run_due(sandbox: Sandbox, event: dict[str, Any]) -> None:
    """Before each violation (untimed): the run's schedule, execution and report as SageMaker has them; the previous
    cool-down has passed and the previous retrain ended, so every event does the whole work (confirm the violations,
    claim the window, start a retrain) instead of stopping at the cool-down."""
    from sandbox.replay import seed

    seed(sandbox, event)
    from lifecycle.store import cooldown_partition

    own = sandbox.client("dynamodb", AUTOMATION)
    held = own.query(
        TableName=sandbox.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": cooldown_partition("churn", "prod")}},
        ProjectionExpression="pk, sk",
    )["Items"]
    for key in held:
        own.delete_item(TableName=sandbox.table_name, Key=key)
    sagemaker = sandbox.client("sagemaker", DEV)
    running = sagemaker.list_training_jobs(StatusEquals="InProgress", NameContains="-retrain-", MaxResults=100)
    for job in running["TrainingJobSummaries"]:
        fake_training.set_state(DEV, REGION, job["TrainingJobName"], status="Stopped")
    WORLD.drain()


@dataclass(frozen=True)
class Case:
    rule: str  # the rule that routes these events (a case is skipped when the deployment has no such rule)
    make: Callable[[Sandbox, int], dict[str, Any]]  # the index-th distinct event, its resources created
    prepare: Callable[[Sandbox, dict[str, Any]], None] | None = None  # untimed, before each new event


CASES: dict[str, Case] = {
    "training_state": Case("TrainingJobStateRule", completed_training),
    "debugger_rule": Case("DebuggerRuleIssuesRule", debugger_issues),
    "labeling_state": Case("LabelingJobStateRule", labeling_completed),
    "model_package_state": Case("ModelPackageStateRule", package_pending),
    "monitor_violation": Case("MonitoringJobStateRule", monitor_violations, monitor_run_due),
}


def function_of(sandbox: Sandbox, folder: str) -> Function:
    return next(f for f in sandbox.deployment.functions.values() if f.code_dir.name == folder)


@contextlib.contextmanager
def warm_container(function: Function) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """One warm container of `function`: its environment set, its logs discarded, its caches kept between events."""
    from sandbox.cloud import reset_product_caches

    env = {**function.environment, "AWS_LAMBDA_FUNCTION_NAME": function.name, "POWERTOOLS_TRACE_DISABLED": "true"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    reset_product_caches()
    handler = runtime.handler(function.code_dir.name, function.attribute)
    context = runtime.LambdaContext(function.name, function.arn, 60)
    try:
        with open(os.devnull, "w") as sink, quiet(sink):
            yield lambda event: handler(event, context)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_product_caches()


@contextlib.contextmanager
def quiet(sink: Any) -> Iterator[None]:
    """Logs and metrics (stdout, as CloudWatch Logs takes them) written to `sink`: formatted, then discarded."""
    handlers = [
        handler
        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        if isinstance(logger, logging.Logger)
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__)
    ]
    streams = [handler.setStream(sink) for handler in handlers]
    try:
        with contextlib.redirect_stdout(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)  # type: ignore[arg-type]


def _run(
    reaction: str,
    path: str,
    invoke: Callable[[dict[str, Any]], dict[str, Any]],
    events: list[dict[str, Any]],
    prepare: Callable[[dict[str, Any]], None] | None = None,
) -> Latency:
    meter = AwsMeter()
    totals, overheads, calls = [], [], []
    outcomes: dict[str, int] = {}
    with meter.installed(), meter.frozen_heap():
        for event in events:
            if prepare:
                prepare(event)  # before the reset: its calls are not the reaction's
            meter.reset()
            started, cpu = time.perf_counter(), time.thread_time()
            result = invoke(event)
            totals.append((time.perf_counter() - started) * 1000)
            overheads.append((time.thread_time() - cpu - meter.cpu_seconds) * 1000)
            calls.append(meter.calls)
            outcome = str(result.get("action") or result.get("outcome"))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return Latency(
        reaction=reaction,
        path=path,
        events=len(events),
        total_p50_ms=percentile(totals, 50),
        total_p99_ms=percentile(totals, 99),
        overhead_p50_ms=percentile(overheads, 50),
        overhead_p99_ms=percentile(overheads, 99),
        aws_calls=statistics.median(calls),
        outcomes=outcomes,
    )


def measure(sandbox: Sandbox, events: int = 500) -> list[Latency]:
    """For each reaction: `events` distinct events (after one warm-up), then `events // 10` duplicates."""
    results = []
    for folder, case in CASES.items():
        if case.rule not in sandbox.deployment.rule_ids.values():
            continue
        stream = [case.make(sandbox, index) for index in range(events + 1)]
        WORLD.drain()  # the sandbox's own setup events; the reactions' own events are not routed here
        prepare = functools.partial(case.prepare, sandbox) if case.prepare else None
        with warm_container(function_of(sandbox, folder)) as invoke:
            if prepare:
                prepare(stream[0])
            invoke(stream[0])
            results.append(_run(folder, "new", invoke, stream[1:], prepare))
            duplicates = [
                dict(copy.deepcopy(event), id=f"dup-{i}")
                for i, event in enumerate(stream[1 : 1 + max(1, events // 10)])
            ]
            results.append(_run(folder, "duplicate", invoke, duplicates))
        WORLD.drain()
    return results
