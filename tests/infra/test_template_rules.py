"""Every sample event reaches exactly the rules it should: the rule patterns of the templates, matched by moto.

One table (`EXPECTED_RULES`) says which rules of template.yaml each file in `events/` must trigger. A new sample
without an entry fails, so does an entry whose file is gone. `events/manual/` holds state machine inputs, not
events, and is skipped.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from sandbox.patterns import matches

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOT_EVENTS = {"manual"}


# Sample file (relative to events/) -> logical ids of the template.yaml rules it must match, and no other.
EXPECTED_RULES: dict[str, set[str]] = {
    "training-completed.json": {"TrainingJobStateRule"},
    "training-failed.json": {"TrainingJobStateRule"},
    # A job the product stopped still reports the rule's IssuesFound: the Debugger reaction sees it again (a duplicate).
    "training-stopped.json": {"TrainingJobStateRule", "DebuggerRuleIssuesRule"},
    # The bus rules do not filter accounts: the function refuses (and records) events from off the allow-list.
    "untrusted-account-training-completed.json": {"TrainingJobStateRule"},
    "labeling-completed.json": {"LabelingJobStateRule"},
    "labeling-failed.json": {"LabelingJobStateRule"},
    "labeling-stopped.json": {"LabelingJobStateRule"},
    "debugger-issues-found.json": {"DebuggerRuleIssuesRule"},
    # A rule's IssuesFound may arrive after the job completed: register (gate) and record/tell the issues.
    "debugger-issues-after-completion.json": {"TrainingJobStateRule", "DebuggerRuleIssuesRule"},
    # A monitoring run is a processing job of a schedule: it ends Completed whatever it found (or Failed)
    "monitor-violations.json": {"MonitoringJobStateRule"},
    # The schedule named only by the monitoring container's Environment: the reaction finds it there.
    "monitor-violations-environment-only.json": {"MonitoringJobStateRule"},
    "monitor-no-violations.json": {"MonitoringJobStateRule"},
    "monitor-failed.json": {"MonitoringJobStateRule"},
    "monitor-alarm.json": {"ModelMonitorAlarmRule"},
    "monitor-alarm-ok.json": {"ModelMonitorAlarmRule"},
    "profiler-issues-found.json": {"DebuggerRuleIssuesRule"},
    "model-package-approved.json": {"ModelPackageStateRule"},
    # Auto-approved, registration still InProgress: nothing to deploy yet (the Completed event follows).
    "model-package-approved-in-progress.json": set(),
    "model-package-rejected.json": {"ModelPackageStateRule"},
    "model-package-pending.json": {"ModelPackageStateRule"},
    # Every monitor type's run and alarm, an endpoint's or a batch transform monitor's
    "monitor-violations-model-quality.json": {"MonitoringJobStateRule"},
    "monitor-violations-bias-drift.json": {"MonitoringJobStateRule"},
    "monitor-alarm-model-quality.json": {"ModelMonitorAlarmRule"},
    "monitor-alarm-bias-drift.json": {"ModelMonitorAlarmRule"},
    "monitor-alarm-batch-transform.json": {"ModelMonitorAlarmRule"},
    # A tuning job's end (its trials are training jobs: their events go to TrainingJobStateRule)
    "tuning-completed.json": {"TuningJobStateRule"},
    "tuning-failed.json": {"TuningJobStateRule"},
    "pipeline-failed.json": {"PipelineExecutionStateRule"},
    "pipeline-stopped.json": {"PipelineExecutionStateRule"},
    "pipeline-succeeded.json": {"PipelineExecutionStateRule"},
    # SageMaker's own actions: an auto-rollback (or one that failed), a schedule that failed or was stopped
    "endpoint-deployment-rolled-back.json": {"EndpointDeploymentStateRule"},
    "endpoint-deployment-rollback-failed.json": {"EndpointDeploymentStateRule"},
    "monitoring-schedule-failed.json": {"MonitoringScheduleStateRule"},
    # spelled in capitals: the rule matches the status whatever its case
    "monitoring-schedule-stopped.json": {"MonitoringScheduleStateRule"},
    "transform-job-completed.json": {"TransformJobStateRule"},
    "transform-job-failed.json": {"TransformJobStateRule"},
}


def sample_files() -> dict[str, Path]:
    """Every sample event in events/ by its path relative to events/ (POSIX), manual inputs excluded."""
    found = {}
    for path in sorted(EVENTS.rglob("*.json")):
        relative = path.relative_to(EVENTS)
        if relative.parts[0] not in NOT_EVENTS:
            found[relative.as_posix()] = path
    return found


def rule_patterns(template: dict[str, Any], *, default_bus: bool = False) -> dict[str, dict[str, Any]]:
    """Logical id -> EventPattern of every AWS::Events::Rule in the template on the lifecycle bus (or, with
    `default_bus`, on the account's default bus: the forwarding rules)."""
    patterns = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        if (resource["Properties"].get("EventBusName") == "default") is not default_bus:
            continue
        pattern = resource["Properties"].get("EventPattern")
        assert pattern, f"rule {logical_id} has no EventPattern"
        assert "Fn::" not in json.dumps(pattern) and '"Ref"' not in json.dumps(pattern), (
            f"rule {logical_id}: intrinsic functions in an EventPattern cannot be checked here"
        )
        patterns[logical_id] = pattern
    return patterns


def matching_rules(patterns: dict[str, dict[str, Any]], event: dict[str, Any]) -> set[str]:
    """The logical ids of the rules whose pattern matches `event` (moto's matcher, EventBridge array semantics)."""
    return {logical_id for logical_id, pattern in patterns.items() if matches(pattern, event)}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_sample_event_has_an_expectation() -> None:
    # Given the sample events on disk
    missing = sorted(set(sample_files()) - set(EXPECTED_RULES))

    # Then each one is listed in the expectation table
    assert not missing, f"add these events/ samples to EXPECTED_RULES in {Path(__file__).name}: {missing}"


def test_every_expectation_names_an_existing_sample() -> None:
    stale = sorted(set(EXPECTED_RULES) - set(sample_files()))

    assert not stale, f"EXPECTED_RULES names samples that are not in events/: {stale}"


def test_expectations_name_existing_rules(automation_template: dict[str, Any]) -> None:
    rules = set(rule_patterns(automation_template))

    unknown = sorted({rule for expected in EXPECTED_RULES.values() for rule in expected} - rules)

    assert not unknown, f"EXPECTED_RULES names rules template.yaml does not define: {unknown}"


@pytest.mark.parametrize("sample", sorted(EXPECTED_RULES))
def test_sample_triggers_exactly_its_rules(sample: str, automation_template: dict[str, Any]) -> None:
    # Given a sample event and the lifecycle bus rules
    path = sample_files().get(sample)
    if path is None:
        pytest.fail(f"events/{sample} is in EXPECTED_RULES but does not exist")
    patterns = rule_patterns(automation_template)

    # When EventBridge matches it
    matched = matching_rules(patterns, load(path))

    # Then exactly the expected rules fire
    assert matched == EXPECTED_RULES[sample]


@pytest.mark.parametrize(
    ("template_name", "rule"),
    [("accounts/workload-account.yaml", "ForwardingRule"), ("template.yaml", "AutomationForwardingRule")],
)
def test_forwarding_rules_forward_every_sample(
    template_name: str, rule: str, templates: dict[str, dict[str, Any]]
) -> None:
    # Given the default-bus rule of a workload account, or of the automation account (its own SageMaker events)
    patterns = rule_patterns(templates[template_name], default_bus=True)
    assert set(patterns) == {rule}
    sagemaker_samples = {name: load(path) for name, path in sample_files().items()}
    sagemaker_samples = {
        name: event
        for name, event in sagemaker_samples.items()
        if event["source"] in ("aws.sagemaker", "aws.cloudwatch")
    }
    assert sagemaker_samples, "no aws.sagemaker sample in events/"

    # When each SageMaker sample is matched
    not_forwarded = sorted(name for name, event in sagemaker_samples.items() if not matching_rules(patterns, event))

    # Then every one is forwarded to the automation bus
    assert not not_forwarded, f"the forwarding rule drops {not_forwarded}"


def _alarm_event(namespace: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "222222222222",
        "time": "2026-11-27T10:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:cloudwatch:us-east-1:222222222222:alarm:churn-prod-feature-drift"],
        "detail": {
            "alarmName": "churn-prod-feature-drift",
            "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": "2026-11-27T10:00:00.000+0000"},
            "previousState": {"value": "OK", "reason": "", "timestamp": "2026-11-27T09:00:00.000+0000"},
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": namespace,
                                "name": "feature_baseline_drift_tenure",
                                "dimensions": {"Endpoint": "churn-prod", "MonitoringSchedule": "churn-prod-data"},
                            },
                            "period": 3600,
                            "stat": "Maximum",
                        },
                        "returnData": True,
                    }
                ]
            },
        },
    }


@pytest.mark.parametrize(
    ("namespace", "forwarded"),
    [
        ("aws/sagemaker/Endpoints/data-metrics", True),
        ("aws/sagemaker/Endpoints/model-metrics", True),
        ("aws/sagemaker/Endpoints/bias-metrics", True),
        ("aws/sagemaker/Endpoints/explainability-metrics", True),
        ("aws/sagemaker/ModelMonitoring/data-metrics", True),
        ("aws/sagemaker/ModelMonitoring/explainability-metrics", True),
        ("AWS/SageMaker", False),
        ("AWS/EC2", False),
    ],
)
def test_workload_forwarding_rule_forwards_model_monitor_alarms_only(
    namespace: str, forwarded: bool, workload_template: dict[str, Any]
) -> None:
    # Given a CloudWatch alarm state change on a metric of `namespace`
    event = _alarm_event(namespace)

    # When the forwarding rule matches it
    matched = matching_rules(rule_patterns(workload_template, default_bus=True), event)

    # Then only Model Monitor alarms are forwarded
    assert bool(matched) is forwarded


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", "aws.sagemaker.fake"),
        ("source", "custom.sagemaker"),
        ("detail-type", "SageMaker Training Job State Change (fake)"),
        ("detail-type", "SageMaker Processing Job State Change"),
    ],
)
@pytest.mark.parametrize("sample", ["training-completed.json", "debugger-issues-found.json"])
def test_lookalike_events_match_no_rule(
    sample: str, field: str, value: str, automation_template: dict[str, Any], workload_template: dict[str, Any]
) -> None:
    # Given a sample whose source or detail-type is changed
    event = copy.deepcopy(load(EVENTS / sample))
    event[field] = value

    # When the lifecycle rules match it
    matched = matching_rules(rule_patterns(automation_template), event)

    # Then none fires (and a fake source is not even forwarded from a workload account)
    assert matched == set()
    if field == "source":
        assert matching_rules(rule_patterns(workload_template, default_bus=True), event) == set()
        assert matching_rules(rule_patterns(automation_template, default_bus=True), event) == set()


def test_processing_jobs_of_no_monitoring_schedule_match_no_rule(automation_template: dict[str, Any]) -> None:
    # Given a processing job that no monitoring schedule started (no schedule ARN, no schedule in its Environment)
    event = copy.deepcopy(load(EVENTS / "monitor-violations.json"))
    del event["detail"]["MonitoringScheduleArn"]
    del event["detail"]["Environment"]["sagemaker_monitoring_schedule_name"]

    # Then no rule fires
    assert matching_rules(rule_patterns(automation_template), event) == set()


def test_debugger_rule_ignores_jobs_without_issues(automation_template: dict[str, Any]) -> None:
    # Given a running job whose rules are all still in progress or passed
    event = copy.deepcopy(load(EVENTS / "debugger-issues-found.json"))
    for status in event["detail"].get("DebugRuleEvaluationStatuses", []):
        status["RuleEvaluationStatus"] = "NoIssuesFound"
    for status in event["detail"].get("ProfilerRuleEvaluationStatuses", []):
        status["RuleEvaluationStatus"] = "InProgress"

    # Then no rule fires
    assert matching_rules(rule_patterns(automation_template), event) == set()


def test_array_folding_matches_like_eventbridge() -> None:
    # Given an event whose detail holds an array of objects, and patterns through that array
    event = {"source": "x", "detail": {"rules": [{"status": "InProgress"}, {"status": "IssuesFound", "n": {"k": 1}}]}}
    through_array = {"detail": {"rules": {"status": ["IssuesFound"]}}}
    nested = {"detail": {"rules": {"n": {"k": [1]}}}}
    absent = {"detail": {"rules": {"status": ["NoIssuesFound"]}}}

    # Then any element's value matches, nested objects too, and other values do not
    assert matching_rules({"a": through_array, "b": nested, "c": absent}, event) == {"a", "b"}


def test_moto_matcher_still_needs_the_array_folding() -> None:
    # moto 5.2.5 does not match through arrays of objects; when an upgrade fixes it, sandbox/patterns.py can go.
    event = {"detail": {"rules": [{"status": "IssuesFound"}]}}
    pattern = EventPattern.load(json.dumps({"detail": {"rules": {"status": ["IssuesFound"]}}}))

    assert pattern.matches_event(event) is False


def test_matcher_sees_pattern_changes() -> None:
    # Given a pattern narrower than a sample (keeps the matcher honest: it can say no)
    event = load(EVENTS / "training-completed.json")
    narrower = {"source": ["aws.sagemaker"], "detail": {"TrainingJobStatus": ["Failed"]}}

    # Then it does not match, while the same pattern with Completed does
    assert matching_rules({"narrow": narrower}, event) == set()
    narrower["detail"]["TrainingJobStatus"] = ["Completed"]
    assert matching_rules({"narrow": narrower}, event) == {"narrow"}


def test_the_automation_account_forwards_its_own_events_like_a_workload_account(
    automation_template: dict[str, Any], workload_template: dict[str, Any]
) -> None:
    # The registry may live in the automation account: its SageMaker events must reach the lifecycle bus as a workload
    # account's do, through the same pattern, a retried target with a dead-letter queue, and a role that may put them.
    own = automation_template["Resources"]["AutomationForwardingRule"]["Properties"]
    workload = workload_template["Resources"]["ForwardingRule"]["Properties"]
    assert own["EventPattern"] == workload["EventPattern"]
    assert own["EventBusName"] == "default"
    (target,) = own["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["LifecycleBus", "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": ["AutomationForwardingRole", "Arn"]}
    role = automation_template["Resources"]["AutomationForwardingRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (grant,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert (grant["Action"], grant["Resource"]) == ("events:PutEvents", {"Fn::GetAtt": ["LifecycleBus", "Arn"]})
    # and the dead-letter queue admits the rule
    queue_policy = automation_template["Resources"]["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    sources = queue_policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert {"Fn::GetAtt": ["AutomationForwardingRule", "Arn"]} in sources


@pytest.mark.parametrize("status", ["Pending", "InProgress", "Failed", "Deleting"])
def test_model_package_rule_waits_for_a_completed_registration(
    status: str, automation_template: dict[str, Any]
) -> None:
    # Given an approval event of a package whose registration is not Completed
    event = copy.deepcopy(load(EVENTS / "model-package-approved.json"))
    event["detail"]["ModelPackageStatus"] = status

    # Then no rule acts on it
    assert matching_rules(rule_patterns(automation_template), event) == set()


@pytest.mark.parametrize("status", ["InProgress", "Completed", "Failed", "Stopping", "Stopped"])
def test_debugger_rule_sees_issues_whatever_the_job_status(status: str, automation_template: dict[str, Any]) -> None:
    event = copy.deepcopy(load(EVENTS / "debugger-issues-found.json"))
    event["detail"]["TrainingJobStatus"] = status

    assert "DebuggerRuleIssuesRule" in matching_rules(rule_patterns(automation_template), event)


@pytest.mark.parametrize(
    ("sample", "path", "value"),
    [
        ("endpoint-deployment-rolled-back.json", ("EndpointStatus",), "UPDATING"),
        ("endpoint-deployment-rolled-back.json", ("EndpointStatus",), "IN_SERVICE"),
        ("monitoring-schedule-failed.json", ("MonitoringScheduleStatus",), "Scheduled"),
        ("monitoring-schedule-failed.json", ("MonitoringScheduleStatus",), "PENDING"),
        ("tuning-completed.json", ("HyperParameterTuningJobStatus",), "InProgress"),
        ("pipeline-failed.json", ("currentPipelineExecutionStatus",), "Executing"),
    ],
)
def test_states_of_sagemaker_s_own_resources_that_need_nothing_match_no_rule(
    sample: str, path: tuple[str, ...], value: str, automation_template: dict[str, Any]
) -> None:
    # Given a sample whose resource is in a state the product does nothing about
    event = copy.deepcopy(load(EVENTS / sample))
    event["detail"][path[0]] = value

    # Then no lifecycle rule fires (the function is not even invoked)
    assert matching_rules(rule_patterns(automation_template), event) == set()


def test_a_schedule_state_is_matched_whatever_its_case(automation_template: dict[str, Any]) -> None:
    event = copy.deepcopy(load(EVENTS / "monitoring-schedule-failed.json"))

    matched = {}
    for spelling in ("Failed", "FAILED", "failed", "Stopped", "STOPPED"):
        event["detail"]["MonitoringScheduleStatus"] = spelling
        matched[spelling] = matching_rules(rule_patterns(automation_template), event)

    assert set(map(frozenset, matched.values())) == {frozenset({"MonitoringScheduleStateRule"})}
