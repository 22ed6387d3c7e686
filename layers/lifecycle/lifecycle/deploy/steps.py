"""The DeployModel state machine's Lambda steps. One function per Task; `run_step` dispatches on `step`.

A stage goes: [approval gate before traffic] → endpoint lease → model → endpoint config → create or update →
wait (and, after an update SageMaker cannot guard, watch the stage's alarms) → smoke test → [approval at the canary
share → complete the shift → wait → smoke test] → monitoring schedule → finish (history, lease released).
A failure restores the endpoint config this execution found (compare-and-set: only while the endpoint still carries
what this execution put there), then `finish_failed_stage` records why it ended, releases the lease and tells people.

Each step re-reads what it acts on: the package must still be Approved in the registry (a rejection stops the
deployment at its next step), and a stage that already serves a newer version is not touched by an older approval.
Failures are typed errors whose class names the ASL `Retry`/`Catch` match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.accounts import client_for
from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.deploy import endpoints
from lifecycle.deploy.inputs import (
    APPROVAL_REJECTED,
    PACKAGE_REJECTED,
    REACTION,
    ApprovedInput,
    DeployInput,
    Plan,
    RollbackInput,
    StageState,
    first_state,
    package_arn,
    parse_input,
)
from lifecycle.errors import (
    EndpointBusy,
    EndpointFailed,
    EndpointLeaseTimedOut,
    EndpointRolledBack,
    EndpointWaitTimedOut,
    InvalidDeploymentInput,
    PackageRejected,
    RollbackAlarmFired,
)
from lifecycle.monitoring.schedule import ensure_schedule, monitor_status, schedule_name
from lifecycle.notify import notify
from lifecycle.observability import count
from lifecycle.policy import GROUP_TAG, AllAtOnce, Policy, Stage, load_policy
from lifecycle.store import deployments
from lifecycle.store.audit import AuditRecord, Outcome, record

METRIC_PREFIX = "metric:"
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

    @property
    def endpoint(self) -> deployments.Endpoint:
        return deployments.Endpoint(self.stage.account, self.stage.region, self.stage.endpoint_name)

    def client(self, service: str) -> Any:
        """A client in the stage's account."""
        stage = self.stage
        return client_for(
            service, stage.account, stage.region, self.settings, reaction=REACTION, event_id=self.plan.execution
        )

    def registry(self) -> Any:
        """A SageMaker client in the policy's registry."""
        return client_for(
            "sagemaker",
            self.plan.registry_account,
            self.plan.registry_region,
            self.settings,
            reaction=REACTION,
            event_id=self.plan.execution,
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


# --- the registry, now -----------------------------------------------------------------------------------------------
def _package(registry: Any, arn: str, group: str) -> dict[str, Any]:
    """The package as the registry describes it now; it must belong to `group` (case-exact) and be Approved."""
    with aws_errors(f"sagemaker:DescribeModelPackage {arn}"):
        try:
            package = dict(registry.describe_model_package(ModelPackageName=arn))
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            raise InvalidDeploymentInput(f"model package {arn} does not exist") from exc
    if package.get("ModelPackageGroupName") != group:
        raise InvalidDeploymentInput(f"{arn} belongs to group {package.get('ModelPackageGroupName')!r}, not {group!r}")
    if package.get("ModelApprovalStatus") != "Approved":
        raise InvalidDeploymentInput(f"{arn} is {package.get('ModelApprovalStatus')}, not Approved")
    return package


def _require_approved(step: StepContext) -> None:
    """`PackageRejected` when the package being deployed is no longer Approved (a rejection stops the deployment)."""
    plan = step.plan
    with aws_errors(f"sagemaker:DescribeModelPackage {plan.package_arn}"):
        try:
            status = step.registry().describe_model_package(ModelPackageName=plan.package_arn)["ModelApprovalStatus"]
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            status = "deleted"
    if status != "Approved":
        raise PackageRejected(f"{plan.group} v{plan.version} is {status} in the registry now: not deploying it")


def _newest_approved(step: StepContext) -> int | None:
    """The newest Approved version of the group in the registry (SortOrder Descending: the default is ascending)."""
    with aws_errors(f"sagemaker:ListModelPackages {step.plan.group}"):
        summaries = step.registry().list_model_packages(
            ModelPackageGroupName=step.plan.group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
    return int(summaries[0]["ModelPackageVersion"]) if summaries else None


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


def _challenger(settings: Settings, policy: Policy, stage: Stage, execution: str) -> int:
    """The version of an A/B stage's challenger: the newest version it serves beside its main variant."""
    sagemaker = client_for("sagemaker", stage.account, stage.region, settings, reaction=REACTION, event_id=execution)
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    if endpoint is None:
        raise InvalidDeploymentInput(f"endpoint {stage.endpoint_name} of stage {stage.name} does not exist")
    variants = [v for v in endpoints.serving(sagemaker, endpoint.config) if v.of_group(policy.group)]
    main = endpoints.main_variant(variants)
    others = [v.version for v in variants if v is not main and v.version is not None]
    if not others:
        raise InvalidDeploymentInput(f"endpoint {stage.endpoint_name} runs no A/B test (one variant)")
    return max(others)


def _corrective(stage: Stage) -> Stage:
    """A rollback or promotion: all at once, no gate, the stage's alarms kept (the same baking period)."""
    bake = min(stage.strategy.total_wait_seconds(), 3600)
    return stage.model_copy(
        update={"strategy": AllAtOnce(wait_seconds=bake), "approval_required": False, "approval": "before_traffic"}
    )


def plan_step(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Validate the input and snapshot what to deploy where. Nothing changes before this step succeeds."""
    execution = str(event.get("execution", ""))
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
        stages = [_corrective(_named_stage(policy, input_.stage))]
        version, from_version = input_.version, input_.from_version
    else:
        stage = _named_stage(policy, input_.stage)
        version = _challenger(settings, policy, stage, execution)
        stages = [_corrective(stage)]
    registry = policy.registry
    arn = package_arn(settings.partition, registry.region, registry.account, policy.group, version)
    registry_client = client_for(
        "sagemaker", registry.account, registry.region, settings, reaction=REACTION, event_id=execution
    )
    _package(registry_client, arn, policy.group)
    reason = (
        getattr(input_, "reason", "")
        or {
            "approved": f"v{version} was approved in the registry",
            "deploy": f"deployment of v{version} requested",
            "rollback": f"rollback to v{version} requested",
            "promote": f"promotion of challenger v{version} requested",
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
    step = StepContext(settings, plan, first_state(plan, 0))
    step.record(
        "deployment-started",
        "done",
        f"{plan.kind}: {plan.reason}; stages {', '.join(stage.name for stage in stages)}",
        resource=arn,
    )
    return {"plan": plan.model_dump(mode="json"), "stage": step.state.model_dump()}


# --- endpoint lease --------------------------------------------------------------------------------------------------
def _lease_keep(stage: Stage) -> timedelta:
    """How long a lease item outlives its last renewal at most (a live holder is what counts; this is clean-up)."""
    return timedelta(seconds=2 * stage.rollout_seconds() + round(stage.approval_timeout_hours * 3600) + 3600)


def _holder_running(step: StepContext, lease: deployments.Lease) -> bool:
    """Whether the execution holding a lease still runs (a stopped, timed-out or failed one holds nothing)."""
    if not lease.execution_arn:
        return True
    sfn = client_for(
        "stepfunctions",
        step.settings.automation_account_id,
        step.settings.region,
        step.settings,
        reaction=REACTION,
        event_id=step.plan.execution,
    )
    with aws_errors(f"states:DescribeExecution {lease.holder}"):
        try:
            return str(sfn.describe_execution(executionArn=lease.execution_arn)["status"]) == "RUNNING"
        except ClientError as exc:
            if error_code(exc) != "ExecutionDoesNotExist":
                raise
            return False


def _not_needed(step: StepContext, versions: list[int]) -> str | None:
    """Why this execution should leave the stage alone, judged on the stage and the registry as they are now."""
    plan, stage = step.plan, step.stage
    if plan.kind == "approved":
        if versions and max(versions) > plan.version:
            return f"{stage.name} already serves v{max(versions)}, newer than v{plan.version}"
        newest = _newest_approved(step)
        if newest is not None and newest > plan.version:
            return f"v{newest} has been approved since: its deployment supersedes v{plan.version}"
    if plan.kind == "rollback" and plan.from_version is not None and plan.from_version not in versions:
        return f"{stage.name} no longer serves v{plan.from_version}: nothing to roll back"
    return None


def acquire_lease_step(step: StepContext) -> dict[str, Any]:
    """Take the stage's endpoint lease (one deployment acts on an endpoint at a time), then decide on the endpoint
    as it is now: leave it (a newer version serves, or there is nothing to roll back), gate first (an `at_canary`
    gate on an endpoint that does not exist yet), or go on (`phase`: the canary share first, or one config)."""
    plan, stage, state = step.plan, step.stage, step.state
    _require_approved(step)
    now = datetime.now(UTC)
    deadline = state.lease_deadline or (now + _lease_keep(stage)).isoformat()
    mine = deployments.Lease(
        holder=plan.execution,
        execution_arn=plan.execution_arn,
        group=plan.group,
        version=plan.version,
        kind=plan.kind,
        stage=stage.name,
    )
    holder = deployments.acquire_lease(step.settings, step.endpoint, mine, keep=_lease_keep(stage))
    if holder is not None and not _holder_running(step, holder):
        step.record("endpoint-lease", "done", f"taking over from {holder.describe()}, which no longer runs")
        holder = deployments.acquire_lease(
            step.settings, step.endpoint, mine, keep=_lease_keep(stage), replacing=holder.holder
        )
    if holder is not None:
        if now > datetime.fromisoformat(deadline):
            raise EndpointLeaseTimedOut(f"{stage.endpoint_name} has been held by {holder.describe()} for too long")
        if state.lease != "wait":
            step.record("endpoint-lease", "skipped", f"waiting: {holder.describe()} acts on {stage.endpoint_name}")
        return step.next(lease="wait", lease_deadline=deadline)
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    variants = endpoints.serving(sagemaker, endpoint.config) if endpoint else []
    why = _not_needed(step, endpoints.serving_versions(variants, plan.group))
    if why is not None:
        deployments.release_lease(step.settings, step.endpoint, plan.execution)
        step.record("deploy-stage", "skipped", why, resource=stage.endpoint_name)
        step.tell(f"{stage.name} left as it is", [why, plan.reason], kind="deployment-not-needed")
        count("DeploymentsNotNeeded")
        return step.next(lease="not_needed")
    gate_at_canary = stage.approval_required and stage.approval == "at_canary" and state.approval is None
    if gate_at_canary and endpoint is None:
        deployments.release_lease(step.settings, step.endpoint, plan.execution)
        step.record("endpoint-lease", "skipped", f"{stage.endpoint_name} does not exist yet: no canary share to gate")
        return step.next(lease="approve_first")
    step.record("endpoint-lease", "done", f"{stage.endpoint_name} is this deployment's until the stage ends")
    return step.next(lease="held", phase="canary" if gate_at_canary else "single")


# --- approval gates --------------------------------------------------------------------------------------------------
def _metrics(step: StepContext) -> list[str]:
    """The metrics the package was registered with (`metric:<name>` metadata)."""
    with aws_errors(f"sagemaker:DescribeModelPackage {step.plan.package_arn}"):
        package = step.registry().describe_model_package(ModelPackageName=step.plan.package_arn)
    metadata = package.get("CustomerMetadataProperties") or {}
    return [
        f"{key.removeprefix(METRIC_PREFIX)} = {value}"
        for key, value in sorted(metadata.items())
        if key.startswith(METRIC_PREFIX)
    ]


def _evidence(step: StepContext) -> list[str]:
    """What a person sees before deciding: where the version is, how it did so far, the package's metrics."""
    plan, stage, state = step.plan, step.stage, step.state
    lines: list[str] = []
    if state.phase == "canary":
        share = getattr(stage.strategy, "percent", 0)
        alarms = endpoints.firing_alarms(step.client("cloudwatch"), stage.rollback_alarms)
        lines += [
            f"{stage.name}: v{plan.version} serves {share}% of {stage.endpoint_name} ({state.config_name}); "
            f"the rest stays on the version it served.",
            f"Canary smoke test: {state.smoke_test or 'not run'}.",
            f"Rollback alarms: {', '.join(alarms) + ' in ALARM' if alarms else 'none in ALARM'} "
            f"({', '.join(stage.rollback_alarms) or 'none configured'}).",
            "Approve completes the shift to 100%; reject returns all traffic to the serving version.",
        ]
    else:
        lines.append(f"{stage.name}: nothing changes on {stage.endpoint_name} until you approve.")
        previous = state.previous_stage
        if previous and state.index > 0:
            before = plan.stages[state.index - 1]
            monitor = "not monitored"
            if before.monitoring is not None and before.monitoring.manages_schedule:
                sagemaker = client_for(
                    "sagemaker",
                    before.account,
                    before.region,
                    step.settings,
                    reaction=REACTION,
                    event_id=plan.execution,
                )
                monitor = monitor_status(sagemaker, before.endpoint_name)
            lines.append(
                f"Previous stage {previous.get('name')}: serving since {previous.get('finished_at')}, "
                f"smoke test {previous.get('smoke_test') or 'not run'}, monitor: {monitor}."
            )
    metrics = _metrics(step)
    lines += ["Metrics:", *(f"  {line}" for line in metrics or ["none reported"])]
    return lines


def request_approval_step(step: StepContext, token: str) -> dict[str, Any]:
    """Keep the task token for `lifecycle approve|reject`, and tell the approvers what they decide and how."""
    plan, stage = step.plan, step.stage
    deployments.keep_approval(
        step.settings,
        deployments.Approval(
            group=plan.group,
            execution=plan.execution,
            stage=stage.name,
            version=plan.version,
            token=token,
            requested_at=datetime.now(UTC).isoformat(),
        ),
    )
    hours = stage.approval_timeout_hours
    where = "at the canary share" if step.state.phase == "canary" else "before traffic"
    step.record(
        "approval-requested", "notified", f"{where}: waiting up to {hours:g} h for {plan.approvers or 'the topic'}"
    )
    step.tell(
        f"approve {stage.name}?",
        [
            *_evidence(step),
            f"Package: {plan.package_arn}",
            f"Approvers: {', '.join(plan.approvers) or 'anyone on this topic'}. Not approved after {hours:g} h: "
            "the deployment stops.",
            "Approve:",
            f"  lifecycle approve {plan.execution}",
            "Reject:",
            f"  lifecycle reject {plan.execution} --reason '<why>'",
            "Without the CLI:",
            f"  aws stepfunctions send-task-success --task-token '{token}' --task-output '{APPROVED_BY_YOU}'",
            f"  aws stepfunctions send-task-failure --task-token '{token}' --error {APPROVAL_REJECTED} --cause '<why>'",
        ],
        kind="approval-requested",
    )
    return {}


# --- endpoint --------------------------------------------------------------------------------------------------------
def create_model_step(step: StepContext) -> dict[str, Any]:
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


def create_endpoint_config_step(step: StepContext) -> dict[str, Any]:
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
    _require_approved(step)
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
        return step.next(**moving, previous_config=None, changed=True, status="Creating", bake_seconds=0)
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
    endpoints.update_endpoint(sagemaker, name=stage.endpoint_name, config=config, deployment=deployment)
    if deployment is not None:
        routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
        how = f"blue/green {routing}, auto-rollback alarms: {', '.join(alarms) or 'none'}"
        bake, watch = 0, []
    else:
        bake = 0 if state.phase == "canary" or not alarms else stage.strategy.total_wait_seconds()
        watch = alarms if bake else []
        how = "the variant set changes, which SageMaker cannot guard: " + (
            f"the product watches {', '.join(alarms)} for {bake} s" if bake else "no alarms to watch"
        )
    step.record("update-endpoint", "done", f"{endpoint.config} -> {config} ({how})", resource=stage.endpoint_name)
    return step.next(
        **moving,
        previous_config=previous,
        changed=True,
        status="Updating",
        bake_seconds=bake,
        watch_alarms=watch,
    )


def deploy_endpoint_step(step: StepContext) -> dict[str, Any]:
    return _change_endpoint(step)


def complete_canary_step(step: StepContext) -> dict[str, Any]:
    """After approval at the canary share: one config of the new version, all traffic, the alarms watched."""
    firing = endpoints.firing_alarms(step.client("cloudwatch"), step.stage.rollback_alarms)
    if firing:
        raise RollbackAlarmFired(f"{', '.join(firing)} in ALARM at the canary share: returning the traffic")
    final = StepContext(step.settings, step.plan, step.state.model_copy(update={"phase": "final"}))
    name, new_variant = _ensure_config(final, final.client("sagemaker"))
    shifted = StepContext(
        step.settings, step.plan, final.state.model_copy(update={"config_name": name, "new_variant": new_variant})
    )
    return _change_endpoint(shifted)


def check_endpoint_step(step: StepContext) -> dict[str, Any]:
    stage, state = step.stage, step.state
    _require_approved(step)
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
    """InService on the new config; after an unguarded change, `Baking` while the product watches the alarms."""
    stage, state = step.stage, step.state
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


def smoke_test_step(step: StepContext) -> dict[str, Any]:
    stage, state = step.stage, step.state
    test = stage.smoke_test
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
    _require_approved(step)
    approval = state.approval
    approved_by = f"; approved by {approval.get('approved_by', 'someone')}" if approval else ""
    now = datetime.now(UTC).isoformat()
    step.record(
        "deploy-stage",
        "done",
        f"{stage.endpoint_name} serves v{plan.version} ({state.config_name}); smoke test {state.smoke_test}"
        + approved_by,
        resource=stage.endpoint_name,
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
            "promote": f"{names}: challenger v{plan.version} promoted to all traffic",
        }[plan.kind]
        step.record("deployment-complete", "done", done, resource=plan.package_arn)
        step.tell(done, [plan.reason, plan.package_arn], kind="deployed")
    return following.model_dump()


# --- failure ---------------------------------------------------------------------------------------------------------
def restore_step(step: StepContext, error: dict[str, Any]) -> dict[str, Any]:
    """Put the endpoint back on the config it had before this execution changed it: compare-and-set (only while it
    still carries what this execution put there), waiting while an update of ours is still in progress."""
    plan, stage, state = step.plan, step.stage, step.state
    why = str(error.get("Error", "failure"))
    previous = deployments.restore_point(step.settings, plan.execution, stage.name) or state.previous_config
    if previous is None:
        reason = (
            "the endpoint was created by this deployment: nothing to go back to, left for investigation"
            if state.changed
            else "the endpoint was not changed"
        )
        step.record("restore-endpoint", "skipped", f"{why}: {reason}", resource=stage.endpoint_name)
        return {"phase": "skipped"}
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    ours = set(state.configs) | {state.config_name}
    now = datetime.now(UTC)
    deadline = now + timedelta(seconds=stage.rollout_seconds() + stage.wait_timeout_minutes * 60)
    reason = ""
    if endpoint is None:
        reason = "the endpoint no longer exists"
    elif endpoint.busy and (endpoint.config in ours or endpoint.pending_config in ours):
        # SageMaker cannot stop an update: the restore starts once this execution's own update has ended.
        if state.deadline and now > datetime.fromisoformat(state.deadline) + timedelta(seconds=stage.rollout_seconds()):
            raise EndpointWaitTimedOut(f"{stage.endpoint_name} still {endpoint.status} with this deployment's update")
        return {"phase": "waiting"}
    elif endpoint.busy:
        reason = f"it is {endpoint.status} by another change: left to it"
    elif endpoint.config == previous:
        reason = f"it is on {previous} (SageMaker's auto-rollback put it back, or it never left)"
    elif endpoint.config not in ours:
        reason = f"it now carries {endpoint.config}, which this deployment did not put there: left as it is"
    if reason or endpoint is None:
        step.record("restore-endpoint", "skipped", f"{why}: {reason}", resource=stage.endpoint_name)
        return {"phase": "skipped"}
    old = endpoints.describe_endpoint_config(sagemaker, endpoint.config) or {}
    new = endpoints.describe_endpoint_config(sagemaker, previous) or {}
    plain = _corrective(stage).model_copy(update={"strategy": AllAtOnce()})
    deployment = (
        endpoints.deployment_config(plain, alarms=[], routing_of_strategy=False)
        if endpoints.variant_names(old) == endpoints.variant_names(new)
        else None
    )
    endpoints.update_endpoint(sagemaker, name=stage.endpoint_name, config=previous, deployment=deployment)
    guard = "blue/green ALL_AT_ONCE" if deployment else "unguarded: the variant set changes"
    step.record("restore-endpoint", "done", f"{why}: back to {previous} ({guard})", resource=stage.endpoint_name)
    return {"phase": "started", "previous": previous, "deadline": deadline.isoformat()}


def check_restore_step(step: StepContext, restore: dict[str, Any]) -> dict[str, Any]:
    """Where the restore stands: settled once the endpoint is InService (or Failed) again; `EndpointWaitTimedOut`
    past the stage's rollout time, so a stuck restore ends the execution instead of looping."""
    stage = step.stage
    endpoint = endpoints.describe_endpoint(step.client("sagemaker"), stage.endpoint_name)
    status = endpoint.status if endpoint else "Missing"
    if endpoint is not None and endpoint.busy:
        if datetime.now(UTC) > datetime.fromisoformat(str(restore["deadline"])):
            raise EndpointWaitTimedOut(f"restore of {stage.endpoint_name} still {status} past its rollout time")
        return {**restore, "status": status}
    config = endpoint.config if endpoint else ""
    outcome: Outcome = "done" if status == "InService" and config == restore["previous"] else "failed"
    step.record(
        "restore-settled", outcome, f"{stage.endpoint_name} {status} on {config or '-'}", resource=stage.endpoint_name
    )
    return {**restore, "status": status, "phase": "settled"}


def _serves_now(step: StepContext) -> str:
    """`prod serves v1` (what a person needs to know after a stage did not finish)."""
    stage = step.stage
    sagemaker = step.client("sagemaker")
    endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
    if endpoint is None:
        return f"{stage.name} has no endpoint"
    versions = endpoints.serving_versions(endpoints.serving(sagemaker, endpoint.config), step.plan.group)
    shown = ", ".join(f"v{version}" for version in versions) or f"no version of {step.plan.group}"
    return f"{stage.name} serves {shown}" + ("" if endpoint.status == "InService" else f" ({endpoint.status})")


def _gate_answer(step: StepContext) -> deployments.Approval | None:
    found = deployments.approvals(step.settings, step.plan.group, execution=step.plan.execution)
    return next((approval for approval in found if approval.stage == step.stage.name and approval.decision), None)


def _gate_rejected(step: StepContext, cause: str) -> dict[str, Any]:
    plan, stage = step.plan, step.stage
    answer = _gate_answer(step)
    by = answer.answered_by if answer else "unknown (not through `lifecycle reject`)"
    reason = (answer.reason if answer else "") or (cause if cause not in ("", "null") else "no reason given")
    now = datetime.now(UTC).isoformat()
    deployments.record_stage_event(
        step.settings,
        plan.group,
        stage.name,
        deployments.StageEvent(
            kind="gate-rejected", version=plan.version, at=now, execution=plan.execution, detail=reason
        ),
    )
    serves = _serves_now(step)
    text = f"{stage.name}: v{plan.version} rejected at the approval gate by {by}: {reason}; {serves}"
    step.record("gate-rejected", "done", text, resource=stage.endpoint_name, details={"by": by})
    lines = [text, "No automatic rollback will choose this version for this stage."]
    if stage.on_gate_reject == "reject_package":
        with aws_errors(f"sagemaker:UpdateModelPackage {plan.package_arn}"):
            step.registry().update_model_package(
                ModelPackageArn=plan.package_arn,
                ModelApprovalStatus="Rejected",
                ApprovalDescription=f"rejected at the {stage.name} gate by {by}: {reason}"[:1024],
            )
        step.record("reject-package", "done", f"v{plan.version} marked Rejected in the registry (on_gate_reject)")
        lines.append(f"v{plan.version} is now Rejected in the registry (policy: on_gate_reject: reject_package).")
    step.tell(f"{stage.name}: v{plan.version} rejected at the gate", lines, kind="approval-rejected")
    count("GateRejections")
    return {"outcome": "rejected"}


def finish_failed_stage_step(step: StepContext, error: dict[str, Any]) -> dict[str, Any]:
    """Record why the stage did not finish, give the endpoint's lease back, and tell people in plain words."""
    plan, stage = step.plan, step.stage
    name, cause = str(error.get("Error", "Error")), str(error.get("Cause", ""))
    deployments.release_lease(step.settings, step.endpoint, plan.execution)
    if name == APPROVAL_REJECTED:
        return _gate_rejected(step, cause)
    serves = _serves_now(step)
    if name == PACKAGE_REJECTED:
        text = (
            f"{stage.name}: deployment of v{plan.version} stopped: it is no longer Approved in the registry; {serves}"
        )
        step.record("deployment-stopped", "done", text, resource=stage.endpoint_name)
        step.tell(f"{stage.name}: deployment stopped (package rejected)", [text], kind="deployment-stopped")
        return {"outcome": "stopped"}
    if name == "States.Timeout":
        cause = f"no answer at the approval gate within {stage.approval_timeout_hours:g} h"
    text = f"{name} at stage {stage.name}: {cause or 'no detail'}; later stages not attempted; {serves}"
    step.record("deployment-failed", "failed", text, resource=stage.endpoint_name)
    step.tell(f"deployment FAILED at {stage.name}", [text, plan.package_arn], kind="deployment-failed")
    count("DeploymentsFailed")
    return {"outcome": "failed"}


_STAGE_STEPS: dict[str, Callable[[StepContext, dict[str, Any]], dict[str, Any]]] = {
    "request_approval": lambda step, event: request_approval_step(step, str(event["token"])),
    "acquire_lease": lambda step, _: acquire_lease_step(step),
    "create_model": lambda step, _: create_model_step(step),
    "create_endpoint_config": lambda step, _: create_endpoint_config_step(step),
    "deploy_endpoint": lambda step, _: deploy_endpoint_step(step),
    "check_endpoint": lambda step, _: check_endpoint_step(step),
    "smoke_test": lambda step, _: smoke_test_step(step),
    "complete_canary": lambda step, _: complete_canary_step(step),
    "configure_monitoring": lambda step, _: configure_monitoring_step(step),
    "finish_stage": lambda step, _: finish_stage_step(step),
    "restore": lambda step, event: restore_step(step, event.get("error") or {}),
    "check_restore": lambda step, event: check_restore_step(step, event["restore"]),
    "finish_failed_stage": lambda step, event: finish_failed_stage_step(step, event.get("error") or {}),
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
