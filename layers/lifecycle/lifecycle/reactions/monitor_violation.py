"""Model Monitor found a violation → the monitor's `on_violation`: retrain, roll back or notify, with its cool-down.

Two signals, whichever the user's setup has, for every monitor type (data quality, model quality, bias drift, feature
attribution drift):
- the processing job of a monitoring schedule ended: the schedule comes from the job, the outcome from
  ListMonitoringExecutions (`CompletedWithViolations`), the findings from `constraint_violations.json`;
- a CloudWatch alarm on a Model Monitor metric (an endpoint's: dimensions Endpoint and MonitoringSchedule; a batch
  transform monitor's: MonitoringSchedule) went to ALARM; its return to OK is recorded only.

The schedule names the monitor: the policy stage, in the event's account and region, whose monitor of that type runs on
the schedule's endpoint, or whose monitor names that schedule (`schedule_name`). Retrain and roll back are corrective
actions: a cool-down per group, stage and monitor (`lifecycle.store.cooldown`) lets one of any number of violations act
and records every other as "skipped: cooling down until ...".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lifecycle.actions.registry import EVENT_ID_KEY
from lifecycle.actions.training import start_training_job, training_channel, training_job_request
from lifecycle.deploy.endpoints import describe_endpoint, main_variant, serving
from lifecycle.deploy.inputs import RollbackInput, compact_time, execution_name, start_deployment
from lifecycle.deploy.rollback import rollback_target
from lifecycle.errors import ActionRefused, IgnoredEvent, PolicyNotFound
from lifecycle.events import AlarmEvent, ProcessingJobEvent
from lifecycle.monitoring.schedule import MONITOR_TYPES
from lifecycle.monitoring.signals import (
    alarm_target,
    find_execution,
    find_schedule,
    read_violations,
    running_pipeline_executions,
    running_training_jobs,
    start_pipeline_execution,
    summarize,
    violations_report_uri,
)
from lifecycle.observability import count
from lifecycle.policy import (
    GROUP_TAG,
    BaseMonitor,
    MonitorType,
    Policy,
    Stage,
    TrainingTemplate,
    load_policy,
    migrated_stage,
    policy_documents,
)
from lifecycle.reaction import Reaction
from lifecycle.store.cooldown import Window, claim
from lifecycle.store.idempotency import SemanticKey

REACTION = "monitor-violation"
SIGNAL_TAG = "lifecycle:monitor-signal"
NAME_MAX = 63
_STAMP = "%Y%m%d%H%M%S"
_STAMP_LENGTH = len("yyyymmddHHMMSS")  # `datetime.min` would format its year as "1", not "0001"
_HOLDER_DIGITS = 6


@dataclass(frozen=True)
class Violation:
    """A confirmed violation of a stage's monitor: what signalled it, when, and what it found."""

    policy: Policy
    stage: Stage
    monitor: BaseMonitor
    signal: str  # the monitoring job or alarm ARN
    at: datetime
    findings: list[str]
    details: dict[str, str]
    key: SemanticKey

    @property
    def holder(self) -> str:
        """Who holds the cool-down when this violation wins it: its semantic key."""
        return f"{self.key.resource_arn}@{self.key.state}@{self.key.changed_at}"


# --- which model, stage and monitor ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Watched:
    """What a monitoring signal is about: a schedule in an account and region, its type, and its endpoint (empty for a
    batch transform monitor)."""

    account: str
    region: str
    schedule: str
    monitor_type: MonitorType
    endpoint: str = ""

    def describe(self) -> str:
        on = f" on {self.endpoint}" if self.endpoint else " (batch transform)"
        return f"{self.monitor_type} monitoring schedule {self.schedule}{on}"


def match_monitor(documents: dict[str, Any], watched: Watched) -> tuple[str, str, str] | None:
    """(group, stage name, monitor key) of the policy monitor that `watched` belongs to: a stage in its account and
    region whose monitor names its schedule, or whose monitor of its type runs on its endpoint.

    Pure: `documents` maps group name to the raw policy document (single-monitor stages of older policies read as
    today's). The first group in name order wins; the chosen policy is validated by `load_policy`.
    """
    for group, document in sorted(documents.items()):
        deployment = document.get("deployment") if isinstance(document, dict) else None
        stages = deployment.get("stages", []) if isinstance(deployment, dict) else []
        for raw in stages if isinstance(stages, list) else []:
            stage, _ = migrated_stage(raw)
            if not isinstance(stage, dict) or (stage.get("account"), stage.get("region")) != (
                watched.account,
                watched.region,
            ):
                continue
            monitors = stage.get("monitoring")
            for monitor in monitors if isinstance(monitors, list) else []:
                if not isinstance(monitor, dict):
                    continue
                named = monitor.get("schedule_name")
                mine = (
                    named == watched.schedule
                    if named
                    else bool(watched.endpoint)
                    and stage.get("endpoint_name") == watched.endpoint
                    and monitor.get("type") == watched.monitor_type
                )
                if mine:
                    return group, str(stage.get("name")), str(named or watched.monitor_type)
    return None


def monitor_of(r: Reaction[Any], watched: Watched) -> tuple[Policy, Stage, BaseMonitor]:
    """The validated policy, stage and monitor of a monitoring signal; `PolicyNotFound` when no policy monitors it."""
    found = match_monitor(policy_documents(r.settings), watched)
    if found is None:
        raise PolicyNotFound(
            f"no policy monitors the {watched.describe()} in account {watched.account} ({watched.region})"
        )
    group, stage_name, key = found
    policy = load_policy(group, r.settings)
    stage = next((s for s in (policy.deployment.stages if policy.deployment else []) if s.name == stage_name), None)
    monitor = stage.monitor_for(key) if stage else None
    if stage is None or monitor is None:
        raise PolicyNotFound(f"policy of group {policy.group} no longer has the {key} monitor of stage {stage_name}")
    return policy, stage, monitor


# --- signal 1: the processing job of a monitoring schedule -------------------------------------------------------
def on_monitoring_job(r: Reaction[ProcessingJobEvent]) -> dict[str, Any]:
    """A monitoring run ended: confirm with its execution, then act on violations or tell of a failed run."""
    detail = r.event.detail
    if detail.ProcessingJobStatus not in ("Completed", "Failed"):
        raise IgnoredEvent(f"processing job {detail.ProcessingJobName} is {detail.ProcessingJobStatus}")
    sagemaker = r.client("sagemaker", r.event.account, r.event.region)
    found = find_schedule(sagemaker, detail)
    if found is None:
        raise IgnoredEvent(f"processing job {detail.ProcessingJobName} was not started by a monitoring schedule")
    schedule = str(found["MonitoringScheduleName"])
    monitor_type = MONITOR_TYPES.get(str(found.get("MonitoringType", "DataQuality")), "data_quality")
    watched = Watched(r.event.account, r.event.region, schedule, monitor_type, str(found.get("EndpointName") or ""))
    policy, stage, monitor = monitor_of(r, watched)
    execution = find_execution(sagemaker, schedule, detail.ProcessingJobArn)
    status = execution["MonitoringExecutionStatus"]
    key = SemanticKey.of(REACTION, detail.ProcessingJobArn, status, detail.LastModifiedTime)
    if status == "Failed":
        return r.once(key, lambda: _monitoring_failed(r, policy, stage, watched, execution))
    if status != "CompletedWithViolations":
        raise IgnoredEvent(f"monitoring run {detail.ProcessingJobName} of {schedule} is {status}: no violations")
    uri = violations_report_uri(sagemaker, detail.ProcessingJobName)
    violations = read_violations(r.client("s3", r.event.account, r.event.region), uri)
    findings = [f"{watched.describe()}: {len(violations)} violation(s)", *summarize(violations)]
    details = {f"{v.feature}:{v.check}"[:128]: v.description[:1000] for v in violations[:50]} | {"report": uri}
    at = detail.ProcessingEndTime or detail.LastModifiedTime
    violation = Violation(policy, stage, monitor, detail.ProcessingJobArn, at, findings, details, key)
    return r.once(key, lambda: apply(r, violation))


def _monitoring_failed(
    r: Reaction[ProcessingJobEvent], policy: Policy, stage: Stage, watched: Watched, execution: dict[str, Any]
) -> dict[str, Any]:
    detail = r.event.detail
    reason = execution.get("FailureReason") or detail.FailureReason or detail.ExitMessage or "no reason given"
    line = f"monitoring run {detail.ProcessingJobName} of the {watched.describe()} failed: {reason}"
    r.told(
        policy,
        action="monitoring-run-failed",
        reason=line,
        resource=detail.ProcessingJobArn,
        subject=f"{policy.group}: monitoring failed on {stage.name}",
        kind="monitor-failed",
    )
    count("MonitoringRunsFailed")
    return {"action": "notified-failure", "schedule": watched.schedule}


# --- signal 2: a CloudWatch alarm on a Model Monitor metric ------------------------------------------------------
def on_alarm(r: Reaction[AlarmEvent]) -> dict[str, Any]:
    """ALARM on a Model Monitor metric is a violation; back to OK is recorded only."""
    detail = r.event.detail
    state = detail.state.value
    if state not in ("ALARM", "OK"):
        raise IgnoredEvent(f"alarm {detail.alarmName} is {state}")
    target = alarm_target(detail)
    if target is None:
        raise IgnoredEvent(
            f"alarm {detail.alarmName} is not on a Model Monitor metric of a schedule (MonitoringSchedule, and "
            "Endpoint for an endpoint's monitor)"
        )
    watched = Watched(r.event.account, r.event.region, target.schedule_name, target.monitor_type, target.endpoint_name)
    policy, stage, monitor = monitor_of(r, watched)
    alarm = r.event.primary_arn or detail.alarmName
    key = SemanticKey.of(REACTION, alarm, state, detail.state.timestamp)
    finding = f"alarm {detail.alarmName} on {target.metric_name} ({target.namespace}): {detail.state.reason or state}"
    if state == "OK":
        return r.once(key, lambda: _alarm_ok(r, policy, alarm, finding))
    details = {"metric": target.metric_name, "schedule": target.schedule_name, "alarm": detail.alarmName}
    violation = Violation(policy, stage, monitor, alarm, detail.state.timestamp, [finding], details, key)
    return r.once(key, lambda: apply(r, violation))


def _alarm_ok(r: Reaction[AlarmEvent], policy: Policy, alarm: str, finding: str) -> dict[str, Any]:
    r.record(
        policy,
        action="monitor-alarm-ok",
        outcome="done",
        reason=finding,
        account=r.event.account,
        region=r.event.region,
        resource=alarm,
    )
    return {"action": "recorded-ok"}


# --- the stage's on_violation ----------------------------------------------------------------------------------------
def apply(r: Reaction[Any], v: Violation) -> dict[str, Any]:
    """Do what the monitor's policy says; corrective actions only when its cool-down is won."""
    monitoring = v.monitor
    if monitoring.on_violation == "notify":
        _record(r, v, action="notify", outcome="notified", reason="policy says notify only")
        _tell(r, v, "policy says notify only")
        count("MonitorViolationsNotified")
        return {"action": "notified", "group": v.policy.group, "stage": v.stage.name}
    # decided before the cool-down is claimed: what cannot be done is refused without taking the window
    correction = retrain_of(r, v) if monitoring.on_violation == "retrain" else rollback_of(r, v)
    window = claim(
        r.settings,
        group=v.policy.group,
        stage=v.stage.name,
        monitor=monitoring.key,
        hours=monitoring.cooldown_hours,
        holder=v.holder,
        started=v.at,
        action=monitoring.on_violation,
    )
    if not window.granted:
        _record(r, v, action=monitoring.on_violation, outcome="skipped", reason=window.describe())
        count("MonitorViolationsCoolingDown")
        return {"action": "cooling-down", "until": window.until.isoformat(), "holder": window.holder}
    return carry_out(r, v, correction, window)


def _record(r: Reaction[Any], v: Violation, *, action: str, outcome: Any, reason: str, resource: str = "") -> None:
    r.record(
        v.policy,
        action=action,
        outcome=outcome,
        reason=f"{reason}; {'; '.join(v.findings)}"[:4000],
        account=r.event.account,
        region=r.event.region,
        resource=resource or v.signal,
        details={"stage": v.stage.name, "endpoint": v.stage.endpoint_name, "monitor": v.monitor.key, **v.details},
    )


def _tell(r: Reaction[Any], v: Violation, decision: str) -> None:
    r.tell(
        v.policy,
        subject=f"{v.policy.group}: Model Monitor violation on {v.stage.name} ({v.monitor.type.replace('_', ' ')})",
        lines=[*v.findings, f"decision: {decision}", v.signal],
        kind="monitor-violation",
    )


# --- retrain ---------------------------------------------------------------------------------------------------------
def retrain_prefix(group: str, stage: str) -> str:
    """The name prefix of every retrain of `group`'s `stage` (so running ones can be found), within AWS's limit."""
    prefix = f"{group}-{stage}-retrain-"
    room = NAME_MAX - _STAMP_LENGTH - 1 - _HOLDER_DIGITS
    if len(prefix) <= room:
        return prefix
    digest = hashlib.sha256(f"{group}/{stage}".encode()).hexdigest()[:6]
    tail = f"-{digest}-{stage}-retrain-"
    return f"{group[: room - len(tail)]}{tail}"


def retrain_name(group: str, stage: str, started: datetime, holder: str) -> str:
    """The deterministic training job (or pipeline execution display) name of the retrain of one window.

    The window's start and a digest of its holder: a retry of the winning signal gets the same name, and two
    signals of the same second that win successive windows (a zero-hour cool-down) do not share one.
    """
    digest = hashlib.sha256(holder.encode()).hexdigest()[:_HOLDER_DIGITS]
    return f"{retrain_prefix(group, stage)}{started:{_STAMP}}-{digest}"


def retrain_tags(v: Violation, event_id: str) -> dict[str, str]:
    """Lineage tags: the group tag lets the training reaction register what the retrain produces."""
    return {GROUP_TAG: v.policy.group, SIGNAL_TAG: v.signal, EVENT_ID_KEY: event_id}


def pipeline_request(v: Violation, name: str) -> dict[str, Any]:
    """The StartPipelineExecution request of a retrain through the policy's pipeline (pure: validated in tests)."""
    template = v.policy.training
    if template is None or template.pipeline_name is None or template.fresh_data_s3_uri is None:
        raise ActionRefused(f"policy of group {v.policy.group} names no pipeline with fresh data")
    request: dict[str, Any] = {
        "PipelineName": template.pipeline_name,
        "PipelineExecutionDisplayName": name,
        "PipelineExecutionDescription": f"Retrain after Model Monitor violation on {v.stage.endpoint_name}"[:3072],
        "ClientRequestToken": hashlib.sha256(name.encode()).hexdigest(),
    }
    if template.pipeline_data_parameter:
        request["PipelineParameters"] = [
            {"Name": template.pipeline_data_parameter, "Value": template.fresh_data_s3_uri}
        ]
    return request


# --- what a won cool-down window does: decided first (refusing what cannot be done), carried out after the claim ---
@dataclass(frozen=True)
class Retrain:
    """Train again on the policy's fresh data, in its training account (a training job, or its pipeline)."""

    template: TrainingTemplate


@dataclass(frozen=True)
class Rollback:
    """Put the stage back from `leaving` to `target`, the last version that completed a deployment there."""

    leaving: int
    target: int


Correction = Retrain | Rollback


def retrain_of(r: Reaction[Any], v: Violation) -> Retrain:
    template = v.policy.training
    if template is None or template.fresh_data_s3_uri is None:
        raise ActionRefused(f"policy of group {v.policy.group} has no training template with fresh_data_s3_uri")
    if template.account not in r.settings.allowed_accounts:
        raise ActionRefused(f"training account {template.account} of group {v.policy.group} is not on the allow-list")
    return Retrain(template)


def rollback_of(r: Reaction[Any], v: Violation) -> Rollback:
    """Back to the last version that completed a deployment to the stage (`lifecycle.deploy.rollback`); when there is
    none, the violation is recorded and people are told, and nothing changes."""
    group, stage, registry = v.policy.group, v.stage, v.policy.registry
    if not r.settings.deploy_state_machine_arn:
        raise ActionRefused(f"cannot roll back {group}/{stage.name}: the DeployModel state machine is not configured")
    sagemaker = r.client("sagemaker", stage.account, stage.region)
    endpoint = describe_endpoint(sagemaker, stage.endpoint_name)
    main = main_variant(serving(sagemaker, endpoint.config)) if endpoint else None
    leaving = main.version if main is not None and main.of_group(group) else None
    if leaving is None:
        raise ActionRefused(f"endpoint {stage.endpoint_name} serves no model package version of {group}")
    target = rollback_target(
        r.settings,
        r.client("sagemaker", registry.account, registry.region),
        group=group,
        stage=stage.name,
        leaving=leaving,
        registry_at=(registry.account, registry.region),
    )
    if target is None:
        decision = (
            f"roll back wanted, but no version other than v{leaving} completed a deployment to {stage.name} and is "
            "still Approved: nothing changed"
        )
        _record(r, v, action="rollback", outcome="skipped", reason=decision)
        _tell(r, v, decision)
        count("MonitorRollbacksImpossible")
        raise IgnoredEvent(decision)
    return Rollback(leaving=leaving, target=target)


def carry_out(r: Reaction[Any], v: Violation, correction: Correction, window: Window) -> dict[str, Any]:
    if isinstance(correction, Retrain):
        return _start_retrain(r, v, correction.template, window)
    return _start_rollback(r, v, correction, window)


def _start_retrain(r: Reaction[Any], v: Violation, template: TrainingTemplate, window: Window) -> dict[str, Any]:
    sagemaker = r.client("sagemaker", template.account, template.region)
    name = retrain_name(v.policy.group, v.stage.name, window.started, window.holder)
    if template.pipeline_name:
        running = running_pipeline_executions(sagemaker, template.pipeline_name)
    else:
        prefix = retrain_prefix(v.policy.group, v.stage.name)
        running = [job for job in running_training_jobs(sagemaker, prefix) if job != name]
    if running:
        _record(r, v, action="retrain", outcome="skipped", reason=f"previous retrain still running: {running[0]}")
        return {"action": "retrain-running", "running": running[0]}
    if template.pipeline_name:
        arn, created = start_pipeline_execution(sagemaker, pipeline_request(v, name)), True
    else:
        channel = training_channel(template, template.fresh_data_s3_uri or "")
        request = training_job_request(v.policy, name=name, channel=channel, tags=retrain_tags(v, r.event.id))
        started = start_training_job(sagemaker, request)
        arn, created = started.arn, started.created
    decision = f"retrain started: {arn} (cool-down until {window.until:%Y-%m-%d %H:%M} UTC)"
    reason = decision if created else f"retrain exists: {arn}"
    _record(r, v, action="retrain", outcome="done", reason=reason, resource=arn)
    _tell(r, v, decision)
    count("RetrainsStarted")
    return {"action": "retrain", "resource": arn, "created": created}


def _start_rollback(r: Reaction[Any], v: Violation, rollback: Rollback, window: Window) -> dict[str, Any]:
    group, stage = v.policy.group, v.stage
    reason = f"Model Monitor violation on {stage.endpoint_name}: back from v{rollback.leaving} to v{rollback.target}"
    request = RollbackInput(
        group=group, stage=stage.name, version=rollback.target, from_version=rollback.leaving, reason=reason
    )
    name = execution_name("rollback", group[:40], stage.name, compact_time(window.started))
    started = start_deployment(r.settings, request, name=name)
    back = f"from v{rollback.leaving} to v{rollback.target}"
    decision = f"rollback of {stage.name} {back} started: {started.execution_arn}"
    _record(r, v, action="rollback", outcome="done", reason=decision, resource=started.execution_arn)
    _tell(r, v, decision)
    count("MonitorRollbacksStarted")
    return {
        "action": "rollback",
        "resource": started.execution_arn,
        "version": rollback.target,
        "created": started.started,
    }


# --- the handler's entry ---------------------------------------------------------------------------------------------
SIGNALS = (ProcessingJobEvent, AlarmEvent)  # the two events this reaction takes, told apart by their detail-type


def on_monitor_violation(r: Reaction[ProcessingJobEvent | AlarmEvent]) -> dict[str, Any]:
    """Whichever signal the event is: a monitoring run that ended, or a Model Monitor alarm."""
    if isinstance(r.event, AlarmEvent):
        return on_alarm(r)  # type: ignore[arg-type]
    return on_monitoring_job(r)  # type: ignore[arg-type]
