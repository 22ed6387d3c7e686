"""The DeployModel state machine's Lambda steps: one table from ASL state to function (the step key of a state
is its name in snake case), `validate_input` (the plan), and `run_step`, which dispatches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle.config import Settings
from lifecycle.context import Context
from lifecycle.deploy import endpoints
from lifecycle.deploy.batch import run_transform_job
from lifecycle.deploy.gate import request_approval
from lifecycle.deploy.inputs import (
    REACTION,
    ApprovedInput,
    DeployInput,
    EndShadowInput,
    Plan,
    RollbackInput,
    StageState,
    first_state,
    package_arn,
    parse_input,
)
from lifecycle.deploy.lease import acquire_endpoint_lease
from lifecycle.deploy.restore import (
    check_restore,
    finish_failed_stage,
    restore_autoscaling,
    restore_previous_endpoint_config,
)
from lifecycle.deploy.rollout import (
    check_endpoint_status,
    complete_canary_shift,
    configure_autoscaling,
    configure_monitoring,
    create_endpoint_config,
    create_model,
    create_or_update_endpoint,
    finish_stage,
    run_smoke_test,
)
from lifecycle.deploy.shadow import compare_shadow_metrics, end_shadow, request_shadow_verdict
from lifecycle.deploy.stage import StepContext, approved_package, corrective
from lifecycle.errors import (
    InvalidDeploymentInput,
)
from lifecycle.observability import count
from lifecycle.policy import Policy, Stage, load_policy


# --- plan ------------------------------------------------------------------------------------------------------------
def _policy_stages(policy: Policy) -> list[Stage]:
    if policy.deployment is None:
        raise InvalidDeploymentInput(f"the policy of group {policy.group} has no deployment stages")
    return list(policy.deployment.stages)


def _named_stage(policy: Policy, name: str) -> Stage:
    found = [stage for stage in _policy_stages(policy) if stage.name == name]
    if not found:
        raise InvalidDeploymentInput(f"the policy of group {policy.group} has no stage {name!r}")
    return found[0]


def _challenger(acting: Context, policy: Policy, stage: Stage, *, shadow_only: bool) -> int:
    """The version a promotion gives all the traffic: the stage's shadow, else its A/B challenger (the newest
    version served beside the main variant). With `shadow_only` (an end-shadow), the shadow's."""
    if stage.endpoint_name is None:
        raise InvalidDeploymentInput(f"stage {stage.name} is a batch stage: it has no endpoint variants")
    sagemaker = acting.client_in("sagemaker", stage.account, stage.region)
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    if endpoint is None:
        raise InvalidDeploymentInput(f"endpoint {stage.endpoint_name} of stage {stage.name} does not exist")
    variants = [v for v in endpoints.serving(sagemaker, endpoint.config) if v.of_group(policy.group)]
    shadow = endpoints.shadow_variant(variants)
    if shadow is not None and shadow.version is not None:
        return shadow.version
    if shadow_only:
        raise InvalidDeploymentInput(f"endpoint {stage.endpoint_name} runs no shadow test of {policy.group}")
    main = endpoints.main_variant(variants)
    others = [v.version for v in variants if v is not main and v.version is not None]
    if not others:
        raise InvalidDeploymentInput(f"endpoint {stage.endpoint_name} runs no A/B test or shadow (one variant)")
    return max(others)


def validate_input(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Validate the input and snapshot what to deploy where. Nothing changes before this step succeeds."""
    execution = str(event.get("execution", ""))
    acting = Context(settings=settings, name=REACTION, event_id=execution)
    input_ = parse_input(event.get("input"))
    policy = load_policy(input_.group, settings)
    from_version = None
    if isinstance(input_, ApprovedInput | DeployInput):
        stages = _policy_stages(policy)
        if isinstance(input_, DeployInput):
            unknown = sorted(set(input_.stages) - {stage.name for stage in stages})
            if unknown:
                raise InvalidDeploymentInput(f"the policy of group {policy.group} has no stage(s) {unknown}")
            stages = [stage for stage in stages if stage.name in input_.stages]
        version = input_.version
    elif isinstance(input_, RollbackInput):
        stages = [corrective(_named_stage(policy, input_.stage))]
        version, from_version = input_.version, input_.from_version
    else:
        stage = _named_stage(policy, input_.stage)
        version = _challenger(acting, policy, stage, shadow_only=isinstance(input_, EndShadowInput))
        stages = [corrective(stage)]
    registry = policy.registry
    arn = package_arn(settings.partition, registry.region, registry.account, policy.group, version)
    approved_package(acting.client_in("sagemaker", registry.account, registry.region), arn, policy.group)
    reason = (
        getattr(input_, "reason", "")
        or {
            "approved": f"v{version} was approved in the registry",
            "deploy": f"deployment of v{version} requested",
            "rollback": f"rollback to v{version} requested",
            "promote": f"promotion of v{version} requested",
            "end-shadow": f"end of the shadow test of v{version} requested",
        }[input_.kind]
    )
    plan = Plan(
        kind=input_.kind,
        group=policy.group,
        version=version,
        package_arn=arn,
        registry_account=registry.account,
        registry_region=registry.region,
        from_version=from_version,
        reason=reason,
        execution=execution,
        execution_arn=str(event.get("execution_arn", "")),
        topic_arn=policy.notifications.topic_arn or settings.topic_arn,
        subject=f"{policy.group[:45]} v{version}",
        stages=stages,
        stage_count=len(stages),
        approvers=list(registry.approvers),
        sensitive=policy.sensitive,
    )
    step = StepContext.of(settings, plan, first_state(plan, 0))
    step.record(
        "deployment-started",
        "done",
        f"{plan.kind}: {plan.reason}; stages {', '.join(stage.name for stage in stages)}",
        resource=arn,
    )
    return {"plan": plan.model_dump(mode="json"), "stage": step.state.model_dump()}


def _token(event: dict[str, Any]) -> str:
    return str(event["token"])


# ASL state -> what runs in it. A state's step key (the `step` of its payload) is its name in snake case.
STATES: dict[str, Callable[[StepContext, dict[str, Any]], dict[str, Any]]] = {
    "Wait For Approval": lambda step, event: request_approval(step, _token(event)),
    "Acquire Endpoint Lease": lambda step, _: acquire_endpoint_lease(step),
    "Create Model": lambda step, _: create_model(step),
    "Run Transform Job": lambda step, event: run_transform_job(step, _token(event)),
    "Create Endpoint Config": lambda step, _: create_endpoint_config(step),
    "Create Or Update Endpoint": lambda step, _: create_or_update_endpoint(step),
    "Check Endpoint Status": lambda step, _: check_endpoint_status(step),
    "Run Smoke Test": lambda step, _: run_smoke_test(step),
    "Wait For Canary Approval": lambda step, event: request_approval(step, _token(event)),
    "Complete Canary Shift": lambda step, _: complete_canary_shift(step),
    "Wait For Shadow Verdict": lambda step, event: request_shadow_verdict(step, _token(event)),
    "Compare Shadow Metrics": lambda step, _: compare_shadow_metrics(step),
    "End Shadow": lambda step, _: end_shadow(step),
    "Check Shadow Ended": lambda step, _: check_endpoint_status(step),
    "Configure Autoscaling": lambda step, _: configure_autoscaling(step),
    "Configure Monitoring": lambda step, _: configure_monitoring(step),
    "Finish Stage": lambda step, _: finish_stage(step),
    "Restore Previous Endpoint Config": lambda step, event: restore_previous_endpoint_config(step, event["error"]),
    "Check Restore": lambda step, event: check_restore(step, event["restore"]),
    "Restore Autoscaling": lambda step, _: restore_autoscaling(step),
    "Finish Failed Stage": lambda step, event: finish_failed_stage(step, event["error"]),
}
VALIDATE_INPUT = "Validate Input"


def step_key(state: str) -> str:
    """The `step` a state's payload names: `Create Or Update Endpoint` -> `create_or_update_endpoint`."""
    return state.lower().replace(" ", "_")


_BY_KEY = {step_key(state): action for state, action in STATES.items()}
STEPS = frozenset({step_key(VALIDATE_INPUT), *_BY_KEY})


def run_step(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Run the step `event["step"]` names."""
    name = str(event.get("step"))
    count("DeployStepsRun")
    if name == step_key(VALIDATE_INPUT):
        return validate_input(event, settings)
    action = _BY_KEY.get(name)
    if action is None:
        raise InvalidDeploymentInput(f"unknown step {name[:50]!r}; known: {sorted(STEPS)}")
    plan = Plan.model_validate(event["plan"])
    state = StageState.model_validate(event["stage"])
    return action(StepContext.of(settings, plan, state), event)
