"""In-process Lambda: moto's Lambda (without Docker) runs the real handlers of `functions/<folder>/app.py`.

moto's `LambdaSimpleBackend.invoke` echoes the payload. `install()` replaces it with a dispatcher that imports the
registered function's `app.py` (once, under a module name unique to its folder), sets the function's environment
for the call, and calls `lambda_handler`. A raised exception becomes a function error whose `errorType` is the
exception's class name, exactly what the Lambda runtime reports and what ASL `Retry`/`Catch` match.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"
_lock = threading.RLock()


@dataclass(frozen=True)
class Registered:
    folder: str
    env: dict[str, str] = field(default_factory=dict)


_registry: dict[str, Registered] = {}
_modules: dict[str, ModuleType] = {}


@dataclass(frozen=True)
class Context:
    """The Lambda context object a handler receives."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    memory_limit_in_mb: int = 512

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def register(function_name: str, folder: str, env: dict[str, str] | None = None) -> None:
    """Invoking `function_name` (name or ARN) runs `functions/<folder>/app.py` with `env` set."""
    if not (FUNCTIONS / folder / "app.py").is_file():
        raise FileNotFoundError(f"functions/{folder}/app.py does not exist")
    _registry[function_name.rsplit(":", 1)[-1]] = Registered(folder, dict(env or {}))


def clear() -> None:
    """Forget the registered functions (between tests)."""
    _registry.clear()


def handler_module(folder: str) -> ModuleType:
    """`functions/<folder>/app.py`, imported once under the module name `lambda_<folder>`."""
    with _lock:
        module = _modules.get(folder)
        if module is None:
            spec = importlib.util.spec_from_file_location(f"lambda_{folder}", FUNCTIONS / folder / "app.py")
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load functions/{folder}/app.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _modules[folder] = module
        return module


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _invoke(  # noqa: PLR0917  (moto's signature)
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: dict[str, str],
) -> bytes:
    name = function_name.rsplit(":", 1)[-1]
    found = _registry.get(name)
    if found is None:
        raise KeyError(f"no in-process handler registered for Lambda function {name!r} (sandbox.lambdas.register)")
    payload = json.loads(body or "{}")
    arn = f"arn:aws:lambda:{self.region_name}:{self.account_id}:function:{name}"
    context = Context(name, arn, f"{name}-{threading.get_ident()}")
    with _lock, _environment(found.env):
        from lifecycle.config import get_settings  # a Lambda reads its configuration at cold start

        get_settings.cache_clear()
        try:
            result = handler_module(found.folder).lambda_handler(payload, context)
        except Exception as exc:  # the Lambda runtime turns any exception into a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            error = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return json.dumps(error).encode()
        finally:
            get_settings.cache_clear()
    return json.dumps(result, default=str).encode()


def install() -> None:
    """Route moto's Lambda invocations (use_docker False) to the registered in-process handlers (idempotent)."""
    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
