"""Time spent inside AWS calls: every botocore API call, from the client method to its parsed response.

`BaseClient._make_api_call` is where every client method lands (serialize, sign, send to moto, parse). The meter wraps
it for the duration of a `with` block and counts the outermost calls of the measuring thread, so time inside AWS is
what the SDK and the service take, and `total - inside` is the product's own work. Both clocks are kept: wall time,
and the measuring thread's CPU time, which neither other threads of the process (moto's Step Functions engine) nor
other processes on a loaded machine inflate.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient


class AwsMeter:
    """Counts the AWS calls made on this thread and the seconds spent inside them."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.operations: list[str] = []
        self._thread = threading.get_ident()
        self._depth = 0

    def reset(self) -> None:
        self.calls, self.seconds, self.cpu_seconds, self.operations = 0, 0.0, 0.0, []

    @staticmethod
    @contextmanager
    def frozen_heap() -> Iterator[None]:
        """The objects alive now (moto's whole state, the sandbox) out of the garbage collector's reach: a Lambda
        container's heap is the function's alone, so a collection scanning the sandbox's is not the product's cost."""
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()

    @contextmanager
    def installed(self) -> Iterator[AwsMeter]:
        original = BaseClient._make_api_call
        meter = self

        def metered(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            if threading.get_ident() != meter._thread or meter._depth:
                return original(client, operation_name, api_params)
            meter._depth += 1
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(client, operation_name, api_params)
            finally:
                meter.seconds += time.perf_counter() - started
                meter.cpu_seconds += time.thread_time() - cpu
                meter.calls += 1
                meter.operations.append(f"{client.meta.service_model.service_name}:{operation_name}")
                meter._depth -= 1

        BaseClient._make_api_call = metered  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]
