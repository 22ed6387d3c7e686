"""DeployModel executed on moto's Step Functions engine, its Lambda task run in-process, in two workload accounts.

Each named case asserts the states the execution entered, then what changed in the accounts. The endpoint fake
refuses what SageMaker refuses (a guarded update that renames variants, a canary over 50%, a timeout shorter than the
rollout), so every update these cases make is one SageMaker would accept.
"""

from __future__ import annotations

import json
import time

import pytest
from lifecycle.config import get_settings
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, PROD, REGION, STAGING
from support.deploy import ALARM, DeployWorld, deploy_policy, deploy_world, prod_stage, staging_stage

world_fixture = pytest.fixture(name="world")(deploy_world)

LEASE = ["Acquire Endpoint Lease", "Endpoint Lease?"]
TO_SERVICE = [
    *LEASE,
    "Create Model",
    "Batch Stage?",
    "Create Endpoint Config",
    "Create Or Update Endpoint",
    "Wait For Endpoint In Service",
    "Check Endpoint Status",
    "Endpoint In Service?",
]
STAGE = [
    *TO_SERVICE,
    "Run Smoke Test",
    "Canary Or Shadow Serving?",
    "Configure Autoscaling",
    "Configure Monitoring",
    "Finish Stage",
]
START = ["Validate Input", "More Stages To Deploy?", "Approval Before Traffic?"]
NEXT = ["More Stages To Deploy?", "Approval Before Traffic?"]
SUCCEEDED = ["More Stages To Deploy?", "Deployment Succeeded"]
FAILED_WITHOUT_RESTORE = [  # nothing to put back (SageMaker's auto-rollback did, or the stage created the endpoint)
    "Restore Previous Endpoint Config",
    "Restore Started?",
    "Restore Autoscaling",
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
    "Restore Autoscaling",
    "Finish Failed Stage",
    "How Did It End?",
]


def approved(version: int = 2, *, group: str = "churn") -> dict:
    return {
        "kind": "approved",
        "group": group,
        "version": version,
        "approved_at": "2026-11-27T11:02:03Z",
        "event_id": "8d1f6a3e",
    }


def audit(action: str) -> list:
    return [r for r in history("churn", get_settings()) if r.action == action]


def serving(world: DeployWorld, stage: dict) -> list[tuple[str, int | None, float]]:
    """(variant, version, weight) of what the stage's endpoint serves now."""
    from lifecycle.deploy import endpoints

    sagemaker = world.cloud.client("sagemaker", stage["account"])
    config = world.endpoint(stage)["config"]
    return [(v.name, v.version, v.weight) for v in endpoints.serving(sagemaker, config)]


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
    assert update.reason.endswith(f"(blue/green CANARY, auto-rollback alarms: {ALARM})"), update.reason  # no scaling
    notes = world.cloud.notifications()
    assert [note["kind"] for note in notes] == ["approval-requested", "deployed"]
    assert notes[-1]["subject"] == "churn v2: v2 deployed to staging, prod"


def test_the_gate_comes_before_traffic_prod_is_untouched_while_waiting(world: DeployWorld) -> None:
    # Given prod on v1 with a gate before traffic
    world.cloud.publish_policy(deploy_policy(prod_stage(approval_required=True)))
    world.register()
    v1_config = world.serve(prod_stage(), 1)
    prod = world.cloud.client("sagemaker", PROD)
    models_before = prod.list_models()["Models"]

    # When v2's deployment reaches prod's gate
    run = world.start("gate-first", approved())

    # Then prod is exactly as it was while a person decides: same config, no model or config made for v2
    assert run.states == [*START, "Wait For Approval"] and run.waiting()
    assert world.endpoint(prod_stage()) == {"config": v1_config, "status": "InService"}
    assert prod.list_models()["Models"] == models_before
    [request] = world.cloud.notifications()
    assert request["kind"] == "approval-requested"
    assert "nothing changes on churn-prod until you approve" in request["message"]
    assert "validation:auc = 0.82" in request["message"]  # the package's metrics are the evidence
    assert "lifecycle approve gate-first" in request["message"]
    assert "lifecycle reject gate-first --reason" in request["message"]

    # When approved, Then the canary runs
    run = world.approve(run, "prod")
    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [*START, "Wait For Approval", *STAGE, *SUCCEEDED]
    assert serving(world, prod_stage()) == [("AllTraffic", 2, 1.0)]


def test_a_rejection_at_the_gate_changes_nothing_and_is_remembered(world: DeployWorld) -> None:
    from lifecycle.store import deployments

    world.cloud.publish_policy(deploy_policy(prod_stage(approval_required=True)))
    world.register()
    v1_config = world.serve(prod_stage(), 1)
    run = world.start("gate-no", approved())

    run = world.reject(run, "prod", reason="canary latency too high")

    assert run.status == "FAILED" and run.error == "ApprovalRejected"
    assert run.states == [*START, "Wait For Approval", "Finish Failed Stage", "How Did It End?", "Deployment Rejected"]
    assert world.endpoint(prod_stage()) == {"config": v1_config, "status": "InService"}
    [record] = audit("gate-rejected")
    text = "prod: v2 rejected at the approval gate by ml-lead@example.com: canary latency too high; prod serves v1"
    assert record.reason.startswith(text)
    [_, note] = world.cloud.notifications()
    assert note["kind"] == "approval-rejected" and text in note["message"]
    history_of_prod = deployments.stage_history(get_settings(), "churn", "prod")
    assert [(e.kind, e.version) for e in history_of_prod] == [("deployed", 1), ("gate-rejected", 2)]
    # the package stays Approved unless the policy says otherwise
    package = world.cloud.client("sagemaker", AUTOMATION).describe_model_package(ModelPackageName=PKG(2))
    assert package["ModelApprovalStatus"] == "Approved"


def test_on_gate_reject_reject_package_marks_it_rejected_in_the_registry(world: DeployWorld) -> None:
    world.cloud.publish_policy(deploy_policy(prod_stage(approval_required=True, on_gate_reject="reject_package")))
    world.register()
    world.serve(prod_stage(), 1)
    run = world.start("gate-reject-package", approved())

    run = world.reject(run, "prod", reason="fails the fairness review")

    assert run.error == "ApprovalRejected"
    package = world.cloud.client("sagemaker", AUTOMATION).describe_model_package(ModelPackageName=PKG(2))
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "fails the fairness review" in package["ApprovalDescription"]


def canary_gate_stage(**overrides) -> dict:
    return prod_stage(
        approval_required=True,
        approval="at_canary",
        strategy={"type": "canary", "percent": 20, "wait_seconds": 1},
        **overrides,
    )


def test_at_canary_the_canary_share_serves_while_a_person_decides_then_the_shift_completes(world: DeployWorld) -> None:
    world.cloud.publish_policy(deploy_policy(canary_gate_stage()))
    world.register()
    world.serve(canary_gate_stage(), 1)

    run = world.start("at-canary", approved())

    # the canary share: the serving variant keeps its name and 80%, v2 takes 20% as its own variant
    assert run.states == [
        *START,
        *TO_SERVICE,
        "Run Smoke Test",
        "Canary Or Shadow Serving?",
        "Wait For Canary Approval",
    ]
    assert serving(world, canary_gate_stage()) == [("AllTraffic", 1, 0.8), ("Canary", 2, 0.2)]
    [smoke] = audit("smoke-test")
    assert smoke.reason.startswith("variant Canary answered")  # the smoke test hit v2, not v1
    [request] = world.cloud.notifications()
    assert "v2 serves 20% of churn-prod" in request["message"]

    run = world.approve(run, "prod")

    assert run.status == "SUCCEEDED", run.cause
    after = run.states[run.states.index("Wait For Canary Approval") :]
    loop = ["Wait For Endpoint In Service", "Check Endpoint Status", "Endpoint In Service?"]
    polls = (len(after) - 9) // 3
    assert polls >= 2  # Updating, then baking (the product watches the alarms), then InService
    assert after == [
        "Wait For Canary Approval",
        "Complete Canary Shift",
        *loop * polls,
        "Run Smoke Test",
        "Canary Or Shadow Serving?",
        "Configure Autoscaling",
        "Configure Monitoring",
        "Finish Stage",
        *SUCCEEDED,
    ]
    assert serving(world, canary_gate_stage()) == [("AllTraffic", 2, 1.0)]
    shift = audit("update-endpoint")[-1]
    assert "the product watches churn-prod-5xx" in shift.reason


def test_at_canary_a_rejection_returns_the_traffic(world: DeployWorld) -> None:
    world.cloud.publish_policy(deploy_policy(canary_gate_stage()))
    world.register()
    v1_config = world.serve(canary_gate_stage(), 1)
    run = world.start("at-canary-no", approved())
    assert serving(world, canary_gate_stage()) == [("AllTraffic", 1, 0.8), ("Canary", 2, 0.2)]

    run = world.reject(run, "prod", reason="p99 latency of the canary doubled")

    assert run.status == "FAILED" and run.error == "ApprovalRejected"
    assert run.states[-9:] == [*RESTORED, "Deployment Rejected"]
    assert world.endpoint(canary_gate_stage()) == {"config": v1_config, "status": "InService"}
    [record] = audit("gate-rejected")
    assert "p99 latency of the canary doubled; prod serves v1" in record.reason


def test_canary_rolls_back_on_alarm(world: DeployWorld) -> None:
    # Given prod on v1 and its 5xx alarm in ALARM in the prod account
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    v1_config = world.serve(prod_stage(), 1)
    fire(world)

    # When
    run = world.start("canary-alarm", approved())

    # Then SageMaker's auto-rollback put v1 back; the state machine records, notifies, stops
    assert run.status == "FAILED"
    assert run.states == [
        *START,
        *TO_SERVICE,
        "Wait For Endpoint In Service",
        "Check Endpoint Status",
        *FAILED_WITHOUT_RESTORE,
    ]
    assert world.endpoint(prod_stage()) == {"config": v1_config, "status": "InService"}
    [restore] = audit("restore-endpoint")
    assert restore.outcome == "skipped" and "auto-rollback put it back" in restore.reason
    [failure] = audit("deployment-failed")
    assert failure.reason.startswith("EndpointRolledBack at stage prod") and "prod serves v1" in failure.reason
    [note] = world.cloud.notifications()
    assert note["kind"] == "deployment-failed" and "EndpointRolledBack" in note["message"]


def fire(world: DeployWorld) -> None:
    cloudwatch = world.cloud.client("cloudwatch", PROD)
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        MetricName="Invocation5XXErrors",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx during canary")


def PKG(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/churn/{version}"


def test_failed_smoke_test_restores_the_previous_config_with_a_guarded_update(world: DeployWorld) -> None:
    from sandbox.fakes import endpoints

    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage()))
    world.register()
    v1_config = world.serve(staging_stage(), 1)
    endpoints.script(STAGING, REGION, "churn-staging").answer = '{"error": "feature mismatch"}'

    run = world.start("smoke-fails", approved())

    assert run.status == "FAILED"
    assert run.states == [*START, *TO_SERVICE, "Run Smoke Test", *RESTORED, "Deployment Failed"]
    assert world.endpoint(staging_stage()) == {"config": v1_config, "status": "InService"}  # ended restored
    [settled] = audit("restore-settled")
    assert settled.outcome == "done" and settled.reason == f"churn-staging InService on {v1_config}"
    [restore] = audit("restore-endpoint")
    assert restore.outcome == "done" and f"back to {v1_config} (blue/green ALL_AT_ONCE)" in restore.reason
    assert world.cloud.client("sagemaker", PROD).list_endpoints()["Endpoints"] == []  # prod never attempted


def test_second_and_third_deployments_are_guarded_updates_that_keep_the_variant_name(world: DeployWorld) -> None:
    # Given prod created by v1's deployment, then v2 and v3 approved one after the other
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(3, approved=(1, 2))
    first = world.start("first", {"kind": "deploy", "group": "churn", "version": 1, "stages": ["prod"]})
    assert first.status == "SUCCEEDED", first.cause

    for version in (2, 3):
        world.cloud.client("sagemaker").update_model_package(
            ModelPackageArn=PKG(version), ModelApprovalStatus="Approved"
        )
        run = world.start(f"v{version}", approved(version))
        assert run.status == "SUCCEEDED", run.cause
        assert serving(world, prod_stage()) == [("AllTraffic", version, 1.0)]
    updates = [r.reason for r in audit("update-endpoint")]
    assert len(updates) == 2 and all("blue/green CANARY" in reason for reason in updates)


def test_a_sensitive_policy_keeps_the_endpoint_answer_out_of_records_and_notes(world: DeployWorld) -> None:
    from sandbox.fakes import endpoints

    # Given a sensitive model whose staging endpoint answers with what it saw
    policy = deploy_policy(staging_stage(), prod_stage())
    world.cloud.publish_policy({**policy, "sensitive": True})
    world.register()
    world.serve(staging_stage(), 1)
    endpoints.script(STAGING, REGION, "churn-staging").answer = '{"error": "bad row: jane.doe@example.com"}'

    # When the smoke test fails on it
    run = world.start("smoke-sensitive", approved())

    # Then the failure is recorded and notified, without the answer
    assert run.status == "FAILED"
    [failure] = audit("deployment-failed")
    assert "SmokeTestFailed" in failure.reason
    assert "jane.doe" not in failure.reason
    assert all("jane.doe" not in note["message"] for note in world.cloud.notifications())


def test_approval_times_out_and_the_deployment_stops_without_changing_anything(world: DeployWorld) -> None:
    # approval_timeout_hours 0.0003 h = 1 s
    world.cloud.publish_policy(deploy_policy(staging_stage(approval_required=True, approval_timeout_hours=0.0003)))
    world.register()

    run = world.start("approval-timeout", approved())
    if run.status == "RUNNING":
        from sandbox import stepfunctions as harness

        run = harness.wait(run.execution_arn, since=len(run.events))

    assert run.status == "FAILED"
    assert run.states == [*START, "Wait For Approval", "Finish Failed Stage", "How Did It End?", "Deployment Failed"]
    [failure] = audit("deployment-failed")
    assert failure.reason.startswith("States.Timeout at stage staging: no answer at the approval gate within")
    assert world.cloud.client("sagemaker", STAGING).list_endpoints()["Endpoints"] == []


def test_throttling_is_retried_by_the_state_machine(world: DeployWorld, monkeypatch) -> None:
    # Given CreateModel answers ThrottlingException until the SDK's own retries are exhausted, once
    from lifecycle.deploy import endpoints
    from lifecycle.errors import ThrottlingError

    calls: list[str] = []
    real = endpoints.ensure_model

    def throttled_once(sagemaker, request):
        calls.append(request["ModelName"])
        if len(calls) == 1:
            raise ThrottlingError("sagemaker:CreateModel: ThrottlingException: Rate exceeded")
        return real(sagemaker, request)

    monkeypatch.setattr(endpoints, "ensure_model", throttled_once)
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()

    run = world.start("throttled", approved())

    assert run.status == "SUCCEEDED", run.cause
    assert len(calls) == 2 and calls[0] == calls[1] and calls[0].startswith("churn-v2-staging-")
    assert run.count("LambdaFunctionFailed") == 1  # the retry is the ASL's, not a second state entry
    assert run.states.count("Create Model") == 1
    assert serving(world, staging_stage()) == [("AllTraffic", 2, 1.0)]


def test_manual_deploy_to_named_stages(world: DeployWorld, load_event) -> None:
    linear = prod_stage(strategy={"type": "linear", "percent": 20, "interval_seconds": 0})
    world.cloud.publish_policy(deploy_policy(staging_stage(), linear))
    world.register()
    world.serve(linear, 1)

    run = world.start("manual-deploy", load_event("manual/deploy.json"))

    assert run.status == "SUCCEEDED", run.cause
    assert run.states.count("Finish Stage") == 2
    assert serving(world, linear) == [("AllTraffic", 2, 1.0)]
    assert serving(world, staging_stage()) == [("AllTraffic", 2, 1.0)]
    assert any("blue/green LINEAR" in r.reason for r in audit("update-endpoint"))


def test_manual_rollback_to_a_version_keeps_the_alarms_on(world: DeployWorld, load_event) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage()))
    world.register()
    v1_config = world.serve(prod_stage(), 1)
    world.start("v2-first", {"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    assert serving(world, prod_stage()) == [("AllTraffic", 2, 1.0)]

    run = world.start("manual-rollback", load_event("manual/rollback.json"))

    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [*START, *STAGE, *SUCCEEDED]
    assert world.endpoint(prod_stage())["config"] == v1_config  # the v1 config, reused
    rollback = audit("update-endpoint")[-1]
    assert "blue/green ALL_AT_ONCE" in rollback.reason and f"auto-rollback alarms: {ALARM}" in rollback.reason


def test_a_rollback_leaves_out_the_alarms_that_are_firing(world: DeployWorld, load_event) -> None:
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    world.serve(prod_stage(), 1)
    world.start("v2-first", {"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    fire(world)  # the 5xx alarm that asked for the rollback would roll the rollback back

    run = world.start("manual-rollback", load_event("manual/rollback.json"))

    assert run.status == "SUCCEEDED", run.cause
    assert serving(world, prod_stage()) == [("AllTraffic", 1, 1.0)]
    [left_out] = audit("rollback-alarms")
    assert left_out.reason == f"left out while in ALARM: {ALARM}"


def test_an_ab_test_then_the_promotion_of_its_challenger(world: DeployWorld, load_event) -> None:
    # Given prod on v1 and an A/B policy: v2 comes in as a 20% challenger
    ab = prod_stage(strategy={"type": "ab", "challenger_weight": 0.2, "wait_seconds": 1})
    world.cloud.publish_policy(deploy_policy(ab))
    world.register()
    world.serve(ab, 1)

    run = world.start("ab", approved())

    assert run.status == "SUCCEEDED", run.cause
    assert serving(world, ab) == [("AllTraffic", 1, 0.8), ("Challenger", 2, 0.2)]
    assert "the variant set changes" in audit("update-endpoint")[-1].reason

    # When the challenger is promoted, Then v2 alone takes the traffic, on the main variant's name
    run = world.start("promote", load_event("manual/promote.json"))
    assert run.status == "SUCCEEDED", run.cause
    assert serving(world, ab) == [("AllTraffic", 2, 1.0)]


def test_bad_manual_input_fails_fast_and_changes_nothing(world: DeployWorld) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()

    run = world.start("bad-input", {"kind": "rollback", "group": "churn", "stage": "qa", "version": 1})

    assert run.status == "FAILED"
    assert run.states == ["Validate Input", "Notify Invalid Input", "Input Rejected"]
    assert "no stage 'qa'" in world.cloud.notifications()[0]["message"]
    assert world.cloud.client("sagemaker", STAGING).list_models()["Models"] == []


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"kind": "deploy", "group": "churn", "version": 3, "stages": ["staging"]}, "is PendingManualApproval"),
        ({"kind": "deploy", "group": "churn", "version": 9, "stages": ["staging"]}, "does not exist"),
    ],
)
def test_only_an_approved_package_of_the_policys_registry_is_deployed(world: DeployWorld, payload, why) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register(3, approved=(1, 2))

    run = world.start("not-approved", payload)

    assert run.states == ["Validate Input", "Notify Invalid Input", "Input Rejected"]
    assert why in world.cloud.notifications()[0]["message"]
    assert world.cloud.client("sagemaker", STAGING).list_models()["Models"] == []


def test_a_rollback_away_from_a_version_the_stage_no_longer_serves_changes_nothing(world: DeployWorld) -> None:
    # Given prod back on v1 already (the deployment of v2 restored it), and a rollback from v2 started meanwhile
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    v1_config = world.serve(prod_stage(), 1)
    payload = {"kind": "rollback", "group": "churn", "stage": "prod", "version": 1, "from_version": 2}

    run = world.start("rollback-late", payload)

    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [*START, *LEASE, "Deployment Not Needed"]
    assert world.endpoint(prod_stage())["config"] == v1_config
    [skipped] = audit("deploy-stage")
    assert skipped.outcome == "skipped" and skipped.reason == "prod no longer serves v2: nothing to roll back"


def test_an_approval_superseded_by_a_newer_one_leaves_the_stage_alone(world: DeployWorld) -> None:
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register(3, approved=(1, 2, 3))
    v1_config = world.serve(prod_stage(), 1)

    run = world.start("superseded", approved(2))

    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [*START, *LEASE, "Deployment Not Needed"]
    assert world.endpoint(prod_stage())["config"] == v1_config
    [note] = world.cloud.notifications()
    assert note["kind"] == "deployment-not-needed"
    assert "v3 has been approved since: its deployment supersedes v2" in note["message"]


def planned(world: DeployWorld, execution: str, payload: dict) -> tuple[dict, dict]:
    """The plan and the stage state after `Validate Input`, the lease, the model and the config (steps run directly)."""
    from lifecycle.deploy.steps import run_step

    settings = get_settings()
    state = run_step({"step": "validate_input", "execution": execution, "input": payload}, settings)
    plan, stage = state["plan"], state["stage"]
    for step in ("acquire_endpoint_lease", "create_model", "create_endpoint_config"):
        stage = run_step({"step": step, "plan": plan, "stage": stage}, settings)
    return plan, stage


def test_a_retried_update_still_knows_the_config_to_restore(world: DeployWorld) -> None:
    from lifecycle.deploy.steps import run_step

    from sandbox.fakes import endpoints

    # Given staging serving v1, and a plan to put v2 there; the update will take a while (real ones take minutes)
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    v1_config = world.serve(staging_stage(), 1)
    plan, stage = planned(world, "retry-1", approved())
    endpoints.script(STAGING, REGION, "churn-staging").hold = 5

    # When the update goes through but its Lambda fails before answering, and the step runs again while SageMaker
    # still shows the old config (the new one only in PendingDeploymentSummary)
    first = run_step({"step": "create_or_update_endpoint", "plan": plan, "stage": stage}, get_settings())
    retried = run_step({"step": "create_or_update_endpoint", "plan": plan, "stage": stage}, get_settings())

    # Then the retry recognises its own update in progress (no EndpointBusy, no second update) and knows what to restore
    assert first["previous_config"] == retried["previous_config"] == v1_config
    assert retried["changed"] is True and retried["status"] == "Updating"
    assert f"changed from {v1_config} by an earlier attempt" in audit("update-endpoint")[-1].reason
    assert len([r for r in audit("update-endpoint") if r.outcome == "done"]) == 1


def test_a_restore_after_a_step_that_failed_past_its_update_uses_the_restore_point(world: DeployWorld) -> None:
    from lifecycle.deploy.steps import run_step

    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    v1_config = world.serve(staging_stage(), 1)
    plan, stage = planned(world, "retry-2", approved())
    run_step({"step": "create_or_update_endpoint", "plan": plan, "stage": stage}, get_settings())  # its answer is lost
    world.settled(staging_stage())

    # When the failure path restores with the state from before the step (changed: false, no previous config)
    restore = run_step(
        {
            "step": "restore_previous_endpoint_config",
            "plan": plan,
            "stage": stage,
            "error": {"Error": "Lambda.Unknown"},
        },
        get_settings(),
    )

    # Then the restore point kept in the table still puts v1 back
    assert restore["phase"] == "started"
    assert world.settled(staging_stage())["config"] == v1_config


def test_a_restore_never_puts_back_a_config_over_another_change(world: DeployWorld) -> None:
    from lifecycle.deploy import endpoints
    from lifecycle.deploy.steps import run_step
    from lifecycle.policy import Stage

    # Given this execution moved staging from v1 to v2, then the endpoint was changed to v3's config by someone else
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register(3, approved=(1, 2, 3))
    world.serve(staging_stage(), 1)
    plan, stage = planned(world, "cas", {"kind": "deploy", "group": "churn", "version": 2, "stages": ["staging"]})
    changed = run_step({"step": "create_or_update_endpoint", "plan": plan, "stage": stage}, get_settings())
    world.settled(staging_stage())
    spec = Stage.model_validate(staging_stage())
    sagemaker = world.cloud.client("sagemaker", STAGING)
    model = endpoints.model_request(spec, group="churn", version=3, package_arn=PKG(3))
    endpoints.ensure_model(sagemaker, model)
    other = endpoints.config_request(
        spec,
        group="churn",
        version=3,
        package_arn=PKG(3),
        variants=[endpoints.VariantSpec("AllTraffic", model["ModelName"], 1.0)],
    )
    endpoints.ensure_endpoint_config(sagemaker, other)
    sagemaker.update_endpoint(EndpointName="churn-staging", EndpointConfigName=other["EndpointConfigName"])
    world.settled(staging_stage())

    # When this execution fails and restores
    restore = run_step(
        {
            "step": "restore_previous_endpoint_config",
            "plan": plan,
            "stage": changed,
            "error": {"Error": "SmokeTestFailed"},
        },
        get_settings(),
    )

    # Then it leaves v3 alone: it only restores while the endpoint carries what it put there
    assert restore == {"phase": "skipped"}
    assert world.endpoint(staging_stage())["config"] == other["EndpointConfigName"]
    assert "which this deployment did not put there" in audit("restore-endpoint")[-1].reason


def test_a_rejection_in_the_registry_during_the_rollout_stops_it_and_restores(world: DeployWorld) -> None:
    from sandbox.fakes import endpoints

    # Given prod on v1; v2's update stays in progress for a few polls
    world.cloud.publish_policy(deploy_policy(prod_stage(strategy={"type": "all_at_once"})))
    world.register()
    v1_config = world.serve(prod_stage(), 1)
    endpoints.script(PROD, REGION, "churn-prod").hold = 3
    from sandbox import stepfunctions as harness

    sfn = world.cloud.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=world.state_machine_arn, name="rejected-midway", input=json.dumps(approved())
    )["executionArn"]
    deadline = time.monotonic() + 30
    while "Check Endpoint Status" not in harness.observe(arn).states:
        assert time.monotonic() < deadline
        time.sleep(0.2)

    # When v2 is rejected in the registry while prod is Updating
    world.cloud.client("sagemaker").update_model_package(ModelPackageArn=PKG(2), ModelApprovalStatus="Rejected")
    run = harness.wait(arn, timeout=60)

    # Then the deployment notices at its next check, waits for SageMaker's update to end, and puts v1 back
    assert run.status == "FAILED" and run.error == "PackageRejected"
    assert "Wait Before Restore" in run.states or "Wait For Restore" in run.states
    assert world.endpoint(prod_stage())["config"] == v1_config
    [stopped] = audit("deployment-stopped")
    assert "no longer Approved in the registry; prod serves v1" in stopped.reason


def test_the_gate_shows_how_the_version_did_in_the_stage_before(world: DeployWorld) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage(approval_required=True)))
    world.register()

    run = world.start("evidence", approved())

    assert run.waiting() and run.states[-1] == "Wait For Approval"
    [request] = world.cloud.notifications()
    assert "Previous stage staging: serving since 20" in request["message"]
    assert 'smoke test passed: {"predictions"' in request["message"]
    assert "monitor: not monitored." in request["message"]
    assert "prod: nothing changes on churn-prod until you approve." in request["message"]


@pytest.mark.parametrize(
    "group", ["ChurnPrediction", "C" + "hurn-prediction-of-enterprise-customers-in-emea-and-apac-2026" + "x"]
)
def test_a_mixed_case_or_63_character_group_deploys_and_rolls_back(world: DeployWorld, load_event, group: str) -> None:
    import copy

    from support.cloud import churn_policy
    from support.deploy import package

    # Given a group whose name ARNs lower-case (and one of SageMaker's maximum length)
    assert len(group) <= 63
    world.group = group
    policy = churn_policy(group=group, match={}, deployment={"stages": [staging_stage(), prod_stage()]})
    world.cloud.publish_policy(policy)
    world.register(2, approved=(1, 2))
    world.serve(prod_stage(), 1)

    # When v2 is approved, Then it deploys through both stages
    run = world.start("case", approved(group=group))
    assert run.status == "SUCCEEDED", run.cause
    assert [v for _, v, _ in serving(world, prod_stage())] == [2]

    # When v2 is rejected in the registry, Then prod goes back to v1 (staging never served anything else: left, told)
    world.cloud.client("sagemaker").update_model_package(
        ModelPackageArn=package(2, group), ModelApprovalStatus="Rejected"
    )
    event = copy.deepcopy(load_event("model-package-rejected.json"))
    event["resources"] = [package(2, group)]
    event["detail"].update(ModelPackageGroupName=group, ModelPackageArn=package(2, group), ModelPackageVersion=2)
    result = world.react(event)
    assert result["outcome"] == "acted", result
    assert {"stage": "prod", "started": True, "version": 1} in result["rollbacks"]
    runs = world.settle()
    assert all(r.status == "SUCCEEDED" for r in runs), [r.cause for r in runs]
    assert [v for _, v, _ in serving(world, prod_stage())] == [1]
