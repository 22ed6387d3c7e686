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


def build_deferred_models() -> None:
    """Build every model of the layer that waits for its first use (`defer_build`), once, on this thread.

    A Lambda container runs one invocation at a time, so a model's first use builds it safely there. The sandbox runs
    many invocations at once on threads of one process, and pydantic's deferred build is not thread-safe (a second
    thread may validate with a half-built model: pydantic/pydantic#13419, #11849), so it builds them all first.
    """
    import pkgutil

    import lifecycle
    from pydantic import BaseModel

    for info in pkgutil.walk_packages(lifecycle.__path__, "lifecycle."):
        module = importlib.import_module(info.name)
        for value in list(vars(module).values()):
            ours = isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == info.name
            if ours and not value.__pydantic_complete__:
                value.model_rebuild()


def handler(folder: str, attribute: str = "lambda_handler") -> Callable[[Any, Any], Any]:
    """The handler of `functions/<folder>/app.py`, its module imported once (a warm container) as `lambda_<folder>`;
    the first one loaded builds the layer's deferred models (`build_deferred_models`)."""
    with _lock:
        if not _modules:
            build_deferred_models()
        module = _modules.get(folder)
        if module is None:
            spec = importlib.util.spec_from_file_location(f"lambda_{folder}", FUNCTIONS / folder / "app.py")
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load functions/{folder}/app.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _modules[folder] = module
    return getattr(module, attribute)  # type: ignore[no-any-return]


class _ThreadStdout(io.TextIOBase):
    """sys.stdout that writes to the log stream of the invocation running on the current thread, else where stdout
    went before. Step Functions tasks run on the engine's threads while the caller keeps printing (a CLI following
    the execution): a process-wide redirect would swallow the caller's lines."""

    def __init__(self) -> None:
        super().__init__()
        self.fallback: Any = sys.stdout
        self._local = threading.local()

    @property
    def sink(self) -> io.StringIO | None:
        return getattr(self._local, "sink", None)

    @sink.setter
    def sink(self, value: io.StringIO | None) -> None:
        self._local.sink = value

    def write(self, text: str) -> int:
        return (self.sink or self.fallback).write(text)

    def flush(self) -> None:
        (self.sink or self.fallback).flush()


_STDOUT = _ThreadStdout()
_running = threading.local()


def process_stdout() -> Any:
    """Where the process's own output goes: stdout, not the log stream of an invocation running on this thread."""
    return _STDOUT.fallback if sys.stdout is _STDOUT else sys.stdout


def current_function() -> str:
    """The name of the function whose invocation runs on this thread ('' outside one)."""
    return str(getattr(_running, "function", ""))


def _routed_stdout() -> _ThreadStdout:
    """Put the per-thread stdout in place (again, when a test harness swapped sys.stdout since) and point the loggers
    that write to stdout at it, once and for all."""
    if sys.stdout is not _STDOUT:
        _STDOUT.fallback = sys.stdout
        sys.stdout = _STDOUT
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for log_handler in getattr(logger, "handlers", []):
            if isinstance(log_handler, logging.StreamHandler) and log_handler.stream in (
                _STDOUT.fallback,
                sys.__stdout__,
            ):
                log_handler.setStream(_STDOUT)
    return _STDOUT


@contextlib.contextmanager
def invocation(env: dict[str, str], sink: io.StringIO) -> Iterator[None]:
    """One invocation: the function's environment set (one invocation at a time: the environment is the process's),
    its stdout and logs written to `sink` (its log stream, as CloudWatch Logs would hold it), and its configuration
    read afresh."""
    from lifecycle.config import get_settings

    from sandbox.cloud import reset_product_caches

    with _lock:
        routed = _routed_stdout()
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        reset_product_caches()  # the settings are read from this function's environment
        routed.sink = sink
        _running.function = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        try:
            yield
        finally:
            _running.function = ""
            routed.sink = None
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            get_settings.cache_clear()  # the caller reads its own environment again, not the function's
