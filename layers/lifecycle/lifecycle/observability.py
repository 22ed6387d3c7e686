"""Logger, Tracer and Metrics: made once here, imported everywhere."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "sagemaker-lifecycle"

logger = Logger(service=SERVICE)
# X-Ray records the AWS calls (botocore) and the handler: patching every library the X-Ray SDK supports (powertools'
# default) would also import and patch sqlite3 and whatever else is importable, for nothing this product calls.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
metrics = Metrics(namespace="SageMakerLifecycle", service=SERVICE)


def count(name: str, value: float = 1) -> None:
    """Add one count metric (flushed by `@metrics.log_metrics` at the end of the invocation)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
