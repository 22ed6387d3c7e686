"""The sandbox is deployed as the README tells users to deploy: workload stacks in dev, staging and prod only, and the
automation stack forwarding its own account's SageMaker events (the sample policy's registry lives there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.cloud import AUTOMATION, DEV, PROD, STAGING, WORKLOAD_STACK, Sandbox
from sandbox.replay import read_event, read_policy, sample_policies, seed
from sandbox.router import Router

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        for path in sample_policies():
            running.publish_policy(read_policy(path))
        yield running


def test_no_workload_stack_in_the_automation_account(sandbox: Sandbox) -> None:
    stacks = sandbox.client("cloudformation", AUTOMATION).describe_stacks()["Stacks"]

    assert WORKLOAD_STACK not in {stack["StackName"] for stack in stacks}
    assert sandbox.workload_accounts == [DEV, STAGING, PROD]
    parameters = sandbox.client("cloudformation").describe_stacks(StackName="sagemaker-lifecycle")["Stacks"][0]
    allowed = next(p["ParameterValue"] for p in parameters["Parameters"] if p["ParameterKey"] == "AllowedAccountIds")
    assert AUTOMATION not in allowed


def test_a_registry_event_in_the_automation_account_reaches_its_reaction(sandbox: Sandbox) -> None:
    # Given an approval in the automation account's registry (where the sample policy keeps it)
    event = read_event(EVENTS / "model-package-pending.json")
    assert event["account"] == AUTOMATION
    seed(sandbox, event)

    # When SageMaker publishes it on that account's default bus
    delivery = Router(sandbox).deliver(event)

    # Then the stack's own forwarding rule takes it to the lifecycle bus, and the reaction acts on it
    assert delivery.forwarded
    assert delivery.rules == ["AutomationForwardingRule", "ModelPackageStateRule"]
    assert [invocation.outcome for invocation in delivery.invocations] == ["acted"]
    assert (delivery.invocations[0].result or {})["action"] == "approval-requested"


def test_an_account_without_a_workload_stack_is_named_as_the_cause(sandbox: Sandbox) -> None:
    event = read_event(EVENTS / "training-completed.json") | {"account": "555555555555"}

    delivery = Router(sandbox).deliver(event)

    assert not delivery.forwarded
    notes = [line.text for line in sandbox.timeline.of("note")]
    assert any("account 555555555555 has no workload stack in the sandbox" in note for note in notes)
