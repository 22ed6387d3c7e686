"""`python -m sandbox serve`: the sandbox as a moto server on 127.0.0.1, for another process (the operator CLI).

The server runs in this process (`ThreadedMotoServer`), so the router delivers what the world emits exactly as in
`replay` and `demo`: point a client at it with `AWS_ENDPOINT_URL=http://127.0.0.1:PORT` and any AWS credentials.
The `export` line comes first (the port is chosen before anything starts); the web server's access log is off unless
`verbose`. Executions started from outside (`lifecycle deploy`) and moved on from outside (`lifecycle approve`) show
in the timeline as the product's own do. With `scenario`, the demo's scenario is played first: the `churn` group then
has approved versions, endpoints in staging and prod, an audit trail and a cool-down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sandbox.cloud import REGION, Sandbox, free_port
from sandbox.replay import read_policy, sample_policies
from sandbox.router import Router
from sandbox.scenario import World, run_scenario
from sandbox.timeline import Timeline

POLL_SECONDS = 0.5
_ACCESS_LOG = logging.getLogger("werkzeug")


def serve(
    port: int | None,
    echo: Callable[[str], None],
    *,
    scenario: bool = False,
    verbose: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Deploy into a local moto server and deliver emitted events until interrupted (or `stop` is set)."""
    port = port or free_port()
    echo(
        f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={REGION}"
    )
    echo("# run that in another terminal, then `lifecycle ... --sandbox`; Ctrl-C here stops the sandbox")
    level = _ACCESS_LOG.level
    _ACCESS_LOG.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        with Sandbox(timeline=Timeline(echo=echo, verbose=verbose), server=True, port=port) as sandbox:
            if scenario:
                router = run_scenario(sandbox, echo)
                World(sandbox, router).alarm_clears("churn-prod-5xx")  # so that prod may be deployed again
                echo("\nseeded: group churn, v2 and v3 Approved, staging serves v3, prod serves v2")
            else:
                for path in sample_policies():
                    sandbox.publish_policy(read_policy(path))
                router = Router(sandbox)
            echo(f"ready on http://127.0.0.1:{port}: try `lifecycle status churn --sandbox`")
            _deliver(sandbox, router, stop or threading.Event())
    finally:
        _ACCESS_LOG.setLevel(level)
    return 0


def _deliver(sandbox: Sandbox, router: Router, stop: threading.Event) -> None:
    """Deliver what the world emits and follow every execution, whoever started it, until interrupted."""
    with sandbox.recorder.recording():  # every call of the product's functions, whoever set them going
        try:
            while not stop.wait(POLL_SECONDS):
                router.settle()
                router.poll_executions()
        except KeyboardInterrupt:
            sandbox.timeline.add("note", "", "stopping")
