"""`lifecycle status` and `lifecycle history` against the served sandbox.

The `churn` group's history is made by the product itself: the sample training-completed event runs through the
deployed rules and the real training reaction (metric gate, model package registration). The staging endpoint and a
retrain cool-down on prod are the Given of these tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import cli_fixtures
import pytest
from lifecycle.config import Settings
from lifecycle.store import cooldown

from sandbox.cloud import AUTOMATION, STAGING, Sandbox
from sandbox.replay import read_policy, seed
from sandbox.router import Router

EVENT_ID = "5b7a2a5e-1c39-4a0e-9d43-7d1f2f0e0a01"  # events/training-completed.json
PACKAGE = f"arn:aws:sagemaker:us-east-1:{AUTOMATION}:model-package/churn/1"

# The shared fixtures (a conftest.py here would shadow tests/conftest.py's module name).
lifecycle, policy_file, sandbox = cli_fixtures.lifecycle, cli_fixtures.policy_file, cli_fixtures.sandbox
CHURN, ROOT = cli_fixtures.CHURN, cli_fixtures.ROOT


@pytest.fixture(scope="module")
def churn(sandbox: Sandbox) -> Sandbox:
    """churn v1 registered by the training reaction, serving on staging; prod cooling down after a retrain."""
    sandbox.publish_policy(read_policy(CHURN))
    event = json.loads((ROOT / "events" / "training-completed.json").read_text())
    seed(sandbox, event)
    Router(sandbox).emit_and_settle(event)
    staging = sandbox.client("sagemaker", STAGING)
    staging.create_model(
        ModelName="churn-v1-staging",
        PrimaryContainer={"ModelPackageName": PACKAGE},
        ExecutionRoleArn=f"arn:aws:iam::{STAGING}:role/SageMakerExecutionRole",
    )
    staging.create_endpoint_config(
        EndpointConfigName="churn-v1-staging",
        ProductionVariants=[
            {
                "VariantName": "v1",
                "ModelName": "churn-v1-staging",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    staging.create_endpoint(EndpointName="churn-staging", EndpointConfigName="churn-v1-staging")
    stack = sandbox.client("cloudformation").describe_stacks(StackName="sagemaker-lifecycle")["Stacks"][0]
    cooldown.claim(
        Settings.from_stack(stack),
        group="churn",
        stage="prod",
        monitor="data_quality",
        hours=24,
        holder="monitoring-execution/churn-prod",
        started=datetime.now(UTC),
        action="retrain",
    )
    return sandbox


# --- status ----------------------------------------------------------------------------------------------------------
def test_status_shows_each_stage(lifecycle, churn):
    result = lifecycle("status", "churn", "--sandbox")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    staging = next(line for line in lines if line.startswith("│ staging"))
    assert "churn-staging" in staging and "InService" in staging and "v1: v1 100%" in staging
    prod = next(line for line in lines if line.startswith("│ prod"))
    assert "not deployed" in prod and "no monitoring schedule" in prod and "until " in prod
    assert "no deployment in flight" in result.out


def test_status_json(lifecycle, churn):
    result = lifecycle("status", "churn", "--sandbox", "--json")

    assert result.code == 0, result.err
    status = result.json()
    staging, prod = status["stages"]
    assert (staging["name"], staging["account"], staging["endpoint_status"]) == ("staging", STAGING, "InService")
    assert staging["variants"] == [{"name": "v1", "version": 1, "package_arn": PACKAGE, "weight": 1.0}]
    assert prod["endpoint_status"] == "not deployed"
    assert prod["cooldown_action"] == "retrain"
    assert datetime.fromisoformat(prod["cooldown_until"]) > datetime.now(UTC)
    assert status["deployments"] == []


def test_status_watch_returns_when_nothing_is_in_flight(lifecycle, churn):
    result = lifecycle("status", "churn", "--sandbox", "--watch", "--interval", "0.1")

    assert result.code == 0, result.err
    assert "churn-staging" in result.out
    assert "elapsed · idle" in result.out


def test_status_shows_the_current_model_of_a_batch_stage(lifecycle, churn):
    from lifecycle.store import deployments

    churn.publish_policy(read_policy(ROOT / "sandbox" / "policies" / "scoring.yaml"))
    before = lifecycle("status", "scoring", "--sandbox", "--json").json()
    assert [(s["name"], s["endpoint"], s["endpoint_status"]) for s in before["stages"]] == [
        ("batch", "batch", "no model yet")
    ]
    stack = churn.client("cloudformation").describe_stacks(StackName="sagemaker-lifecycle")["Stacks"][0]
    current = deployments.CurrentModel(2, "scoring-v2-batch-8b1d2e", "scoring-v2-batch-3f9a1c2e", "s3://out/", "", "e")
    deployments.record_current_model(Settings.from_stack(stack), "scoring", "batch", current)

    result = lifecycle("status", "scoring", "--sandbox", "--json")

    [stage] = result.json()["stages"]
    assert stage["endpoint_status"] == "proved by scoring-v2-batch-3f9a1c2e"
    assert stage["variants"] == [{"name": "scoring-v2-batch-8b1d2e", "version": 2, "package_arn": "", "weight": 1.0}]
    table = lifecycle("status", "scoring", "--sandbox")
    assert "v2" in next(line for line in table.out.splitlines() if line.startswith("│ batch"))


def test_status_of_an_unknown_group(lifecycle, churn):
    result = lifecycle("status", "nope", "--sandbox")

    assert result.code == 1
    assert "error: unknown group 'nope': no policy at /sagemaker-lifecycle/policies/nope" in result.err


def test_status_of_a_stack_that_does_not_exist(lifecycle, churn):
    result = lifecycle("status", "churn", "--sandbox", "--stack", "elsewhere")

    assert result.code == 1
    assert "error: stack 'elsewhere' not found in us-east-1" in result.err


# --- history ---------------------------------------------------------------------------------------------------------
def test_history_is_the_audit_trail_the_reaction_wrote(lifecycle, churn):
    result = lifecycle("history", "churn", "--sandbox", "--json")

    assert result.code == 0, result.err
    records = result.json()
    registered = [record for record in records if record["action"] == "register-model-package"]
    assert len(registered) == 1
    assert registered[0]["event_id"] == EVENT_ID
    assert registered[0]["account"] == AUTOMATION
    assert registered[0]["outcome"] == "done"
    assert [record["at"] for record in records] == sorted(record["at"] for record in records)


def test_history_table(lifecycle, churn):
    result = lifecycle("history", "churn", "--sandbox", "--since", "1h")

    assert result.code == 0, result.err
    assert "churn: audit trail since" in result.out
    assert "register-model-package" in result.out
    assert EVENT_ID in result.out


def test_history_since_excludes_older_records(lifecycle, churn):
    result = lifecycle("history", "churn", "--sandbox", "--since", "2999-01-01")

    assert result.code == 0
    assert "no audit records of churn since 2999-01-01 00:00 UTC" in result.out


def test_history_of_an_unknown_group(lifecycle, churn):
    result = lifecycle("history", "nope", "--sandbox")

    assert result.code == 1
    assert "error: unknown group 'nope'" in result.err


def test_history_with_a_bad_since(lifecycle, churn, capsys):
    # bad usage: exit code 2 (argparse's), before anything is read
    with pytest.raises(SystemExit) as exited:
        lifecycle("history", "churn", "--sandbox", "--since", "last tuesday")

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --since: 'last tuesday': expected a duration like 15s, 90m, 12h, 7d, 2w or an ISO date" in err
