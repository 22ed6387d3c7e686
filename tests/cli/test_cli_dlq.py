"""`lifecycle dlq list | show | redrive` against the served sandbox.

The dead letters are made by the platform itself: a reaction that keeps failing (SageMaker refusing its calls, as a
permission missing in a workload role would) is retried per its EventInvokeConfig and its invocation record lands in
the template's on-failure queue. A forwarding-rule dead letter is written as EventBridge writes one (the event as the
body, the rule, target and error as message attributes), since nothing in the sandbox fails a bus-to-bus delivery.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import cli_fixtures
import pytest
from botocore.exceptions import ClientError
from botocore.handlers import BUILTIN_HANDLERS

from sandbox.cloud import AUTOMATION, DEV, Sandbox
from sandbox.replay import read_policy, seed
from sandbox.router import Router

lifecycle, sandbox = cli_fixtures.lifecycle, cli_fixtures.sandbox
CHURN, ROOT = cli_fixtures.CHURN, cli_fixtures.ROOT
COMPLETED = json.loads((ROOT / "events" / "training-completed.json").read_text())
FAILED = json.loads((ROOT / "events" / "training-failed.json").read_text())


@pytest.fixture(scope="module")
def churn(sandbox: Sandbox) -> Sandbox:
    sandbox.publish_policy(read_policy(CHURN))
    return sandbox


@pytest.fixture
def queue(churn: Sandbox) -> Iterator[str]:
    """The stack's dead-letter queue, emptied after each test."""
    url = churn.deployment.outputs["DeadLetterQueueUrl"]
    yield url
    sqs = churn.client("sqs")
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@contextmanager
def refused(service: str, operation: str) -> Iterator[None]:
    """`service` refuses `operation` (AccessDenied, which the SDK does not retry) for every client made inside."""

    def deny(model: Any, **_: Any) -> None:
        if model.service_model.signing_name == service and model.name == operation:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied (test)"}}, operation)

    handler = ("before-call", deny)
    BUILTIN_HANDLERS.append(handler)
    try:
        yield
    finally:
        BUILTIN_HANDLERS.remove(handler)


def packages(sandbox: Sandbox, group: str = "churn") -> list[str]:
    listed = sandbox.client("sagemaker").list_model_packages(ModelPackageGroupName=group)
    return [package["ModelPackageArn"] for package in listed["ModelPackageSummaryList"]]


def dead_letters(lifecycle: Callable[..., cli_fixtures.Result]) -> list[dict[str, Any]]:
    result = lifecycle("dlq", "list", "--sandbox", "--json")
    assert result.code == 0, result.err
    letters = result.json()
    assert isinstance(letters, list)
    return letters


def forwarding_dead_letter(sandbox: Sandbox, queue: str, event: dict[str, Any]) -> str:
    """What EventBridge writes when AutomationForwardingRule cannot put `event` on the lifecycle bus ("Event retry
    policy and using dead-letter queues", EventBridge User Guide)."""
    outputs = sandbox.deployment.outputs
    attributes = {
        "RULE_ARN": outputs["AutomationForwardingRuleArn"],
        "TARGET_ARN": outputs["LifecycleBusArn"],
        "ERROR_CODE": "NO_PERMISSIONS",
        "ERROR_MESSAGE": "Not authorized to put events on the target bus",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "0",
    }
    sent = sandbox.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=json.dumps(event),
        MessageAttributes={key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()},
    )
    return str(sent["MessageId"])


def test_a_dead_lettered_event_redriven_acts_exactly_once(lifecycle, churn, queue):
    # Given a completed training job whose reaction failed until SageMaker refused it no more: dead-lettered
    seed(churn, COMPLETED)
    router = Router(churn)
    with refused("sagemaker", "DescribeTrainingJob"):
        [delivery] = router.emit_and_settle(COMPLETED)
    assert delivery.invocations[0].outcome == "failed"
    [letter] = dead_letters(lifecycle)
    assert (letter["kind"], letter["failed"], letter["attempts"]) == (
        "function",
        "sagemaker-lifecycle-training-state",
        3,
    )
    assert "AccessDeniedException" in letter["error"] and letter["event"] == COMPLETED
    assert packages(churn) == []

    # When it is redriven, and Lambda runs what it accepted
    result = lifecycle("dlq", "redrive", letter["id"][:8], "--sandbox")
    router.settle()

    # Then the event acted once: one package, the queue empty
    assert result.code == 0, result.err
    assert f"redriven {letter['id']} (event {COMPLETED['id']}) to sagemaker-lifecycle-training-state" in result.out
    [run] = router.accepted
    assert (run.outcome, run.event_id) == ("acted", COMPLETED["id"])
    assert len(packages(churn)) == 1
    assert dead_letters(lifecycle) == []

    # And a second copy of the same dead letter, redriven too, changes nothing (idempotency, as for any delivery)
    churn.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=json.dumps({"requestContext": {"functionArn": letter["target"]}, "requestPayload": COMPLETED}),
    )
    again = lifecycle("dlq", "redrive", "--all", "--sandbox")
    router.settle()
    assert again.code == 0, again.err
    assert router.accepted[-1].event_id == COMPLETED["id"]
    assert len(packages(churn)) == 1
    history = lifecycle("history", "churn", "--sandbox", "--json").json()
    assert len([record for record in history if record["action"] == "register-model-package"]) == 1


def test_a_redrive_that_lambda_does_not_accept_keeps_the_message(lifecycle, churn, queue):
    # Given a dead letter (SNS refused the failure's notification)
    seed(churn, FAILED)
    router = Router(churn)
    with refused("sns", "Publish"):
        router.emit_and_settle(FAILED)
    [letter] = dead_letters(lifecycle)

    # When Lambda refuses the Invoke
    with refused("lambda", "Invoke"):
        result = lifecycle("dlq", "redrive", "--all", "--sandbox")
    router.settle()

    # Then nothing ran and the message is still there
    assert result.code == 1
    assert (
        f"not redriven {letter['id']}: lambda:Invoke sagemaker-lifecycle-training-state: AccessDeniedException"
        in result.out
    )
    assert router.accepted == []
    assert [kept["id"] for kept in dead_letters(lifecycle)] == [letter["id"]]


def test_dry_run_says_where_each_event_would_go_and_changes_nothing(lifecycle, churn, queue):
    message = forwarding_dead_letter(churn, queue, FAILED)
    router = Router(churn)

    result = lifecycle("dlq", "redrive", "--all", "--dry-run", "--sandbox")
    router.settle()

    assert result.code == 0, result.err
    assert f"would redrive {message} (event {FAILED['id']}) to sagemaker-lifecycle-training-state" in result.out
    assert router.accepted == []
    assert [letter["id"] for letter in dead_letters(lifecycle)] == [message]


def test_a_forwarding_rule_dead_letter_goes_to_the_rules_of_the_bus_that_match_it(lifecycle, churn, queue):
    # Given the automation account's own forwarding rule could not put a training event on the lifecycle bus
    event = {**FAILED, "id": str(uuid.uuid4()), "account": AUTOMATION}
    message = forwarding_dead_letter(churn, queue, event)
    [letter] = dead_letters(lifecycle)
    assert (letter["kind"], letter["attempts"]) == ("rule", 1)
    assert letter["failed"] == churn.deployment.outputs["AutomationForwardingRuleArn"].rsplit("/", 1)[1]
    assert letter["error"] == "NO_PERMISSIONS: Not authorized to put events on the target bus"

    # When it is redriven
    router = Router(churn)
    result = lifecycle("dlq", "redrive", message, "--sandbox", "--json")
    router.settle()

    # Then it went where the bus's rules send it: the training reaction only (TrainingJobStateRule)
    assert result.code == 0, result.err
    [redrive] = result.json()
    assert redrive["redriven"] and [to.rsplit(":", 1)[1] for to in redrive["to"]] == [
        "sagemaker-lifecycle-training-state"
    ]
    [run] = router.accepted
    assert (run.function, run.event_id) == ("TrainingStateFunction", event["id"])
    assert dead_letters(lifecycle) == []


def test_an_undelivered_notification_is_listed_but_never_redriven(lifecycle, churn, queue):
    sent = churn.client("sqs").send_message(QueueUrl=queue, MessageBody="churn v2 is waiting for approval")

    listed = lifecycle("dlq", "list", "--sandbox")
    result = lifecycle("dlq", "redrive", sent["MessageId"], "--sandbox")

    assert "a notification SNS could not deliver" in listed.out
    assert result.code == 1
    assert "not an event" in result.out and "(message kept)" in result.out
    assert len(dead_letters(lifecycle)) == 1


def test_show_prints_the_error_and_the_original_event(lifecycle, churn, queue):
    message = forwarding_dead_letter(churn, queue, FAILED)

    result = lifecycle("dlq", "show", message[:8], "--sandbox")

    assert result.code == 0, result.err
    assert f"id             {message}" in result.out
    assert "error          NO_PERMISSIONS: Not authorized to put events on the target bus" in result.out
    assert f"SageMaker Training Job State Change: churn-xgb-20261127-0900 ({DEV}), id {FAILED['id']}" in result.out
    assert '"FailureReason": "AlgorithmError' in result.out


def test_show_refuses_an_unknown_or_too_short_id(lifecycle, churn, queue):
    forwarding_dead_letter(churn, queue, FAILED)

    unknown = lifecycle("dlq", "show", "00000000-0000", "--sandbox")
    short = lifecycle("dlq", "show", "abc", "--sandbox")

    assert unknown.code == short.code == 1
    assert "no dead letter '00000000-0000' in the queue" in unknown.err
    assert "at least its first 8 characters" in short.err


def test_an_empty_queue(lifecycle, churn, queue):
    assert lifecycle("dlq", "list", "--sandbox").out.strip() == "the dead-letter queue is empty"
    assert "nothing to redrive" in lifecycle("dlq", "redrive", "--all", "--sandbox").out


@pytest.mark.parametrize("args", [["dlq", "redrive"], ["dlq", "redrive", "abcdefgh", "--all"]])
def test_redrive_needs_ids_or_all_but_not_both(lifecycle, args, capsys):
    with pytest.raises(SystemExit) as exited:
        lifecycle(*args, "--sandbox")

    assert exited.value.code == 2
    assert "give the message ids to redrive, or --all (not both)" in capsys.readouterr().err
