"""`python -m tests.reliability.runner --size full|small`: the lifecycle under stress, as figures.

The sandbox (moto, four accounts, the real template.yaml) plays the lifecycle of the `churn` model round after round
(Debugger stop, registration, metric gate, failed job, labeling → training, approval → DeployModel in staging and
prod, drift alarm → retrain) while:
- every SageMaker/CloudWatch event is delivered 1 to 3 times with fresh event ids, shuffled within the batch of
  events emitted together (so a job's Completed may come before its InProgress carrying a Debugger status);
- a seeded fraction of the product's AWS calls fails (throttling, 500, read timeout, AssumeRole access denied);
  what the platform dead-letters is redriven from the queue with faults paused, as an operator would;
- at the end the world (training jobs, models, endpoint configs, endpoints, model packages, monitoring schedules in
  every account) is compared with the audit trail: nothing may exist that the audit does not know, and no endpoint
  may serve a config the product did not choose last;
- hundreds of hostile events (tests/reliability/hostile.py) go to every event handler: no write, no crash, one
  clear log line each.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.cloud import AUTOMATION, DEV, PROD, REGION, STAGING, Sandbox
from sandbox.fakes import labeling as fake_labeling
from sandbox.fakes import monitoring as fake_monitoring
from sandbox.fakes import training as fake_training
from sandbox.replay import labeling_job_request, read_policy, sample_policies
from sandbox.router import Invocation, Router
from sandbox.timeline import printer
from sandbox.world import WORLD, epoch_millis
from tests.reliability.faults import FaultInjector

GROUP = "churn"
# The write calls that change the ML lifecycle: what "an action" is. Audit, idempotency, notifications are not.
ACTION_CALLS = frozenset(
    {
        "sagemaker:AddTags",
        "sagemaker:StopTrainingJob",
        "sagemaker:CreateTrainingJob",
        "sagemaker:CreateModelPackageGroup",
        "sagemaker:CreateModelPackage",
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateEndpoint",
        "sagemaker:CreateDataQualityJobDefinition",
        "sagemaker:CreateMonitoringSchedule",
        "sagemaker:UpdateMonitoringSchedule",
        "sagemaker:StartPipelineExecution",
        "states:StartExecution",
    }
)
_MAX_REDRIVES = 200
# Calls whose repeat changes nothing (same tag; a same-name, same-input StartExecution returns the running
# execution; the schedule updated to the same config): counted once per resource.
REPEATABLE_CALLS = frozenset({"sagemaker:AddTags", "states:StartExecution", "sagemaker:UpdateMonitoringSchedule"})
EVENT_FUNCTIONS = (
    "TrainingStateFunction",
    "DebuggerRuleFunction",
    "LabelingStateFunction",
    "ModelPackageStateFunction",
    "MonitorViolationFunction",
)


@dataclass(frozen=True)
class Size:
    rounds: int
    approvals: tuple[int, ...]  # after which rounds a new version is approved (→ DeployModel)
    hostile: int
    fault_rates: dict[str, float]
    max_copies: int = 3


FAULTS = {"sagemaker": 0.1, "sts": 0.1, "dynamodb": 0.1, "sns": 0.1, "ssm": 0.1, "states": 0.1}
SIZES = {
    "small": Size(rounds=1, approvals=(1,), hostile=500, fault_rates=FAULTS),
    "full": Size(rounds=4, approvals=(1, 3), hostile=1000, fault_rates=FAULTS),
}


@dataclass
class Figures:
    events_tried: int = 0
    duplicates_delivered: int = 0
    faults_injected: int = 0
    actions_taken: int = 0
    actions_expected: int = 0
    orphans: int = 0
    dead_lettered: int = 0
    bad_inputs_tried: int = 0
    authority_refusals: int = 0
    stale_events: int = 0
    races: int = 0
    unhandled_errors: int = 0
    seconds: float = 0.0
    # what the figures are made of, for the report and the assertions
    taken: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    orphan_list: list[str] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)
    hostile_problems: list[str] = field(default_factory=list)
    hostile_categories: Counter[str] = field(default_factory=Counter)
    hostile_writes: int = 0
    failed_executions: list[str] = field(default_factory=list)
    unreported_failures: list[str] = field(default_factory=list)
    adversity_problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            ("events tried", self.events_tried),
            ("duplicates delivered", self.duplicates_delivered),
            ("faults injected", self.faults_injected),
            ("actions taken", self.actions_taken),
            ("actions expected", self.actions_expected),
            ("orphans", self.orphans),
            ("dead-lettered", self.dead_lettered),
            ("bad inputs tried", self.bad_inputs_tried),
            ("authority refusals", self.authority_refusals),
            ("stale events", self.stale_events),
            ("races", self.races),
            ("unhandled errors", self.unhandled_errors),
        ]
        return "\n".join(f"{name:<22}{value:>8}" for name, value in rows)


def product_errors() -> frozenset[str]:
    """Names of the typed errors the product raises on purpose (what the platform may retry or dead-letter)."""
    from lifecycle import errors

    return frozenset(
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.LifecycleError)
    )


# ---------------------------------------------------------------------------------------------------------------------
# delivery: duplicates, disorder, redrive
# ---------------------------------------------------------------------------------------------------------------------
class DisorderlyRouter(Router):
    """The sandbox router, with EventBridge's at-least-once delivery made hostile: 1..n copies, shuffled."""

    def __init__(self, sandbox: Sandbox, *, rng: random.Random, max_copies: int, faults: FaultInjector) -> None:
        super().__init__(sandbox)
        self.rng = rng
        self.max_copies = max_copies
        self.faults = faults
        self.originals = 0
        self.copies = 0
        self.redriven = 0
        self.redrives = 0

    def settle(self) -> None:
        while True:
            self._watch_executions()
            batch = WORLD.drain()
            if not batch:
                if self.redrive():
                    continue
                return
            for event in self.disorder(batch):
                self.deliver(event)

    def disorder(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each event 1..max_copies times with fresh ids, the batch shuffled."""
        copies = []
        for event in batch:
            self.originals += 1
            for _ in range(self.rng.randint(1, self.max_copies)):
                copies.append({**event, "id": str(uuid.UUID(int=self.rng.getrandbits(128)))})
        self.copies += len(copies)
        self.rng.shuffle(copies)
        return copies

    def redrive(self) -> int:
        """Deliver again, faults paused, what the on-failure destination holds (then delete it from the queue)."""
        sqs = self.sandbox.client("sqs")
        queue = self.sandbox.deployment.resources["DeadLetterQueue"]
        redriven = 0
        with self.faults.paused():
            self.expire_in_progress_markers()
            held = []  # what the queue holds now: what fails again goes back for the next (bounded) redrive
            while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    record = json.loads(message["Body"])
                    held.append(record.get("requestPayload", record))  # a Lambda destination record, or a DLQ copy
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            for payload in held:
                self.deliver(payload)
                redriven += 1
        if not redriven:  # an empty queue is no redrive (settle looks at it every time the world is quiet)
            return 0
        self.redriven += redriven
        self.redrives += 1
        if self.redrives > _MAX_REDRIVES:
            raise RuntimeError(f"still dead-lettering after {_MAX_REDRIVES} redrives with faults paused")
        return redriven

    def expire_in_progress_markers(self) -> None:
        """Let time pass before the redrive, as it does in AWS (Lambda retries after minutes, people later): the
        in-progress idempotency marker, or the registration claim, of an invocation that failed and could not clean
        up (its DeleteItem faulted) expires with that invocation's timeout. Without this, the sandbox's instant
        redrive meets a live marker."""
        dynamodb = self.sandbox.client("dynamodb")
        table = self.sandbox.table_name
        expired = str(int(time.time() * 1000) - 1)
        claims_expired = str(int(time.time()) - 1)
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if item.get("status", {}).get("S") == "INPROGRESS":
                    dynamodb.update_item(
                        TableName=table,
                        Key={"pk": item["pk"], "sk": item["sk"]},
                        UpdateExpression="SET in_progress_expiration = :expired",
                        ExpressionAttributeValues={":expired": {"N": expired}},
                    )
                # a registration claim of an invocation that failed and could not release it (its DeleteItem
                # faulted) expires after the longest invocation (lifecycle.store.registration.CLAIM_SECONDS)
                elif item["pk"]["S"].startswith("REGISTRATION#") and "package_arn" not in item:
                    dynamodb.update_item(
                        TableName=table,
                        Key={"pk": item["pk"], "sk": item["sk"]},
                        UpdateExpression="SET #until = :expired",
                        ExpressionAttributeNames={"#until": "until"},
                        ExpressionAttributeValues={":expired": {"N": claims_expired}},
                    )


# ---------------------------------------------------------------------------------------------------------------------
# the world, scripted
# ---------------------------------------------------------------------------------------------------------------------
class StressWorld:
    """What people and SageMaker do; each step says which actions the product must take for it (once)."""

    def __init__(self, sandbox: Sandbox, router: DisorderlyRouter, faults: FaultInjector) -> None:
        self.sandbox = sandbox
        self.router = router
        self.faults = faults
        self.expected: Counter[str] = Counter()
        self.people_jobs: set[str] = set()  # training jobs people started (not the product)
        self.people_made: set[str] = set()  # other resources people made (a rogue package in dev)
        self.people_calls: Counter[str] = Counter()  # their action calls (not the product's)
        self.approved: list[int] = []
        self.drifts = 0

    @contextmanager
    def outside(self) -> Iterator[None]:
        """The world's own calls are not the product's: no faults."""
        with self.faults.paused():
            yield

    def expect(self, **calls: int) -> None:
        for name, count in calls.items():
            self.expected[f"{'states' if name == 'StartExecution' else 'sagemaker'}:{name}"] += count

    def _start_job(self, name: str) -> None:
        self.people_jobs.add(name)
        sagemaker = self.sandbox.client("sagemaker", DEV)
        fake_training.start_job(sagemaker, name, account=DEV, region=REGION, group=GROUP)

    def training_round(self, number: int) -> None:
        """Four jobs: one a Debugger rule stops, one registered, one the gate stops, one that fails."""
        stopped, good, weak, failed = (f"churn-r{number}-{kind}" for kind in ("stopped", "good", "weak", "failed"))
        with self.outside():
            for name in (stopped, good, weak, failed):
                self._start_job(name)
            fake_training.set_rule_status(DEV, REGION, stopped, rule="LossNotDecreasing", status="IssuesFound")
        self.expect(StopTrainingJob=1, AddTags=1)
        self.router.settle()
        with self.outside():
            # a rule the policy only reports, then the job ends: the two events may arrive in either order
            fake_training.set_rule_status(DEV, REGION, good, rule="Overfit", status="IssuesFound")
            fake_training.set_state(DEV, REGION, good, status="Completed", metrics={"validation:auc": 0.91})
            fake_training.set_state(DEV, REGION, weak, status="Completed", metrics={"validation:auc": 0.71})
            fake_training.set_state(DEV, REGION, failed, status="Failed", failure_reason="AlgorithmError: OOM")
        self.expect(CreateModelPackage=1)
        self.router.settle()

    def labeling_round(self, number: int) -> None:
        """Labels complete → the product starts training → that job completes → registered."""
        name = f"churn-labels-r{number}"
        with self.outside():
            self.sandbox.client("sagemaker", DEV).create_labeling_job(**labeling_job_request(name, DEV))
            fake_labeling.complete_labeling_job(DEV, REGION, name, human=120, machine=380)
        self.expect(CreateTrainingJob=1)
        self.router.settle()
        self.product_jobs_complete([job for job in self.product_jobs() if job.startswith(f"{name}-train")], auc=0.9)

    def approve_latest(self) -> None:
        """A person approves the newest version: the product deploys it to staging, then prod."""
        sagemaker = self.sandbox.client("sagemaker", AUTOMATION)
        with self.outside():
            [latest] = sagemaker.list_model_packages(
                ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
            )["ModelPackageSummaryList"]
            arn = latest["ModelPackageArn"]
            sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
            package = sagemaker.describe_model_package(ModelPackageName=arn)
        first = not self.approved
        self.approved.append(int(package["ModelPackageVersion"]))
        WORLD.emit(
            account=AUTOMATION,
            region=REGION,
            detail_type="SageMaker Model Package State Change",
            resources=[arn],
            detail={
                "ModelPackageGroupName": GROUP,
                "ModelPackageVersion": package["ModelPackageVersion"],
                "ModelPackageArn": arn,
                "ModelApprovalStatus": "Approved",
                "ModelPackageStatus": "Completed",
                "CreationTime": epoch_millis(package["CreationTime"]),
                "LastModifiedTime": epoch_millis(package.get("LastModifiedTime", package["CreationTime"])),
                "UpdatedModelPackageFields": ["ModelApprovalStatus"],
                "Tags": {},
            },
        )
        # two stages: model + config each; endpoints created the first time, updated after; prod's data-quality job
        # definition and schedule once (a later deployment finds them as the unchanged policy says: nothing to update)
        self.expect(StartExecution=1, CreateModel=2, CreateEndpointConfig=2)
        created = {"CreateEndpoint": 2, "CreateDataQualityJobDefinition": 1, "CreateMonitoringSchedule": 1}
        self.expect(**(created if first else {"UpdateEndpoint": 2}))
        self.router.settle()
        wait_for_executions(self.sandbox, self.router)
        self.router.settle()

    def drift(self) -> None:
        """The prod drift alarm fires: retrain once per cool-down (later alarms only record)."""
        with self.outside():
            if self.drifts:
                fake_monitoring.set_alarm(
                    PROD,
                    REGION,
                    alarm_name="churn-prod-feature-drift",
                    endpoint_name="churn-prod",
                    schedule_name="churn-prod-data-quality",
                    state="OK",
                )
            fake_monitoring.set_alarm(
                PROD,
                REGION,
                alarm_name="churn-prod-feature-drift",
                endpoint_name="churn-prod",
                schedule_name="churn-prod-data-quality",
                state="ALARM",
            )
        first = self.drifts == 0
        self.drifts += 1
        self.router.settle()
        if not first:
            return
        self.expect(CreateTrainingJob=1)
        self.product_jobs_complete([job for job in self.product_jobs() if "-retrain-" in job], auc=0.93)

    # --- adversity (issue 13): authority, stale events, races ---------------------------------------------------------
    def registry_event(self, version: int, status: str, **changes: Any) -> dict[str, Any]:
        """The registry's event of `version` reaching `status` (its detail as SageMaker sends it), with `changes`."""
        arn = f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/{GROUP}/{version}"
        with self.outside():
            package = self.sandbox.client("sagemaker", AUTOMATION).describe_model_package(ModelPackageName=arn)
        detail = {
            "ModelPackageGroupName": GROUP,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "ModelApprovalStatus": status,
            "ModelPackageStatus": "Completed",
            "CreationTime": epoch_millis(package["CreationTime"]),
            "LastModifiedTime": epoch_millis(package.get("LastModifiedTime", package["CreationTime"])),
            "UpdatedModelPackageFields": ["ModelApprovalStatus"],
            "Tags": {},
            **changes.pop("detail", {}),
        }
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": AUTOMATION,
            "time": "2026-11-27T12:00:00Z",
            "region": REGION,
            "resources": [detail["ModelPackageArn"]],
            "detail": detail,
            **changes,
        }

    def _judged(self, events: list[tuple[str, dict[str, Any]]], allowed: dict[str, set[str]], figures: Figures) -> None:
        """Deliver `events` (kind, event) as EventBridge would; each must end as `allowed[kind]` says and change
        nothing (no action call): a refused event is refused, a stale one ignored."""
        before = len(self.sandbox.recorder.calls)
        first = len(self.router.deliveries)
        for _, event in events:
            self.router.deliver(event)
        self.router.settle()
        kinds = {event["id"]: kind for kind, event in events}
        # each event's copies and redrives, per function: a copy that failed every attempt went to the dead-letter
        # queue and was redriven (a later copy), so the last one is what the event came to; a DuplicateInProgress
        # copy ran beside another and says nothing of the outcome
        final: dict[tuple[str, str], Invocation] = {}
        for delivery in self.router.deliveries[first:]:
            for invocation in delivery.invocations:
                if not (invocation.error and invocation.error.startswith("DuplicateInProgress")):
                    final[(str(delivery.event.get("id")), invocation.function)] = invocation
        for (event_id, _), invocation in final.items():
            kind = kinds.get(event_id, "")
            if kind:
                outcome = invocation.result or {}
                judged = f"{outcome.get('outcome')}:{outcome.get('action', '')}".rstrip(":")
                if judged not in allowed[kind]:
                    figures.adversity_problems.append(f"{kind}: {invocation.function} -> {judged} {invocation.error}")
        acted = actions_taken(self.sandbox.recorder.calls[before:])
        if acted:
            figures.adversity_problems.append(f"{[k for k, _ in events]} took actions: {dict(acted)}")

    def adversity(self, figures: Figures) -> None:
        """Events from people who should not drive a step, late, replayed, or at the same moment as another."""
        serving = max(self.approved)
        # authority: a dev user's own `churn` group, an ARN of another region, a training job outside the policy's
        with self.outside():
            dev = self.sandbox.client("sagemaker", DEV)
            dev.create_model_package_group(ModelPackageGroupName=GROUP)
            rogue = dev.create_model_package(
                ModelPackageGroupName=GROUP,
                InferenceSpecification={
                    "Containers": [{"Image": "rogue", "ModelDataUrl": "s3://dev-bucket/rogue.tar.gz"}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                ModelApprovalStatus="Approved",
            )["ModelPackageArn"]
        self.people_made.add(rogue)
        self.people_calls.update({"sagemaker:CreateModelPackageGroup": 1, "sagemaker:CreateModelPackage": 1})
        elsewhere = f"arn:aws:sagemaker:eu-west-1:{AUTOMATION}:model-package/{GROUP}/{serving}"
        refused = [
            (
                "dev approval",
                self.registry_event(
                    serving, "Approved", account=DEV, detail={"ModelPackageArn": rogue, "ModelPackageVersion": 1}
                ),
            ),
            ("other region", self.registry_event(serving, "Approved", detail={"ModelPackageArn": elsewhere})),
        ]
        self._judged(refused, {"dev approval": {"refused"}, "other region": {"refused"}}, figures)
        figures.authority_refusals += len(refused)
        # stale: the first approval delivered again late (the registry's time unchanged: the same state change, so
        # the product answers as it did the first time, deployment-started, and acts no more), a Rejected of the
        # serving one from before its approval (a redrive); with two approvals, the first version approved again by a
        # person (a later time) while a newer one serves: not deployed automatically
        stale = [
            ("late approval", self.registry_event(min(self.approved), "Approved")),
            ("stale rejection", self.registry_event(serving, "Rejected", detail={"LastModifiedTime": 1795777323000})),
        ]
        if min(self.approved) < serving:
            again = {"LastModifiedTime": epoch_millis(datetime.now(UTC))}
            stale.append(("older approval", self.registry_event(min(self.approved), "Approved", detail=again)))
        outcomes = {
            "late approval": {"acted:deployment-started"},
            "stale rejection": {"ignored"},
            "older approval": {"acted:not-deployed"},
        }
        self._judged(stale, outcomes, figures)
        figures.stale_events += len(stale)
        # a race: the two newest versions approved at the same moment; the older yields to the newer
        sagemaker = self.sandbox.client("sagemaker", AUTOMATION)
        with self.outside():
            summaries = sagemaker.list_model_packages(
                ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Descending", MaxResults=2
            )["ModelPackageSummaryList"]
            versions = sorted(int(summary["ModelPackageVersion"]) for summary in summaries)
            for version in versions:
                sagemaker.update_model_package(
                    ModelPackageArn=f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/{GROUP}/{version}",
                    ModelApprovalStatus="Approved",
                )
        events = [self.registry_event(version, "Approved") for version in versions]
        WORLD.emitted.extend(events)  # emitted together: the router delivers them 1-3 times each, in any order
        self.approved += versions
        first = len(self.router.deliveries)
        self.router.settle()
        wait_for_executions(self.sandbox, self.router)
        self.router.settle()
        # only the newer deploys: models and configs in two stages, two guarded updates. The older one's execution
        # starts and yields, unless its event (late: a copy, or a redrive from the dead-letter queue) came when the
        # newer one already served: then it is not deployed, and told so, with no execution
        older = [
            invocation.result or {}
            for delivery in self.router.deliveries[first:]
            if delivery.event.get("id") == events[0]["id"]
            for invocation in delivery.invocations
            if invocation.function == "ModelPackageStateFunction" and not invocation.error
        ]
        started = 1 if older and older[-1].get("action") == "not-deployed" else 2
        self.expect(StartExecution=started, CreateModel=2, CreateEndpointConfig=2, UpdateEndpoint=2)
        figures.races += 1

    def product_jobs_complete(self, started: list[str], *, auc: float) -> None:
        """The training jobs the product started run and end well: each is then registered."""
        with self.outside():
            for job in started:
                fake_training.set_state(DEV, REGION, job, status="InProgress", secondary="Training")
                fake_training.set_state(DEV, REGION, job, status="Completed", metrics={"validation:auc": auc})
        self.expect(CreateModelPackage=len(started))
        self.router.settle()

    def product_jobs(self) -> list[str]:
        return [
            call["resource"].rsplit("/", 1)[1]
            for call in self.sandbox.recorder.calls
            if call["call"] == "sagemaker:CreateTrainingJob"
            and call["resource"].rsplit("/", 1)[1] not in self.people_jobs
        ]


def actions_taken(calls: list[dict[str, str]]) -> Counter[str]:
    """The product's action calls; repeatable ones once per resource."""
    seen: set[tuple[str, str]] = set()
    taken: Counter[str] = Counter()
    for call in calls:
        name, key = call["call"], (call["call"], call["resource"])
        if name not in ACTION_CALLS or (name in REPEATABLE_CALLS and key in seen):
            continue
        seen.add(key)
        taken[name] += 1
    return taken


def wait_for_executions(sandbox: Sandbox, router: Router, timeout: float = 120.0) -> None:
    """Wait until every DeployModel execution the product started has ended (their calls are the product's)."""
    stepfunctions = sandbox.client("stepfunctions")
    deadline = time.monotonic() + timeout
    arns = {call["resource"] for call in sandbox.recorder.calls if call["call"] == "states:StartExecution"}
    while time.monotonic() < deadline:
        running = [arn for arn in arns if stepfunctions.describe_execution(executionArn=arn)["status"] == "RUNNING"]
        if not running:
            return
        router.settle()  # endpoint state changes the executions cause are events too
        time.sleep(0.2)
    raise RuntimeError(f"executions still running after {timeout:.0f} s: {running}")


# ---------------------------------------------------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------------------------------------------------
def audit_records(sandbox: Sandbox) -> list[Any]:
    from lifecycle.config import Settings
    from lifecycle.store.audit import history

    settings = Settings.from_stack(
        sandbox.client("cloudformation").describe_stacks(StackName="sagemaker-lifecycle")["Stacks"][0]
    )
    return history(GROUP, settings)


def _names(resource: str) -> set[str]:
    """An ARN and its last path part: audit records name some resources by ARN, others by name."""
    return {resource, resource.rsplit("/", 1)[-1]} if resource else set()


def find_orphans(sandbox: Sandbox, world: StressWorld, records: list[Any]) -> list[str]:
    """Resources in the world that neither people made nor the audit knows; endpoints on a config nobody chose."""
    known: set[str] = set()
    for entry in records:
        known |= _names(entry.resource)
        for value in entry.details.values():
            known |= _names(value)
    orphans: list[str] = []
    for account in (AUTOMATION, DEV, STAGING, PROD):
        sagemaker = sandbox.client("sagemaker", account)
        found = {
            "training job": [j["TrainingJobName"] for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]],
            "model": [m["ModelName"] for m in sagemaker.list_models()["Models"]],
            "endpoint config": [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]],
            "endpoint": [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]],
            "monitoring schedule": [
                s["MonitoringScheduleName"]
                for s in sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"]
            ],
        }
        for group in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]:
            packages = sagemaker.list_model_packages(ModelPackageGroupName=group["ModelPackageGroupName"])
            found["model package"] = [p["ModelPackageArn"] for p in packages["ModelPackageSummaryList"]]
        for kind, names in found.items():
            orphans += [
                f"{kind} {name} in {account}"
                for name in names
                if name not in known and name not in world.people_jobs | world.people_made
            ]
        for endpoint in found["endpoint"]:
            config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
            chosen = chosen_config(records, endpoint)
            if config != chosen:
                orphans.append(f"endpoint {endpoint} in {account} serves {config}, the audit last chose {chosen}")
    return orphans


def chosen_config(records: list[Any], endpoint: str) -> str | None:
    """The config the audit trail last put `endpoint` on (in service on it, or restored to it)."""
    chosen = None
    for entry in records:
        if entry.resource != endpoint or entry.outcome != "done":
            continue
        if entry.action == "endpoint-in-service":
            chosen = entry.reason.removeprefix("InService on ")
        elif entry.action == "restore-endpoint":
            chosen = entry.reason.rsplit("back to ", 1)[-1].split(" (", 1)[0]
    return chosen


def failed_invocations(router: Router) -> list[Invocation]:
    return [invocation for delivery in router.deliveries for invocation in delivery.invocations if invocation.error]


def unhandled(router: Router, sandbox: Sandbox, typed: frozenset[str]) -> list[str]:
    """Errors that are not the product's typed errors: from handlers, and from DeployModel's Lambda tasks."""
    found = [
        f"{invocation.function}: {invocation.error}"
        for invocation in failed_invocations(router)
        if invocation.error.split(":", 1)[0] not in typed
    ]
    stepfunctions = sandbox.client("stepfunctions")
    for call in sandbox.recorder.calls:
        if call["call"] != "states:StartExecution":
            continue
        for entry in stepfunctions.get_execution_history(executionArn=call["resource"])["events"]:
            details = entry.get("lambdaFunctionFailedEventDetails") or entry.get("taskFailedEventDetails") or {}
            error = details.get("error")
            if error and error not in typed and not error.startswith(("States.", "Lambda.")):
                found.append(f"{call['resource'].rsplit(':', 1)[1]}: {error}: {details.get('cause', '')[:300]}")
    return found


def check_failed_executions(sandbox: Sandbox, records: list[Any], figures: Figures) -> None:
    """A DeployModel execution that did not succeed must have told people and left an audit record (its Lambda's
    `Finish Failed Stage`, or the direct notification when that could not record)."""
    stepfunctions = sandbox.client("stepfunctions")
    ended = {"deployment-failed", "gate-rejected", "deployment-stopped"}
    audited = {entry.event_id: entry.reason for entry in records if entry.action in ended}
    for call in sandbox.recorder.calls:
        if call["call"] != "states:StartExecution":
            continue
        execution = stepfunctions.describe_execution(executionArn=call["resource"])
        if execution["status"] == "SUCCEEDED":
            continue
        name = execution["name"]
        error, cause = execution.get("error", ""), str(execution.get("cause", ""))[:300]
        why = f" ({error}: {cause})" if error else ""
        said = f"; audit: {audited[name]}" if name in audited else ""
        figures.failed_executions.append(f"{name}: {execution['status']}{why}{said}")
        states = [
            entry["stateEnteredEventDetails"]["name"]
            for entry in stepfunctions.get_execution_history(executionArn=call["resource"])["events"]
            if "stateEnteredEventDetails" in entry
        ]
        recorded = "Finish Failed Stage" in states and name in audited
        if not (recorded or "Notify Deployment Failure" in states or "Notify Invalid Input" in states):
            figures.unreported_failures.append(name)


# ---------------------------------------------------------------------------------------------------------------------
# hostile input
# ---------------------------------------------------------------------------------------------------------------------
def log_lines(invocation: Invocation) -> list[dict[str, Any]]:
    lines = []
    for chunk in invocation.logs:
        for line in chunk.splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return lines


def deliver_hostile(sandbox: Sandbox, router: Router, count: int, rng_seed: int, figures: Figures) -> None:
    from lifecycle.events import event_id_of

    from tests.reliability.hostile import generate

    allowed = frozenset(sandbox.forwarding_accounts)
    events = generate(count, allowed, rng_seed=rng_seed)
    functions = [f for f in sandbox.deployment.functions.values() if f.logical_id in EVENT_FUNCTIONS]
    before = len(sandbox.recorder.calls)
    for category, event in events:
        figures.hostile_categories[category] += 1
        for function in functions:
            invocation = router.invoke(function, event)
            figures.bad_inputs_tried += 1
            result = invocation.result or {}
            if invocation.error or result.get("outcome") not in ("refused", "ignored"):
                figures.hostile_problems.append(
                    f"{function.logical_id} on {category}: {invocation.error or result}"[:500]
                )
                continue
            said = [
                line
                for line in log_lines(invocation)
                if line.get("outcome") == result["outcome"]
                and line.get("reason")
                and line.get("event_id") == event_id_of(event)
            ]
            if len(said) != 1:
                figures.hostile_problems.append(
                    f"{function.logical_id} on {category}: {len(said)} refusal log lines, expected 1"
                )
    figures.hostile_writes = len(sandbox.recorder.calls) - before


# ---------------------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------------------
def stress_policy() -> dict[str, Any]:
    """The sample churn policy with a DeployModel that does not wait minutes: fast polls, canary without bake time,
    no approval gate; prod keeps its data-quality monitor (with capture and reports locations) and retrains on drift."""
    policy = read_policy(next(path for path in sample_policies() if path.stem == GROUP))
    staging, prod = policy["deployment"]["stages"]
    fast = {"poll_seconds": 1, "wait_timeout_minutes": 5}
    prod = {
        **prod,
        **fast,
        "strategy": {"type": "canary", "percent": 10, "wait_seconds": 0},
        "approval_required": False,
        "data_capture": {"s3_uri": "s3://example-prod-ml-capture/churn/"},
        "monitoring": [
            {**monitor, "reports_s3_uri": "s3://example-prod-ml-monitoring/churn/"}
            for monitor in prod["monitoring"]
            if monitor["type"] == "data_quality"
        ],
    }
    return {**policy, "deployment": {"stages": [{**staging, **fast}, prod]}}


def run(size: Size, *, rng_seed: int = 7, echo: Callable[[str], None] = print) -> Figures:
    started = time.monotonic()
    figures = Figures()
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # the engine logs every Catch it takes, as a stack
    faults = FaultInjector(size.fault_rates, seed=rng_seed)
    faults.install()
    try:
        with Sandbox() as sandbox:
            sandbox.publish_policy(stress_policy())
            router = DisorderlyRouter(sandbox, rng=random.Random(rng_seed), max_copies=size.max_copies, faults=faults)
            world = StressWorld(sandbox, router, faults)
            with sandbox.recorder.recording(), faults.active():
                world.expect(CreateModelPackageGroup=1)
                for number in range(1, size.rounds + 1):
                    echo(f"round {number}/{size.rounds}: training, labeling, drift")
                    world.training_round(number)
                    world.labeling_round(number)
                    if number in size.approvals:
                        echo(f"round {number}/{size.rounds}: approval -> DeployModel staging, prod")
                        world.approve_latest()
                    world.drift()
                wait_for_executions(sandbox, router)
                router.settle()
                echo("adversity: authority refusals, stale events, two approvals at once")
                world.adversity(figures)
            figures.events_tried = router.copies + router.redriven
            figures.duplicates_delivered = router.copies - router.originals
            figures.faults_injected = faults.total
            figures.faults = Counter(faults.injected)
            figures.dead_lettered = router.redriven
            figures.taken = actions_taken(sandbox.recorder.calls)
            figures.taken -= Counter({"sagemaker:CreateTrainingJob": len(world.people_jobs)})  # the world's own jobs
            figures.taken -= world.people_calls
            figures.expected = world.expected
            figures.actions_taken = sum(figures.taken.values())
            figures.actions_expected = sum(figures.expected.values())
            records = audit_records(sandbox)
            figures.orphan_list = find_orphans(sandbox, world, records)
            figures.orphans = len(figures.orphan_list)
            typed = product_errors()
            check_failed_executions(sandbox, records, figures)
            echo(f"hostile: {size.hostile} events x {len(EVENT_FUNCTIONS)} handlers")
            deliver_hostile(sandbox, router, size.hostile, rng_seed, figures)
            figures.unhandled = unhandled(router, sandbox, typed)
            figures.unhandled_errors = len(figures.unhandled)
    finally:
        faults.uninstall()
    figures.seconds = time.monotonic() - started
    return figures


def report(figures: Figures, echo: Callable[[str], None] = print) -> None:
    echo(figures.table())
    echo(f"{'wall time':<22}{figures.seconds:>7.0f}s")
    echo(f"faults by service/kind: {dict(sorted(figures.faults.items()))}")
    if figures.taken != figures.expected:
        echo(f"actions taken - expected: {dict(figures.taken - figures.expected)}")
        echo(f"actions expected - taken: {dict(figures.expected - figures.taken)}")
    echo(f"hostile categories: {dict(sorted(figures.hostile_categories.items()))}")
    for title, items in (
        ("orphans", figures.orphan_list),
        ("unhandled", figures.unhandled),
        ("hostile problems", figures.hostile_problems),
        ("failed executions", figures.failed_executions),
        ("failed executions without audit/notification", figures.unreported_failures),
        ("adversity problems", figures.adversity_problems),
    ):
        for item in items[:20]:
            echo(f"{title}: {item}")


def passed(figures: Figures) -> bool:
    return (
        figures.unhandled_errors == 0
        and figures.orphans == 0
        and figures.taken == figures.expected
        and figures.hostile_writes == 0
        and not figures.hostile_problems
        and not figures.unreported_failures
        and not figures.adversity_problems
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.runner", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--seed", type=int, default=7, help="seeds faults, copies, order and hostile events")
    args = parser.parse_args(argv)
    echo = printer()  # the stdout of now: handlers run with stdout redirected to their log
    figures = run(SIZES[args.size], rng_seed=args.seed, echo=echo)
    report(figures, echo)
    return 0 if passed(figures) else 1


if __name__ == "__main__":
    sys.exit(main())
