"""DeployModel executed on moto's Step Functions engine, its Lambda task run in-process, in two workload accounts.

Each named case asserts the states the execution entered, then what changed in the accounts.
"""

from __future__ import annotations

import pytest
from conftest import AUTOMATION, PROD, STAGING
from deploy_scenario import ALARM, DeployWorld, deploy_policy, deploy_world, prod_stage, staging_stage
from lifecycle.audit import history
from lifecycle.config import get_settings

STAGE = [
    "Create Model",
    "Create Endpoint Config",
    "Create Or Update Endpoint",
    "Wait For Endpoint In Service",
    "Check Endpoint Status",
    "Endpoint In Service?",
    "Run Smoke Test",
    "Approval Required?",
]
world_fixture = pytest.fixture(name="world")(deploy_world)
PKG2 = f"arn:aws:sagemaker:us-east-1:{AUTOMATION}:model-package/churn/2"


def approved(version: int = 2) -> dict:
    return {
        "kind": "approved",
        "model_package_arn": f"arn:aws:sagemaker:us-east-1:{AUTOMATION}:model-package/churn/{version}",
        "approved_at": "2026-11-27T11:02:03Z",
        "event_id": "8d1f6a3e",
    }


def test_happy_path_through_staging_and_prod_in_two_accounts(world: DeployWorld) -> None:
    # Given v1 serving prod (444...), staging (333...) not deployed yet, v2 approved; staging needs an approval
    world.cloud.publish_policy(deploy_policy(staging_stage(approval_required=True), prod_stage()))
    world.register()
    v1_config = world.serve(prod_stage(), 1)

    # When
    run = world.start("happy", approved())
    assert run.states == ["Validate Input", "More Stages To Deploy?", *STAGE, "Wait For Approval"]
    run = world.approve(run, "staging")

    # Then
    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [
        "Validate Input",
        "More Stages To Deploy?",
        *STAGE,
        "Wait For Approval",
        "Configure Monitoring",
        "Finish Stage",
        "More Stages To Deploy?",
        *STAGE,
        "Configure Monitoring",
        "Finish Stage",
        "More Stages To Deploy?",
        "Deployment Succeeded",
    ]
    assert world.endpoint(staging_stage()) == {"config": "churn-v2-staging", "status": "InService"}
    assert world.endpoint(prod_stage()) == {"config": "churn-v2-prod", "status": "InService"}
    assert v1_config == "churn-v1-prod"
    schedule = world.cloud.client("sagemaker", PROD).describe_monitoring_schedule(
        MonitoringScheduleName="churn-prod-data-quality"
    )
    assert schedule["MonitoringScheduleConfig"]["MonitoringType"] == "DataQuality"
    actions = [(r.action, r.outcome, r.account) for r in history("churn", get_settings())]
    assert ("create-endpoint", "done", STAGING) in actions
    assert ("update-endpoint", "done", PROD) in actions
    assert ("deployment-complete", "done", PROD) in actions
    kinds = [note["kind"] for note in world.cloud.notifications()]
    assert kinds == ["approval-requested", "deployed"]


FAILED_WITHOUT_RESTORE = [  # nothing to put back (SageMaker's auto-rollback did, or the stage created the endpoint)
    "Restore Previous Endpoint Config",
    "Restore Started?",
    "Record Deployment Failure",
    "Notify Deployment Failure",
    "Deployment Failed",
]
FAILED_AFTER_RESTORE = [  # the previous config put back, and waited for until InService
    "Restore Previous Endpoint Config",
    "Restore Started?",
    "Wait For Restore",
    "Check Restore",
    "Restore Settled?",
    "Record Deployment Failure",
    "Notify Deployment Failure",
    "Deployment Failed",
]
TO_SERVICE = STAGE[:6]


def audit(action: str) -> list:
    return [r for r in history("churn", get_settings()) if r.action == action]


def test_canary_rolls_back_on_alarm(world: DeployWorld) -> None:
    # Given prod on v1 and its 5xx alarm in ALARM in the prod account
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    world.serve(prod_stage(), 1)
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

    # When
    run = world.start("canary-alarm", approved())

    # Then SageMaker's auto-rollback put v1 back; the state machine records, notifies, stops
    assert run.status == "FAILED"
    assert run.states == [
        "Validate Input",
        "More Stages To Deploy?",
        *TO_SERVICE,
        "Wait For Endpoint In Service",
        "Check Endpoint Status",
        *FAILED_WITHOUT_RESTORE,
    ]
    assert world.endpoint(prod_stage()) == {"config": "churn-v1-prod", "status": "InService"}
    [restore] = audit("restore-endpoint")
    assert restore.outcome == "skipped" and "auto-rollback already" in restore.reason
    [failure] = audit("deployment-failed")
    assert failure.reason.startswith("EndpointRolledBack at stage prod")
    [note] = world.cloud.notifications()
    assert note["kind"] == "deployment-failed" and "EndpointRolledBack" in note["message"]


def test_failed_smoke_test_restores_the_previous_config_and_stops(world: DeployWorld) -> None:
    from sandbox.fakes import endpoints

    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage()))
    world.register()
    world.serve(staging_stage(), 1)
    endpoints.script(STAGING, "us-east-1", "churn-staging").answer = '{"error": "feature mismatch"}'

    run = world.start("smoke-fails", approved())

    assert run.status == "FAILED"
    assert run.states == ["Validate Input", "More Stages To Deploy?", *STAGE[:7], *FAILED_AFTER_RESTORE]
    assert world.endpoint(staging_stage()) == {"config": "churn-v1-staging", "status": "InService"}  # ended restored
    [settled] = audit("restore-settled")
    assert settled.outcome == "done" and settled.reason == "churn-staging InService on churn-v1-staging"
    [restore] = audit("restore-endpoint")
    assert restore.outcome == "done" and "back to churn-v1-staging" in restore.reason
    assert world.cloud.client("sagemaker", PROD).list_endpoints()["Endpoints"] == []  # prod never attempted


def test_a_sensitive_policy_keeps_the_endpoint_answer_out_of_records_and_notes(world: DeployWorld) -> None:
    from sandbox.fakes import endpoints

    # Given a sensitive model whose staging endpoint answers with what it saw
    policy = deploy_policy(staging_stage(), prod_stage())
    world.cloud.publish_policy({**policy, "sensitive": True})
    world.register()
    world.serve(staging_stage(), 1)
    endpoints.script(STAGING, "us-east-1", "churn-staging").answer = '{"error": "bad row: jane.doe@example.com"}'

    # When the smoke test fails on it
    run = world.start("smoke-sensitive", approved())

    # Then the failure is recorded and notified, without the answer
    assert run.status == "FAILED"
    [failure] = audit("deployment-failed")
    assert "SmokeTestFailed" in failure.reason
    assert "jane.doe" not in failure.reason
    assert all("jane.doe" not in note["message"] for note in world.cloud.notifications())


def test_approval_rejected_stops_before_prod(world: DeployWorld) -> None:
    from lifecycle.deployment import APPROVAL_REJECTED

    from sandbox import stepfunctions as harness

    world.cloud.publish_policy(deploy_policy(staging_stage(approval_required=True), prod_stage()))
    world.register()
    world.serve(staging_stage(), 1)
    run = world.start("rejected", approved())
    assert run.waiting()

    harness.send_failure(world.token("rejected", "staging"), error=APPROVAL_REJECTED, cause="latency too high")
    run = harness.wait(run.execution_arn, since=len(run.events))

    assert run.status == "FAILED"
    assert run.states == [
        "Validate Input",
        "More Stages To Deploy?",
        *STAGE,
        "Wait For Approval",
        *FAILED_AFTER_RESTORE,
    ]
    assert world.endpoint(staging_stage()) == {"config": "churn-v1-staging", "status": "InService"}
    assert audit("deployment-failed")[0].reason.startswith("ApprovalRejected at stage staging")
    assert world.cloud.client("sagemaker", PROD).list_endpoints()["Endpoints"] == []


def test_approval_times_out_to_rejection(world: DeployWorld) -> None:
    # approval_timeout_hours 0.0003 h = 1 s
    world.cloud.publish_policy(deploy_policy(staging_stage(approval_required=True, approval_timeout_hours=0.0003)))
    world.register()

    run = world.start("approval-timeout", approved())
    if run.waiting():
        from sandbox import stepfunctions as harness

        run = harness.wait(run.execution_arn, since=len(run.events))

    assert run.status == "FAILED"
    assert run.states == [
        "Validate Input",
        "More Stages To Deploy?",
        *STAGE,
        "Wait For Approval",
        *FAILED_WITHOUT_RESTORE,
    ]
    assert audit("deployment-failed")[0].reason.startswith("States.Timeout at stage staging")


def test_throttling_is_retried_by_the_state_machine(world: DeployWorld, monkeypatch) -> None:
    # Given CreateModel answers ThrottlingException until the SDK's own retries are exhausted, once
    from lifecycle.actions import deploy
    from lifecycle.errors import ThrottlingError

    calls: list[str] = []
    real = deploy.ensure_model

    def throttled_once(sagemaker, request):
        calls.append(request["ModelName"])
        if len(calls) == 1:
            raise ThrottlingError("sagemaker:CreateModel: ThrottlingException: Rate exceeded")
        return real(sagemaker, request)

    monkeypatch.setattr(deploy, "ensure_model", throttled_once)
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()

    run = world.start("throttled", approved())

    assert run.status == "SUCCEEDED", run.cause
    assert calls == ["churn-v2-staging", "churn-v2-staging"]
    assert run.count("LambdaFunctionFailed") == 1  # the retry is the ASL's, not a second state entry
    assert run.states.count("Create Model") == 1
    assert world.endpoint(staging_stage()) == {"config": "churn-v2-staging", "status": "InService"}


def test_manual_deploy_to_named_stages(world: DeployWorld, load_event) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage(strategy={"type": "linear", "percent": 20})))
    world.register()
    world.serve(prod_stage(), 1)

    run = world.start("manual-deploy", load_event("manual/deploy.json"))

    assert run.status == "SUCCEEDED", run.cause
    assert run.states.count("Finish Stage") == 2
    assert world.endpoint(prod_stage())["config"] == "churn-v2-prod"
    assert world.endpoint(staging_stage())["config"] == "churn-v2-staging"


def test_manual_rollback_to_a_version(world: DeployWorld, load_event) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage(), prod_stage()))
    world.register()
    world.serve(prod_stage(), 1)
    world.start("v2-first", {"kind": "deploy", "model_package_arn": PKG2, "stages": ["prod"]})
    assert world.endpoint(prod_stage())["config"] == "churn-v2-prod"

    run = world.start("manual-rollback", load_event("manual/rollback.json"))

    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [
        "Validate Input",
        "More Stages To Deploy?",
        *STAGE,
        "Configure Monitoring",
        "Finish Stage",
        "More Stages To Deploy?",
        "Deployment Succeeded",
    ]
    assert world.endpoint(prod_stage())["config"] == "churn-v1-prod"  # the v1 config, reused


def test_manual_promote_of_the_ab_challenger(world: DeployWorld, load_event) -> None:
    # Given prod runs an A/B test: v2 (challenger, 20%) next to v1
    ab = prod_stage(strategy={"type": "ab", "challenger_weight": 0.2})
    world.cloud.publish_policy(deploy_policy(ab))
    world.register()
    world.serve(ab, 1)
    world.start("ab", approved())
    assert world.endpoint(ab)["config"] == "churn-v2-prod-ab-v1"
    variants = world.cloud.client("sagemaker", PROD).describe_endpoint_config(EndpointConfigName="churn-v2-prod-ab-v1")
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in variants["ProductionVariants"]] == [
        ("v2", 0.2),
        ("v1", 0.8),
    ]

    # When
    run = world.start("promote", load_event("manual/promote.json"))

    # Then v2 alone takes the traffic
    assert run.status == "SUCCEEDED", run.cause
    assert world.endpoint(ab)["config"] == "churn-v2-prod"


def test_bad_manual_input_fails_fast_and_changes_nothing(world: DeployWorld) -> None:
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()

    run = world.start("bad-input", {"kind": "rollback", "group": "churn", "stage": "qa", "version": 1})

    assert run.status == "FAILED"
    assert run.states == ["Validate Input", "Notify Invalid Input", "Input Rejected"]
    assert "no stage 'qa'" in world.cloud.notifications()[0]["message"]
    assert world.cloud.client("sagemaker", STAGING).list_models()["Models"] == []


def test_a_retried_update_still_knows_the_config_to_restore(world: DeployWorld) -> None:
    from lifecycle.deploy_steps import run_step

    # Given staging serving v1, and a plan to put v2 there
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    v1_config = world.serve(staging_stage(), 1)
    settings = get_settings()
    planned = run_step({"step": "plan", "execution": "retry-1", "input": approved()}, settings)
    plan, stage = planned["plan"], planned["stage"]
    for step in ("create_model", "create_endpoint_config"):
        stage = run_step({"step": step, "plan": plan, "stage": stage}, settings)

    # When the update goes through but its Lambda fails before answering, and the step runs again
    first = run_step({"step": "deploy_endpoint", "plan": plan, "stage": stage}, settings)
    retried = run_step({"step": "deploy_endpoint", "plan": plan, "stage": stage}, settings)

    # Then the retry still knows what to restore, as the first attempt did
    assert first["previous_config"] == retried["previous_config"] == v1_config
    assert retried["changed"] is True
    assert "updated from churn-v1-staging by an earlier attempt" in audit("update-endpoint")[-1].reason
