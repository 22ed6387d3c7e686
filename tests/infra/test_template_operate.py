"""The dashboard and alarms of template.yaml graph what is really there.

The product's own metrics are checked against what the functions emit: every sample event (and an untrusted copy of
each) runs through the sandbox's deployed rules and real handlers, and the EMF records they print (powertools, "Embedded
metric format specification", CloudWatch User Guide) give each metric's namespace, name and dimension set. A dashboard
search expression matches a metric only with exactly its dimension set ("CloudWatch search expression syntax"). AWS's
metrics are checked against the names and dimensions the services document: Lambda ("Types of metrics for Lambda
functions"), SQS ("Available CloudWatch metrics for Amazon SQS"), Step Functions ("Execution metrics").
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.templates import automation_template, resources, statements

from sandbox.cloud import Sandbox
from sandbox.replay import read_event, read_policy, sample_policies, seed
from sandbox.router import Router

EVENTS = Path(__file__).resolve().parents[2] / "events"
UNTRUSTED = "999999999999"
NAMESPACE = automation_template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = automation_template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
# What each AWS namespace the dashboard and alarms use publishes, and its dimension, per the service's documentation.
AWS_METRICS = {
    "AWS/Lambda": ({"Errors", "Duration", "Invocations", "Throttles"}, "FunctionName"),
    "AWS/SQS": ({"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}, "QueueName"),
    "AWS/States": (
        {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"},
        "StateMachineArn",
    ),
}
SEARCH = re.compile(
    r"^SEARCH\('\{(?P<schema>[^}]*)\} MetricName=\"(?P<metric>\w+)\"', '(?P<stat>\w+)', (?P<period>\d+)\)$"
)
TOKEN = re.compile(r"\$\{([^}]+)\}")

Metric = tuple[str, str, frozenset[str]]  # namespace, metric name, dimension names


def _emf(logs: list[str]) -> list[dict[str, Any]]:
    records = []
    for text in logs:
        for line in text.splitlines():
            if line.startswith("{") and '"_aws"' in line:
                records.append(json.loads(line))
    return records


@pytest.fixture(scope="module")
def emitted() -> dict[Metric, set[str]]:
    """(namespace, metric, dimension names) → the reactions that emitted it, from every sample event."""
    found: dict[Metric, set[str]] = {}
    with Sandbox() as sandbox:
        for path in sample_policies():
            sandbox.publish_policy(read_policy(path))
        router = Router(sandbox)
        for path in sorted(EVENTS.glob("*.json")):
            event = read_event(path)
            seed(sandbox, event)
            router.emit_and_settle(event)
            router.emit_and_settle({**event, "id": str(uuid.uuid4()), "account": UNTRUSTED})
        for delivery in router.deliveries:
            for invocation in delivery.invocations:
                for record in _emf(invocation.logs):
                    for directive in record["_aws"]["CloudWatchMetrics"]:
                        for dimensions in directive["Dimensions"]:
                            for metric in directive["Metrics"]:
                                key = (directive["Namespace"], metric["Name"], frozenset(dimensions))
                                found.setdefault(key, set()).add(str(record.get("reaction", "")))
                                assert record["service"] == SERVICE
    return found


def _reactions() -> set[str]:
    """The reaction names the code runs with (lifecycle.reactions.*.REACTION)."""
    import lifecycle.reactions

    modules = [
        importlib.import_module(found.name)
        for found in pkgutil.iter_modules(lifecycle.reactions.__path__, "lifecycle.reactions.")
    ]
    return {module.REACTION for module in modules}


def dashboard() -> tuple[dict[str, Any], list[str]]:
    """The dashboard body as JSON, every `${...}` of its Fn::Sub kept as the text `<...>`, and those names."""
    body = automation_template()["Resources"]["OperateDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    tokens = TOKEN.findall(body)
    return json.loads(TOKEN.sub(lambda match: f"<{match[1]}>", body)), tokens


def metric_lines(body: dict[str, Any]) -> list[list[Any]]:
    return [
        line for widget in body["widgets"] if widget["type"] == "metric" for line in widget["properties"]["metrics"]
    ]


def test_the_dashboard_body_has_the_documented_structure() -> None:
    # "Dashboard Body Structure and Syntax": widgets with type, x, y, width (1-24), height; a metric widget has a
    # region and a metrics array; the grid is 24 wide.
    body, _ = dashboard()
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["type"] in ("metric", "text", "alarm")
        x, y, width, height = widget["x"], widget["y"], widget["width"], widget["height"]
        assert 1 <= width <= 24 and x + width <= 24 and height >= 1
        area = {(column, row) for column in range(x, x + width) for row in range(y, y + height)}
        assert not area & cells, f"widget {widget['properties'].get('title')} overlaps another"
        cells |= area
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "<AWS::Region>" and widget["properties"]["metrics"]


def test_the_per_reaction_graphs_search_exactly_the_metrics_the_reactions_emit(emitted) -> None:
    body, _ = dashboard()
    searches = [SEARCH.match(line[0]["expression"]) for line in metric_lines(body) if isinstance(line[0], dict)]
    assert searches and all(searches)
    graphed = {(m["schema"].split(",")[0], m["metric"], frozenset(m["schema"].split(",")[1:])) for m in searches if m}

    # Every metric the dashboard searches is one the functions emit, with that exact dimension set
    assert graphed <= set(emitted), graphed - set(emitted)
    # ... acted on, ignored and rejected, in the functions' namespace, per reaction
    assert {name for _, name, _ in graphed} == {"EventsActedOn", "EventsIgnored", "EventsRefused"}
    assert {namespace for namespace, _, _ in graphed} == {NAMESPACE}
    # and every reaction of the code emits acted on and rejected under them
    for metric in ("EventsActedOn", "EventsRefused"):
        assert emitted[(NAMESPACE, metric, frozenset({"service", "reaction"}))] == _reactions()


def test_a_search_would_miss_a_metric_emitted_with_another_dimension_set(emitted) -> None:
    # The check above compares dimension sets exactly: without the reaction dimension nothing would be graphed
    assert (NAMESPACE, "EventsActedOn", frozenset({"service"})) not in emitted


def test_aws_metrics_on_the_dashboard_are_what_the_services_publish_for_this_stack_s_resources() -> None:
    template = automation_template()
    functions = {logical_id for logical_id, _ in resources(template, "AWS::Serverless::Function")}
    expected_values = {
        "FunctionName": {f"<{logical_id}>" for logical_id in functions},
        "QueueName": {"<DeadLetterQueue.QueueName>"},
        "StateMachineArn": {"<DeployModelStateMachine>"},
    }
    body, _ = dashboard()
    seen_functions = set()
    for line in metric_lines(body):
        if isinstance(line[0], dict):
            continue
        namespace, name, dimension, value = line[:4]
        published, dimension_name = AWS_METRICS[namespace]
        assert name in published and dimension == dimension_name, line
        assert value in expected_values[dimension], line
        seen_functions |= {value} if dimension == "FunctionName" else set()
    # every function of the stack has its errors and its p99 duration graphed
    assert seen_functions == expected_values["FunctionName"]


def test_every_reference_of_the_dashboard_names_a_resource_of_the_stack() -> None:
    template = automation_template()
    _, tokens = dashboard()
    for token in tokens:
        name = token.split(".", 1)[0]
        assert name.startswith("AWS::") or name in template["Resources"], token


def test_the_alarm_widget_shows_the_stack_s_alarms() -> None:
    template = automation_template()
    body, _ = dashboard()
    [widget] = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    names = {
        template["Resources"][logical_id]["Properties"]["AlarmName"]["Fn::Sub"].replace("${", "<").replace("}", ">")
        for logical_id, _ in resources(template, "AWS::CloudWatch::Alarm")
    }
    prefix = "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:"
    assert {arn.removeprefix(prefix) for arn in widget["properties"]["alarms"]} == names


def test_the_dead_letter_alarm_fires_on_one_waiting_message_and_notifies_the_topic() -> None:
    alarm = automation_template()["Resources"]["DeadLetterAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]


def test_the_deploy_model_alarm_counts_failed_and_timed_out_executions_and_notifies_the_topic() -> None:
    alarm = automation_template()["Resources"]["DeployModelFailedAlarm"]["Properties"]
    stats = {query["Id"]: query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query}
    assert {metric["MetricName"] for metric in stats.values()} == {"ExecutionsFailed", "ExecutionsTimedOut"}
    for metric in stats.values():
        assert metric["Namespace"] == "AWS/States"
        assert metric["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "DeployModelStateMachine"}}]
    [returned] = [query for query in alarm["Metrics"] if query.get("ReturnData")]
    assert set(re.findall(r"\b(?:failed|timedOut)\b", returned["Expression"])) == set(stats)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]


def test_cloudwatch_may_use_the_key_of_the_encrypted_topic_its_alarms_notify() -> None:
    # "Enable compatibility between event sources from AWS services and encrypted topics" (SNS Developer Guide)
    template = automation_template()
    assert template["Resources"]["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "LifecycleKey"}
    key_policy = template["Resources"]["LifecycleKey"]["Properties"]["KeyPolicy"]
    [grant] = [s for s in statements(key_policy) if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert grant["Effect"] == "Allow" and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(grant["Action"])
