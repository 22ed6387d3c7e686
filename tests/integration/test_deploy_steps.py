"""DeployModel steps called one by one (as the state machine's Lambda task calls them): the decisions a state machine
run reaches only through rare paths — an alarm while the product watches an unguarded change, a package of another
group, a model someone else made under the product's name."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lifecycle.config import get_settings
from lifecycle.deploy.steps import run_step
from lifecycle.errors import InvalidDeploymentInput, ResourceConflict, RollbackAlarmFired
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, PROD, REGION
from support.deploy import ALARM, DeployWorld, deploy_policy, deploy_world, prod_stage, staging_stage

world_fixture = pytest.fixture(name="world")(deploy_world)


def _validated(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    state = run_step({"step": "validate_input", "execution": "steps-1", "input": payload}, get_settings())
    return state["plan"], state["stage"]


def _step(name: str, plan: dict[str, Any], stage: dict[str, Any]) -> dict[str, Any]:
    return run_step({"step": name, "plan": plan, "stage": stage}, get_settings())


def _until_in_service(plan: dict[str, Any], stage: dict[str, Any]) -> dict[str, Any]:
    """The stage's steps from its lease to its endpoint InService on the new config."""
    for step in ("acquire_endpoint_lease", "create_model", "create_endpoint_config", "create_or_update_endpoint"):
        stage = _step(step, plan, stage)
    while stage["status"] != "InService":
        stage = _step("check_endpoint_status", plan, stage)
    return stage


def _alarm(state: str) -> None:
    cloudwatch = world_client("cloudwatch")
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
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue=state, StateReason="test")


def world_client(service: str, account: str = PROD) -> Any:
    from sandbox.cloud import client_in

    return client_in(service, account, REGION)


def _watching(world: DeployWorld, **changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """prod InService on v1's config, and a rollout to v1 that watches the stage's alarm (an unguarded change)."""
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    config = world.serve(prod_stage(), 1)
    plan, stage = _validated({"kind": "rollback", "group": "churn", "stage": "prod", "version": 1})
    deadline = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    stage |= {"config_name": config, "watch_alarms": [ALARM], "bake_seconds": 600, "deadline": deadline, **changes}
    return plan, stage


def test_an_alarm_while_the_product_watches_an_unguarded_change_fails_the_stage(world: DeployWorld) -> None:
    # Given an unguarded change InService, its alarm in ALARM
    plan, stage = _watching(world)
    _alarm("ALARM")
    # When the endpoint is checked, Then the stage fails (and the state machine restores the previous config)
    with pytest.raises(RollbackAlarmFired, match=f"{ALARM} went to ALARM on churn-prod"):
        _step("check_endpoint_status", plan, stage)


def test_a_quiet_alarm_bakes_for_the_whole_period_then_the_stage_is_in_service(world: DeployWorld) -> None:
    plan, stage = _watching(world)
    _alarm("OK")

    baking = _step("check_endpoint_status", plan, stage)
    assert baking["status"] == "Baking"
    until = datetime.fromisoformat(baking["bake_until"])
    assert timedelta(seconds=590) < until - datetime.now(UTC) <= timedelta(seconds=600)
    assert _step("check_endpoint_status", plan, baking)["status"] == "Baking"

    done = _step("check_endpoint_status", plan, baking | {"bake_until": datetime.now(UTC).isoformat()})
    assert done["status"] == "InService"
    [record] = [r for r in history("churn", get_settings()) if r.action == "endpoint-in-service"]
    assert record.outcome == "done"


def test_a_package_of_another_group_is_never_deployed(world: DeployWorld) -> None:
    # Given a policy of group churn whose registry also holds group fraud, whose v1 is Approved
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    from lifecycle.deploy.stage import approved_package

    sagemaker = world.cloud.client("sagemaker", AUTOMATION)
    sagemaker.create_model_package_group(ModelPackageGroupName="fraud")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="fraud",
        InferenceSpecification=sagemaker.describe_model_package(
            ModelPackageName=f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/churn/1"
        )["InferenceSpecification"],
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    # Then naming it as churn's is refused
    with pytest.raises(InvalidDeploymentInput, match="belongs to group 'fraud', not 'churn'"):
        approved_package(sagemaker, arn, "churn")


def test_a_model_someone_else_made_under_the_product_s_name_is_never_reused(world: DeployWorld) -> None:
    # Given the model the step would create already exists, running another package
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    stage = _step("acquire_endpoint_lease", plan, stage)
    sagemaker = world_client("sagemaker")
    created = _step("create_model", plan, stage)
    model = sagemaker.describe_model(ModelName=created["model_name"])
    sagemaker.delete_model(ModelName=created["model_name"])
    sagemaker.create_model(
        ModelName=created["model_name"],
        ExecutionRoleArn=model["ExecutionRoleArn"],
        PrimaryContainer={"ModelPackageName": f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/churn/1"},
    )
    # Then the step refuses to deploy on it
    with pytest.raises(ResourceConflict, match="it was not made by this product"):
        _step("create_model", plan, stage)


def test_an_endpoint_config_someone_else_made_under_the_product_s_name_is_never_reused(world: DeployWorld) -> None:
    # Given the endpoint config the step would create already exists, on another instance type
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    stage = _step("create_model", plan, _step("acquire_endpoint_lease", plan, stage))
    made = _step("create_endpoint_config", plan, stage)
    sagemaker = world_client("sagemaker")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=made["config_name"])
    sagemaker.delete_endpoint_config(EndpointConfigName=made["config_name"])
    variants = [{**variant, "InstanceType": "ml.c5.large"} for variant in config["ProductionVariants"]]
    sagemaker.create_endpoint_config(EndpointConfigName=made["config_name"], ProductionVariants=variants)
    # Then the step refuses to deploy on it
    with pytest.raises(ResourceConflict, match="exists with other variants than this deployment's"):
        _step("create_endpoint_config", plan, stage)


@pytest.mark.parametrize(
    ("changed", "why"),
    [
        (False, "the endpoint was not changed"),
        (True, "the endpoint was created by this deployment: nothing to go back to, left for investigation"),
    ],
)
def test_a_stage_with_no_config_to_go_back_to_restores_nothing_and_says_why(
    world: DeployWorld, changed: bool, why: str
) -> None:
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    event = {"step": "restore_previous_endpoint_config", "error": {"Error": "EndpointFailed"}}

    result = run_step({**event, "plan": plan, "stage": stage | {"changed": changed}}, get_settings())

    assert result == {"phase": "skipped"}
    [record] = [r for r in history("churn", get_settings()) if r.action == "restore-endpoint"]
    assert (record.outcome, record.reason) == ("skipped", f"EndpointFailed: {why}")
    # nor any autoscaling: the execution kept no scaling restore point
    scaling = run_step({"step": "restore_autoscaling", "plan": plan, "stage": stage}, get_settings())
    assert scaling == {"phase": "skipped"}
    [record] = [r for r in history("churn", get_settings()) if r.action == "restore-autoscaling"]
    assert (record.outcome, record.reason) == ("skipped", "this deployment changed no autoscaling")


def test_a_retry_after_creating_the_endpoint_finds_it_on_its_config_and_changes_nothing(world: DeployWorld) -> None:
    # Given a first attempt that created prod's endpoint on this deployment's config
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    for step in ("acquire_endpoint_lease", "create_model", "create_endpoint_config"):
        stage = _step(step, plan, stage)
    first = _step("create_or_update_endpoint", plan, stage)
    # When the step runs again (the platform retried it)
    again = _step("create_or_update_endpoint", plan, stage)
    # Then it finds the endpoint on its config, records that it changed nothing, and watches nothing
    assert world.endpoint(prod_stage())["config"] == first["config_name"] == again["config_name"]
    assert again["bake_seconds"] == 0
    records = [(r.action, r.outcome, r.reason) for r in history("churn", get_settings()) if "endpoint" in r.action]
    assert records[-1] == ("update-endpoint", "skipped", f"already on {first['config_name']}")


@pytest.mark.parametrize(
    ("phase", "where"), [("single", "before traffic"), ("canary", "at the canary share")], ids=["before", "canary"]
)
def test_a_gate_keeps_its_token_and_records_where_it_waits(world: DeployWorld, phase: str, where: str) -> None:
    from lifecycle.store import deployments

    world.cloud.publish_policy(deploy_policy(prod_stage(approval_required=True, approval_timeout_hours=2)))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})

    event = {"step": "wait_for_approval", "plan": plan, "stage": stage | {"phase": phase}, "token": "token-1"}
    run_step(event, get_settings())

    [gate] = deployments.approvals(get_settings(), "churn")
    assert (gate.stage, gate.version, gate.token, gate.decision) == ("prod", 2, "token-1", "")
    [record] = [r for r in history("churn", get_settings()) if r.action == "approval-requested"]
    assert (record.outcome, record.reason) == ("notified", f"{where}: waiting up to 2 h for ['ml-leads@example.com']")
    # the approvers are told how to answer, with and without the CLI
    [note] = [n for n in world.cloud.notifications() if n["kind"] == "approval-requested"]
    execution = plan["execution"]
    assert f"Approve:\n  lifecycle approve {execution}\n" in note["message"]
    assert f"Reject:\n  lifecycle reject {execution} --reason '<why>'\n" in note["message"]
    assert "aws stepfunctions send-task-failure --task-token 'token-1' --error ApprovalRejected" in note["message"]


def test_the_audit_trail_of_a_stage_says_what_each_step_did_and_what_a_retry_found_done(world: DeployWorld) -> None:
    # Given staging without an endpoint (and without monitoring), v2 deployed to it step by step
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["staging"]})
    stage = _until_in_service(plan, stage)
    # and the model and config steps retried once
    for step in ("create_model", "create_endpoint_config"):
        _step(step, plan, stage)
    for step in ("run_smoke_test", "configure_monitoring", "finish_stage"):
        stage = _step(step, plan, stage)

    # Then each decision is in the audit trail, in order, with its outcome
    trail = [(r.action, r.outcome) for r in history("churn", get_settings())]
    assert trail == [
        ("deployment-started", "done"),
        ("endpoint-lease", "done"),
        ("create-model", "done"),
        ("create-endpoint-config", "done"),
        ("create-endpoint", "done"),
        ("endpoint-in-service", "done"),
        ("create-model", "skipped"),
        ("create-endpoint-config", "skipped"),
        ("smoke-test", "done"),
        ("monitoring-schedule", "skipped"),
        ("deploy-stage", "done"),
        ("deployment-complete", "done"),
    ]
    reasons = {r.action: r.reason for r in history("churn", get_settings()) if r.outcome == "skipped"}
    assert (reasons["create-model"], reasons["monitoring-schedule"]) == ("exists", "no monitoring in policy")
    # the stage's record says what serves, and nothing of an approval or a shadow it did not have
    [done] = [r.reason for r in history("churn", get_settings()) if r.action == "deploy-stage"]
    assert re.fullmatch(
        r'churn-staging serves v2 \(churn-v2-staging-\w+\); smoke test passed: \{"predictions": \[\{"score": 0.5\}\]\}',
        done,
    ), done


@pytest.mark.parametrize(
    ("holder_arn", "lease"),
    [
        ("", "wait"),  # a holder that names no execution is taken to be live: the stage waits for it
        (f"arn:aws:states:{REGION}:{AUTOMATION}:execution:deploy-model:gone", "held"),  # one that no longer runs
    ],
    ids=["holder-without-execution", "holder-no-longer-running"],
)
def test_an_endpoint_lease_is_taken_over_only_from_an_execution_that_no_longer_runs(
    world: DeployWorld, holder_arn: str, lease: str
) -> None:
    from lifecycle.store import deployments

    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    other = deployments.Lease(holder="other", execution_arn=holder_arn, group="churn", version=1, kind="deploy")
    endpoint = deployments.Endpoint(PROD, REGION, "churn-prod")
    assert deployments.acquire_lease(get_settings(), endpoint, other, keep=timedelta(hours=1)) is None

    assert _step("acquire_endpoint_lease", plan, stage)["lease"] == lease


def test_a_stage_waits_for_a_live_lease_holder_as_long_as_a_deployment_may_take(world: DeployWorld) -> None:
    from lifecycle.policy import Stage
    from lifecycle.store import deployments

    # Given prod's endpoint leased by a deployment that still runs (no execution named: taken to be live)
    world.cloud.publish_policy(deploy_policy(prod_stage(approval_required=True, approval_timeout_hours=2)))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    other = deployments.Lease(holder="other", execution_arn="", group="churn", version=1, kind="deploy")
    endpoint = deployments.Endpoint(PROD, REGION, "churn-prod")
    deployments.acquire_lease(get_settings(), endpoint, other, keep=timedelta(hours=1))

    # When this deployment's stage asks for it
    started = datetime.now(UTC)
    waiting = _step("acquire_endpoint_lease", plan, stage)

    # Then it waits, at most two whole rollouts of the stage, its gate's hours and an hour more
    rollout = Stage.model_validate(plan["stages"][0]).rollout_seconds()
    expected = timedelta(seconds=2 * rollout + 2 * 3600 + 3600)
    assert waiting["lease"] == "wait"
    assert (
        timedelta(0) <= datetime.fromisoformat(waiting["lease_deadline"]) - (started + expected) < timedelta(seconds=5)
    )


def test_a_smoke_test_the_endpoint_answers_with_an_error_fails_the_stage_with_that_error(world: DeployWorld) -> None:
    from botocore.exceptions import ClientError
    from lifecycle.accounts import client_for
    from lifecycle.errors import SmokeTestFailed

    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["staging"]})
    runtime = client_for("sagemaker-runtime", plan["stages"][0]["account"], REGION, get_settings(), **_acting(plan))

    def model_error(**_: object) -> None:
        raise ClientError({"Error": {"Code": "ModelError", "Message": "the model crashed"}}, "InvokeEndpoint")

    runtime.meta.events.register("before-call.sagemaker-runtime.InvokeEndpoint", model_error)
    with pytest.raises(SmokeTestFailed, match="InvokeEndpoint churn-staging failed: ModelError: the model crashed"):
        _step("run_smoke_test", plan, stage)


def _acting(plan: dict[str, Any]) -> dict[str, str]:
    """The reaction and event a step's clients are made for (its sessions are per execution)."""
    from lifecycle.deploy.inputs import REACTION

    return {"reaction": REACTION, "event_id": plan["execution"]}


@pytest.mark.parametrize(("variant", "target"), [("canary", "canary"), ("", None)], ids=["canary", "whole-endpoint"])
def test_a_smoke_test_asks_the_variant_being_deployed(world: DeployWorld, variant: str, target: str | None) -> None:
    from botocore.exceptions import ClientError
    from lifecycle.accounts import client_for
    from lifecycle.errors import SmokeTestFailed

    # Given the canary share of v2 serving beside v1 (or a single variant)
    world.cloud.publish_policy(deploy_policy(staging_stage()))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["staging"]})
    runtime = client_for("sagemaker-runtime", plan["stages"][0]["account"], REGION, get_settings(), **_acting(plan))
    asked: list[dict[str, Any]] = []

    def ask(params: dict[str, Any], **_: object) -> None:
        asked.append(dict(params))

    def stop(**_: object) -> None:
        raise ClientError({"Error": {"Code": "ModelError", "Message": "stop here"}}, "InvokeEndpoint")

    runtime.meta.events.register("provide-client-params.sagemaker-runtime.InvokeEndpoint", ask)
    runtime.meta.events.register("before-call.sagemaker-runtime.InvokeEndpoint", stop)
    with pytest.raises(SmokeTestFailed):
        _step("run_smoke_test", plan, stage | {"new_variant": variant})
    # Then the smoke test asks the new variant itself, not whichever variant the endpoint routes it to
    assert [request.get("TargetVariant") for request in asked] == [target]


def test_every_step_the_deploy_function_runs_is_counted(world: DeployWorld, capsys: pytest.CaptureFixture[str]) -> None:
    from lifecycle.observability import metrics
    from support.metrics import emitted

    from sandbox import runtime

    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    handler = runtime.handler("deploy_step")
    payload = {"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]}
    metrics.clear_metrics()  # what steps called directly (no handler, so never flushed) added in this process
    capsys.readouterr()

    handler({"step": "validate_input", "execution": "steps-2", "input": payload}, runtime.LambdaContext("d", "a", 60))

    assert emitted(capsys.readouterr().out).get("DeployStepsRun") == 1


def _stage_fails(
    world: DeployWorld, capsys: pytest.CaptureFixture[str], stage_policy: dict[str, Any], error: dict[str, str]
) -> tuple[dict[str, Any], dict[str, float]]:
    """The deploy function's `Finish Failed Stage` of v2 at prod with `error`: its result and the metrics emitted."""
    from lifecycle.observability import metrics
    from support.metrics import emitted

    from sandbox import runtime

    world.cloud.publish_policy(deploy_policy(stage_policy))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    metrics.clear_metrics()
    capsys.readouterr()
    event = {"step": "finish_failed_stage", "plan": plan, "stage": stage, "error": error}
    result = runtime.handler("deploy_step")(event, runtime.LambdaContext("d", "a", 60))
    return result, emitted(capsys.readouterr().out)


def test_a_rejection_at_the_gate_is_recorded_told_and_counted(
    world: DeployWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    from lifecycle.deploy.inputs import APPROVAL_REJECTED

    error = {"Error": APPROVAL_REJECTED, "Cause": "the drift report is not reviewed"}
    result, counted = _stage_fails(world, capsys, prod_stage(approval_required=True), error)

    assert result == {"outcome": "rejected"}
    assert counted.get("GateRejections") == 1
    [record] = [r for r in history("churn", get_settings()) if r.action == "gate-rejected"]
    assert "v2 rejected at the approval gate by unknown" in record.reason
    assert "the drift report is not reviewed" in record.reason
    [note] = [n for n in world.cloud.notifications() if n["kind"] == "approval-rejected"]
    assert "No automatic rollback will choose this version for this stage." in note["message"]


def test_a_failed_stage_is_recorded_told_and_counted(world: DeployWorld, capsys: pytest.CaptureFixture[str]) -> None:
    error = {"Error": "SmokeTestFailed", "Cause": "churn-prod answered 'nan'"}
    result, counted = _stage_fails(world, capsys, prod_stage(), error)

    assert result == {"outcome": "failed"}
    assert counted.get("DeploymentsFailed") == 1
    [record] = [r for r in history("churn", get_settings()) if r.action == "deployment-failed"]
    assert record.reason.startswith("SmokeTestFailed at stage prod: churn-prod answered 'nan'; later stages not")
    [note] = [n for n in world.cloud.notifications() if n["kind"] == "deployment-failed"]
    assert "SmokeTestFailed at stage prod" in note["message"]


def test_autoscaling_is_put_back_as_the_execution_found_it(world: DeployWorld) -> None:
    from lifecycle.deploy import scaling
    from lifecycle.store import deployments

    # Given prod's variant registered by this execution, which had found it unregistered (its scaling restore point)
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    world.serve(prod_stage(), 1)
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    found = {"AllTraffic": scaling.Registration(False, 0, 0, ())}
    deployments.keep_scaling_restore_point(get_settings(), plan["execution"], "prod", scaling.snapshot_json(found))
    autoscaling = world_client("application-autoscaling")
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/churn-prod/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=3,
    )

    # When the failed stage's autoscaling is restored
    result = _step("restore_autoscaling", plan, stage)

    # Then the registration is gone again, and the record says so
    assert result == {"phase": "restored"}
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    [record] = [r for r in history("churn", get_settings()) if r.action == "restore-autoscaling"]
    assert (record.outcome, record.reason) == ("done", "AllTraffic: deregistered (was 1-3 instances (no policy))")


def test_a_package_rejected_before_its_stage_finishes_fails_the_stage(world: DeployWorld) -> None:
    from lifecycle.errors import PackageRejected

    # Given v2's stage about to finish (its endpoint InService), and v2 rejected in the registry meanwhile
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    arns = world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})
    registry = world.cloud.client("sagemaker", AUTOMATION)
    registry.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Rejected")

    # When the stage would finish, Then it fails (the state machine restores what it changed), nothing recorded done
    with pytest.raises(PackageRejected):
        _step("finish_stage", plan, stage | {"status": "InService", "smoke_test": "passed"})
    assert [r for r in history("churn", get_settings()) if r.action == "deploy-stage"] == []


def test_starting_a_deployment_without_the_state_machine_configured_is_refused(world: DeployWorld) -> None:
    from lifecycle.config import ConfigurationError
    from lifecycle.deploy.inputs import DeployInput, start_deployment

    settings = get_settings().model_copy(update={"deploy_state_machine_arn": ""})

    with pytest.raises(ConfigurationError, match="LIFECYCLE_DEPLOY_STATE_MACHINE_ARN is not set"):
        start_deployment(settings, DeployInput(group="churn", version=2, stages=["prod"]), name="churn-deploy-1")
    assert (
        world.cloud.client("stepfunctions").list_executions(stateMachineArn=world.state_machine_arn)["executions"] == []
    )


def test_a_sensitive_policy_s_smoke_test_passes_without_quoting_the_answer(world: DeployWorld) -> None:
    document = deploy_policy(staging_stage())
    document["sensitive"] = True
    world.cloud.publish_policy(document)
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["staging"]})
    stage = _until_in_service(plan, stage)

    passed = _step("run_smoke_test", plan, stage)

    assert passed["smoke_test"] == "passed"
    [record] = [r for r in history("churn", get_settings()) if r.action == "smoke-test"]
    assert (record.outcome, record.reason) == (
        "done",
        "variant AllTraffic answered as expected (answer withheld: sensitive)",
    )


def test_promoting_a_stage_that_runs_one_variant_is_refused_before_anything_changes(world: DeployWorld) -> None:
    world.cloud.publish_policy(deploy_policy(prod_stage()))
    world.register()
    world.serve(prod_stage(), 1)

    with pytest.raises(InvalidDeploymentInput, match="churn-prod runs no A/B test or shadow \\(one variant\\)"):
        run_step(
            {
                "step": "validate_input",
                "execution": "promote-1",
                "input": {"kind": "promote", "group": "churn", "stage": "prod"},
            },
            get_settings(),
        )


def test_autoscaling_of_an_endpoint_that_is_gone_fails_the_stage(world: DeployWorld) -> None:
    from lifecycle.errors import EndpointFailed

    scaled = prod_stage(autoscaling={"min": 1, "max": 2, "target": {"invocations_per_instance": 100}})
    world.cloud.publish_policy(deploy_policy(scaled))
    world.register()
    plan, stage = _validated({"kind": "deploy", "group": "churn", "version": 2, "stages": ["prod"]})

    with pytest.raises(EndpointFailed, match="endpoint churn-prod serves no variant to scale"):
        _step("configure_autoscaling", plan, stage)
    assert (
        world_client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")[
            "ScalableTargets"
        ]
        == []
    )
