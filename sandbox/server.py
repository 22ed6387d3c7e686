"""`python -m sandbox serve`: the sandbox as a moto server on 127.0.0.1, for another process (the operator CLI).

The server runs in this process (`ThreadedMotoServer`), so the router delivers what the world emits exactly as in
`replay` and `demo`: point a client at it with `AWS_ENDPOINT_URL=http://127.0.0.1:PORT` and any AWS credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sandbox.cloud import Sandbox
from sandbox.replay import read_policy, sample_policies
from sandbox.router import Router
from sandbox.timeline import Timeline

POLL_SECONDS = 0.2


def serve(port: int | None, echo: Callable[[str], None], *, stop_after: float | None = None) -> int:
    """Deploy into a local moto server and deliver emitted events until interrupted (or `stop_after` seconds)."""
    with Sandbox(timeline=Timeline(echo=echo), server=True, port=port) as sandbox:
        for path in sample_policies():
            sandbox.publish_policy(read_policy(path))
        echo(
            f"\nsandbox listening: export AWS_ENDPOINT_URL={sandbox.endpoint_url} AWS_ACCESS_KEY_ID=testing "
            "AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1   (Ctrl-C stops it)"
        )
        router = Router(sandbox)
        deadline = None if stop_after is None else time.monotonic() + stop_after
        try:
            while deadline is None or time.monotonic() < deadline:
                router.settle()
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            echo("stopping")
    return 0
