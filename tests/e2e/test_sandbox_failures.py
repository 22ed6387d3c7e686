"""Failure paths through the sandbox: a handler that keeps failing is dead-lettered; a policy that stops nothing."""

from __future__ import annotations

from pathlib import Path

from sandbox.cloud import Sandbox
from sandbox.replay import read_event, read_policy, replay, sample_policies, seed
from sandbox.router import Router
from sandbox.timeline import Timeline

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_a_failing_handler_is_retried_then_dead_lettered() -> None:
    # Given a sandbox whose lifecycle table is gone (every reaction's first write fails)
    timeline = Timeline()
    with Sandbox(timeline=timeline) as sandbox:
        for path in sample_policies():
            sandbox.publish_policy(read_policy(path))
        sandbox.client("dynamodb").delete_table(TableName=sandbox.table_name)
        event = read_event(EVENTS / "training-failed.json")
        seed(sandbox, event)

        # When
        [delivery] = Router(sandbox).emit_and_settle(event)

        # Then: 1 + MaximumRetryAttempts (2) attempts, then the on-failure destination of the template
        [invocation] = delivery.invocations
        assert invocation.outcome == "failed" and "ResourceNotFoundException" in invocation.error
        assert len([line for line in timeline.of("handler") if "invoked" in line.text]) == 3
        queue = sandbox.deployment.resources["DeadLetterQueue"]
        [message] = sandbox.client("sqs").receive_message(QueueUrl=queue)["Messages"]
        assert '"condition": "RetriesExhausted"' in message["Body"]


def test_a_rule_the_policy_does_not_stop_on_is_only_notified() -> None:
    policy = read_policy(sample_policies()[0]) | {"debugger": {"stop_on_rules": []}}
    report = replay(
        read_event(EVENTS / "debugger-issues-found.json"),
        [policy],
        Timeline(),
    )
    assert report["outcome"] == "acted"
    assert "sagemaker:StopTrainingJob" not in {a["call"] for a in report["actions"]}
    assert report["rules"] == ["DebuggerRuleIssuesRule"]
