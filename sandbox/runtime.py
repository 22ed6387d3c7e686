"""What the Lambda runtime gives a handler in the sandbox: its code, its context, its environment and log stream.

Both ways a function runs here use it: rule targets (sandbox.router) and Step Functions tasks (sandbox.lambdas).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"
_modules: dict[str, ModuleType] = {}
_lock = threading.RLock()


class LambdaContext:
    """The context object the Lambda runtime passes to a handler."""

    def __init__(self, function_name: str, function_arn: str, timeout_seconds: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"sandbox/{self.aws_request_id}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def handler(folder: str, attribute: str = "lambda_handler") -> Callable[[Any, Any], Any]:
    """The handler of `functions/<folder>/app.py`, its module imported once (a warm container) as `lambda_<folder>`."""
    with _lock:
        module = _modules.get(folder)
        if module is None:
            spec = importlib.util.spec_from_file_location(f"lambda_{folder}", FUNCTIONS / folder / "app.py")
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load functions/{folder}/app.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _modules[folder] = module
    return getattr(module, attribute)  # type: ignore[no-any-return]


@contextlib.contextmanager
def invocation(env: dict[str, str], sink: io.StringIO) -> Iterator[None]:
    """One invocation: the function's environment set, its stdout, logs and warnings written to `sink` (its log
    stream, as CloudWatch Logs would hold it), and what a fresh configuration read would see."""
    from sandbox.cloud import reset_product_caches

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    stdout_handlers = [
        log_handler
        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        if isinstance(logger, logging.Logger)
        for log_handler in logger.handlers
        if isinstance(log_handler, logging.StreamHandler) and log_handler.stream in (sys.stdout, sys.__stdout__)
    ]
    streams = [log_handler.setStream(sink) for log_handler in stdout_handlers]
    reset_product_caches()  # the settings are read from this function's environment
    try:
        with contextlib.redirect_stdout(sink), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for warning in caught:
            sink.write(f"WARNING {warning.category.__name__}: {warning.message}\n")
    finally:
        for log_handler, stream in zip(stdout_handlers, streams, strict=True):
            log_handler.setStream(stream)  # type: ignore[arg-type]
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
