"""Mutation testing of the decision code: `make mutation` (`python -m tests.mutation.runner`).

Do the tests fail when a decision is wrong? Each mutant is one classic change to one line of a module listed in
`tests/mutation/mutation.toml` (see `tests/mutation/mutants.py` for the operators); it is killed when a test that
runs its line fails, and survives when they all pass. The score of a module is killed / (killed + survived);
mutants the configuration marks equivalent (no test can tell them apart: the code does the same) are not counted.

How it runs:
1. Coverage pass: the whole suite once under coverage.py with one context per test (`tests/mutation/contexts.py`),
   which also checks the suite is green. The map (which tests run which line, and how long each test takes) is kept
   in `.mutation/` and reused: as it is while nothing changes; when only test modules changed (`tests/**/test_*.py`
   added or edited), only those run again; any other change (the code, fixtures, support, fakes) runs the whole pass.
2. The mutants: all of them, or a random sample of `--sample N` drawn with `--seed` (the same seed and code, the same
   sample). Equivalent mutants are drawn like the others and then set aside, so marking one does not change the draw.
3. Each mutant (in a seeded random order: a run stopped early has judged a random part of the sample) runs in a
   process forked from this one (third-party modules already imported, the layer not): an import hook compiles the
   mutated syntax tree in place of the module's file, and pytest runs only the tests that run the mutant's line,
   fastest first, stopping at the first failure. A mutant at module or class level (a constant, a pydantic field's
   constraint) runs when the module is imported, so it runs every test that runs any line of its module. A mutant no
   test runs survives ("not run by any test"). A mutant past its time limit (three times its tests' time, plus
   30 s) is killed (an endless loop is noticed).
4. Load is not a kill: a test of the coverage pass that fails is run once more alone (at most a few), and a mutant
   killed by a test that gave up waiting (the Step Functions harness's TimeoutError) is confirmed by running that
   test on the original code; when it fails there too, the mutant is an error (listed, the run fails), never a kill.
5. `--again` (make mutation AGAIN=1) judges again only the mutants the last run left alive or could not judge
   (`.mutation/survivors.toml`, `.mutation/errors.toml`): the way to check that new tests kill them.

Why its own runner and not mutmut or cosmic-ray (both on PyPI): mutmut 3 mutates only inside functions (its docs:
"If you want to mutate code outside of functions, you can try using mutmut 2"), so the policy's pydantic constraints
(`Field(ge=1, le=50)`, `Literal[...]`), which are class-level, would never be mutated, and it reads its
configuration from pyproject.toml or setup.cfg; cosmic-ray runs one configured test command per mutant (no per-test
coverage) and writes each mutant into the file on disk. This runner and its operators are about 1,100 lines on
coverage.py and pytest.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from tests.mutation.mutants import Mutant, module_name, mutants_of, mutated_tree

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "mutation" / "mutation.toml"
STATE = ROOT / ".mutation"
PASSED, FAILED, INTERRUPTED, USAGE_ERROR = 0, 1, 2, 4  # pytest's exit codes that say something about the mutant
RETRIED_FAILURES = 5  # at most this many tests failing in the coverage pass are run once more (timing under load)
# What a test says when it gave up waiting (sandbox/stepfunctions.py): a kill with it is confirmed on the original code.
TIMING_FAILURES = ("TimeoutError", "still running after")


# --- configuration ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    path: str
    only: tuple[str, ...] = ()


@dataclass(frozen=True)
class Equivalent:
    file: str
    scope: str
    line: str
    mutation: str
    why: str
    occurrence: int = 1

    def matches(self, mutant: Mutant) -> bool:
        return (self.file, self.scope, self.line, self.mutation, self.occurrence) == (
            mutant.path,
            mutant.scope or "<module>",
            mutant.text,
            mutant.description,
            mutant.occurrence,
        )


@dataclass(frozen=True)
class Config:
    roots: tuple[str, ...]
    seed: int
    preload: tuple[str, ...]
    coverage_args: tuple[str, ...]
    targets: tuple[Target, ...]
    equivalents: tuple[Equivalent, ...]


def load_config(path: Path = CONFIG) -> Config:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    equivalents = []
    for entry in raw.get("equivalent", []):
        if not str(entry.get("why", "")).strip():
            raise SystemExit(f"{path}: an equivalent mutant needs its 'why': {entry}")
        equivalents.append(Equivalent(**entry))
    return Config(
        roots=tuple(raw["roots"]),
        seed=int(raw["seed"]),
        preload=tuple(raw.get("preload", [])),
        coverage_args=tuple(raw["coverage_args"]),
        targets=tuple(Target(entry["path"], tuple(entry.get("only", []))) for entry in raw["target"]),
        equivalents=tuple(equivalents),
    )


def all_mutants(config: Config, root: Path = ROOT) -> list[Mutant]:
    found: list[Mutant] = []
    for target in config.targets:
        source = (root / target.path).read_text(encoding="utf-8")
        found += mutants_of(target.path, source, module=module_name(target.path, config.roots), only=target.only)
    return found


def draw(mutants: Sequence[Mutant], *, sample: int | None, seed: int) -> list[Mutant]:
    """All mutants, or `sample` of them drawn at random with `seed`, in file and line order."""
    if sample is None or sample >= len(mutants):
        return list(mutants)
    return sorted(random.Random(seed).sample(list(mutants), sample), key=lambda m: (m.path, m.index))


# --- coverage map ----------------------------------------------------------------------------------------------------
@dataclass
class CoverageMap:
    """Which tests run each line of each target, and each test's time."""

    tests_by_line: dict[str, dict[int, list[str]]]
    durations: dict[str, float]

    def module_tests(self, path: str) -> set[str]:
        return {test for tests in self.tests_by_line.get(path, {}).values() for test in tests}

    def tests_on(self, path: str, lines: Iterable[int]) -> set[str]:
        by_line = self.tests_by_line.get(path, {})
        return {test for line in lines for test in by_line.get(line, [])}

    def without(self, modules: set[str]) -> CoverageMap:
        """The map without the tests of these test modules (paths relative to the repository)."""

        def kept(test: str) -> bool:
            return test.split("::", 1)[0] not in modules

        return CoverageMap(
            {
                path: {line: [t for t in tests if kept(t)] for line, tests in lines.items()}
                for path, lines in self.tests_by_line.items()
            },
            {test: seconds for test, seconds in self.durations.items() if kept(test)},
        )

    def plus(self, other: CoverageMap) -> CoverageMap:
        """This map and another's tests (of other test modules) together."""
        merged = {
            path: {line: list(tests) for line, tests in lines.items()} for path, lines in self.tests_by_line.items()
        }
        for path, lines in other.tests_by_line.items():
            for line, tests in lines.items():
                merged.setdefault(path, {}).setdefault(line, [])
                merged[path][line] = sorted(set(merged[path][line]) | set(tests))
        return CoverageMap(merged, {**self.durations, **other.durations})

    def to_json(self) -> dict[str, Any]:
        return {
            "tests_by_line": {
                path: {str(k): v for k, v in lines.items()} for path, lines in self.tests_by_line.items()
            },
            "durations": self.durations,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CoverageMap:
        return cls(
            tests_by_line={path: {int(k): v for k, v in lines.items()} for path, lines in raw["tests_by_line"].items()},
            durations=raw["durations"],
        )


_RUNNER, _PLUGIN = "tests/mutation/", "tests/mutation/contexts.py"


def _is_test_module(name: str) -> bool:
    return name.startswith("tests/") and Path(name).name.startswith("test_") and name.endswith(".py")


def fingerprints(config: Config, root: Path = ROOT) -> tuple[str, dict[str, str]]:
    """A digest of every file git would see (tracked or not ignored) but test modules and the runner's own, with the
    configuration's targets and arguments: what every test's coverage depends on (the code, fixtures, support,
    fakes); and the digest of each test module."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    digest = hashlib.sha256(repr((config.targets, config.coverage_args)).encode())
    modules: dict[str, str] = {}
    for name in sorted(name.decode() for name in listed if name):
        path = root / name
        if not path.is_file() or name.endswith(".md") or (name.startswith(_RUNNER) and name != _PLUGIN):
            continue  # the runner's own files change no test's coverage (its plugin does)
        if _is_test_module(name):
            modules[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest(), modules


def _collected(name: str, config: Config) -> bool:
    """Whether the coverage pass's arguments collect test module `name` (it is not under an `--ignore`)."""
    ignored = [
        arg.removeprefix("--ignore=").rstrip("/") + "/" for arg in config.coverage_args if arg.startswith("--ignore=")
    ]
    return not any(name.startswith(prefix) for prefix in ignored)


def coverage_map(config: Config, *, jobs: int, root: Path = ROOT, state: Path = STATE) -> CoverageMap:
    """The map of the current code, from `.mutation/coverage.json`: as it is when nothing changed; when only test
    modules changed (tests added or edited), with only those modules run again; else from a whole coverage pass."""
    base, modules = fingerprints(config, root)
    cached = state / "coverage.json"
    raw = json.loads(cached.read_text()) if cached.exists() else {}
    if raw.get("fingerprint") == base:
        before: dict[str, str] = raw.get("modules", {})
        changed = sorted(name for name, digest in modules.items() if before.get(name) != digest)
        stale = set(changed) | (set(before) - set(modules))
        found = CoverageMap.from_json(raw).without(stale)
        again = [name for name in changed if _collected(name, config)]
        if again:
            print(f"coverage map: {len(again)} test modules changed, running them again: {again}", flush=True)
            found = found.plus(_coverage_pass(config, jobs=jobs, root=root, state=state, args=again))
        else:
            print("coverage map: unchanged code and tests, reusing .mutation/coverage.json", flush=True)
    else:
        found = _coverage_pass(config, jobs=jobs, root=root, state=state, args=list(config.coverage_args))
    state.mkdir(exist_ok=True)
    cached.write_text(json.dumps({"fingerprint": base, "modules": modules, **found.to_json()}))
    return found


def _coverage_pass(config: Config, *, jobs: int, root: Path, state: Path, args: Sequence[str]) -> CoverageMap:
    """Run the tests `args` selects under coverage.py, one context per test; the suite must pass."""
    import coverage

    directory = state / "coverage"
    if directory.exists():
        for old in directory.iterdir():
            old.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    targets = {str(root / target.path): target.path for target in config.targets}
    env = {
        **os.environ,
        "MUTATION_COVERAGE_DIR": str(directory),
        "MUTATION_TARGETS": os.pathsep.join(targets),
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    command = [sys.executable, "-m", "pytest", "-p", "tests.mutation.contexts", "--numprocesses", str(jobs)]
    print(f"coverage pass: {' '.join(command[2:] + list(args))}", flush=True)
    started = time.monotonic()
    done = subprocess.run([*command, *args], cwd=root, env=env, check=False)
    durations, failed = _durations(directory)
    if failed and len(failed) <= RETRIED_FAILURES:
        # A test that waits on the Step Functions engine can time out on a loaded machine, more so under coverage's
        # tracing: the failed tests run once more, one at a time, and the suite counts as green if they pass then.
        print(f"coverage pass: {len(failed)} failed, run again alone: {sorted(failed)}", flush=True)
        retry = [sys.executable, "-m", "pytest", "-p", "tests.mutation.contexts", "-p", "no:xdist", *sorted(failed)]
        done = subprocess.run(retry, cwd=root, env=env, check=False)
        again, failed = _durations(directory)
        durations.update(again)
    if done.returncode != 0 or failed:
        raise SystemExit(f"the suite must pass before mutants are judged (exit {done.returncode}): {sorted(failed)}")
    data = coverage.CoverageData(basename=str(directory / ".coverage"))
    coverage.Coverage(data_file=str(directory / ".coverage"), config_file=False).combine([str(directory)])
    data.read()
    tests_by_line: dict[str, dict[int, list[str]]] = {}
    for measured in data.measured_files():
        path = targets.get(measured)
        if path is None:
            continue
        by_line = data.contexts_by_lineno(measured)
        tests_by_line[path] = {line: sorted(c for c in contexts if c) for line, contexts in by_line.items()}
    print(f"coverage pass: {len(durations)} tests in {time.monotonic() - started:.0f} s", flush=True)
    return CoverageMap(tests_by_line, durations)


def _durations(directory: Path) -> tuple[dict[str, float], set[str]]:
    """Each test's time and the failed tests, from the `durations-*.json` the processes wrote (read, then removed,
    so a second run's files are its own)."""
    durations: dict[str, float] = {}
    failed: set[str] = set()
    for record in directory.glob("durations-*.json"):
        raw = json.loads(record.read_text())
        for test, seconds in raw["durations"].items():
            durations[test] = max(durations.get(test, 0.0), seconds)
        failed |= set(raw["failed"])
        record.unlink()
    return durations, failed


# --- which tests judge a mutant --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    tests: tuple[str, ...]
    why: str  # "line", "module" (a line run at import), or "none"


def select_tests(mutant: Mutant, spans: dict[tuple[str, int], tuple[int, int]], found: CoverageMap) -> Selection:
    """The tests that run the mutant's line(s), fastest first; a line run at import: every test of its module."""
    if mutant.import_time:
        tests = found.module_tests(mutant.path)
        why = "module"
    else:
        tests = found.tests_on(mutant.path, range(mutant.line, mutant.end_line + 1))
        why = "line"
        if not tests:  # a line of a multi-line statement that reports no line event of its own: its statement's
            start, end = spans.get((mutant.path, mutant.index), (mutant.line, mutant.end_line))
            tests = found.tests_on(mutant.path, range(start, end + 1))
    ordered = sorted(tests, key=lambda test: (found.durations.get(test, 0.0), test))
    return Selection(tuple(ordered), why if ordered else "none")


def statement_spans(mutants: Iterable[Mutant], root: Path = ROOT) -> dict[tuple[str, int], tuple[int, int]]:
    """For each mutant, the lines of the simple statement (or compound statement's header) that holds it."""
    import ast

    spans: dict[tuple[str, int], tuple[int, int]] = {}
    by_path: dict[str, list[Mutant]] = defaultdict(list)
    for mutant in mutants:
        by_path[mutant.path].append(mutant)
    for path, group in by_path.items():
        headers: list[tuple[int, int]] = []
        for node in ast.walk(ast.parse((root / path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.stmt):
                body = getattr(node, "body", None)
                if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                    headers.append((node.lineno, max(node.lineno, body[0].lineno - 1)))
                else:
                    headers.append((node.lineno, node.end_lineno or node.lineno))
        for mutant in group:
            holding = [(s, e) for s, e in headers if s <= mutant.line <= e]
            spans[(path, mutant.index)] = min(holding, key=lambda span: span[1] - span[0], default=(0, -1))
    return spans


# --- running one mutant ----------------------------------------------------------------------------------------------
class MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `module` from the mutated code object instead of its file (same file name, same line numbers)."""

    def __init__(self, module: str, path: Path, code: CodeType) -> None:
        self.module, self.path, self.code, self.loaded = module, path, code, False

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if fullname != self.module:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        self.loaded = True
        exec(self.code, module.__dict__)


class FirstFailure:
    """pytest plugin: the first test that failed, and the last line of why."""

    def __init__(self) -> None:
        self.test = ""
        self.reason = ""

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed and not self.test:
            self.test = report.nodeid
            text = str(report.longreprtext).strip().splitlines()
            self.reason = text[-1][:200] if text else ""

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed and not self.test:
            self.test = f"collecting {report.nodeid}"
            text = str(report.longreprtext).strip().splitlines()
            self.reason = text[-1][:200] if text else ""


def run_in_child(mutant: Mutant | None, tests: Sequence[str], *, result: Path, log: Path, root: Path = ROOT) -> None:
    """In a forked process: import the mutated module in place of the file (none: the code as it is), run `tests`,
    write the outcome."""
    os.setpgid(0, 0)
    with open(log, "wb") as output:
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
    os.chdir(root)
    outcome: dict[str, Any] = {"code": None, "loaded": False, "test": "", "reason": ""}
    try:
        import pytest

        finder = None
        if mutant is not None:
            already = sorted(name for name in sys.modules if name == mutant.module.split(".")[0])
            if already:
                raise RuntimeError(f"{already} imported before the mutant: it would test the original code")
            path = root / mutant.path
            tree = mutated_tree(path.read_text(encoding="utf-8"), mutant.index)
            finder = MutantFinder(mutant.module, path, compile(tree, str(path), "exec", dont_inherit=True))
            sys.meta_path.insert(0, finder)
        failure = FirstFailure()
        code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *tests], plugins=[failure])
        loaded = finder is None or finder.loaded
        outcome.update(code=int(code), loaded=loaded, test=failure.test, reason=failure.reason)
    except BaseException as exc:
        outcome["reason"] = f"runner error: {type(exc).__name__}: {exc}"[:300]
    result.write_text(json.dumps(outcome))
    sys.stdout.flush()
    os._exit(0)


@dataclass
class Verdict:
    mutant: Mutant
    status: str  # killed | survived | equivalent | error
    detail: str = ""
    seconds: float = 0.0
    tests: int = 0
    test: str = ""  # the test that killed it

    @property
    def by_timing(self) -> bool:
        """Killed by a test that gave up waiting: maybe the mutant, maybe the machine's load."""
        return self.status == "killed" and bool(self.test) and any(word in self.detail for word in TIMING_FAILURES)


def verdict_of(
    mutant: Mutant, outcome: dict[str, Any] | None, *, timed_out: bool, seconds: float, tests: int
) -> Verdict:
    if timed_out:
        return Verdict(mutant, "killed", "time limit exceeded", seconds, tests)
    if outcome is None:
        return Verdict(mutant, "killed", "the test process died", seconds, tests)
    if outcome["code"] is None or not outcome["loaded"]:
        detail = outcome["reason"] or "the mutated module was never imported"
        return Verdict(mutant, "error", detail, seconds, tests)
    if outcome["code"] == PASSED:
        return Verdict(mutant, "survived", f"{tests} tests pass", seconds, tests)
    # USAGE_ERROR with the mutated module imported: a conftest could not import it (a constraint pydantic refuses).
    if outcome["code"] in (FAILED, INTERRUPTED) or (outcome["code"] == USAGE_ERROR and outcome["loaded"]):
        return Verdict(mutant, "killed", f"{outcome['test']}: {outcome['reason']}", seconds, tests, outcome["test"])
    return Verdict(mutant, "error", f"pytest exit code {outcome['code']}: {outcome['reason']}", seconds, tests)


@dataclass
class _Running:
    pid: int
    mutant: Mutant
    selection: Selection
    started: float
    deadline: float
    result: Path


@dataclass
class Pool:
    """Runs mutants in forked children, `jobs` at a time."""

    jobs: int
    workdir: Path
    running: dict[int, _Running] = field(default_factory=dict)

    def run(self, work: Sequence[tuple[Mutant, Selection]], found: CoverageMap) -> Iterator[Verdict]:
        queue = list(work)
        while queue or self.running:
            while queue and len(self.running) < self.jobs:
                mutant, selection = queue.pop(0)
                self._start(mutant, selection, found)
            yield from self._reap()
            time.sleep(0.05)

    def _start(self, mutant: Mutant, selection: Selection, found: CoverageMap) -> None:
        name = f"{mutant.module}-{mutant.index}"
        result, log = self.workdir / f"{name}.json", self.workdir / f"{name}.log"
        result.unlink(missing_ok=True)
        budget = 30 + 3 * sum(found.durations.get(test, 1.0) for test in selection.tests)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            run_in_child(mutant, selection.tests, result=result, log=log)
        now = time.monotonic()
        self.running[pid] = _Running(pid, mutant, selection, now, now + budget, result)

    def _reap(self) -> Iterator[Verdict]:
        for pid, job in list(self.running.items()):
            done, _ = os.waitpid(pid, os.WNOHANG)
            timed_out = not done and time.monotonic() > job.deadline
            if timed_out:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            elif not done:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # anything the tests left running in the child's group
            del self.running[pid]
            outcome = json.loads(job.result.read_text()) if job.result.exists() else None
            seconds = time.monotonic() - job.started
            yield verdict_of(job.mutant, outcome, timed_out=timed_out, seconds=seconds, tests=len(job.selection.tests))


def confirm(verdict: Verdict, *, workdir: Path, budget: float) -> Verdict:
    """A kill by a test that gave up waiting is confirmed: that test runs on the code as it is. When it fails there
    too, the load killed it, not the mutant: an error (listed, and the run fails), never a kill."""
    result, log = workdir / "confirm.json", workdir / "confirm.log"
    result.unlink(missing_ok=True)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        run_in_child(None, [verdict.test], result=result, log=log)
    deadline = time.monotonic() + budget
    while not os.waitpid(pid, os.WNOHANG)[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    outcome = json.loads(result.read_text()) if result.exists() else None
    if outcome is not None and outcome["code"] == PASSED:
        return verdict
    return Verdict(
        verdict.mutant, "error", f"{verdict.test} also fails on the original code (timing?)", verdict.seconds, 0
    )


def preload(modules: Iterable[str]) -> None:
    """Import third-party modules once here, so each forked child starts with them."""
    for name in modules:
        importlib.import_module(name)


# --- report ----------------------------------------------------------------------------------------------------------
def short(path: str, roots: Sequence[str]) -> str:
    return module_name(path, roots).replace(".", "/") + ".py"


def score(killed: int, survived: int) -> float:
    return 100.0 * killed / (killed + survived) if killed + survived else 100.0


def report(verdicts: Sequence[Verdict], config: Config) -> tuple[float, dict[str, float]]:
    """Print the score per module and in total, the surviving mutants; return the total and per-module scores."""
    by_module: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for verdict in verdicts:
        by_module[short(verdict.mutant.path, config.roots)][verdict.status] += 1
    width = max([len(name) for name in by_module] + [6])
    print(f"\n{'module':<{width}}  mutants  killed  survived  equivalent  score")
    scores: dict[str, float] = {}
    for name in sorted(by_module):
        counts = by_module[name]
        scores[name] = score(counts["killed"], counts["survived"])
        print(
            f"{name:<{width}}  {sum(counts.values()):>7}  {counts['killed']:>6}  {counts['survived']:>8}  "
            f"{counts['equivalent']:>10}  {scores[name]:5.1f}%"
        )
    killed = sum(counts["killed"] for counts in by_module.values())
    survived = sum(counts["survived"] for counts in by_module.values())
    equivalent = sum(counts["equivalent"] for counts in by_module.values())
    total = score(killed, survived)
    print(f"{'total':<{width}}  {len(verdicts):>7}  {killed:>6}  {survived:>8}  {equivalent:>10}  {total:5.1f}%")
    survivors = [v for v in verdicts if v.status == "survived"]
    if survivors:
        print(f"\nsurviving mutants ({len(survivors)}): a test should fail on each, or mark it equivalent, with why")
        for verdict in survivors:
            mutant = verdict.mutant
            print(f"  {mutant.where}  [{mutant.scope or '<module>'}] {mutant.description}  ({verdict.detail})")
            print(f"      {mutant.text[:110]}")
    errors = [v for v in verdicts if v.status == "error"]
    for verdict in errors:
        print(f"ERROR {verdict.mutant.where} {verdict.mutant.description}: {verdict.detail}")
    return total, scores


def left_open(state: Path = STATE) -> list[Equivalent]:
    """The mutants the last run left alive (`.mutation/survivors.toml`) or could not judge (`.mutation/errors.toml`),
    as entries without their 'why'."""
    entries: list[Equivalent] = []
    for name in ("survivors.toml", "errors.toml"):
        path = state / name
        raw = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        entries += [Equivalent(**entry) for entry in raw.get("equivalent", [])]
    return entries


def toml_entry(mutant: Mutant) -> str:
    """The `[[equivalent]]` entry that marks `mutant` (the 'why' left for a person to write)."""
    lines = [
        "[[equivalent]]",
        f"file = {json.dumps(mutant.path)}",
        f"scope = {json.dumps(mutant.scope or '<module>')}",
        f"line = {_toml_literal(mutant.text)}",
        f"mutation = {_toml_literal(mutant.description)}",
    ]
    if mutant.occurrence > 1:
        lines.append(f"occurrence = {mutant.occurrence}")
    lines.append('why = ""')
    return "\n".join(lines)


def _toml_literal(text: str) -> str:
    return f"'''{text}'''" if "'''" not in text and not text.endswith("'") else json.dumps(text)


# --- main ------------------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation.runner", description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, help="judge a random sample of N mutants (seeded: --seed)")
    parser.add_argument("--seed", type=int, help="the sample's seed (default: the configuration's)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants judged at once (default 2)")
    parser.add_argument("--module", action="append", default=[], help="only mutants of files containing this")
    parser.add_argument("--list", action="store_true", help="list the mutants (drawn, with their tests); run none")
    parser.add_argument(
        "--again",
        action="store_true",
        help="judge again only the drawn mutants the last run left alive or could not judge (after new tests)",
    )
    parser.add_argument("--show", metavar="FILE:INDEX", help="print one mutated module's source and exit")
    parser.add_argument("--min-total", type=float, default=90.0, help="fail below this total score (default 90)")
    parser.add_argument("--min-module", type=float, default=80.0, help="fail below this score in any module (80)")
    args = parser.parse_args(argv)
    config = load_config()
    mutants = all_mutants(config)
    if args.show:
        path, _, index = args.show.rpartition(":")
        from tests.mutation.mutants import mutated_source

        print(mutated_source((ROOT / path).read_text(encoding="utf-8"), int(index)))
        return 0
    if args.module:
        mutants = [m for m in mutants if any(part in m.path for part in args.module)]
    seed = config.seed if args.seed is None else args.seed
    drawn = draw(mutants, sample=args.sample, seed=seed)
    if args.again:
        drawn = [m for m in drawn if any(entry.matches(m) for entry in left_open())]
    equivalent = [m for m in drawn if any(e.matches(m) for e in config.equivalents)]
    stale = [e for e in config.equivalents if not any(e.matches(m) for m in all_mutants(config))]
    for entry in stale:
        print(f"warning: equivalent entry matches no mutant (the code changed?): {entry.file} {entry.line!r}")
    print(
        f"mutation testing: {len(mutants)} mutants in {len(config.targets)} modules; "
        + (f"a sample of {len(drawn)} (seed {seed})" if args.sample else f"all {len(drawn)}")
        + f"; {len(equivalent)} of them marked equivalent; {args.jobs} at a time",
        flush=True,
    )
    found = coverage_map(config, jobs=args.jobs)
    spans = statement_spans(drawn)
    work = [(m, select_tests(m, spans, found)) for m in drawn if m not in equivalent]
    if args.list:
        for mutant, selection in work:
            print(
                f"{mutant.where} #{mutant.index} {mutant.description} [{selection.why}: {len(selection.tests)} tests]"
            )
        return 0
    verdicts = [Verdict(m, "equivalent") for m in equivalent]
    verdicts += [Verdict(m, "survived", "not run by any test") for m, s in work if not s.tests]
    preload(config.preload)
    workdir = STATE / "runs"
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runnable = [(m, s) for m, s in work if s.tests]
    random.Random(seed).shuffle(runnable)
    for done, judged in enumerate(Pool(args.jobs, workdir).run(runnable, found), start=1):
        budget = 30 + 3 * found.durations.get(judged.test, 1.0)
        verdict = confirm(judged, workdir=workdir, budget=budget) if judged.by_timing else judged
        verdicts.append(verdict)
        print(
            f"[{done:>4}/{len(runnable)}] {verdict.status:<8} {verdict.mutant.where} {verdict.mutant.description} "
            f"({verdict.tests} tests, {verdict.seconds:.1f} s) {verdict.detail[:100]}",
            flush=True,
        )
    print(f"\n{len(runnable)} mutants run in {time.monotonic() - started:.0f} s")
    total, scores = report(verdicts, config)
    survivors = [v.mutant for v in verdicts if v.status == "survived"]
    STATE.mkdir(exist_ok=True)
    (STATE / "survivors.toml").write_text("\n\n".join(toml_entry(m) for m in survivors) + "\n")
    unjudged = [v.mutant for v in verdicts if v.status == "error"]
    (STATE / "errors.toml").write_text("\n\n".join(toml_entry(m) for m in unjudged) + "\n")
    if survivors:
        print("\nentries to mark them equivalent (fill in 'why'): .mutation/survivors.toml")
    failing = [name for name, value in scores.items() if value < args.min_module]
    errors = [v for v in verdicts if v.status == "error"]
    return 1 if errors or total < args.min_total or failing else 0


if __name__ == "__main__":
    sys.exit(main())
