"""Run the real ASL on moto's executing Step Functions engine and read back what happened.

moto ignores `DefinitionSubstitutions`, so `definition()` folds them in (every `${Name}` must be given). Executions
always get a name (moto names unnamed ones `None`). `run()` polls until the execution ends or waits on a task token,
and returns its status and the ordered names of the states it entered.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_MODEL = ROOT / "statemachines" / "deploy_model.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_WAITING_RESOURCE = ".waitForTaskToken"


def definition(path: Path, substitutions: dict[str, str]) -> str:
    """The ASL text with `${Name}` replaced; refuses a placeholder without a value, as CloudFormation does."""
    text = path.read_text()
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(substitutions))
    if missing:
        raise ValueError(f"no DefinitionSubstitutions for {missing} in {path.name}")
    return _PLACEHOLDER.sub(lambda match: substitutions[match.group(1)], text)


def create_state_machine(
    name: str, path: Path, substitutions: dict[str, str], *, role_arn: str, region: str = "us-east-1"
) -> str:
    """Create the state machine in moto's executing backend; returns its ARN."""
    sfn = boto3.client("stepfunctions", region_name=region)
    return str(
        sfn.create_state_machine(
            name=name, definition=definition(path, substitutions), roleArn=role_arn, type="STANDARD"
        )["stateMachineArn"]
    )


@dataclass
class Run:
    """An execution as far as it got."""

    execution_arn: str
    status: str
    states: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    output: Any = None
    error: str | None = None
    cause: str | None = None

    def waiting(self, since: int = 0) -> bool:
        """True while the execution waits on a task token (an approval gate) scheduled at event `since` or later."""
        return self.status == "RUNNING" and waiting_on_token(self.events, since)

    def count(self, event_type: str) -> int:
        return sum(1 for event in self.events if event["type"] == event_type)


def waiting_on_token(events: list[dict[str, Any]], since: int) -> bool:
    """A token task was scheduled at `since` or later and its Lambda has answered (TaskSubmitted: the token is kept
    and the approvers told), and it has not ended since."""
    scheduled: int | None = None
    submitted = False
    for index, event in enumerate(events):
        details = event.get("taskScheduledEventDetails", {})
        if event["type"] == "TaskScheduled" and details.get("resource", "").endswith(_WAITING_RESOURCE[1:]):
            scheduled, submitted = index, False
        elif event["type"] == "TaskSubmitted" and scheduled is not None:
            submitted = True
        elif event["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskSubmitFailed"):
            scheduled = None
    return scheduled is not None and submitted and scheduled >= since


def history(execution_arn: str, region: str = "us-east-1") -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=region)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def entered_states(events: list[dict[str, Any]]) -> list[str]:
    """The names of the states entered, in order."""
    return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def observe(execution_arn: str, region: str = "us-east-1") -> Run:
    sfn = boto3.client("stepfunctions", region_name=region)
    described = sfn.describe_execution(executionArn=execution_arn)
    events = history(execution_arn, region)
    output = described.get("output")
    return Run(
        execution_arn=execution_arn,
        status=described["status"],
        states=entered_states(events),
        events=events,
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
    )


def wait(execution_arn: str, *, since: int = 0, timeout: float = 30, region: str = "us-east-1") -> Run:
    """Poll until the execution ends or waits on a task token scheduled after history event `since`."""
    deadline = time.monotonic() + timeout
    while True:
        run = observe(execution_arn, region)
        if run.status != "RUNNING" or run.waiting(since):
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still running after {timeout} s: {run.states}")
        time.sleep(0.25)


def start(state_machine_arn: str, name: str, payload: Any, *, timeout: float = 30, region: str = "us-east-1") -> Run:
    """Start execution `name` with `payload` and `wait` for it."""
    sfn = boto3.client("stepfunctions", region_name=region)
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))["executionArn"]
    return wait(arn, timeout=timeout, region=region)


def send_success(token: str, output: dict[str, Any], region: str = "us-east-1") -> None:
    boto3.client("stepfunctions", region_name=region).send_task_success(taskToken=token, output=json.dumps(output))


def send_failure(token: str, *, error: str, cause: str, region: str = "us-east-1") -> None:
    boto3.client("stepfunctions", region_name=region).send_task_failure(taskToken=token, error=error, cause=cause)


def install_deploy_model(*, topic_arn: str, env: dict[str, str] | None = None, region: str = "us-east-1") -> str:
    """Create DeployModel from the real ASL, its Lambda task running `functions/deploy_step` in-process.

    The substitutions are the ones template.yaml passes (the step function, the topic, the service integrations in
    the partition); the model package reaction is registered too, with the state machine's ARN.
    """
    from sandbox import lambdas

    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    function_arn = f"arn:aws:lambda:{region}:{account}:function:deploy-step"
    lambdas.install()
    lambdas.register("deploy-step", "deploy_step", env)
    arn = create_state_machine(
        "deploy-model",
        DEPLOY_MODEL,
        {
            "DeployStepFunctionArn": function_arn,
            "NotificationTopicArn": topic_arn,
            "LambdaInvokeWaitForTaskToken": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "SnsPublish": "arn:aws:states:::sns:publish",
        },
        role_arn=f"arn:aws:iam::{account}:role/deploy-model-state-machine",
        region=region,
    )
    lambdas.register(
        "model-package-state", "model_package_state", {**(env or {}), "LIFECYCLE_DEPLOY_STATE_MACHINE_ARN": arn}
    )
    return arn


def stop_running_executions(*, timeout: float = 10) -> list[str]:
    """Stop every execution moto's engine still runs, in every account and region, and wait (up to `timeout`) for
    their threads to end; returns the ARNs stopped.

    moto runs each execution on daemon threads that outlive the mock: an execution left waiting on a task token (an
    approval gate, a shadow's verdict) or between states when a test or sandbox ends goes on in the next one in the
    same process, invoking that one's functions (same names) against its fresh state. A stopped execution evaluates
    no further state (moto's engine loops `while env.is_running()`), but a thread waiting on a task token only wakes
    when the token is answered or times out: each one is answered with a failure, so every thread ends now.
    """
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackNotifyConsumerError,
        CallbackOutcomeFailure,
    )
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.stepfunctions.parser.utils import TMP_THREADS

    deadline = time.monotonic() + timeout
    stopped = []
    for account in list(stepfunctions_parser_backends):
        for backend in list(stepfunctions_parser_backends[account].values()):
            for machine in backend.state_machines:
                for execution in machine.executions:
                    if execution.status != "RUNNING":
                        continue
                    # an execution started a moment ago may not have its evaluation environment yet
                    while execution.exec_worker.env is None and time.monotonic() < deadline:
                        time.sleep(0.01)
                    machine.stop_execution(execution.execution_arn)
                    stopped.append(execution.execution_arn)
                    callbacks = execution.exec_worker.env.callback_pool_manager
                    for token in list(callbacks._pool):
                        outcome = CallbackOutcomeFailure(token, error="SandboxClosed", cause="the sandbox ended")
                        with contextlib.suppress(CallbackNotifyConsumerError):  # gone already: nothing to wake
                            callbacks.notify(token, outcome)
    for thread in [thread for thread in TMP_THREADS if thread.is_alive()]:
        thread.join(max(0.0, deadline - time.monotonic()))
    TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]
    return stopped
