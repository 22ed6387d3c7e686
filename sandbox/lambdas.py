"""In-process Lambda: moto's Lambda (without Docker) runs the real handlers of `functions/<folder>/app.py`.

moto's `LambdaSimpleBackend.invoke` echoes the payload. `install()` replaces it with a dispatcher that runs the
registered function's handler (sandbox.runtime: its code, environment and log stream). A raised exception becomes a
function error whose `errorType` is the exception's class name, exactly what the Lambda runtime reports and what ASL
`Retry`/`Catch` match.

An asynchronous invocation (`InvocationType=Event`) is only accepted here (202), as Lambda queues it: the router runs
it (`drain_async`) with the function's retries and on-failure destination, as for a rule's target.
"""

from __future__ import annotations

import io
import json
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from sandbox import runtime


@dataclass(frozen=True)
class Registered:
    folder: str
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 60


_registry: dict[str, Registered] = {}
_accepted: list[tuple[str, dict[str, Any]]] = []  # asynchronous invocations not run yet: (function name, payload)
_accepted_lock = threading.Lock()


def register(function_name: str, folder: str, env: dict[str, str] | None = None) -> None:
    """Invoking `function_name` (name or ARN) runs `functions/<folder>/app.py` with `env` set."""
    if not (runtime.FUNCTIONS / folder / "app.py").is_file():
        raise FileNotFoundError(f"functions/{folder}/app.py does not exist")
    _registry[function_name.rsplit(":", 1)[-1]] = Registered(folder, dict(env or {}))


def clear() -> None:
    """Forget the registered functions and the accepted asynchronous invocations (between tests)."""
    _registry.clear()
    drain_async()


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
    if headers.get("X-Amz-Invocation-Type") == "Event":
        with _accepted_lock:
            _accepted.append((name, payload))
        return b""
    arn = f"arn:aws:lambda:{self.region_name}:{self.account_id}:function:{name}"
    handler = runtime.handler(found.folder)
    with runtime.invocation(found.env, io.StringIO()):
        try:
            result = handler(payload, runtime.LambdaContext(name, arn, found.timeout_seconds))
        except Exception as exc:  # the Lambda runtime turns any exception into a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            error = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return json.dumps(error).encode()
    return json.dumps(result, default=str).encode()


def drain_async() -> list[tuple[str, dict[str, Any]]]:
    """Take every asynchronous invocation Lambda accepted and has not run yet, oldest first."""
    with _accepted_lock:
        accepted = list(_accepted)
        _accepted.clear()
    return accepted


def install() -> None:
    """Route moto's Lambda invocations (use_docker False) to the registered in-process handlers (idempotent)."""
    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
