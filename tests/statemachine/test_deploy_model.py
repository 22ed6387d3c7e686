"""DeployModel executed on moto's Step Functions engine, its Lambda task run in-process, in two workload accounts.

Each named case asserts the states the execution entered, then what changed in the accounts. The endpoint fake
refuses what SageMaker refuses (a guarded update that renames variants, a canary over 50%, a timeout shorter than the
rollout), so every update these cases make is one SageMaker would accept.
"""

from __future__ import annotations

import pytest
from conftest import AUTOMATION, PROD, REGION, STAGING
from deploy_scenario import ALARM, DeployWorld, deploy_policy, deploy_world, prod_stage, staging_stage
from lifecycle.audit import history
from lifecycle.config import get_settings

world_fixture = pytest.fixture(name="world")(deploy_world)

LEASE = ["Acquire Endpoint Lease", "Endpoint Lease?"]
TO_SERVICE = [
    *LEASE,
    "Create Model",
    "Create Endpoint Config",
    "Create Or Update Endpoint",
    "Wait For Endpoint In Service",
    "Check Endpoint Status",
    "Endpoint In Service?",
]
STAGE = [*TO_SERVICE, "Run Smoke Test", "Canary Share Serving?", "Configure Monitoring", "Finish Stage"]
START = ["Validate Input", "More Stages To Deploy?", "Approval Before Traffic?"]
NEXT = ["More Stages To Deploy?", "Approval Before Traffic?"]
SUCCEEDED = ["More Stages To Deploy?", "Deployment Succeeded"]
FAILED_WITHOUT_RESTORE = [  # nothing to put back (SageMaker's auto-rollback did, or the stage created the endpoint)
    "Restore Previous Endpoint Config",
    "Restore Started?",
    "Finish Failed Stage",
    "How Did It End?",
    "Deployment Failed",
]
RESTORED = [  # the previous config put back, and waited for until InService
    "Restore Previous Endpoint Config",
    "Restore Started?",
    "Wait For Restore",
    "Check Restore",
    "Restore Settled?",
    "Finish Failed Stage",
    "How Did It End?",
]


def approved(version: int = 2, *, group: str = "churn") -> dict:
    return {"kind": "approved", "group": group, "version": version, "approved_at": "2026-11-27T11:02:03Z", "event_id": "8d1f6a3e"}


def audit(action: str) -> list:
    return [r for r in history("churn", get_settings()) if r.action == action]


def serving(world: DeployWorld, stage: dict) -> list[tuple[str, int | None, float]]:
    """(variant, version, weight) of what the stage's endpoint serves now."""
    from lifecycle.actions import deploy

    sagemaker = world.cloud.client("sagemaker", stage["account"])
    config = world.endpoint(stage)["config"]
    return [(v.name, v.version, v.weight) for v in deploy.serving(sagemaker, config)]


def test_happy_path_through_staging_and_prod_in_two_accounts(world: DeployWorld) -> None:
    # Given v1 serving prod (444...), staging (333...) not deployed yet, v2 approved; staging needs an approval
    world.cloud.publish_policy(deploy_policy(staging_stage(approval_required=True), prod_stage()))
    world.register()
    world.serve(prod_stage(), 1)

    # When
    run = world.start("happy", approved())
    assert run.states == [*START, "Wait For Approval"]
    assert world.cloud.client("sagemaker", STAGING).list_endpoints()["Endpoints"] == []  # nothing before the answer
    run = world.approve(run, "staging")

    # Then
    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [*START, "Wait For Approval", *STAGE, *NEXT, *STAGE, *SUCCEEDED]
    assert serving(world, staging_stage()) == [("AllTraffic", 2, 1.0)]
    assert serving(world, prod_stage()) == [("AllTraffic", 2, 1.0)]
    schedule = world.cloud.client("sagemaker", PROD).describe_monitoring_schedule(
        MonitoringScheduleName="churn-prod-data-quality"
    )
    assert schedule["MonitoringScheduleConfig"]["MonitoringType"] == "DataQuality"
    actions = [(r.action, r.outcome, r.account) for r in history("churn", get_settings())]
    assert ("create-endpoint", "done", STAGING) in actions
    assert ("update-endpoint", "done", PROD) in actions
    assert ("deployment-complete", "done", PROD) in actions
    [update] = [r for r in audit("update-endpoint") if r.account == PROD]
    assert "blue/green CANARY" in update.reason and ALARM in update.reason
    notes = world.cloud.notifications()
    assert [note["kind"] for note in notes] == ["approval-requested", "deployed"]
    assert notes[-1]["subject"] == "churn v2: v2 deployed to staging, prod"
