"""What the CLI reads: a group's stages as SageMaker serves them, its deployments in flight, approvals, history."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.deploy import endpoints
from lifecycle.deploy.inputs import ApprovedInput, DeployInput, RollbackInput, parse_input
from lifecycle.errors import InvalidDeploymentInput, LifecycleError, PolicyNotFound
from lifecycle.monitoring.schedule import monitor_schedule_name
from lifecycle.policy import Policy, Stage, load_policy
from lifecycle.store import audit, cooldown, deployments
from pydantic import BaseModel, Field

from cli.connect import CliError, client

_DURATION = re.compile(r"^(?P<amount>\d{1,12})(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_WAIT_FOR_TOKEN = "waitForTaskToken"
_TASK_ENDED = frozenset({"TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskSubmitFailed"})


class VariantView(BaseModel):
    name: str
    version: int | None
    package_arn: str
    weight: float


class StageView(BaseModel):
    """One stage of a group's policy, as its endpoint is now."""

    name: str
    account: str
    region: str
    endpoint: str = Field(description="the stage's endpoint; a batch stage: `batch`")
    endpoint_status: str | None = None
    config: str | None = None
    variants: list[VariantView] = Field(default_factory=list)
    monitor: str | None = Field(default=None, description="last Model Monitor run: status, or why there is none")
    monitor_at: datetime | None = None
    cooldown_until: datetime | None = None
    cooldown_action: str | None = None
    error: str | None = Field(default=None, description="why the stage could not be read")

    @property
    def serving_version(self) -> int | None:
        """The version with the most traffic."""
        ranked = sorted(self.variants, key=lambda variant: variant.weight, reverse=True)
        return ranked[0].version if ranked else None


class ExecutionView(BaseModel):
    """One DeployModel execution."""

    name: str
    arn: str
    kind: str
    group: str
    version: int | None
    stages: list[str]
    status: str
    state: str = Field(default="", description="the state it is in (or ended in)")
    states: list[str] = Field(default_factory=list, description="the states it entered, in order")
    started: datetime
    stopped: datetime | None = None
    pending_approvals: list[str] = Field(default_factory=list, description="stages waiting for approve|reject")
    error: str | None = None


class GroupStatus(BaseModel):
    group: str
    stack: str
    stages: list[StageView]
    deployments: list[ExecutionView]
    note: str | None = None


def policy_of(group: str, settings: Settings) -> Policy:
    """The group's published policy; an unknown group is a `CliError` naming where it was looked for."""
    try:
        return load_policy(group, settings)
    except PolicyNotFound as exc:
        raise CliError(
            f"unknown group {group!r}: no policy at {settings.policy_path}/{group} "
            f"(publish one with `lifecycle policy publish FILE --stack {settings.stack_name}`)"
        ) from exc


# --- stages ----------------------------------------------------------------------------------------------------------
def stage_view(settings: Settings, group: str, stage: Stage, now: datetime) -> StageView:
    """Read one stage's endpoint, last monitor run and cool-down; a stage that cannot be read says why."""
    if stage.endpoint_name is None:
        return _batch_view(settings, group, stage)
    view = StageView(name=stage.name, account=stage.account, region=stage.region, endpoint=stage.endpoint_name)
    try:
        sagemaker = client("sagemaker", settings, stage.account, stage.region)
        endpoint = endpoints.describe_endpoint(sagemaker, stage.endpoint_name)
        if endpoint is None:
            view.endpoint_status = "not deployed"
        else:
            view.endpoint_status = endpoint.status
            view.config = endpoint.config
            view.variants = [
                VariantView(name=v.name, version=v.version, package_arn=v.package_arn, weight=v.weight)
                for v in endpoints.serving(sagemaker, endpoint.config)
            ]
        if stage.monitoring:
            view.monitor, view.monitor_at = _last_monitor_runs(sagemaker, stage)
    except LifecycleError as exc:
        view.error = str(exc)
    view.cooldown_until, view.cooldown_action = _cooldown(settings, group, stage.name, now)
    return view


def _last_monitor_runs(sagemaker: Any, stage: Stage) -> tuple[str, datetime | None]:
    """What each of the stage's monitors last said (`data_quality: Completed; bias_drift: no run yet`), and when the
    latest of their runs was scheduled."""
    said, latest = [], None
    for monitor in stage.monitoring:
        name = monitor_schedule_name(stage, monitor)
        with aws_errors(f"sagemaker:DescribeMonitoringSchedule {name}"):
            try:
                schedule = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
            except ClientError as exc:
                if error_code(exc) not in NOT_FOUND_CODES:
                    raise
                continue
        last = schedule.get("LastMonitoringExecutionSummary")
        if not last:
            said.append(f"{monitor.key}: schedule {schedule.get('MonitoringScheduleStatus', '')}, no run yet")
            continue
        status, reason = str(last.get("MonitoringExecutionStatus", "")), last.get("FailureReason")
        said.append(f"{monitor.key}: {status}: {reason}" if reason else f"{monitor.key}: {status}")
        when = last.get("ScheduledTime")
        latest = when if latest is None or (when is not None and when > latest) else latest
    return ("; ".join(said) or "no monitoring schedule"), latest


def _batch_view(settings: Settings, group: str, stage: Stage) -> StageView:
    """A batch stage has no endpoint: what it runs is its current model, proved by its last transform job."""
    view = StageView(name=stage.name, account=stage.account, region=stage.region, endpoint="batch")
    try:
        current = deployments.current_model(settings, group, stage.name)
    except LifecycleError as exc:
        view.error = str(exc)
        return view
    if current is None:
        view.endpoint_status = "no model yet"
        return view
    view.endpoint_status = f"proved by {current.transform_job}"
    view.variants = [VariantView(name=current.model, version=current.version, package_arn="", weight=1.0)]
    return view


def _cooldown(settings: Settings, group: str, stage: str, now: datetime) -> tuple[datetime | None, str | None]:
    found = cooldown.current(settings, group, stage, now=now)
    return found if found else (None, None)


# --- executions ------------------------------------------------------------------------------------------------------
def state_machine(settings: Settings) -> str:
    if not settings.deploy_state_machine_arn:
        raise CliError(f"stack {settings.stack_name!r} has no DeployModelStateMachineArn output (an older template?)")
    return settings.deploy_state_machine_arn


def execution(settings: Settings, arn: str) -> ExecutionView:
    """One execution: what it deploys, its status, the state it is in, and the approvals it waits for."""
    sfn = client("stepfunctions", settings)
    with aws_errors(f"states:DescribeExecution {arn}"):
        described = sfn.describe_execution(executionArn=arn)
    kind, group, version, stages = _what(described.get("input", "{}"))
    states, waiting = _progress(sfn, arn)
    view = ExecutionView(
        name=described["name"],
        arn=arn,
        kind=kind,
        group=group,
        version=version,
        stages=stages,
        status=described["status"],
        state=states[-1] if states else "",
        states=states,
        started=described["startDate"],
        stopped=described.get("stopDate"),
        error=": ".join(str(described[key]) for key in ("error", "cause") if described.get(key)) or None,
    )
    if view.status == "RUNNING" and waiting and view.group:
        gates = deployments.approvals(settings, view.group, execution=view.name)
        if any(gate.stage == waiting and gate.kind == "gate" and not gate.decision for gate in gates):
            view.pending_approvals = [waiting]
    return view


def _what(raw: str) -> tuple[str, str, int | None, list[str]]:
    """Kind, group, version and stages of an execution input (the layer's own input model)."""
    try:
        input_ = parse_input(json.loads(raw))
    except (InvalidDeploymentInput, json.JSONDecodeError):
        return "unknown", "", None, []
    if isinstance(input_, ApprovedInput | DeployInput):
        return input_.kind, input_.group, input_.version, list(input_.stages) if isinstance(input_, DeployInput) else []
    version = input_.version if isinstance(input_, RollbackInput) else None
    return input_.kind, input_.group, version, [input_.stage]


def _progress(sfn: Any, arn: str) -> tuple[list[str], str | None]:
    """The states the execution entered, and the stage whose approval task token it waits on (if any).

    Waiting = a `.waitForTaskToken` task was scheduled and has not succeeded, failed or timed out since.
    """
    states: list[str] = []
    waiting: str | None = None
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    with aws_errors(f"states:GetExecutionHistory {arn}"):
        while True:
            page = sfn.get_execution_history(**kwargs)
            for event in page["events"]:
                if "stateEnteredEventDetails" in event:
                    states.append(str(event["stateEnteredEventDetails"]["name"]))
                scheduled = event.get("taskScheduledEventDetails", {})
                if event["type"] == "TaskScheduled" and scheduled.get("resource", "").endswith(_WAIT_FOR_TOKEN):
                    payload = json.loads(scheduled.get("parameters") or "{}").get("Payload", {})
                    waiting = str(payload.get("stage", {}).get("name", ""))
                elif event["type"] in _TASK_ENDED:
                    waiting = None
            if not page.get("nextToken"):
                return states, waiting
            kwargs["nextToken"] = page["nextToken"]


def running(settings: Settings, group: str | None = None) -> list[ExecutionView]:
    """The DeployModel executions in flight (of `group` when given), oldest first."""
    sfn = client("stepfunctions", settings)
    arns: list[str] = []
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine(settings), "statusFilter": "RUNNING"}
    with aws_errors("states:ListExecutions"):
        while True:
            page = sfn.list_executions(**kwargs)
            arns += [item["executionArn"] for item in page["executions"]]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    views = [execution(settings, arn) for arn in arns]
    return sorted((v for v in views if group is None or v.group == group), key=lambda v: v.started)


def group_status(settings: Settings, group: str) -> GroupStatus:
    policy = policy_of(group, settings)
    now = datetime.now(UTC)
    stages = policy.deployment.stages if policy.deployment else []
    views = [stage_view(settings, group, stage, now) for stage in stages]
    note = None if stages else "the policy has no deployment stages"
    deployments = running(settings, group) if settings.deploy_state_machine_arn else []
    if not settings.deploy_state_machine_arn:
        note = "the stack has no DeployModel state machine: deployments are not shown"
    return GroupStatus(group=group, stack=settings.stack_name, stages=views, deployments=deployments, note=note)


# --- history ---------------------------------------------------------------------------------------------------------
def since(text: str, now: datetime) -> datetime:
    """`15s`, `30m`, `12h`, `7d`, `2w` before now, or an ISO date/time (UTC unless it says)."""
    match = _DURATION.match(text.strip())
    if match:
        try:
            return now - timedelta(**{_UNITS[match["unit"]]: int(match["amount"])})
        except OverflowError as exc:
            raise CliError(f"{text!r} reaches before year 1; use a shorter duration or a date") from exc
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise CliError(f"{text!r}: expected a duration like 15s, 90m, 12h, 7d, 2w or an ISO date") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def history(settings: Settings, group: str, start: datetime) -> list[audit.AuditRecord]:
    """The group's audit trail since `start`; an unknown group (no policy, no records) is an error."""
    records = audit.history(group, settings, since=start)
    if not records:
        policy_of(group, settings)
    return records
