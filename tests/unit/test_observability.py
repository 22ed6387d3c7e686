"""Tracing AWS calls is the stack's choice (TraceAwsCalls): the X-Ray SDK is loaded only when it is asked for."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from lifecycle import observability


class FakeTracer:
    def __init__(self) -> None:
        self.wrapped: list[Any] = []

    def capture_lambda_handler(self, handler: Any) -> Any:
        self.wrapped.append(handler)
        return lambda event, context: {"traced": handler(event, context)}


@pytest.fixture
def tracers(monkeypatch: pytest.MonkeyPatch) -> list[FakeTracer]:
    made: list[FakeTracer] = []

    def make() -> FakeTracer:
        made.append(FakeTracer())
        return made[-1]

    monkeypatch.setattr(observability, "aws_call_tracer", make)
    return made


def settings(monkeypatch: pytest.MonkeyPatch, *, trace: bool) -> None:
    monkeypatch.setattr(observability, "get_settings", lambda: SimpleNamespace(trace_aws_calls=trace))


def handler(event: dict[str, int], context: object) -> int:
    return event["n"] * 2


def test_without_trace_aws_calls_the_handler_runs_as_it_is_and_no_tracer_is_made(
    monkeypatch: pytest.MonkeyPatch, tracers: list[FakeTracer]
) -> None:
    settings(monkeypatch, trace=False)
    run = observability.traced(handler)

    assert [run({"n": 1}, None), run({"n": 2}, None)] == [2, 4]
    assert tracers == []
    assert run.__name__ == "handler"


def test_with_trace_aws_calls_one_tracer_wraps_the_handler_on_its_first_invocation(
    monkeypatch: pytest.MonkeyPatch, tracers: list[FakeTracer]
) -> None:
    settings(monkeypatch, trace=True)
    run = observability.traced(handler)
    assert tracers == []  # nothing at import: the decision waits for the first invocation

    assert [run({"n": 1}, None), run({"n": 3}, None)] == [{"traced": 2}, {"traced": 6}]
    assert len(tracers) == 1 and tracers[0].wrapped == [handler]


def test_the_setting_is_read_from_the_stack_s_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from lifecycle.config import Settings

    base = {
        "AWS_REGION": "us-east-1",
        "LIFECYCLE_STACK_NAME": "s",
        "LIFECYCLE_TABLE_NAME": "t",
        "LIFECYCLE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
        "LIFECYCLE_AUTOMATION_ACCOUNT_ID": "123456789012",
        "LIFECYCLE_ALLOWED_ACCOUNTS": "123456789012",
        "LIFECYCLE_EXECUTION_ROLE_NAME": "r",
    }
    assert Settings.model_validate(base).trace_aws_calls is False
    assert Settings.model_validate(base | {"LIFECYCLE_TRACE_AWS_CALLS": "true"}).trace_aws_calls is True
    with pytest.raises(ValueError, match="LIFECYCLE_TRACE_AWS_CALLS"):
        Settings.model_validate(base | {"LIFECYCLE_TRACE_AWS_CALLS": "sometimes"})
