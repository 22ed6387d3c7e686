"""moto's executing Step Functions engine runs each execution on daemon threads that outlive the mock: the sandbox
and the deploy world stop what is still running when they end, so nothing of one test goes on in the next."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from moto.core.config import default_user_config
from moto.stepfunctions.parser.utils import TMP_THREADS
from support.cloud import AUTOMATION, REGION

from sandbox.stepfunctions import entered_states, history, stop_running_executions, wait

ROLE = f"arn:aws:iam::{AUTOMATION}:role/sfn"


@pytest.fixture
def engine(cloud, monkeypatch):
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    return boto3.client("stepfunctions", region_name=REGION)


def _machine(sfn, name: str, first: dict) -> str:
    states = {"First": {**first, "Next": "Done"}, "Caught": {"Type": "Pass", "Next": "Done"}}
    states["Done"] = {"Type": "Succeed"}
    definition = {"StartAt": "First", "States": states}
    return str(sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"])


def _threads_of(before: list[threading.Thread]) -> list[threading.Thread]:
    return [thread for thread in TMP_THREADS if thread not in before]


def test_an_execution_waiting_on_a_task_token_or_a_wait_state_is_stopped_and_its_threads_end(engine):
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="gate")["QueueUrl"]
    gate = _machine(
        engine,
        "gate",
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 3600,
            # as DeployModel's gate: its Catch is not taken once the execution is stopped
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
        },
    )
    pause = _machine(engine, "pause", {"Type": "Wait", "Seconds": 3600})
    before = list(TMP_THREADS)
    waiting = engine.start_execution(stateMachineArn=gate, name="waiting")["executionArn"]
    sleeping = engine.start_execution(stateMachineArn=pause, name="sleeping")["executionArn"]
    assert wait(waiting, timeout=10).waiting()  # on its task token
    assert engine.describe_execution(executionArn=sleeping)["status"] == "RUNNING"
    assert any(thread.is_alive() for thread in _threads_of(before))

    assert sorted(stop_running_executions()) == sorted([waiting, sleeping])

    # moto ends the stopped waiter FAILED (the answer's error overrides the stop in its engine), AWS would say ABORTED;
    # what matters is that no state runs after the stop: not the Catch target, not the next state
    assert engine.describe_execution(executionArn=sleeping)["status"] == "ABORTED"
    assert engine.describe_execution(executionArn=waiting)["status"] in ("ABORTED", "FAILED")
    assert [entered_states(history(arn)) for arn in (waiting, sleeping)] == [["First"], ["First"]]
    assert [thread for thread in _threads_of(before) if thread.is_alive()] == []
    assert stop_running_executions() == []  # nothing runs any more


def test_an_execution_that_ended_is_left_as_it_is(engine):
    done = engine.start_execution(stateMachineArn=_machine(engine, "quick", {"Type": "Pass"}), name="quick")
    assert wait(done["executionArn"], timeout=10).status == "SUCCEEDED"

    assert stop_running_executions() == []
    assert engine.describe_execution(executionArn=done["executionArn"])["status"] == "SUCCEEDED"
