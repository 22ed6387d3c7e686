"""Event models: every sample parses, all timestamp forms are accepted, new fields tolerated, bad input refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lifecycle.errors import MalformedEvent
from lifecycle.events import EVENT_MODELS, TrainingJobEvent, parse_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(path for path in EVENTS.rglob("*.json") if "manual" not in path.parts)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_every_sample_event_parses_with_the_model_of_its_detail_type(path: Path) -> None:
    raw = json.loads(path.read_text())
    model = EVENT_MODELS[raw["detail-type"]]

    event = parse_event(raw, model)

    assert event.id == raw["id"]
    assert event.primary_arn.startswith("arn:aws:")
    assert event.status


def test_all_detail_types_of_local_facts_are_modelled() -> None:
    expected = {
        "SageMaker Training Job State Change",
        "SageMaker Ground Truth Labeling Job State Change",
        "SageMaker Model Package State Change",
        "SageMaker Processing Job State Change",
        "SageMaker Endpoint State Change",
        "SageMaker Endpoint Deployment State Change",
        "SageMaker Model Building Pipeline Execution Status Change",
        "SageMaker Model Building Pipeline Execution Step Status Change",
        "SageMaker HyperParameter Tuning Job State Change",
        "SageMaker Transform Job State Change",
        "CloudWatch Alarm State Change",
    }
    assert set(EVENT_MODELS) == expected


@pytest.mark.parametrize(
    "stamp",
    [1795774502000, "1795774502000", "2026-11-27T10:15:02Z", "2026-11-27T10:15:02.000+00:00", 1795774502000.0],
    ids=["millis-number", "millis-string", "iso-z", "iso-offset", "millis-float"],
)
def test_the_three_timestamp_forms_mean_the_same_instant(load_event, stamp: object) -> None:
    raw = load_event("training-completed.json")
    raw["detail"]["LastModifiedTime"] = stamp

    event = parse_event(raw, TrainingJobEvent)

    assert event.changed_at == datetime(2026, 11, 27, 10, 15, 2, tzinfo=UTC)


def test_unknown_new_fields_are_kept_not_refused(load_event) -> None:
    raw = load_event("training-completed.json")
    raw["detail"]["SomeFieldAwsAddsNextYear"] = {"nested": [1, 2]}
    raw["brand-new-envelope-field"] = "x"

    event = parse_event(raw, TrainingJobEvent)

    assert event.detail.model_extra["SomeFieldAwsAddsNextYear"] == {"nested": [1, 2]}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw["detail"].pop("TrainingJobArn"), "detail.TrainingJobArn: Field required"),
        (lambda raw: raw["detail"].update(TrainingJobStatus="Exploded"), "detail.TrainingJobStatus"),
        (lambda raw: raw["detail"].update(LastModifiedTime=True), "detail.LastModifiedTime"),
        (lambda raw: raw["detail"].update(TrainingJobName="x" * 5000), "detail.TrainingJobName"),
        (lambda raw: raw.update(account="12345"), "account"),
        (lambda raw: raw.update(region="mars-1"), "region"),
    ],
    ids=["missing-arn", "unknown-status", "bool-timestamp", "huge-name", "bad-account", "bad-region"],
)
def test_malformed_events_are_refused_naming_the_field(load_event, mutate, message: str) -> None:
    raw = load_event("training-completed.json")
    mutate(raw)

    with pytest.raises(MalformedEvent) as refused:
        parse_event(raw, TrainingJobEvent)

    assert message in refused.value.reason


def test_an_event_of_another_detail_type_is_refused(load_event) -> None:
    raw = load_event("training-completed.json")
    raw["detail-type"] = "SageMaker Transform Job State Change"

    with pytest.raises(MalformedEvent, match="is not 'SageMaker Training Job State Change'"):
        parse_event(raw, TrainingJobEvent)


def test_a_non_object_event_is_refused() -> None:
    with pytest.raises(MalformedEvent, match="not a JSON object"):
        parse_event(["not", "an", "event"], TrainingJobEvent)
