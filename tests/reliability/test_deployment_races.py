"""Lifecycle events at the same moment, with real threads, on moto's Step Functions engine (issue 13, cases 4 and 5).

Per endpoint at most one deployment acts at a time (a lease in the table); a newer approved version supersedes an
older one; a rejection stops the deployments of that version and rolls back what serves it. After every race, what
each endpoint serves is what its history (and the audit) says it serves.
"""

from __future__ import annotations

import copy
import threading
import time
from datetime import UTC, datetime

import pytest
from lifecycle.config import get_settings
from lifecycle.deploy import endpoints
from lifecycle.store import deployments
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, REGION
from support.deploy import DeployWorld, deploy_policy, deploy_world, prod_stage, staging_stage

world_fixture = pytest.fixture(name="world")(deploy_world)
REPEATS = 3


def package(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/churn/{version}"


def registry_event(load_event, version: int, status: str) -> dict:
    """The registry's event for `version` reaching `status` now."""
    event = copy.deepcopy(load_event("model-package-approved.json"))
    event["id"] = f"race-{version}-{status}-{time.monotonic_ns()}"
    event["resources"] = [package(version)]
    now = int(datetime.now(UTC).timestamp() * 1000)
    event["detail"].update(
        ModelPackageVersion=version, ModelPackageArn=package(version), ModelApprovalStatus=status, LastModifiedTime=now
    )
    return event


def set_status(world: DeployWorld, version: int, status: str) -> None:
    world.cloud.client("sagemaker", AUTOMATION).update_model_package(
        ModelPackageArn=package(version), ModelApprovalStatus=status
    )


def serving(world: DeployWorld, stage: dict) -> list[int]:
    sagemaker = world.cloud.client("sagemaker", stage["account"])
    return endpoints.serving_versions(endpoints.serving(sagemaker, world.endpoint(stage)["config"]), "churn")


def assert_consistent(world: DeployWorld, *stages: dict) -> None:
    """What each endpoint serves is the last version its history says completed a deployment there, and the
    audit's last `deploy-stage` of that endpoint names the same version."""
    for stage in stages:
        events = [e for e in deployments.stage_history(get_settings(), "churn", stage["name"]) if e.kind == "deployed"]
        done = [r for r in history("churn", get_settings()) if r.action == "deploy-stage" and r.outcome == "done"]
        done = [r for r in done if r.details.get("stage") == stage["name"]]
        assert serving(world, stage) == [events[-1].version], (stage["name"], events)
        assert done[-1].version == events[-1].version, (stage["name"], [r.reason for r in done])


def in_threads(*calls) -> list:
    results: list = [None] * len(calls)

    def run(index: int, call) -> None:
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("gap", [0.0, 1.5, 4.0][:REPEATS])
def test_two_approvals_close_together_end_with_both_stages_on_the_newest(world: DeployWorld, load_event, gap) -> None:
    # Given v1 serving staging and prod; v2 and v3 approved `gap` seconds apart, their events handled at once
    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage()))
    world.register(3, approved=(1,))
    world.serve(staging_stage(), 1)
    world.serve(prod_stage(), 1)

    def approve(version: int, after: float):
        def act() -> dict:
            time.sleep(after)
            set_status(world, version, "Approved")
            return world.react(registry_event(load_event, version, "Approved"))

        return act

    # When
    results = in_threads(approve(2, 0.0), approve(3, gap))
    runs = world.settle()

    # Then every execution ended, nothing failed, and both stages serve v3, as their history and the audit say
    assert all(result["outcome"] == "acted" for result in results), results
    assert all(run.status == "SUCCEEDED" for run in runs), [(r.states[-3:], r.cause) for r in runs]
    assert serving(world, staging_stage()) == serving(world, prod_stage()) == [3]
    assert_consistent(world, staging_stage(), prod_stage())


@pytest.mark.parametrize("attempt", range(REPEATS))
def test_two_deployments_to_one_endpoint_at_once_take_turns(world: DeployWorld, attempt: int) -> None:
    # Given two people deploy different versions to prod at the same moment
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(3, approved=(1, 2, 3))
    world.serve(prod_stage(), 1)
    first = {"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]}
    second = {"kind": "deploy", "group": "churn", "version": 3, "stages": ["prod"]}

    # When
    runs = in_threads(lambda: world.start(f"two-{attempt}-a", first), lambda: world.start(f"two-{attempt}-b", second))
    runs = world.settle()

    # Then both succeed, one after the other (never EndpointBusy, never a restore over the other's config)
    assert all(run.status == "SUCCEEDED" for run in runs), [(r.states[-3:], r.cause) for r in runs]
    waited = [r for r in history("churn", get_settings()) if r.action == "endpoint-lease" and r.outcome == "skipped"]
    assert waited, "one of the two must have waited for the endpoint's lease"
    assert not [r for r in history("churn", get_settings()) if r.action == "restore-endpoint"]
    assert_consistent(world, prod_stage())


def test_a_rejection_stops_the_deployment_waiting_at_the_canary_and_rolls_back_what_it_finished(
    world: DeployWorld, load_event
) -> None:
    # Given v1 served both stages; v2's deployment finished staging and waits at prod's canary gate (20% on v2)
    canary = prod_stage(approval_required=True, approval="at_canary", strategy={"type": "canary", "percent": 20})
    world.cloud.publish_policy(deploy_policy(staging_stage(), canary))
    world.register(2, approved=(1, 2))
    world.serve(staging_stage(), 1)
    v1_prod = world.serve(canary, 1)
    run = world.start(
        "v2-then-rejected",
        {"kind": "approved", "group": "churn", "version": 2, "approved_at": "2026-11-27T11:02:03Z", "event_id": "e"},
    )
    assert run.states[-1] == "Wait For Canary Approval"
    assert sorted(serving(world, canary)) == [1, 2] and serving(world, staging_stage()) == [2]

    # When v2 is rejected in the registry
    set_status(world, 2, "Rejected")
    result = world.react(registry_event(load_event, 2, "Rejected"))
    runs = world.settle()

    # Then the waiting deployment stopped and gave prod's traffic back, and staging went back to v1
    assert result["stopped"] == ["v2-then-rejected (prod)"]
    assert {"stage": "staging", "started": True, "version": 1} in result["rollbacks"]
    # prod still shows its canary share when the reaction looks, or already not: a rollback it starts for prod waits
    # for the stopped deployment's lease, then finds nothing left to roll back
    for run in runs:
        if ":rollback-" in run.execution_arn and "prod" in run.execution_arn:
            assert run.status == "SUCCEEDED" and run.states[-1] == "Deployment Not Needed", run.states
    stopped = next(r for r in runs if r.execution_arn.endswith(":v2-then-rejected"))
    assert stopped.status == "FAILED" and stopped.error == "PackageRejected"
    assert world.endpoint(canary)["config"] == v1_prod
    assert serving(world, staging_stage()) == serving(world, canary) == [1]
    [record] = [r for r in history("churn", get_settings()) if r.action == "deployment-stopped"]
    assert "no longer Approved in the registry; prod serves v1" in record.reason
