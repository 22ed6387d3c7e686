"""The DeployModel state machine's Lambda steps. One function per Task; `run_step` dispatches on `step`.

Each step acts in the stage's account through `client_for`, records what it decided in the audit table, and
returns the next `$.stage`. Failures are typed errors whose class names the ASL `Retry`/`Catch` match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.accounts import client_for
from lifecycle.actions import deploy
from lifecycle.actions.monitor_schedule import ensure_schedule, schedule_name
from lifecycle.audit import AuditRecord, Outcome, record
from lifecycle.aws import aws_errors
from lifecycle.config import Settings
from lifecycle.deployment import (
    APPROVAL_REJECTED,
    REACTION,
    ApprovedInput,
    DeployInput,
    Plan,
    RollbackInput,
    StageState,
    first_state,
    package_arn,
    package_ref,
    parse_input,
)
from lifecycle.errors import (
    EndpointBusy,
    EndpointFailed,
    EndpointRolledBack,
    EndpointWaitTimedOut,
    InvalidDeploymentInput,
)
from lifecycle.notify import notify
from lifecycle.observability import count
from lifecycle.policy import AbTest, AllAtOnce, Policy, Stage, load_policy

_APPROVAL_TTL = timedelta(days=15)
APPROVED_BY_YOU = '{"approved_by": "<you>"}'


@dataclass(frozen=True)
class StepContext:
    """One step of one execution: the plan, where the stage is, and the means to act, record and tell."""

    settings: Settings
    plan: Plan
    state: StageState

    @property
    def stage(self) -> Stage:
        return self.plan.stages[self.state.index]

    def client(self, service: str) -> Any:
        stage = self.stage
        return client_for(
            service, stage.account, stage.region, self.settings, reaction=REACTION, event_id=self.plan.execution
        )

    def record(
        self, action: str, outcome: Outcome, reason: str, *, resource: str = "", details: dict[str, str] | None = None
    ) -> None:
        stage = self.stage
        record(
            AuditRecord(
                group=self.plan.group,
                action=action,
                outcome=outcome,
                reason=reason,
                event_id=self.plan.execution,
                reaction=REACTION,
                account=stage.account,
                region=stage.region,
                resource=resource,
                version=self.plan.version,
                details={"stage": stage.name, **(details or {})},
            ),
            self.settings,
        )

    def tell(self, subject: str, lines: list[str], *, kind: str) -> None:
        notify(
            self.settings,
            subject=f"{self.plan.subject}: {subject}",
            lines=[*lines, f"execution: {self.plan.execution}"],
            group=self.plan.group,
            kind=kind,
            topic_arn=self.plan.topic_arn,
        )

    def next(self, **changes: Any) -> dict[str, Any]:
        return self.state.model_copy(update=changes).model_dump()

    def table(self) -> Any:
        """The lifecycle table (in the automation account)."""
        return client_for(
            "dynamodb",
            self.settings.automation_account_id,
            self.settings.region,
            self.settings,
            reaction=REACTION,
            event_id=self.plan.execution,
        )

    def keep_restore_point(self, config: str) -> None:
        """Before an endpoint changes: the config to restore, kept where a retried step finds it again (the step's
        own output is lost when the Lambda fails after UpdateEndpoint went through). Expires after 30 days."""
        expiration = int((datetime.now(UTC) + timedelta(days=30)).timestamp())
        with aws_errors("dynamodb:PutItem restore point"):
            self.table().put_item(
                TableName=self.settings.table_name,
                Item={
                    "pk": {"S": f"RESTORE#{self.plan.execution}"},
                    "sk": {"S": f"STAGE#{self.stage.name}"},
                    "config": {"S": config},
                    "expiration": {"N": str(expiration)},
                },
            )

    def restore_point(self) -> str | None:
        """The config this execution kept before changing the stage's endpoint, if it did."""
        with aws_errors("dynamodb:GetItem restore point"):
            item = (
                self.table()
                .get_item(
                    TableName=self.settings.table_name,
                    Key={"pk": {"S": f"RESTORE#{self.plan.execution}"}, "sk": {"S": f"STAGE#{self.stage.name}"}},
                    ConsistentRead=True,
                )
                .get("Item")
            )
        return item["config"]["S"] if item else None


# --- plan ------------------------------------------------------------------------------------------------------------
def _registry_package(settings: Settings, arn: str, execution: str) -> dict[str, Any]:
    ref = package_ref(arn)
    sagemaker = client_for("sagemaker", ref.account, ref.region, settings, reaction=REACTION, event_id=execution)
    with aws_errors(f"sagemaker:DescribeModelPackage {arn}", missing=f"model package {arn} does not exist"):
        package = dict(sagemaker.describe_model_package(ModelPackageName=arn))
    if package.get("ModelApprovalStatus") != "Approved":
        raise InvalidDeploymentInput(f"{arn} is {package.get('ModelApprovalStatus')}, not Approved")
    return package


def _policy_stages(policy: Policy) -> list[Stage]:
    if policy.deployment is None:
        raise InvalidDeploymentInput(f"the policy of group {policy.group} has no deployment stages")
    return list(policy.deployment.stages)


def _named_stage(policy: Policy, name: str) -> Stage:
    found = [stage for stage in _policy_stages(policy) if stage.name == name]
    if not found:
        raise InvalidDeploymentInput(f"the policy of group {policy.group} has no stage {name!r}")
    return found[0]


def _challenger(settings: Settings, stage: Stage, execution: str) -> str:
    """The package ARN of the newest variant of an A/B endpoint (the challenger)."""
    sagemaker = client_for("sagemaker", stage.account, stage.region, settings, reaction=REACTION, event_id=execution)
    endpoint = deploy.describe_endpoint(sagemaker, stage.endpoint_name)
    if endpoint is None:
        raise InvalidDeploymentInput(f"endpoint {stage.endpoint_name} of stage {stage.name} does not exist")
    variants = [variant for variant in deploy.serving(sagemaker, endpoint) if variant.version is not None]
    if len(variants) < 2:
        raise InvalidDeploymentInput(f"endpoint {stage.endpoint_name} runs no A/B test (one variant)")
    return max(variants, key=lambda variant: variant.version or 0).package_arn


def plan_step(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Validate the input and snapshot what to deploy where. Nothing changes before this step succeeds."""
    execution = str(event.get("execution", ""))
    input_ = parse_input(event.get("input"))
    if isinstance(input_, ApprovedInput | DeployInput):
        ref = package_ref(input_.model_package_arn)
        policy = load_policy(ref.group, settings)
        stages = _policy_stages(policy)
        if isinstance(input_, DeployInput):
            unknown = sorted(set(input_.stages) - {stage.name for stage in stages})
            if unknown:
                raise InvalidDeploymentInput(f"the policy of group {ref.group} has no stage(s) {unknown}")
            stages = [stage for stage in stages if stage.name in input_.stages]
        arn = input_.model_package_arn
    else:
        policy = load_policy(input_.group, settings)
        stage = _named_stage(policy, input_.stage)
        if isinstance(input_, RollbackInput):
            registry = policy.registry
            arn = package_arn(settings.partition, registry.region, registry.account, input_.group, input_.version)
            # A rollback is fast and unguarded: the alarms that asked for it must not roll the rollback back.
            stage = stage.model_copy(
                update={"strategy": AllAtOnce(), "rollback_alarms": [], "approval_required": False}
            )
        else:
            arn = _challenger(settings, stage, execution)
            stage = stage.model_copy(update={"strategy": AllAtOnce(), "approval_required": False})
        stages = [stage]
    _registry_package(settings, arn, execution)
    ref = package_ref(arn)
    plan = Plan(
        kind=input_.kind,
        group=ref.group,
        version=ref.version,
        package_arn=arn,
        reason=getattr(input_, "reason", "") or f"{input_.kind} requested",
        execution=execution,
        topic_arn=policy.notifications.topic_arn or settings.topic_arn,
        subject=f"{ref.group[:45]} v{ref.version}",
        stages=stages,
        stage_count=len(stages),
        approvers=list(policy.registry.approvers),
        sensitive=policy.sensitive,
    )
    step = StepContext(settings, plan, first_state(plan, 0))
    step.record(
        "deployment-started",
        "done",
        f"{plan.kind}: {plan.reason}; stages {', '.join(stage.name for stage in stages)}",
        resource=arn,
    )
    return {"plan": plan.model_dump(mode="json"), "stage": step.state.model_dump()}


# --- stage steps -----------------------------------------------------------------------------------------------------
def create_model_step(step: StepContext) -> dict[str, Any]:
    plan, stage = step.plan, step.stage
    name = deploy.model_name(plan.group, plan.version, stage.name)
    request = deploy.model_request(
        stage, name=name, group=plan.group, package_arn=plan.package_arn, version=plan.version
    )
    created = deploy.ensure_model(step.client("sagemaker"), request)
    step.record("create-model", "done" if created else "skipped", "created" if created else "exists", resource=name)
    return step.next(model_name=name)


def _champion(step: StepContext, sagemaker: Any) -> tuple[int, str] | None:
    """The version (and model) an A/B stage keeps serving next to the new one: the current main variant."""
    if not isinstance(step.stage.strategy, AbTest):
        return None
    endpoint = deploy.describe_endpoint(sagemaker, step.stage.endpoint_name)
    if endpoint is None:
        return None
    variants = [v for v in deploy.serving(sagemaker, endpoint) if v.version not in (None, step.plan.version)]
    if not variants:
        return None
    main = max(variants, key=lambda variant: variant.weight)
    return (main.version or 0), main.model


def create_endpoint_config_step(step: StepContext) -> dict[str, Any]:
    plan, stage = step.plan, step.stage
    sagemaker = step.client("sagemaker")
    champion = _champion(step, sagemaker)
    name = deploy.config_name(plan.group, plan.version, stage.name, champion=champion[0] if champion else None)
    request = deploy.config_request(
        stage,
        name=name,
        group=plan.group,
        package_arn=plan.package_arn,
        version=plan.version,
        model=step.state.model_name,
        champion=champion,
    )
    created = deploy.ensure_endpoint_config(sagemaker, request)
    reason = (
        f"{'created' if created else 'exists'}; variants {[v['VariantName'] for v in request['ProductionVariants']]}"
    )
    if "DataCaptureConfig" in request:
        reason += f"; data capture to {request['DataCaptureConfig']['DestinationS3Uri']}"
    step.record("create-endpoint-config", "done" if created else "skipped", reason, resource=name)
    return step.next(config_name=name)


def deploy_endpoint_step(step: StepContext) -> dict[str, Any]:
    stage, state = step.stage, step.state
    sagemaker = step.client("sagemaker")
    deadline = (datetime.now(UTC) + timedelta(minutes=stage.wait_timeout_minutes)).isoformat()
    endpoint = deploy.describe_endpoint(sagemaker, stage.endpoint_name)
    if endpoint is None:
        tags = [{"Key": "lifecycle:model-package-group", "Value": step.plan.group}]
        deploy.create_endpoint(sagemaker, name=stage.endpoint_name, config=state.config_name, tags=tags)
        step.record("create-endpoint", "done", f"created on {state.config_name}", resource=stage.endpoint_name)
        return step.next(previous_config=None, changed=True, status="Creating", deadline=deadline)
    if endpoint["EndpointConfigName"] == state.config_name:
        previous = step.restore_point()
        if previous is not None:  # a retry: an earlier attempt of this execution made the change
            reason = f"already on {state.config_name}, updated from {previous} by an earlier attempt"
            step.record("update-endpoint", "skipped", reason, resource=stage.endpoint_name)
            return step.next(
                previous_config=previous, changed=True, status=endpoint["EndpointStatus"], deadline=deadline
            )
        step.record("update-endpoint", "skipped", f"already on {state.config_name}", resource=stage.endpoint_name)
        return step.next(status=endpoint["EndpointStatus"], deadline=deadline)
    if endpoint["EndpointStatus"] in deploy.BUSY_STATUSES:
        raise EndpointBusy(f"endpoint {stage.endpoint_name} is {endpoint['EndpointStatus']}")
    config = deploy.deployment_config(stage, timeout_seconds=stage.wait_timeout_minutes * 60)
    step.keep_restore_point(endpoint["EndpointConfigName"])
    deploy.update_endpoint(sagemaker, name=stage.endpoint_name, config=state.config_name, deployment=config)
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
    step.record(
        "update-endpoint",
        "done",
        f"{endpoint['EndpointConfigName']} -> {state.config_name} ({routing}, alarms: {stage.rollback_alarms})",
        resource=stage.endpoint_name,
    )
    return step.next(previous_config=endpoint["EndpointConfigName"], changed=True, status="Updating", deadline=deadline)


def check_endpoint_step(step: StepContext) -> dict[str, Any]:
    stage, state = step.stage, step.state
    endpoint = deploy.describe_endpoint(step.client("sagemaker"), stage.endpoint_name)
    if endpoint is None:
        raise EndpointFailed(f"endpoint {stage.endpoint_name} no longer exists")
    status, config = endpoint["EndpointStatus"], endpoint["EndpointConfigName"]
    if status == "Failed":
        raise EndpointFailed(f"endpoint {stage.endpoint_name} failed: {endpoint.get('FailureReason', 'no reason')}")
    if status == "InService":
        if config == state.config_name:
            step.record("endpoint-in-service", "done", f"InService on {config}", resource=stage.endpoint_name)
            return step.next(status=status)
        if config == state.previous_config:
            raise EndpointRolledBack(
                f"SageMaker rolled {stage.endpoint_name} back to {config} (alarms {stage.rollback_alarms})"
            )
        raise EndpointFailed(f"endpoint {stage.endpoint_name} serves {config}, not {state.config_name}")
    if datetime.now(UTC) > datetime.fromisoformat(state.deadline):
        raise EndpointWaitTimedOut(
            f"endpoint {stage.endpoint_name} still {status} after {stage.wait_timeout_minutes} minutes"
        )
    return step.next(status=status)


def smoke_test_step(step: StepContext) -> dict[str, Any]:
    stage = step.stage
    test = stage.smoke_test
    if test is None:
        step.record("smoke-test", "skipped", "no smoke test in policy", resource=stage.endpoint_name)
        return step.next(smoke_test="not configured")
    answer = deploy.smoke_test(
        step.client("sagemaker-runtime"),
        endpoint=stage.endpoint_name,
        payload=test.payload,
        content_type=test.content_type,
        expect=test.expect_contains,
        sensitive=step.plan.sensitive,
    )
    if step.plan.sensitive:  # the answer may carry what the model saw: it stays out of records and notifications
        step.record(
            "smoke-test", "done", "answered as expected (answer withheld: sensitive)", resource=stage.endpoint_name
        )
        return step.next(smoke_test="passed")
    step.record("smoke-test", "done", f"answered {answer!r}", resource=stage.endpoint_name)
    return step.next(smoke_test=f"passed: {answer[:100]}")


def request_approval_step(step: StepContext, token: str) -> dict[str, Any]:
    """Keep the task token for `lifecycle approve|reject`, and tell the approvers exactly how to answer."""
    plan, stage, state = step.plan, step.stage, step.state
    now = datetime.now(UTC)
    with aws_errors("dynamodb:PutItem approval token"):
        step.table().put_item(
            TableName=step.settings.table_name,
            Item={
                "pk": {"S": f"APPROVAL#{plan.execution}"},
                "sk": {"S": f"STAGE#{stage.name}"},
                "token": {"S": token},
                "group": {"S": plan.group},
                "version": {"N": str(plan.version)},
                "requested_at": {"S": now.isoformat()},
                "expiration": {"N": str(int((now + _APPROVAL_TTL).timestamp()))},
            },
        )
    hours = stage.approval_timeout_hours
    step.record("approval-requested", "notified", f"waiting up to {hours:g} h for {plan.approvers or 'the topic'}")
    step.tell(
        f"approve {stage.name}?",
        [
            f"{plan.group} version {plan.version} ({plan.package_arn}) is on {stage.endpoint_name} "
            f"in {stage.account}/{stage.region} ({state.config_name}).",
            f"Endpoint: {state.status}. Smoke test: {state.smoke_test or 'not run'}.",
            f"Approvers: {', '.join(plan.approvers) or 'anyone on this topic'}. Rejected after {hours:g} h.",
            "Approve:",
            f"  lifecycle approve {plan.execution}",
            f"  aws stepfunctions send-task-success --task-token '{token}' --task-output '{APPROVED_BY_YOU}'",
            "Reject:",
            f"  lifecycle reject {plan.execution} --reason '<why>'",
            f"  aws stepfunctions send-task-failure --task-token '{token}' --error {APPROVAL_REJECTED} --cause '<why>'",
        ],
        kind="approval-requested",
    )
    return {}


def approval_tokens(settings: Settings, execution: str) -> dict[str, str]:
    """The task tokens an execution waits on, by stage (what `lifecycle approve|reject <execution>` answers)."""
    table = client_for(
        "dynamodb", settings.automation_account_id, settings.region, settings, reaction=REACTION, event_id=execution
    )
    with aws_errors("dynamodb:Query approval tokens"):
        items = table.query(
            TableName=settings.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"APPROVAL#{execution}"}},
        )["Items"]
    return {item["sk"]["S"].removeprefix("STAGE#"): item["token"]["S"] for item in items}


def configure_monitoring_step(step: StepContext) -> dict[str, Any]:
    stage = step.stage
    if stage.monitoring is None or not stage.monitoring.manages_schedule:
        reason = "no monitoring in policy" if stage.monitoring is None else "the stage's monitor is not managed here"
        step.record("monitoring-schedule", "skipped", reason, resource=stage.endpoint_name)
        return step.next()
    outcome = ensure_schedule(step.client("sagemaker"), stage, group=step.plan.group)
    step.record(
        "monitoring-schedule",
        "done",
        f"data-quality schedule {outcome} ({stage.monitoring.schedule_expression})",
        resource=schedule_name(stage.endpoint_name),
    )
    return step.next()


def finish_stage_step(step: StepContext) -> dict[str, Any]:
    plan, stage, state = step.plan, step.stage, step.state
    approval = state.approval
    approved_by = f"; approved by {approval.get('approved_by', 'someone')}" if approval else ""
    step.record(
        "deploy-stage",
        "done",
        f"{stage.endpoint_name} serves v{plan.version} ({state.config_name}); smoke test {state.smoke_test}"
        + approved_by,
        resource=stage.endpoint_name,
    )
    following = first_state(plan, state.index + 1)
    if following.done:
        names = ", ".join(stage.name for stage in plan.stages)
        step.record("deployment-complete", "done", f"{plan.kind} done in {names}", resource=plan.package_arn)
        step.tell(f"{plan.kind} done ({names})", [plan.reason, plan.package_arn], kind="deployed")
    return following.model_dump()


def restore_step(step: StepContext, error: dict[str, Any]) -> dict[str, Any]:
    """Put the endpoint back on the config it had before this stage changed it (unless SageMaker already did)."""
    stage, state = step.stage, step.state
    why = f"{error.get('Error', 'failure')}"
    if not state.changed:
        step.record("restore-endpoint", "skipped", f"{why}: the endpoint was not changed", resource=stage.endpoint_name)
        return {"restored": False}
    sagemaker = step.client("sagemaker")
    endpoint = deploy.describe_endpoint(sagemaker, stage.endpoint_name)
    reason = ""
    if endpoint is None:
        reason = "the endpoint no longer exists"
    elif state.previous_config is None:
        reason = "the endpoint was created by this deployment: nothing to go back to, left for investigation"
    elif endpoint["EndpointConfigName"] == state.previous_config:
        reason = f"SageMaker's auto-rollback already put it back on {state.previous_config}"
    elif endpoint["EndpointStatus"] in deploy.BUSY_STATUSES:
        reason = f"it is {endpoint['EndpointStatus']}: SageMaker's blue/green timeout rolls it back"
    if reason:
        step.record("restore-endpoint", "skipped", f"{why}: {reason}", resource=stage.endpoint_name)
        return {"restored": False}
    plain = stage.model_copy(update={"strategy": AllAtOnce(), "rollback_alarms": []})
    config = deploy.deployment_config(plain, timeout_seconds=stage.wait_timeout_minutes * 60)
    deploy.update_endpoint(sagemaker, name=stage.endpoint_name, config=str(state.previous_config), deployment=config)
    step.record("restore-endpoint", "done", f"{why}: back to {state.previous_config}", resource=stage.endpoint_name)
    deadline = datetime.now(UTC) + timedelta(minutes=stage.wait_timeout_minutes)
    return {"restored": True, "settled": False, "deadline": deadline.isoformat()}


def check_restore_step(step: StepContext, restore: dict[str, Any]) -> dict[str, Any]:
    """Where the restore stands: settled once the endpoint is InService (or Failed) again; `EndpointWaitTimedOut`
    past the stage's wait timeout, so a stuck restore ends the execution instead of looping."""
    stage, state = step.stage, step.state
    endpoint = deploy.describe_endpoint(step.client("sagemaker"), stage.endpoint_name)
    status = endpoint["EndpointStatus"] if endpoint else "Missing"
    if status in deploy.BUSY_STATUSES:
        if datetime.now(UTC) > datetime.fromisoformat(str(restore["deadline"])):
            raise EndpointWaitTimedOut(f"restore of {stage.endpoint_name} still {status} past its wait timeout")
        return {**restore, "status": status}
    config = endpoint["EndpointConfigName"] if endpoint else ""
    outcome: Outcome = "done" if status == "InService" and config == state.previous_config else "failed"
    step.record(
        "restore-settled", outcome, f"{stage.endpoint_name} {status} on {config or '-'}", resource=stage.endpoint_name
    )
    return {**restore, "status": status, "settled": True}


_STAGE_STEPS: dict[str, Callable[[StepContext, dict[str, Any]], dict[str, Any]]] = {
    "create_model": lambda step, _: create_model_step(step),
    "create_endpoint_config": lambda step, _: create_endpoint_config_step(step),
    "deploy_endpoint": lambda step, _: deploy_endpoint_step(step),
    "check_endpoint": lambda step, _: check_endpoint_step(step),
    "smoke_test": lambda step, _: smoke_test_step(step),
    "request_approval": lambda step, event: request_approval_step(step, str(event["token"])),
    "configure_monitoring": lambda step, _: configure_monitoring_step(step),
    "finish_stage": lambda step, _: finish_stage_step(step),
    "restore": lambda step, event: restore_step(step, event.get("error") or {}),
    "check_restore": lambda step, event: check_restore_step(step, event["restore"]),
}
STEPS = frozenset({"plan", *_STAGE_STEPS})


def run_step(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Run the step `event["step"]` names."""
    name = event.get("step")
    count("DeployStepsRun")
    if name == "plan":
        return plan_step(event, settings)
    action = _STAGE_STEPS.get(str(name))
    if action is None:
        raise InvalidDeploymentInput(f"unknown step {str(name)[:50]!r}; known: {sorted(STEPS)}")
    plan = Plan.model_validate(event["plan"])
    state = StageState.model_validate(event["stage"])
    return action(StepContext(settings, plan, state), event)
