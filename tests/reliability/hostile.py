"""Hostile and malformed EventBridge events, generated with hypothesis from the samples in events/ and the models.

Every generated event must be refused before anything is read or written: each strategy breaks one thing a
trusted, well-formed event needs (a required field, its type or size, the source, the allow-listed account, the
account of the resources it names, a known detail-type).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from lifecycle.events import EVENT_MODELS

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES: list[dict[str, Any]] = [json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))]
ENVELOPE_REQUIRED = ("id", "detail-type", "source", "account", "time", "region", "detail")
# The ARNs the reactions act on: trust requires them to be in the event's account.
ACTED_ON_ARNS = ("TrainingJobArn", "ModelPackageArn", "ProcessingJobArn", "MonitoringScheduleArn")
WRONG_TYPES: list[Any] = [None, [], {}, [1, 2], {"unexpected": 1}]
_ARN_ACCOUNT = re.compile(r"^(arn:aws:(?:sagemaker|cloudwatch):[a-z0-9-]+:)(\d{12})(:.*)$")

Hostile = tuple[str, Any]  # (category, event)


def required_paths(event: dict[str, Any]) -> list[tuple[str, ...]]:
    """Paths of the fields the event's model requires (envelope and detail) that the sample holds."""
    paths = [(key,) for key in ENVELOPE_REQUIRED if key in event]
    model = EVENT_MODELS.get(str(event.get("detail-type")))
    if model is not None and isinstance(event.get("detail"), dict):
        detail_model = model.model_fields["detail"].annotation
        fields = detail_model.model_fields  # type: ignore[union-attr]
        paths += [("detail", name) for name, info in fields.items() if info.is_required() and name in event["detail"]]
    return paths


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(event)
    holder = broken
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return broken


def _drop(event: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    broken = copy.deepcopy(event)
    holder = broken
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    return broken


samples = st.sampled_from(SAMPLES)


@st.composite
def missing_field(draw: st.DrawFn) -> Hostile:
    event = draw(samples)
    return "missing field", _drop(event, draw(st.sampled_from(required_paths(event))))


@st.composite
def wrong_type(draw: st.DrawFn) -> Hostile:
    event = draw(samples)
    return "wrong type", _set(event, draw(st.sampled_from(required_paths(event))), draw(st.sampled_from(WRONG_TYPES)))


@st.composite
def huge_string(draw: st.DrawFn) -> Hostile:
    event = draw(samples)
    paths = [path for path in required_paths(event) if isinstance(_get(event, path), str)]
    size = draw(st.integers(min_value=300, max_value=300_000))
    filler = draw(st.sampled_from(["A", "é", "0", "-", "\u202e"]))
    return "huge string", _set(event, draw(st.sampled_from(paths)), filler * size)


@st.composite
def wrong_source(draw: st.DrawFn) -> Hostile:
    event = draw(samples)
    expected = EVENT_MODELS[event["detail-type"]].SOURCE
    source = draw(
        st.one_of(
            st.sampled_from(["aws.cloudwatch", "aws.sagemaker", "custom.sagemaker", "aws.events", ""]),
            st.text(max_size=40),
        ).filter(lambda value: value != expected)
    )
    return "wrong source", {**event, "source": source}


@st.composite
def unlisted_account(draw: st.DrawFn, allowed: frozenset[str]) -> Hostile:
    event = draw(samples)
    account = draw(
        st.one_of(st.from_regex(r"\A\d{12}\Z"), st.text(max_size=20), st.integers()).filter(
            lambda value: value not in allowed
        )
    )
    return "account not on the allow-list", {**event, "account": account}


def _arn_paths(event: dict[str, Any]) -> list[tuple[str | int, ...]]:
    paths: list[tuple[str | int, ...]] = [("resources", index) for index in range(len(event.get("resources", [])))]
    paths += [("detail", key) for key in ACTED_ON_ARNS if isinstance(event["detail"].get(key), str)]
    return [path for path in paths if _ARN_ACCOUNT.match(str(_get(event, path)))]


def _get(event: dict[str, Any], path: tuple[Any, ...]) -> Any:
    value: Any = event
    for key in path:
        value = value[key]
    return value


@st.composite
def foreign_resource(draw: st.DrawFn, allowed: frozenset[str]) -> Hostile:
    event = draw(samples.filter(lambda sample: bool(_arn_paths(sample)) and sample["account"] in allowed))
    path = draw(st.sampled_from(_arn_paths(event)))
    other = draw(st.sampled_from(sorted(allowed - {event["account"]})))
    match = _ARN_ACCOUNT.match(str(_get(event, path)))
    assert match is not None
    return "resource in another account", _set(event, path, f"{match[1]}{other}{match[3]}")  # type: ignore[arg-type]


@st.composite
def unknown_detail_type(draw: st.DrawFn) -> Hostile:
    event = draw(samples)
    detail_type = draw(
        st.one_of(
            st.sampled_from(
                ["SageMaker Training Job State Changed", "SageMaker Image State Change", "AWS API Call via CloudTrail"]
            ),
            st.text(max_size=60),
        ).filter(lambda value: value not in EVENT_MODELS)
    )
    return "unknown detail-type", {**event, "detail-type": detail_type}


def hostile_events(allowed: frozenset[str]) -> st.SearchStrategy[Hostile]:
    return st.one_of(
        missing_field(),
        wrong_type(),
        huge_string(),
        wrong_source(),
        unlisted_account(allowed),
        foreign_resource(allowed),
        unknown_detail_type(),
    )


def generate(count: int, allowed: frozenset[str], *, rng_seed: int) -> list[Hostile]:
    """`count` hostile events, reproducible for a given seed."""
    found: list[Hostile] = []
    if count == 0:
        return found

    @seed(rng_seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_events(allowed))
    def collect(example: Hostile) -> None:
        if len(found) < count:
            found.append(example)

    attempt = 0
    while len(found) < count:
        collect()
        attempt += 1
        if attempt > 20:
            raise RuntimeError(f"hypothesis produced only {len(found)} of {count} hostile events")
    return found
