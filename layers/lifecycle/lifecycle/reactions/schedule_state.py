"""A monitoring schedule of a stage that became `Failed` or `Stopped` → recorded and people told: its monitor no longer
watches the endpoint, and nothing the product does on violations can happen until it runs again.

The event is read against the schedule as it is now (DescribeMonitoringSchedule): a schedule started again since, or
deleted, is only logged. The schedule names the policy: a stage in the event's account and region whose monitor names
it, or runs it on the stage's endpoint.
"""

from __future__ import annotations

from typing import Any

from lifecycle.errors import IgnoredEvent
from lifecycle.events import MonitoringScheduleEvent
from lifecycle.monitoring.schedule import MONITOR_TYPES
from lifecycle.monitoring.signals import describe_schedule
from lifecycle.observability import count
from lifecycle.policy import BaseMonitor, Policy, Stage
from lifecycle.reaction import Reaction
from lifecycle.reactions.monitor_violation import Watched, monitor_of
from lifecycle.store.idempotency import SemanticKey

REACTION = "schedule-state"
STOPPED_STATES = frozenset({"Failed", "Stopped"})


def on_schedule_state(r: Reaction[MonitoringScheduleEvent]) -> dict[str, Any]:
    """A monitoring schedule failed or was stopped: confirm it with the schedule, then record and tell."""
    detail = r.event.detail
    if detail.MonitoringScheduleStatus not in STOPPED_STATES:
        raise IgnoredEvent(f"monitoring schedule {detail.MonitoringScheduleName} is {detail.MonitoringScheduleStatus}")
    schedule = describe_schedule(r.client("sagemaker", r.event.account, r.event.region), detail.MonitoringScheduleName)
    status = str(schedule.get("MonitoringScheduleStatus", ""))
    if status not in STOPPED_STATES:
        raise IgnoredEvent(f"monitoring schedule {detail.MonitoringScheduleName} is {status} again")
    monitor_type = MONITOR_TYPES.get(str(schedule.get("MonitoringType", "DataQuality")), "data_quality")
    watched = Watched(
        r.event.account,
        r.event.region,
        detail.MonitoringScheduleName,
        monitor_type,
        str(schedule.get("EndpointName") or ""),
    )
    policy, stage, monitor = monitor_of(r, watched)
    key = SemanticKey.of(REACTION, detail.MonitoringScheduleArn, status, detail.LastModifiedTime)
    reason = str(schedule.get("FailureReason") or detail.FailureReason or "no FailureReason given")
    return r.once(key, lambda: _stopped(r, policy, stage, monitor, status=status, reason=reason))


def _stopped(
    r: Reaction[MonitoringScheduleEvent],
    policy: Policy,
    stage: Stage,
    monitor: BaseMonitor,
    *,
    status: str,
    reason: str,
) -> dict[str, Any]:
    detail = r.event.detail
    text = (
        f"{stage.name}: the {monitor.type} monitoring schedule {detail.MonitoringScheduleName} on "
        f"{stage.endpoint_name} is {status}: {reason}; its violations ({monitor.on_violation}) cannot be acted on "
        "until it runs again"
    )
    r.told(
        policy,
        action=f"monitoring-schedule-{status.lower()}",
        reason=text,
        resource=detail.MonitoringScheduleArn,
        details={"stage": stage.name, "monitor": monitor.key},
        subject=f"{policy.group}: monitoring schedule {status.lower()} on {stage.name}",
        kind=f"schedule-{status.lower()}",
    )
    count("MonitoringSchedulesStopped")
    return {"action": "notified", "status": status, "monitor": monitor.key}
