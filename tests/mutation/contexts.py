"""pytest plugin of the mutation runner's coverage pass: which test runs which line of the mutated modules.

Loaded with `-p tests.mutation.contexts` (in every xdist worker too) when `MUTATION_COVERAGE_DIR` is set. It starts
coverage.py at import, before any conftest imports the layer, measuring only the files in `MUTATION_TARGETS`
(os.pathsep-separated absolute paths); each test runs in its own coverage context (its node id, coverage.py's
`Coverage.switch_context`), so `CoverageData.contexts_by_lineno` answers which tests ran a line. Each process writes
its data file and `durations-<pid>.json` (seconds per test, setup and teardown included, and the failed tests) into
that directory.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import coverage
import pytest

_DIRECTORY = os.environ.get("MUTATION_COVERAGE_DIR", "")
_COVERAGE: coverage.Coverage | None = None
if _DIRECTORY:
    _COVERAGE = coverage.Coverage(
        data_file=str(Path(_DIRECTORY) / ".coverage"),
        data_suffix=True,
        include=[path for path in os.environ.get("MUTATION_TARGETS", "").split(os.pathsep) if path],
        config_file=False,
    )
    _COVERAGE.start()

_durations: dict[str, float] = defaultdict(float)
_failed: set[str] = set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    if _COVERAGE is not None:
        _COVERAGE.switch_context(item.nodeid)
    yield
    if _COVERAGE is not None:
        _COVERAGE.switch_context("")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _durations[report.nodeid] += report.duration
    if report.failed:
        _failed.add(report.nodeid)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _COVERAGE is None:
        return
    _COVERAGE.stop()
    _COVERAGE.save()
    if _durations:
        record = {"durations": _durations, "failed": sorted(_failed)}
        (Path(_DIRECTORY) / f"durations-{os.getpid()}.json").write_text(json.dumps(record))
