"""Debugger / profiler rule `IssuesFound`: stop the training job when policy says and it still runs; always record
and tell, also when the finding arrives after the job ended."""

from __future__ import annotations

from typing import Any

from lifecycle.actions.training import describe_training_job, stop_training_job
from lifecycle.errors import IgnoredEvent
from lifecycle.events import RuleEvaluationStatus, TrainingJobEvent
from lifecycle.observability import count
from lifecycle.policy import Policy, check_training_source, find_policy
from lifecycle.reaction import Reaction
from lifecycle.store.idempotency import SemanticKey

REACTION = "debugger-rule"
STOP = "debugger-stop"


def issues_found(event: TrainingJobEvent) -> list[RuleEvaluationStatus]:
    """Every Debugger and profiler rule of the event that reports IssuesFound."""
    detail = event.detail
    statuses = [*(detail.DebugRuleEvaluationStatuses or []), *(detail.ProfilerRuleEvaluationStatuses or [])]
    return [status for status in statuses if status.RuleEvaluationStatus == "IssuesFound"]


def on_rule_issues(r: Reaction[TrainingJobEvent]) -> dict[str, Any]:
    """Record and tell once per set of rules with issues; stop the job at most once, and only while it runs."""
    detail = r.event.detail
    issues = issues_found(r.event)
    if not issues:
        raise IgnoredEvent("no Debugger or profiler rule reports IssuesFound")
    policy = find_policy(r.settings, tags=detail.Tags, name=detail.TrainingJobName)
    check_training_source(policy, account=r.event.account, region=r.event.region)
    rules = sorted({issue.RuleConfigurationName for issue in issues})
    key = SemanticKey.of(REACTION, detail.TrainingJobArn, "IssuesFound:" + ",".join(rules), "")
    return r.once(key, lambda: _act(r, policy, issues))


def _act(r: Reaction[TrainingJobEvent], policy: Policy, issues: list[RuleEvaluationStatus]) -> dict[str, Any]:
    detail = r.event.detail
    stopping = [
        issue.RuleConfigurationName for issue in issues if issue.RuleConfigurationName in policy.debugger.stop_on_rules
    ]
    running = detail.TrainingJobStatus == "InProgress"
    stopped = False
    if stopping and running:
        key = SemanticKey.of(STOP, detail.TrainingJobArn, "Stop", "")
        stopped = bool(r.once(key, lambda: _stop(r, policy, stopping[0]))["stopped"])
    findings = [f"{issue.RuleConfigurationName}: {issue.StatusDetails or 'IssuesFound'}" for issue in issues]
    if stopped:
        decision = f"stopped the job because policy stops on {stopping[0]}"
    elif not running:
        decision = f"reported after the job ended ({detail.TrainingJobStatus}): nothing to stop"
    elif not stopping:
        decision = "job left running: policy stops on none of these rules"
    else:
        decision = "job was already not running"
    r.told(
        policy,
        action="debugger-issues-found",
        reason=f"{'; '.join(findings)} -> {decision}",
        resource=detail.TrainingJobArn,
        details={issue.RuleConfigurationName: (issue.StatusDetails or "")[:1000] for issue in issues},
        subject=f"{policy.group}: rule issues in {detail.TrainingJobName}",
        lines=[*findings, decision, detail.TrainingJobArn],
        kind="debugger-issues",
    )
    count("DebuggerIssuesFound")
    return {"action": "stopped" if stopped else "notified", "rules": [issue.RuleConfigurationName for issue in issues]}


def _stop(r: Reaction[TrainingJobEvent], policy: Policy, rule: str) -> dict[str, Any]:
    event = r.event
    sagemaker = r.client("sagemaker", event.account, event.region)
    job = describe_training_job(sagemaker, event.detail.TrainingJobName)
    stopped = stop_training_job(sagemaker, job, rule=rule)
    r.record(
        policy,
        action="stop-training-job",
        outcome="done" if stopped else "skipped",
        reason=f"rule {rule} found issues" if stopped else f"job is {job['TrainingJobStatus']}, nothing to stop",
        account=event.account,
        region=event.region,
        resource=job["TrainingJobArn"],
    )
    if stopped:
        count("TrainingJobsStopped")
    return {"stopped": stopped}
