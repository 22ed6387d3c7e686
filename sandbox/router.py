"""EventBridge, as the deployed stacks configure it: rules matched with moto's own `EventPattern`, targets run here.

moto's EventBridge delivers only to SQS, Logs and buses (and rewrites `account` when it forwards across accounts),
so the router walks the deployed rules itself: an event SageMaker emits in a workload account meets that account's
default bus (the forwarding rule of accounts/workload-account.yaml), is forwarded unchanged (`account` and `region`
kept, as EventBridge does), and meets the automation bus rules of template.yaml. Lambda targets run the real handler
in-process with the environment the template gave the function; failures are retried per the function's
EventInvokeConfig and then sent to its on-failure queue. Step Functions executions the product starts run on moto's
executing engine; the router waits for them and reports their states.
"""

from __future__ import annotations

import io
import json
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventBus, EventTemplateParser, events_backends

from sandbox import lambdas, runtime
from sandbox.cloud import AUTOMATION, REGION, STACK, Function, Sandbox
from sandbox.stepfunctions import waiting_on_token
from sandbox.world import WORLD

_QUIET_AFTER_SECONDS = 3.0  # an execution whose history stops growing this long waits for something else
_EXECUTION_TIMEOUT_SECONDS = 30.0
# History events of a Lambda task that has not answered yet.
_TASK_RUNNING = frozenset({"LambdaFunctionScheduled", "LambdaFunctionStarted", "TaskScheduled", "TaskStarted"})
_MAX_EVENTS = 500


@dataclass
class Invocation:
    """One in-process run of a function for one event."""

    function: str  # logical id
    event_id: str
    result: dict[str, Any] | None = None
    error: str = ""
    logs: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.error:
            return "failed"
        return str((self.result or {}).get("outcome", "acted"))


@dataclass
class Execution:
    """A Step Functions execution the product started, as moto's engine ran it."""

    state_machine: str
    name: str
    arn: str
    status: str = "RUNNING"
    states: list[str] = field(default_factory=list)
    history_seen: int = 0


@dataclass
class Delivery:
    """What one event did: the rules it matched (logical ids) and the invocations they caused."""

    event: dict[str, Any]
    rules: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    forwarded: bool = True


class Router:
    """Delivers events through the deployed rules until nothing more happens."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.timeline = sandbox.timeline
        self.deliveries: list[Delivery] = []
        self.executions: list[Execution] = []
        self.accepted: list[Invocation] = []  # asynchronous invocations (InvocationType=Event) Lambda ran
        self._watched: set[str] = set()

    # ---------------------------------------------------------------------------------------------------------------
    # delivery
    # ---------------------------------------------------------------------------------------------------------------
    def emit_and_settle(self, event: dict[str, Any]) -> list[Delivery]:
        """Deliver `event`, then everything it causes; returns the deliveries of this run, in order."""
        first = len(self.deliveries)
        self.deliver(event)
        self.settle()
        return self.deliveries[first:]

    def settle(self) -> None:
        """Deliver what the world emitted, run the asynchronous invocations Lambda accepted, and wait for started
        executions, until quiet."""
        delivered = 0
        while True:
            self._watch_executions()
            pending = WORLD.drain()
            accepted = lambdas.drain_async()
            if not pending and not accepted:
                if not self._complete_transform_jobs():
                    return
                continue
            for name, payload in accepted:
                self.timeline.add("handler", AUTOMATION, f"Lambda runs an accepted asynchronous invocation of {name}")
                self.accepted.append(self.invoke(self.sandbox.deployment.functions[name], payload))
            for event in pending:
                delivered += 1
                if delivered > _MAX_EVENTS:
                    raise RuntimeError(f"more than {_MAX_EVENTS} events without settling: a reaction loops")
                self.deliver(event)

    def _complete_transform_jobs(self) -> bool:
        """The world is quiet: SageMaker completes the transform jobs still running (a batch stage's proof). Their
        state changes are delivered, then the executions that waited on them are followed again. False when none ran.
        """
        from lifecycle.config import Settings
        from lifecycle.store import deployments

        from sandbox.fakes import transform

        finished = transform.complete_running(self.sandbox.forwarding_accounts, REGION)
        if not finished:
            return False
        for account, job in finished:
            self.timeline.add("world", account, f"transform job {job} Completed")
        for event in WORLD.drain():
            self.deliver(event)
        stack = self.sandbox.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        settings = Settings.from_stack(stack)
        waiting = {
            wait.execution
            for account, job in finished
            if (wait := deployments.transform_wait(settings, account, REGION, job)) is not None
        }
        for execution in [e for e in self.executions if e.status == "RUNNING" and e.name in waiting]:
            self.resume(execution.arn)
        return True

    def deliver(self, event: dict[str, Any]) -> Delivery:
        """One event SageMaker (or CloudWatch) published on the default bus of its account."""
        delivery = Delivery(event)
        self.deliveries.append(delivery)
        account, region = str(event.get("account", "")), str(event.get("region", "us-east-1"))
        self.timeline.add("event", account, summarize(event), event_id=event.get("id"))
        if account in self.sandbox.forwarding_accounts:
            self._bus(events_backends[account][region].event_buses["default"], event, delivery)
        else:
            delivery.forwarded = False
            self.timeline.add(
                "note",
                account,
                f"account {account} has no workload stack in the sandbox: the event is put on the automation bus as is "
                "(in AWS nothing forwards it, and the bus policy would refuse it; moto does not enforce bus policies)",
            )
            self._bus(self._automation_bus(region), event, delivery)
        return delivery

    def _automation_bus(self, region: str) -> EventBus:
        return events_backends[AUTOMATION][region].event_buses[self.sandbox.bus_name]

    def _bus(self, bus: EventBus, event: dict[str, Any], delivery: Delivery) -> None:
        matched = False
        for rule in list(bus.rules.values()):
            if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
                continue
            matched = True
            logical_id = self.sandbox.deployment.rule_ids.get(rule.arn, rule.name)
            delivery.rules.append(logical_id)
            for target in rule.targets:
                self._target(bus, logical_id, target, event, delivery)
        if not matched:
            self.timeline.add("rule", bus.account_id, f"no rule on bus {bus.name} matches")
            if bus.name == "default":
                delivery.forwarded = False

    def _target(
        self, bus: EventBus, logical_id: str, target: dict[str, Any], event: dict[str, Any], delivery: Delivery
    ) -> None:
        arn = str(target["Arn"])
        service, account, region = arn.split(":")[2], arn.split(":")[4], arn.split(":")[3]
        payload = _input(target, event)
        self.timeline.add("rule", bus.account_id, f"{logical_id} (bus {bus.name}) -> {arn.split(':', 5)[5]}")
        if service == "events" and ":event-bus/" in arn:
            self._bus(events_backends[account][region].event_buses[arn.rsplit("/", 1)[1]], payload, delivery)
        elif service == "lambda":
            function = self.sandbox.deployment.functions[arn.split(":")[6]]
            delivery.invocations.append(self.invoke(function, payload))
        elif service == "states":
            self._start_execution(arn, payload)
        elif service == "sqs":
            self.sandbox.client("sqs", account, region).send_message(
                QueueUrl=self._queue_url(arn), MessageBody=json.dumps(payload)
            )
        else:
            self.timeline.add("note", account, f"target {arn} is not supported by the sandbox: not delivered")

    # ---------------------------------------------------------------------------------------------------------------
    # Lambda
    # ---------------------------------------------------------------------------------------------------------------
    def invoke(self, function: Function, payload: dict[str, Any]) -> Invocation:
        """Run the function's handler in-process, retried per its EventInvokeConfig, then on-failure destination."""
        handler = runtime.handler(function.code_dir.name, function.attribute)
        invocation = Invocation(function.logical_id, str(payload.get("id", "")))
        attempts = 1 + function.max_retries
        for attempt in range(1, attempts + 1):
            self.timeline.add("handler", AUTOMATION, f"{function.logical_id} invoked (attempt {attempt}/{attempts})")
            sink = io.StringIO()  # the invocation's log stream, as CloudWatch Logs would hold it
            context = runtime.LambdaContext(function.name, function.arn, _timeout(self.sandbox, function))
            try:
                with runtime.invocation(_environment(function), sink), self.sandbox.recorder.recording():
                    invocation.result = handler(payload, context)
                invocation.error = ""
            except Exception as exc:  # the Lambda runtime reports any unhandled error as a failed invocation
                invocation.error = f"{type(exc).__name__}: {exc}"
                invocation.logs.append(traceback.format_exc())
            invocation.logs.append(sink.getvalue())
            if not invocation.error:
                break
            self.timeline.add(
                "handler", AUTOMATION, f"{function.logical_id} failed: {invocation.error}", outcome="failed"
            )
        if invocation.error:
            self._on_failure(function, payload, invocation)
        else:
            self.timeline.add(
                "handler",
                AUTOMATION,
                f"{function.logical_id} -> {describe_result(invocation.result)}",
                outcome=invocation.outcome,
            )
        return invocation

    def _on_failure(self, function: Function, payload: dict[str, Any], invocation: Invocation) -> None:
        if not function.on_failure:
            return
        queue_url = self.sandbox.deployment.resources[function.on_failure]
        error_type, _, error_message = invocation.error.partition(": ")
        # The invocation record of "Capturing records of Lambda asynchronous invocations" (Lambda Developer Guide).
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function.arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 1 + function.max_retries,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": error_message, "errorType": error_type},
        }
        self.sandbox.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
        self.timeline.add("note", AUTOMATION, f"{function.logical_id}: retries exhausted, event sent to {queue_url}")

    # ---------------------------------------------------------------------------------------------------------------
    # Step Functions
    # ---------------------------------------------------------------------------------------------------------------
    def _start_execution(self, state_machine_arn: str, payload: dict[str, Any]) -> None:
        """A rule targeting a state machine: EventBridge starts an execution with the event as input."""
        response = self.sandbox.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=str(payload.get("id") or uuid.uuid4()), input=json.dumps(payload)
        )
        self.follow(response["executionArn"])

    def _watch_executions(self) -> None:
        """Follow every execution the product started (its StartExecution calls) until it ends or waits."""
        for call in list(self.sandbox.recorder.calls):
            if call["call"] == "states:StartExecution" and call["resource"] not in self._watched:
                self.follow(call["resource"])

    def poll_executions(self) -> None:
        """Follow what the product's recorded calls do not show: executions a person started (`lifecycle deploy`,
        the console), and executions a person let go on (`lifecycle approve` from another process)."""
        stepfunctions = self.sandbox.client("stepfunctions")
        for machine in stepfunctions.list_state_machines()["stateMachines"]:
            listed = stepfunctions.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
            for item in sorted(listed, key=lambda item: item["startDate"]):
                if item["executionArn"] not in self._watched:
                    self.follow(item["executionArn"])
        for execution in [e for e in self.executions if e.status == "RUNNING"]:
            history = stepfunctions.get_execution_history(executionArn=execution.arn)["events"]
            if len(history) > execution.history_seen:
                self.resume(execution.arn)

    def resume(self, execution_arn: str) -> None:
        """Follow an execution again after a callback (an approval) let it go on."""
        execution = next(e for e in self.executions if e.arn == execution_arn)
        self._run(execution, seen=execution.history_seen)

    def follow(self, execution_arn: str) -> None:
        """Report an execution's states until it ends or waits (an approval gate)."""
        self._watched.add(execution_arn)
        state_machine, name = execution_arn.split(":")[6], execution_arn.split(":")[7]
        execution = Execution(state_machine, name, execution_arn)
        self.executions.append(execution)
        self._run(execution, seen=0)

    def _run(self, execution: Execution, *, seen: int) -> None:
        stepfunctions = self.sandbox.client("stepfunctions")
        execution_arn, state_machine, name = execution.arn, execution.state_machine, execution.name
        deadline = time.monotonic() + _EXECUTION_TIMEOUT_SECONDS
        last_progress = time.monotonic()
        # resumed after an approval: the gate it waited at does not count (its TaskSucceeded may not be written yet)
        gates_from = seen
        with self.sandbox.recorder.recording():  # the tasks run on the engine's threads: their calls are the product's
            while True:
                status = stepfunctions.describe_execution(executionArn=execution_arn)["status"]
                history = stepfunctions.get_execution_history(executionArn=execution_arn)["events"]
                for entry in history[seen:]:
                    if entry["type"].endswith("StateEntered"):
                        state = entry["stateEnteredEventDetails"]["name"]
                        execution.states.append(state)
                        self.timeline.add("step", AUTOMATION, f"{state_machine}/{name}: {state}")
                    elif entry["type"] in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
                        details = entry.get("executionFailedEventDetails", {})
                        self.timeline.add("step", AUTOMATION, f"{state_machine}/{name}: {entry['type']} {details}")
                if len(history) > seen:  # any new event (a task's answer too) is progress
                    last_progress = time.monotonic()
                seen = execution.history_seen = len(history)
                execution.status = status
                now = time.monotonic()
                paused = status == "RUNNING" and waiting_on_token(history, gates_from)  # at an approval gate
                # a task whose Lambda runs is progress however long it takes (a slow machine): not quiet
                in_flight = bool(history) and history[-1]["type"] in _TASK_RUNNING
                quiet = not in_flight and now - last_progress > _QUIET_AFTER_SECONDS
                if status != "RUNNING" or paused or now > deadline or quiet:
                    break
                time.sleep(0.05)
        where = f", at {execution.states[-1]}" if execution.status == "RUNNING" and execution.states else ""
        self.timeline.add(
            "step", AUTOMATION, f"{state_machine}/{name}: {execution.status}{where}", status=execution.status
        )

    def _queue_url(self, queue_arn: str) -> str:
        account, name = queue_arn.split(":")[4], queue_arn.split(":")[5]
        return str(self.sandbox.client("sqs", account).get_queue_url(QueueName=name)["QueueUrl"])


def _environment(function: Function) -> dict[str, str]:
    """What the Lambda service sets for the function, on top of the template's variables."""
    region = os.environ.get("AWS_REGION", "us-east-1")
    return {
        **function.environment,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
    }


def _timeout(sandbox: Sandbox, function: Function) -> int:
    properties = sandbox.deployment.template["Resources"][function.logical_id]["Properties"]
    return int(properties.get("Timeout", 3))


def _input(target: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """What the target receives: the event, or the target's Input / InputTransformer applied to it."""
    if "Input" in target:
        return dict(json.loads(target["Input"]))
    transformer = target.get("InputTransformer")
    if transformer:
        parsed = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
        return dict(parsed) if isinstance(parsed, dict) else {"input": parsed}
    return event


def summarize(event: dict[str, Any]) -> str:
    """`detail-type: resource-name Status (rule issues)` in one line."""
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    resources = event.get("resources") or [""]
    name = str(resources[0]).rsplit("/", 1)[-1] if resources[0] else ""
    status = next(
        (str(value) for key, value in detail.items() if key.endswith("Status") and isinstance(value, str)), ""
    )
    issues = [
        f"{rule.get('RuleConfigurationName')} IssuesFound"
        for key in ("DebugRuleEvaluationStatuses", "ProfilerRuleEvaluationStatuses")
        for rule in detail.get(key) or []
        if isinstance(rule, dict) and rule.get("RuleEvaluationStatus") == "IssuesFound"
    ]
    metrics = [
        f"{metric.get('MetricName')}={metric.get('Value')}"
        for metric in detail.get("FinalMetricDataList") or []
        if isinstance(metric, dict) and status == "Completed"
    ]
    extra = f" ({', '.join(issues + metrics)})" if issues or metrics else ""
    return f"{event.get('detail-type')}: {name} {status}{extra}".rstrip()


def describe_result(result: dict[str, Any] | None) -> str:
    result = result or {}
    outcome = result.get("outcome", "acted")
    said = result.get("action") or ""
    reason = result.get("reason") or ""
    return " ".join(part for part in (outcome, said, f"({reason})" if reason else "") if part)
