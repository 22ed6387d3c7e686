"""Event models: every sample parses, all timestamp forms are accepted, new fields tolerated, bad input refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lifecycle.errors import MalformedEvent
from lifecycle.events import EVENT_MODELS, ModelPackageEvent, TrainingJobEvent, parse_event

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
        "SageMaker Transform Job State Change",
        "CloudWatch Alarm State Change",
        "SageMaker HyperParameter Tuning Job State Change",
        "SageMaker Model Building Pipeline Execution Status Change",
        "SageMaker Endpoint Deployment State Change",
        "SageMaker Monitoring Schedule State Change",
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


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("time", 10**20),
        ("time", 10**400),
        ("time", float("inf")),
        ("time", float("nan")),
        ("time", -1),
        ("time", "9999999999999999"),
        ("time", "9999-12-31T23:00:00-05:00"),
        ("time", "0001-01-01T00:00:00+05:00"),
        ("LastModifiedTime", 1e300),
        ("LastModifiedTime", "1e300"),
        ("TrainingEndTime", 2**63),
    ],
)
def test_timestamps_outside_what_a_datetime_holds_are_refused_as_malformed(load_event, where: str, value) -> None:
    # Given an event whose timestamp would overflow (OSError / OverflowError on today's platforms)
    raw = load_event("training-completed.json")
    (raw if where == "time" else raw["detail"])[where] = value

    # Then it is refused as malformed, naming the field, never raised as something the platform retries
    with pytest.raises(MalformedEvent) as refused:
        parse_event(raw, TrainingJobEvent)
    assert refused.value.reason.startswith(where if where == "time" else f"detail.{where}")


def test_the_bounds_of_timestamps_are_accepted() -> None:
    raw = json.loads((EVENTS / "training-completed.json").read_text())
    raw["time"] = 0
    raw["detail"]["LastModifiedTime"] = "9999-12-31T23:59:59.999+00:00"

    event = parse_event(raw, TrainingJobEvent)

    assert event.time == datetime(1970, 1, 1, tzinfo=UTC)
    assert event.changed_at.year == 9999


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e300])
def test_metric_values_outside_a_32_bit_float_are_refused(load_event, value: float) -> None:
    raw = load_event("training-completed.json")
    raw["detail"]["FinalMetricDataList"] = [{"MetricName": "validation:auc", "Value": value}]

    with pytest.raises(MalformedEvent, match=r"detail\.FinalMetricDataList\.0\.Value"):
        parse_event(raw, TrainingJobEvent)


def test_a_model_package_version_outside_a_32_bit_integer_is_refused(load_event) -> None:
    raw = load_event("model-package-approved.json")
    raw["detail"]["ModelPackageVersion"] = 2**31

    with pytest.raises(MalformedEvent, match=r"detail\.ModelPackageVersion"):
        parse_event(raw, ModelPackageEvent)


def test_a_model_package_name_is_group_slash_version_and_may_pass_63_characters(load_event) -> None:
    # Given a 63-character group: its package's name is `<group>/<version>`
    group = "g" * 63
    raw = load_event("model-package-approved.json")
    raw["detail"].update(ModelPackageGroupName=group, ModelPackageName=f"{group}/7", ModelPackageVersion=7)

    event = parse_event(raw, ModelPackageEvent)

    assert event.detail.ModelPackageName == f"{group}/7"


@pytest.mark.parametrize("name", ["churn/", "churn/x", "-churn/1", "g" * 64 + "/1", "churn/1/2"])
def test_a_model_package_name_of_another_shape_is_refused(load_event, name: str) -> None:
    raw = load_event("model-package-approved.json")
    raw["detail"]["ModelPackageName"] = name

    with pytest.raises(MalformedEvent, match=r"detail\.ModelPackageName"):
        parse_event(raw, ModelPackageEvent)
