"""Run in a fresh interpreter by `benchmarks.cold`: time one cold init and print it as JSON.

`python cold_probe.py floor` imports boto3 and creates one SageMaker client (the floor every Python Lambda that
talks to SageMaker pays). `python cold_probe.py <function folder>` does what a container of that function does before
and on its first event: import `app` (the handler module and everything it imports at module level), read the
settings and create the same SageMaker client through the product's one client helper. The difference between the
two is what the product adds to a cold start.
"""

from __future__ import annotations

import json
import sys
import time

HEAVY = ("sagemaker", "pandas", "numpy")


def _floor() -> None:
    import boto3

    boto3.client("sagemaker", region_name="us-east-1")


def _handler() -> None:
    import importlib

    importlib.import_module("app")
    from lifecycle.accounts import client_for
    from lifecycle.config import get_settings

    settings = get_settings()
    client_for("sagemaker", settings.automation_account_id, settings.region, settings, reaction="cold", event_id="-")
    if settings.trace_aws_calls:  # what the first invocation adds when the stack traces AWS calls (TraceAwsCalls)
        from lifecycle.observability import aws_call_tracer

        aws_call_tracer()


def _layer() -> None:
    import importlib
    import pkgutil

    import lifecycle

    for module in pkgutil.walk_packages(lifecycle.__path__, "lifecycle."):
        importlib.import_module(module.name)


def main() -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    {"floor": _floor, "layer": _layer}.get(sys.argv[1], _handler)()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    heavy = sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)
    print(json.dumps({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "heavy": heavy}))


if __name__ == "__main__":
    main()
