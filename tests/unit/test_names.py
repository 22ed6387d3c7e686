"""One name per thing, from the function folder to the reaction module and its REACTION (issue 14)."""

from __future__ import annotations

import importlib
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def test_each_reaction_function_runs_the_reaction_module_of_its_name() -> None:
    folders = sorted(path.name for path in FUNCTIONS.iterdir() if (path / "app.py").exists())
    reactions = [name for name in folders if name != "deploy_step"]  # the state machine's step runner
    assert reactions == [
        "debugger_rule",
        "deployment_state",
        "labeling_state",
        "model_package_state",
        "monitor_violation",
        "pipeline_state",
        "schedule_state",
        "training_state",
        "transform_job_state",
        "tuning_state",
    ]
    for name in reactions:
        module = importlib.import_module(f"lifecycle.reactions.{name}")
        assert name.replace("_", "-") == module.REACTION
        app = (FUNCTIONS / name / "app.py").read_text()
        assert f"from lifecycle.reactions.{name} import" in app
        assert "reaction=REACTION" in app
