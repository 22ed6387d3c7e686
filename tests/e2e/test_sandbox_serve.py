"""`python -m sandbox serve --scenario`: the export line first, no web-server access log, a seeded `churn` group, and
an execution started by the CLI from outside shown in the served timeline with its outcome."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from moto.moto_api._internal.models import moto_api_backend

from cli.main import main
from sandbox.cloud import free_port
from sandbox.server import serve


def _wait(lines: list[str], found: Callable[[str], bool], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = next((line for line in list(lines) if found(line)), None)
        if match is not None:
            return match
        time.sleep(0.2)
    raise AssertionError(f"not printed within {timeout} s:\n" + "\n".join(lines))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, list[str]]]:
    moto_api_backend.reset()  # a ThreadedMotoServer does not reset moto's process-wide backends
    port, lines, stop = free_port(), [], threading.Event()
    thread = threading.Thread(target=serve, args=(port, lines.append), kwargs={"scenario": True, "stop": stop})
    thread.start()
    try:
        _wait(lines, lambda line: line.startswith("ready on "), timeout=120)
        yield f"http://127.0.0.1:{port}", lines
    finally:
        stop.set()
        thread.join(timeout=60)


def test_the_export_line_comes_first_and_the_group_is_seeded(served: tuple[str, list[str]]) -> None:
    url, lines = served

    assert lines[0] == (
        f"export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        "AWS_DEFAULT_REGION=us-east-1"
    )
    assert "seeded: group churn, v2 and v3 Approved, staging serves v3, prod serves v2" in [
        line.strip() for line in lines
    ]


def test_an_execution_started_by_the_cli_shows_in_the_served_timeline(
    served: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, lines = served
    monkeypatch.setenv("LIFECYCLE_SANDBOX_URL", url)
    caplog.set_level(logging.DEBUG)

    # When a person deploys v2 to staging from the CLI (another process, in AWS terms)
    code = main(["deploy", "churn", "--version", "2", "--stage", "staging", "--sandbox"])

    # Then the served timeline follows that execution to its end
    assert code == 0, capsys.readouterr().err
    name = capsys.readouterr().out.split(":execution:")[1].split(":", 1)[1].strip()
    ended = _wait(lines, lambda line: f"/{name}: " in line and " step " in line, timeout=60)
    assert ended.endswith(f"/{name}: SUCCEEDED")
    # and the web server stayed quiet: no access log
    assert not [record for record in caplog.records if record.name == "werkzeug"]
