"""The sandbox's EventBridge where moto lacks it (TestEventPattern) or accepts what EventBridge refuses (PutEvents with
an `aws.*` source): pinned to the API reference, with the refusals tested."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from support.cloud import REGION

PATTERN = json.dumps({"source": ["aws.sagemaker"], "detail": {"Statuses": {"RuleEvaluationStatus": ["IssuesFound"]}}})


@pytest.fixture
def events(cloud):
    return boto3.client("events", region_name=REGION)


def test_test_event_pattern_matches_as_eventbridge_does_through_arrays_of_objects(events, load_event):
    event = load_event("training-failed.json")
    issues = {
        **event,
        "detail": {"Statuses": [{"RuleEvaluationStatus": "NoIssuesFound"}, {"RuleEvaluationStatus": "IssuesFound"}]},
    }
    none = {**event, "detail": {"Statuses": [{"RuleEvaluationStatus": "NoIssuesFound"}]}}

    assert events.test_event_pattern(EventPattern=PATTERN, Event=json.dumps(issues))["Result"] is True
    assert events.test_event_pattern(EventPattern=PATTERN, Event=json.dumps(none))["Result"] is False


@pytest.mark.parametrize("field", ["id", "account", "source", "time", "region", "resources", "detail-type"])
def test_test_event_pattern_refuses_an_event_without_a_mandatory_field(events, load_event, field):
    event = load_event("training-failed.json")
    del event[field]

    with pytest.raises(ClientError) as refused:
        events.test_event_pattern(EventPattern=PATTERN, Event=json.dumps(event))

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert field in refused.value.response["Error"]["Message"]


def test_test_event_pattern_refuses_a_pattern_that_is_not_json(events, load_event):
    with pytest.raises(ClientError) as refused:
        events.test_event_pattern(EventPattern="{source", Event=json.dumps(load_event("training-failed.json")))

    assert refused.value.response["Error"]["Code"] == "InvalidEventPatternException"


def test_put_events_refuses_an_aws_source_and_delivers_the_rest_of_the_batch(events):
    entries = [
        {"Source": "aws.sagemaker", "DetailType": "SageMaker Training Job State Change", "Detail": "{}"},
        {"Source": "example.redrive", "DetailType": "SageMaker Training Job State Change", "Detail": "{}"},
    ]

    answer = events.put_events(Entries=entries)

    assert answer["FailedEntryCount"] == 1
    refused, delivered = answer["Entries"]
    assert refused == {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
    assert "EventId" in delivered
