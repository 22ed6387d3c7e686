"""Section 1: cold init of every handler, each in a fresh interpreter, beside the floor (boto3 + one client)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
LAYER_SOURCE = ROOT / "layers" / "lifecycle"
BUILD = ROOT / ".aws-sam" / "build"
PROBE = Path(__file__).resolve().parent / "cold_probe.py"
TARGET_OVER_FLOOR_MS = 150.0
HEAVY = ("sagemaker", "pandas", "numpy")
# What the Lambda python3.13 runtime puts on sys.path besides the function and its layers (pure Python: the probe
# links this interpreter's copies into a runtime folder for python3.13).
RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil", "six.py")

# What the Lambda runtime and template.yaml give every function (values are placeholders of the right shape).
# LAMBDA_TASK_ROOT makes powertools' Tracer act as in Lambda with `Tracing: Active` (imports X-Ray, patches botocore);
# credentials in the environment, as Lambda provides them, so no client looks for instance metadata.
LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "cold",
    "AWS_SECRET_ACCESS_KEY": "cold",
    "AWS_SESSION_TOKEN": "cold",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "POWERTOOLS_SERVICE_NAME": "sagemaker-lifecycle",
    "POWERTOOLS_METRICS_NAMESPACE": "SageMakerLifecycle",
    "LIFECYCLE_STACK_NAME": "sagemaker-lifecycle",
    "LIFECYCLE_TABLE_NAME": "sagemaker-lifecycle-table",
    "LIFECYCLE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:sagemaker-lifecycle-notifications",
    "LIFECYCLE_AUTOMATION_ACCOUNT_ID": "123456789012",
    "LIFECYCLE_ALLOWED_ACCOUNTS": "123456789012,222222222222",
    "LIFECYCLE_EXECUTION_ROLE_NAME": "sagemaker-lifecycle-execution",
    "LIFECYCLE_EXTERNAL_ID": "",
    "LIFECYCLE_PARTITION": "aws",
    "LIFECYCLE_DEPLOY_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:deploy-model",
}


@dataclass(frozen=True)
class Runtime:
    """python3.13 with the Lambda runtime's packages, and the built artifacts it imports."""

    python: Path
    packages: Path

    def paths(self, target: str) -> list[Path]:
        """sys.path entries of `target` in Lambda order: /var/task, /opt/python, then the runtime's packages."""
        if target == "floor":
            return [self.packages]
        layer = BUILD / "LifecycleLayer" / "python"
        if target == "layer":
            return [layer, self.packages]
        return [BUILD / build_id(target), layer, self.packages]


def python313() -> Path:
    """The Lambda runtime's interpreter, found as the Makefile finds it for `sam build`: one on PATH that runs, else
    the newest pyenv 3.13."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    given = os.environ.get("PY313_BIN", "")  # the Makefile's choice, passed by `make bench`
    candidates = [
        str(Path(given) / "python3.13") if given else "",
        shutil.which("python3.13") or "",
        *reversed(sorted(map(str, root.glob("versions/3.13*/bin/python3.13")))),
    ]
    for candidate in filter(None, candidates):
        done = subprocess.run(
            [candidate, "-c", "import sys; print(sys.executable)"], check=False, capture_output=True, text=True
        )
        if done.returncode == 0:
            return Path(done.stdout.strip())
    raise RuntimeError("no python3.13 (the Lambda runtime) runs here: install one, e.g. `pyenv install 3.13`")


def runtime(folder: Path) -> Runtime:
    """Link boto3 and its dependencies (this interpreter's copies) into `folder` as the runtime's packages."""
    import botocore

    site = Path(botocore.__file__).resolve().parent.parent
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        link = folder / name
        if not link.exists():
            link.symlink_to(site / name)
    found = Runtime(python313(), folder)
    # The runtime's own packages come with bytecode; compile it once so only the product's code is compiled cold.
    warm_up = _environment(found, "floor", write_bytecode=True)
    subprocess.run([str(found.python), "-s", str(PROBE), "floor"], env=warm_up, check=True, capture_output=True)
    return found


def build_id(folder: str) -> str:
    """The logical id `sam build` names a function's folder after (`training_state` → `TrainingStateFunction`)."""
    return "".join(part.capitalize() for part in folder.split("_")) + "Function"


@dataclass(frozen=True)
class ColdInit:
    name: str
    wall_ms: float  # median
    cpu_ms: float  # median
    runs: int
    heavy: tuple[str, ...]


def functions() -> list[str]:
    return sorted(path.parent.name for path in FUNCTIONS.glob("*/app.py"))


def _environment(found: Runtime, target: str, *, write_bytecode: bool = False) -> dict[str, str]:
    """A clean environment: the Lambda variables, the target's sys.path, nothing of this shell's Python setup."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ} | LAMBDA_ENV
    paths = found.paths(target)
    env["PYTHONPATH"] = os.pathsep.join(str(path) for path in paths)
    if target != "floor":
        env |= {"LAMBDA_TASK_ROOT": str(paths[0]), "AWS_LAMBDA_FUNCTION_NAME": target}
    if not write_bytecode:
        # /var/task and /opt are read-only in Lambda: the product's modules are compiled on every cold start.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# One handler measured again as it starts with the stack's `TraceAwsCalls` true (the X-Ray SDK loaded, botocore
# patched): what tracing each AWS call adds to a cold start, beside the default.
TRACED = "training_state"
TRACED_SUFFIX = " (TraceAwsCalls true)"


def _probe(found: Runtime, target: str) -> dict[str, object]:
    handler = target.removesuffix(TRACED_SUFFIX)
    env = _environment(found, handler)
    if target != handler:
        env["LIFECYCLE_TRACE_AWS_CALLS"] = "true"
    done = subprocess.run(
        [str(found.python), "-s", str(PROBE), handler],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(found: Runtime, runs: int = 7) -> list[ColdInit]:
    """The floor, the layer and every handler, `runs` fresh interpreters each, interleaved to spread machine noise."""
    targets = ["floor", *functions(), "layer", TRACED + TRACED_SUFFIX]
    samples: dict[str, list[dict[str, object]]] = {target: [] for target in targets}
    for _ in range(runs):
        for target in targets:
            samples[target].append(_probe(found, target))
    return [
        ColdInit(
            name=target,
            wall_ms=statistics.median(float(str(s["wall_ms"])) for s in found),
            cpu_ms=statistics.median(float(str(s["cpu_ms"])) for s in found),
            runs=len(found),
            heavy=tuple(sorted({str(name) for s in found for name in s["heavy"]})),  # type: ignore[attr-defined]
        )
        for target, found in samples.items()
    ]


def heavy_imports_in_source() -> list[str]:
    """`file: module` for every import of the sagemaker SDK, pandas or numpy in a function or the layer."""
    found = []
    for path in sorted([*FUNCTIONS.rglob("*.py"), *(LAYER_SOURCE / "lifecycle").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] in HEAVY]
    return found
