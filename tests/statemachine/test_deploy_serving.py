"""DeployModel for the stage kinds beyond a fixed-size real-time endpoint (issue 16), executed on moto's Step Functions
engine with the Lambda task in-process: batch stages, shadow tests, autoscaling and serverless stages.

Each case asserts the states the execution entered, then what changed in the workload account, including that a
failure leaves nothing half-applied.
"""

from __future__ import annotations

from typing import Any

import pytest
from lifecycle.config import get_settings
from lifecycle.store import deployments
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, PROD, REGION
from support.deploy import DeployWorld, batch_stage, deploy_policy, deploy_world, prod_stage

from sandbox import stepfunctions as harness
from sandbox.fakes import transform
from sandbox.world import WORLD

world_fixture = pytest.fixture(name="world")(deploy_world)

START = ["Validate Input", "More Stages To Deploy?", "Approval Before Traffic?"]
LEASE = ["Acquire Endpoint Lease", "Endpoint Lease?"]
SUCCEEDED = ["More Stages To Deploy?", "Deployment Succeeded"]


def approved(version: int = 2) -> dict[str, Any]:
    return {
        "kind": "approved",
        "group": "churn",
        "version": version,
        "approved_at": "2026-11-27T11:02:03Z",
        "event_id": "8d1f6a3e",
    }


def audit(action: str) -> list:
    return [r for r in history("churn", get_settings()) if r.action == action]


# --- batch stages ----------------------------------------------------------------------------------------------------
def transform_job_ends(world: DeployWorld, run: harness.Run, *, status: str, reason: str = "") -> harness.Run:
    """SageMaker ends the stage's transform job; its state change reaches the transform-job-state function (as
    EventBridge delivers it), which answers the waiting execution."""
    from sandbox import runtime

    [job] = transform.running(PROD, REGION)
    WORLD.drain()
    transform.finish(PROD, REGION, job, status=status, reason=reason)
    handler = runtime.handler("transform_job_state")
    for event in WORLD.drain():
        handler(event, runtime.LambdaContext("transform-job-state", "arn", 60))
    return harness.wait(run.execution_arn, since=len(run.events))


BATCH = [*START, *LEASE, "Create Model", "Batch Stage?", "Run Transform Job"]


def test_a_batch_stage_is_proved_by_its_transform_job_and_records_its_current_model(world: DeployWorld) -> None:
    # Given v1 current in the batch stage, v2 approved
    world.cloud.publish_policy(deploy_policy(batch_stage()))
    world.register()
    deployments.record_current_model(
        get_settings(),
        "churn",
        "scoring",
        deployments.CurrentModel(1, "churn-v1-scoring-old", "old-job", "s3://old/", "2026-11-20T10:00:00+00:00", "e"),
    )

    # When the deployment reaches the stage, Then it waits for the job's event (no polling state runs)
    run = world.start("batch", approved())
    assert run.states == BATCH and run.waiting()
    sagemaker = world.cloud.client("sagemaker", PROD)
    [job] = transform.running(PROD, REGION)
    described = sagemaker.describe_transform_job(TransformJobName=job)
    assert (
        described["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://example-prod-ml-data/churn/scoring/"
    )
    assert described["TransformOutput"]["S3OutputPath"] == f"s3://example-prod-ml-predictions/churn/{job}/"
    assert sagemaker.list_endpoints()["Endpoints"] == []  # a batch stage has no endpoint
    assert deployments.current_model(get_settings(), "churn", "scoring").version == 1  # unchanged while it runs

    # When the job completes
    run = transform_job_ends(world, run, status="Completed")

    # Then the stage finishes and its current model is v2's, proved by that job
    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [*BATCH, "Finish Stage", *SUCCEEDED]
    current = deployments.current_model(get_settings(), "churn", "scoring")
    assert (current.version, current.model, current.transform_job) == (2, described["ModelName"], job)
    assert current.output == f"s3://example-prod-ml-predictions/churn/{job}/"
    [done] = audit("deploy-stage")
    assert f"proved by transform job {job}" in done.reason


def test_a_failed_transform_job_fails_the_stage_and_keeps_its_current_model(world: DeployWorld) -> None:
    # Given v1 current in the batch stage
    world.cloud.publish_policy(deploy_policy(batch_stage()))
    world.register()
    before = deployments.CurrentModel(1, "churn-v1-old", "old-job", "s3://old/", "2026-11-20T10:00:00+00:00", "e")
    deployments.record_current_model(get_settings(), "churn", "scoring", before)
    run = world.start("batch-fails", approved())
    [job] = transform.running(PROD, REGION)

    # When the job fails
    run = transform_job_ends(world, run, status="Failed", reason="ClientError: See job logs for more information")

    # Then the stage fails with the job's reason, and nothing changed: v1 stays the stage's current model
    assert run.status == "FAILED" and run.error == "DeploymentFailed"
    assert run.states[len(BATCH) :] == [
        "Restore Previous Endpoint Config",
        "Restore Started?",
        "Restore Autoscaling",
        "Finish Failed Stage",
        "How Did It End?",
        "Deployment Failed",
    ]
    assert deployments.current_model(get_settings(), "churn", "scoring") == before
    [failed] = [note for note in world.cloud.notifications() if "FAILED" in note["subject"]]
    assert "ClientError: See job logs for more information" in failed["message"]
    [restore] = audit("restore-batch-stage")
    assert f"transform job {job} Failed: nothing to stop; the stage keeps its current model" in restore.reason
    assert audit("deploy-stage") == []


def test_a_transform_job_event_of_a_job_still_running_is_stale_and_changes_nothing(world: DeployWorld) -> None:
    from sandbox import runtime

    world.cloud.publish_policy(deploy_policy(batch_stage()))
    world.register()
    run = world.start("batch-stale", approved())
    [job] = transform.running(PROD, REGION)
    # a Completed event arrives while DescribeTransformJob still says InProgress (late or reordered delivery)
    event = WORLD.drain()[-1]
    stale = {**event, "id": "stale-1", "detail": {**event["detail"], "TransformJobStatus": "Completed"}}

    result = runtime.handler("transform_job_state")(stale, runtime.LambdaContext("transform-job-state", "arn", 60))

    assert result["outcome"] == "ignored", result
    sfn = world.cloud.client("stepfunctions")
    assert sfn.describe_execution(executionArn=run.execution_arn)["status"] == "RUNNING"  # still waiting on the job
    assert transform.running(PROD, REGION) == [job]


# --- shadow tests ----------------------------------------------------------------------------------------------------
def shadow_stage(*, minimum_hours: float = 1.0, **overrides: Any) -> dict[str, Any]:
    strategy = {
        "type": "shadow",
        "percent": 20,
        "minimum_hours": minimum_hours,
        "compare": {"metric": "ModelLatency", "max_regression": 0.1, "min_invocations": 10},
        "wait_seconds": 0,
    }
    return prod_stage(strategy=strategy, monitoring=None, **overrides)


TO_SHADOW = [
    *START,
    *LEASE,
    "Create Model",
    "Batch Stage?",
    "Create Endpoint Config",
    "Create Or Update Endpoint",
]
ENDING = ["End Shadow", "Wait For Shadow To End", "Check Shadow Ended", "Shadow Ended?"]


def shadow_running(world: DeployWorld, name: str, stage: dict[str, Any]) -> tuple[harness.Run, str]:
    """v1 serves prod, v2 approved: the deployment puts v2 beside it as a shadow and waits for the verdict."""
    world.cloud.publish_policy(deploy_policy(stage))
    world.register()
    v1_config = world.serve(stage, 1)
    run = world.start(name, approved())
    assert run.waiting(), run.states
    assert run.states[: len(TO_SHADOW)] == TO_SHADOW
    assert run.states[-3:] == ["Run Smoke Test", "Canary Or Shadow Serving?", "Wait For Shadow Verdict"]
    # production keeps all the traffic; v2 gets a copy of 20% of its requests as a shadow variant
    assert serving(world, stage) == [("AllTraffic", 1, 1.0, False), ("Shadow", 2, 0.2, True)]
    return run, v1_config


def serving(world: DeployWorld, stage: dict) -> list[tuple[str, int | None, float, bool]]:
    from lifecycle.deploy import endpoints

    sagemaker = world.cloud.client("sagemaker", stage["account"])
    config = world.endpoint(stage)["config"]
    return [(v.name, v.version, v.weight, v.shadow) for v in endpoints.serving(sagemaker, config)]


def verdict(world: DeployWorld, run: harness.Run, decision: str, reason: str) -> harness.Run:
    """What `lifecycle promote` / `lifecycle end-shadow` do while the shadow runs: answer its waiting task."""
    execution = run.execution_arn.rsplit(":", 1)[1]
    token = world.token(execution, "prod")
    harness.send_success(token, {"decision": decision, "by": "ml-lead@example.com", "reason": reason})
    return harness.wait(run.execution_arn, since=len(run.events), timeout=60)


def test_a_promoted_shadow_takes_all_traffic_with_a_guarded_update_keeping_the_variant_name(world: DeployWorld) -> None:
    run, _ = shadow_running(world, "shadow-promote", shadow_stage())

    run = verdict(world, run, "promote", "latency and answers match")

    assert run.status == "SUCCEEDED", run.cause
    after = run.states[run.states.index("Wait For Shadow Verdict") + 1 :]
    assert after[: len(ENDING)] == ENDING and "Create Endpoint Config" in after
    assert after[-5:] == ["Configure Autoscaling", "Configure Monitoring", "Finish Stage", *SUCCEEDED]
    assert serving(world, shadow_stage()) == [("AllTraffic", 2, 1.0, False)]
    # the shadow came off unguarded (the variant set changes), then v2 went in guarded, on the same variant name
    [ended] = audit("end-shadow")
    assert "shadow v2 off (promote by ml-lead@example.com: latency and answers match)" in ended.reason
    updates = [r.reason for r in audit("update-endpoint")]
    assert any("blue/green" in reason for reason in updates[1:]), updates
    [done] = audit("deploy-stage")
    assert "promoted from a shadow (ml-lead@example.com: latency and answers match)" in done.reason


def test_a_shadow_a_person_ends_leaves_production_alone_on_its_config(world: DeployWorld) -> None:
    run, v1_config = shadow_running(world, "shadow-end", shadow_stage())

    run = verdict(world, run, "end", "answers differ on the October cohort")

    assert run.status == "FAILED" and run.error == "ShadowNotPromoted"
    after = run.states[run.states.index("Wait For Shadow Verdict") + 1 :]
    assert after[: len(ENDING)] == ENDING
    assert after[-4:] == ["Shadow Not Promoted", "Finish Failed Stage", "How Did It End?", "Deployment Not Promoted"]
    assert world.endpoint(shadow_stage()) == {"config": v1_config, "status": "InService"}  # exactly as before
    [note] = [n for n in world.cloud.notifications() if n["kind"] == "shadow-ended"]
    assert "answers differ on the October cohort" in note["message"] and "prod serves v1" in note["message"]


def test_a_shadow_that_regresses_on_its_metrics_is_ended_and_says_why(world: DeployWorld) -> None:
    from datetime import UTC, datetime

    # Given a shadow compared after 4 s
    stage = shadow_stage(minimum_hours=4 / 3600)
    world.cloud.publish_policy(deploy_policy(stage))
    world.register()
    v1_config = world.serve(stage, 1)
    run = world.start("shadow-regression", approved())
    assert run.waiting() and run.states[-1] == "Wait For Shadow Verdict"
    # ... during which the shadow answers twice as slowly as production (CloudWatch, the stage's account)
    cloudwatch = world.cloud.client("cloudwatch", PROD)
    now = datetime.now(UTC)
    for variant, latency in (("AllTraffic", 100_000.0), ("Shadow", 200_000.0)):
        dimensions = [{"Name": "EndpointName", "Value": "churn-prod"}, {"Name": "VariantName", "Value": variant}]
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": now, "Value": 50.0},
                {"MetricName": "ModelLatency", "Dimensions": dimensions, "Timestamp": now, "Value": latency},
            ],
        )

    # When its minimum time is up
    run = harness.wait(run.execution_arn, since=len(run.events), timeout=60)

    # Then the metrics decide: ended, production alone again, the reason recorded and told
    assert run.status == "FAILED" and run.error == "ShadowNotPromoted", run.states
    after = run.states[run.states.index("Wait For Shadow Verdict") + 1 :]
    assert after[: 1 + len(ENDING)] == ["Compare Shadow Metrics", *ENDING]
    assert world.endpoint(stage) == {"config": v1_config, "status": "InService"}
    [compared] = audit("shadow-compared")
    assert compared.reason.startswith("end: ModelLatency 200.0 ms on the shadow vs 100.0 ms in production (+100.0%")
    [note] = [n for n in world.cloud.notifications() if n["kind"] == "shadow-ended"]
    assert "the metric comparison" in note["message"]


# --- autoscaling -----------------------------------------------------------------------------------------------------
AUTOSCALING = {
    "min": 2,
    "max": 4,
    "target": {"invocations_per_instance": 100},
    "scale_in_cooldown": 300,
    "scale_out_cooldown": 60,
}
RESOURCE = "endpoint/churn-prod/variant/AllTraffic"


def scaled_stage(**overrides: Any) -> dict[str, Any]:
    return prod_stage(autoscaling=AUTOSCALING, monitoring=None, **overrides)


def registration(world: DeployWorld) -> tuple[list[tuple[str, int, int]], list[str]]:
    """The variant's scalable targets (resource, min, max) and scaling policy names in the prod account."""
    autoscaling = world.cloud.client("application-autoscaling", PROD)
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    return (
        [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets],
        [p["PolicyName"] for p in policies],
    )


def instances(world: DeployWorld) -> dict[str, int]:
    sagemaker = world.cloud.client("sagemaker", PROD)
    described = sagemaker.describe_endpoint(EndpointName="churn-prod")
    return {v["VariantName"]: v["CurrentInstanceCount"] for v in described["ProductionVariants"]}


def test_a_guarded_update_keeps_the_scaling_policy_and_the_instance_count_autoscaling_reached(
    world: DeployWorld,
) -> None:
    from sandbox.fakes import endpoints as endpoint_fakes

    # Given v1 deployed to an autoscaled prod: its variant registered, then scaled out to 4 instances
    world.cloud.publish_policy(deploy_policy(scaled_stage()))
    arns = world.register(3, approved=(1, 2))
    world.serve(scaled_stage(), 1)
    first = world.start("scaled-v2", approved())
    assert first.status == "SUCCEEDED", first.cause
    assert registration(world) == ([(RESOURCE, 2, 4)], ["churn-prod-AllTraffic-target-tracking"])
    autoscaling = world.cloud.client("application-autoscaling", PROD)
    [policy] = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 100
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    # ... and the registration is in the audit trail, with what it was before
    [registered] = [r for r in audit("autoscaling") if r.outcome == "done"]
    assert registered.reason.startswith("AllTraffic: 2-4 instances (churn-prod-AllTraffic-target-tracking) (was "), (
        registered.reason
    )
    assert registered.resource == RESOURCE
    endpoint_fakes.scale(PROD, REGION, "churn-prod", "AllTraffic", 4)

    # When v3 is approved and deployed with a guarded canary (the same variant name and instance type)
    registry = world.cloud.client("sagemaker", AUTOMATION)
    registry.update_model_package(ModelPackageArn=arns[2], ModelApprovalStatus="Approved")
    run = world.start("scaled-v3", approved(3))

    # Then SageMaker keeps the scaled fleet (RetainAllVariantProperties) and the registration stays as it was
    assert run.status == "SUCCEEDED", run.cause
    assert instances(world) == {"AllTraffic": 4}
    assert registration(world) == ([(RESOURCE, 2, 4)], ["churn-prod-AllTraffic-target-tracking"])
    updates = [r.reason for r in audit("update-endpoint") if "churn-v3" in r.reason]
    assert any("blue/green CANARY" in u and "RetainAllVariantProperties" in u for u in updates), updates
    skipped = [r for r in audit("autoscaling") if r.outcome == "skipped"]
    assert skipped and "already 2-4 instances" in skipped[-1].reason


def test_a_new_instance_type_deregisters_the_variant_before_the_update_and_registers_it_again(
    world: DeployWorld,
) -> None:
    # Given v1 on registered ml.m5.xlarge instances
    world.cloud.publish_policy(deploy_policy(scaled_stage()))
    world.register()
    world.serve(scaled_stage(), 1)
    autoscaling = world.cloud.client("application-autoscaling", PROD)
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=RESOURCE,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=4,
    )

    # When v2 goes to ml.m5.2xlarge (SageMaker refuses to retype a registered variant)
    world.cloud.publish_policy(deploy_policy(scaled_stage(instance_type="ml.m5.2xlarge")))
    run = world.start("retyped", approved())

    # Then the product deregistered it first, and registered it again on the new fleet
    assert run.status == "SUCCEEDED", run.cause
    [update] = [r.reason for r in audit("update-endpoint")]
    assert "deregistered AllTraffic first" in update
    assert registration(world) == ([(RESOURCE, 2, 4)], ["churn-prod-AllTraffic-target-tracking"])


def test_a_throttled_scaling_policy_fails_the_stage_and_leaves_nothing_half_applied(
    world: DeployWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.config import Config
    from lifecycle import accounts

    from sandbox.fakes import scaling

    # Given v1 serving an unregistered prod; Application Auto Scaling throttles every PutScalingPolicy (one SDK
    # attempt per call, so the state machine's own retries are what is exhausted)
    monkeypatch.setattr(accounts, "CLIENT_CONFIG", Config(retries={"mode": "standard", "max_attempts": 1}))
    world.cloud.publish_policy(deploy_policy(scaled_stage()))
    world.register()
    v1_config = world.serve(scaled_stage(), 1)
    scaling.throttle("PutScalingPolicy", 1000)

    # When v2 is deployed
    try:
        run = harness.start(world.state_machine_arn, "scaling-throttled", approved(), timeout=180)
    finally:
        scaling.reset()

    # Then the stage failed after the target was registered, and was put back: v1's config, no registration
    assert run.status == "FAILED" and run.error == "DeploymentFailed"
    assert "Configure Autoscaling" in run.states
    assert run.states[-5:] == [
        "Restore Settled?",
        "Restore Autoscaling",
        "Finish Failed Stage",
        "How Did It End?",
        "Deployment Failed",
    ]
    assert world.settled(scaled_stage()) == {"config": v1_config, "status": "InService"}
    assert registration(world) == ([], [])
    [restored] = audit("restore-autoscaling")
    assert "AllTraffic: deregistered (was 2-4 instances (no policy))" in restored.reason


def test_a_shadow_of_the_version_prod_already_serves_alone_leaves_prod_alone(world: DeployWorld) -> None:
    # Given prod serving v1 alone under a shadow strategy, and v1 deployed to it again (`lifecycle deploy`)
    world.cloud.publish_policy(deploy_policy(shadow_stage()))
    world.register()
    v1_config = world.serve(shadow_stage(), 1)

    run = world.start("shadow-of-itself", {"kind": "deploy", "group": "churn", "version": 1, "stages": ["prod"]})

    # Then it ends at once (a shadow of v1 against v1 would wait for a verdict that compares nothing)
    assert run.status == "SUCCEEDED", run.cause
    assert run.states == [*START, *LEASE, "Deployment Not Needed"]
    assert world.endpoint(shadow_stage()) == {"config": v1_config, "status": "InService"}
    [note] = [n for n in world.cloud.notifications() if n["kind"] == "deployment-not-needed"]
    assert "prod already serves v1 alone: there is nothing to test in shadow against it" in note["message"]
