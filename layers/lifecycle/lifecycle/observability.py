"""Logger, Metrics and tracing: made once here, imported everywhere."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lifecycle.config import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "sagemaker-lifecycle"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="SageMakerLifecycle", service=SERVICE)

Handler = Callable[[Any, Any], Any]


def traced(handler: Handler) -> Handler:
    """The handler, traced by powertools' Tracer when the stack's `TraceAwsCalls` is true (decided on the first
    invocation, from the settings).

    Every function runs with `Tracing: Active` (template.yaml): Lambda records each invocation's segment (init,
    invocation, overhead) in X-Ray with no SDK in the function. A subsegment per AWS call (and the handler's response
    and errors) needs the X-Ray SDK, whose import and botocore patch cost about 20 ms of CPU on every cold start
    (benchmarks/README.md), so it is loaded only when asked for. Only botocore is patched: powertools' default patches
    every library the SDK supports (sqlite3 and a dozen more), for nothing this product calls.
    """
    chosen: list[Handler] = []

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        if not chosen:
            settings = get_settings()
            chosen.append(aws_call_tracer().capture_lambda_handler(handler) if settings.trace_aws_calls else handler)
        return chosen[0](event, context)

    return invoke


def aws_call_tracer() -> Tracer:
    """powertools' Tracer with botocore patched: imports the X-Ray SDK (what `TraceAwsCalls: true` costs)."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=("botocore",))


def count(name: str, value: float = 1) -> None:
    """Add one count metric (flushed by `@metrics.log_metrics` at the end of the invocation)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
