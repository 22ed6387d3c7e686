"""A stage's rollout: model, endpoint config, create or update (guarded when SageMaker allows it), wait and
bake, smoke test, the canary shift after its gate, autoscaling, monitoring, and the stage's end (a batch stage's
model proved by its transform job: `lifecycle.deploy.batch`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.deploy import batch, endpoints, scaling
from lifecycle.deploy.inputs import (
    first_state,
)
from lifecycle.deploy.stage import StepContext, require_approved
from lifecycle.errors import (
    EndpointBusy,
    EndpointFailed,
    EndpointRolledBack,
    EndpointWaitTimedOut,
    RollbackAlarmFired,
)
from lifecycle.monitoring.schedule import ensure_monitor, monitor_schedule_name
from lifecycle.policy import GROUP_TAG
from lifecycle.store import deployments


# --- endpoint --------------------------------------------------------------------------------------------------------
def create_model(step: StepContext) -> dict[str, Any]:
    plan, stage = step.plan, step.stage
    request = endpoints.model_request(stage, group=plan.group, version=plan.version, package_arn=plan.package_arn)
    created = endpoints.ensure_model(step.client("sagemaker"), request)
    name = request["ModelName"]
    step.record("create-model", "done" if created else "skipped", "created" if created else "exists", resource=name)
    return step.next(model_name=name)


def _ensure_config(step: StepContext, sagemaker: Any) -> tuple[str, str]:
    """The stage's next endpoint config (created unless it exists): its name and the new version's variant."""
    plan, stage, state = step.plan, step.stage, step.state
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    serving = endpoints.serving(sagemaker, endpoint.config) if endpoint else []
    variants = endpoints.variants_for(
        stage, model=state.model_name, version=plan.version, serving=serving, phase=state.phase
    )
    request = endpoints.config_request(
        stage, group=plan.group, version=plan.version, package_arn=plan.package_arn, variants=variants
    )
    created = endpoints.ensure_endpoint_config(sagemaker, request)
    shares = ", ".join(f"{v.name} {v.model} {v.weight:.0%}" for v in variants)
    reason = f"{'created' if created else 'exists'}; variants {shares}"
    if "DataCaptureConfig" in request:
        reason += f"; data capture to {request['DataCaptureConfig']['DestinationS3Uri']}"
    step.record(
        "create-endpoint-config", "done" if created else "skipped", reason, resource=request["EndpointConfigName"]
    )
    new_variant = next(v.name for v in variants if v.model == state.model_name)
    return request["EndpointConfigName"], new_variant


def create_endpoint_config(step: StepContext) -> dict[str, Any]:
    name, new_variant = _ensure_config(step, step.client("sagemaker"))
    return step.next(config_name=name, new_variant=new_variant)


def _alarms(step: StepContext) -> list[str]:
    """The alarms that guard this change: the stage's, except, for a rollback, those in ALARM now (they asked for it
    and would roll the rollback back)."""
    stage = step.stage
    if step.plan.kind != "rollback":
        return list(stage.rollback_alarms)
    firing = endpoints.firing_alarms(step.client("cloudwatch"), stage.rollback_alarms)
    if firing:
        step.record("rollback-alarms", "skipped", f"left out while in ALARM: {', '.join(firing)}")
    return [alarm for alarm in stage.rollback_alarms if alarm not in firing]


def _change_endpoint(step: StepContext) -> dict[str, Any]:
    """Create the endpoint on the state's config, or update it (guarded when SageMaker allows it); a retry finds its
    own change (done, or in progress) and goes on from there."""
    plan, stage, state = step.plan, step.stage, step.state
    require_approved(step)
    sagemaker = step.client("sagemaker")
    config = state.config_name
    configs = state.configs if config in state.configs else [*state.configs, config]
    deadline = datetime.now(UTC) + timedelta(seconds=stage.rollout_seconds() + stage.wait_timeout_minutes * 60)
    moving = {"configs": configs, "deadline": deadline.isoformat(), "bake_until": ""}
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    if endpoint is None:
        tags = [{"Key": GROUP_TAG, "Value": plan.group}]
        endpoints.create_endpoint(sagemaker, name=stage.endpoint_name, config=config, tags=tags)
        step.record("create-endpoint", "done", f"created on {config}", resource=stage.endpoint_name)
        # a new endpoint: no unguarded change whose alarms the product would watch (an earlier phase's are stale)
        return step.next(**moving, previous_config=None, changed=True, status="Creating", watch_alarms=[])
    if endpoint.config == config or endpoint.moving_to(config):
        previous = deployments.restore_point(step.settings, plan.execution, stage.name)
        if previous is not None:  # a retry: an earlier attempt of this execution made the change
            reason = f"{endpoint.status} on {config}, changed from {previous} by an earlier attempt"
            step.record("update-endpoint", "skipped", reason, resource=stage.endpoint_name)
            return step.next(**moving, previous_config=previous, changed=True, status=endpoint.status)
        step.record("update-endpoint", "skipped", f"already on {config}", resource=stage.endpoint_name)
        return step.next(**moving, status=endpoint.status, bake_seconds=0)
    if endpoint.busy:
        raise EndpointBusy(f"endpoint {stage.endpoint_name} is {endpoint.status} (not by this product's lease holder)")
    old = endpoints.describe_endpoint_config(sagemaker, endpoint.config) or {}
    new = endpoints.describe_endpoint_config(sagemaker, config) or {}
    alarms = _alarms(step)
    # Deployment guardrails need the new config to keep the old variant names (developer guide, "Exclusions").
    guarded = endpoints.variant_names(old) == endpoints.variant_names(new)
    deployment = (
        endpoints.deployment_config(stage, alarms=alarms, routing_of_strategy=state.phase == "single")
        if guarded
        else None
    )
    previous = deployments.keep_restore_point(step.settings, plan.execution, stage.name, endpoint.config)
    scaled = scaling.update_endpoint(step, sagemaker, old=old, new=new, deployment=deployment)
    if deployment is not None:
        routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
        how = f"blue/green {routing}, auto-rollback alarms: {', '.join(alarms) or 'none'}"
        bake, watch = 0, []
    else:
        # A canary share waits for its gate, a shadow serves no caller: neither bakes.
        bake = 0 if state.phase in ("canary", "shadow") or not alarms else stage.strategy.total_wait_seconds()
        watch = alarms if bake else []
        how = "the variant set changes, which SageMaker cannot guard: " + (
            f"the product watches {', '.join(alarms)} for {bake} s" if bake else "no alarms to watch"
        )
    how += f"; autoscaling: {scaled}" if scaled else ""
    step.record("update-endpoint", "done", f"{endpoint.config} -> {config} ({how})", resource=stage.endpoint_name)
    return step.next(
        **moving,
        previous_config=previous,
        changed=True,
        status="Updating",
        bake_seconds=bake,
        watch_alarms=watch,
    )


def create_or_update_endpoint(step: StepContext) -> dict[str, Any]:
    return _change_endpoint(step)


def complete_canary_shift(step: StepContext) -> dict[str, Any]:
    """After approval at the canary share: one config of the new version, all traffic, the alarms watched."""
    firing = endpoints.firing_alarms(step.client("cloudwatch"), step.stage.rollback_alarms)
    if firing:
        raise RollbackAlarmFired(f"{', '.join(firing)} in ALARM at the canary share: returning the traffic")
    final = StepContext.of(step.settings, step.plan, step.state.model_copy(update={"phase": "final"}))
    name, new_variant = _ensure_config(final, final.client("sagemaker"))
    shifted = StepContext.of(
        step.settings, step.plan, final.state.model_copy(update={"config_name": name, "new_variant": new_variant})
    )
    return _change_endpoint(shifted)


def check_endpoint_status(step: StepContext) -> dict[str, Any]:
    stage, state = step.stage, step.state
    require_approved(step)
    endpoint = endpoints.describe_endpoint(step.client("sagemaker"), stage.endpoint_name)
    if endpoint is None:
        raise EndpointFailed(f"endpoint {stage.endpoint_name} no longer exists")
    if endpoint.status == "Failed":
        raise EndpointFailed(f"endpoint {stage.endpoint_name} failed: {endpoint.failure_reason}")
    if endpoint.status == "InService":
        if endpoint.config == state.config_name:
            return _in_service(step)
        if endpoint.config == state.previous_config:
            raise EndpointRolledBack(
                f"SageMaker rolled {stage.endpoint_name} back to {endpoint.config} (alarms {stage.rollback_alarms})"
            )
        raise EndpointFailed(f"endpoint {stage.endpoint_name} serves {endpoint.config}, not {state.config_name}")
    if datetime.now(UTC) > datetime.fromisoformat(state.deadline):
        raise EndpointWaitTimedOut(f"endpoint {stage.endpoint_name} still {endpoint.status} past its rollout time")
    return step.next(status=endpoint.status)


def _in_service(step: StepContext) -> dict[str, Any]:
    """InService on the new config; after an unguarded change, `Baking` while the product watches the alarms. A
    shadow's time starts when its config serves."""
    stage, state = step.stage, step.state
    if state.phase == "shadow" and not state.shadow_since:
        step.record("endpoint-in-service", "done", f"InService on {state.config_name}", resource=stage.endpoint_name)
        return step.next(status="InService", shadow_since=datetime.now(UTC).isoformat())
    if state.watch_alarms:
        firing = endpoints.firing_alarms(step.client("cloudwatch"), state.watch_alarms)
        if firing:
            raise RollbackAlarmFired(
                f"{', '.join(firing)} went to ALARM on {stage.endpoint_name} ({state.config_name})"
            )
        now = datetime.now(UTC)
        if not state.bake_until:
            return step.next(status="Baking", bake_until=(now + timedelta(seconds=state.bake_seconds)).isoformat())
        if now < datetime.fromisoformat(state.bake_until):
            return step.next(status="Baking")
    step.record("endpoint-in-service", "done", f"InService on {state.config_name}", resource=stage.endpoint_name)
    return step.next(status="InService")


def run_smoke_test(step: StepContext) -> dict[str, Any]:
    stage, state = step.stage, step.state
    test = stage.smoke_test
    if state.phase == "shadow":
        reason = "the new version is a shadow (its answers reach no caller): it is smoke-tested when promoted"
        step.record("smoke-test", "skipped", reason, resource=stage.endpoint_name)
        return step.next(smoke_test="not run: shadow")
    if test is None:
        step.record("smoke-test", "skipped", "no smoke test in policy", resource=stage.endpoint_name)
        return step.next(smoke_test="not configured")
    answer = endpoints.smoke_test(
        step.client("sagemaker-runtime"),
        endpoint=stage.endpoint_name,
        payload=test.payload,
        content_type=test.content_type,
        expect=test.expect_contains,
        sensitive=step.plan.sensitive,
        variant=state.new_variant or None,
    )
    on = f"variant {state.new_variant}" if state.new_variant else stage.endpoint_name
    if step.plan.sensitive:  # the answer may carry what the model saw: it stays out of records and notifications
        step.record("smoke-test", "done", f"{on} answered as expected (answer withheld: sensitive)")
        return step.next(smoke_test="passed")
    step.record("smoke-test", "done", f"{on} answered {answer!r}", resource=stage.endpoint_name)
    return step.next(smoke_test=f"passed: {answer[:100]}")


def configure_autoscaling(step: StepContext) -> dict[str, Any]:
    """The policy's autoscaling on the main variant the endpoint serves now (scalable target, target-tracking policy),
    after keeping the registration found as the execution's scaling restore point."""
    plan, stage = step.plan, step.stage
    if stage.autoscaling is None:
        step.record("autoscaling", "skipped", "no autoscaling in policy", resource=stage.endpoint_name)
        return step.next()
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    main = endpoints.main_variant(endpoints.serving(sagemaker, endpoint.config) if endpoint else [])
    if endpoint is None or main is None:
        raise EndpointFailed(f"endpoint {stage.endpoint_name} serves no variant to scale")
    autoscaling = step.client("application-autoscaling")
    found = scaling.read(autoscaling, stage.endpoint_name, main.name)
    deployments.keep_scaling_restore_point(
        step.settings, plan.execution, stage.name, scaling.snapshot_json({main.name: found})
    )
    wanted = scaling.desired(stage, main.name)
    changed = scaling.apply(autoscaling, stage.endpoint_name, main.name, wanted, group=plan.group)
    resource = scaling.resource_id(stage.endpoint_name, main.name)
    if changed:
        step.record("autoscaling", "done", f"{main.name}: {changed}", resource=resource)
    else:
        step.record("autoscaling", "skipped", f"{main.name}: already {wanted.describe()}", resource=resource)
    return step.next()


def configure_monitoring(step: StepContext) -> dict[str, Any]:
    """Each monitor the deployment creates: its job definition and schedule on the stage's endpoint, created or
    updated to the policy; a monitor of a schedule of yours is only reacted to."""
    stage = step.stage
    if not stage.monitoring:
        step.record("monitoring-schedule", "skipped", "no monitoring in policy", resource=stage.endpoint_name)
        return step.next()
    sagemaker = step.client("sagemaker")
    for monitor in stage.monitoring:
        name = monitor_schedule_name(stage, monitor)
        if not monitor.created_by_deployment:
            step.record("monitoring-schedule", "skipped", f"{monitor.type}: your schedule, reacted to", resource=name)
            continue
        ensured = ensure_monitor(sagemaker, stage, monitor, group=step.plan.group)
        step.record(
            "monitoring-schedule",
            "skipped" if ensured.outcome == "unchanged" else "done",
            f"{monitor.type} schedule {ensured.outcome} ({monitor.schedule_expression}, job definition "
            f"{ensured.definition})",
            resource=ensured.schedule,
        )
    return step.next()


def finish_stage(step: StepContext) -> dict[str, Any]:
    plan, stage, state = step.plan, step.stage, step.state
    require_approved(step)
    approval = state.approval
    approved_by = f"; approved by {approval.get('approved_by', 'someone')}" if approval else ""
    verdict = state.verdict
    promoted = f"; promoted from a shadow ({verdict.get('by')}: {verdict.get('reason')})" if verdict else ""
    now = datetime.now(UTC).isoformat()
    if state.batch:
        served = batch.record_current_model(step)
    else:
        served = f"{stage.endpoint_name} serves v{plan.version} ({state.config_name}); smoke test {state.smoke_test}"
    step.record(
        "deploy-stage", "done", served + approved_by + promoted, resource=stage.endpoint_name or state.model_name
    )
    deployments.record_stage_event(
        step.settings,
        plan.group,
        stage.name,
        deployments.StageEvent(
            kind="deployed", version=plan.version, at=now, execution=plan.execution, detail=plan.kind
        ),
    )
    deployments.release_lease(step.settings, step.endpoint, plan.execution)
    evidence = {"name": stage.name, "smoke_test": state.smoke_test, "finished_at": now}
    following = first_state(plan, state.index + 1, previous_stage=evidence)
    if following.done:
        names = ", ".join(stage.name for stage in plan.stages)
        done = {
            "approved": f"v{plan.version} deployed to {names}",
            "deploy": f"v{plan.version} deployed to {names}",
            "rollback": f"{names} rolled back to v{plan.version}",
            "promote": f"{names}: v{plan.version} promoted to all traffic",
            "end-shadow": f"{names}: the shadow of v{plan.version} ended",
        }[plan.kind]
        step.record("deployment-complete", "done", done, resource=plan.package_arn)
        step.tell(done, [plan.reason, plan.package_arn], kind="deployed")
    return following.model_dump()
