"""Fixtures of the CLI tests: the sandbox served on 127.0.0.1 (the real template deployed in moto), and a runner.

The CLI runs in-process (`cli.main.main`) but talks to the sandbox over HTTP, as `lifecycle --sandbox` does from
another terminal: the sandbox's URL comes from LIFECYCLE_SANDBOX_URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from cli.main import main
from sandbox.cloud import Sandbox

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "sandbox" / "policies" / "churn.yaml"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(server=True) as running:
        yield running


@pytest.fixture
def lifecycle(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run `lifecycle ARGS...` against the sandbox; wide output so tables do not wrap."""
    monkeypatch.setenv("LIFECYCLE_SANDBOX_URL", sandbox.endpoint_url)
    monkeypatch.setenv("COLUMNS", "220")

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Write policies/<name> (from the churn sample, changed by `edit`) under a temporary working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()

    def write(name: str, edit: Callable[[dict], None] | None = None, *, text: str | None = None) -> str:
        document = yaml.safe_load(CHURN.read_text())
        if edit is not None:
            edit(document)
        path = Path("policies") / name
        path.write_text(text if text is not None else yaml.safe_dump(document, sort_keys=False))
        return str(path)

    return write
