"""Infrastructure tests read the templates themselves: no AWS, no translation, no eyeballing.

A helper module beside tests/conftest.py (which turns its templates into the fixtures `automation_template`,
`workload_template` and `templates`); tests import it as `infra_templates` (pyproject puts tests/ on sys.path).

`load_template` parses CloudFormation YAML, short tags included (`!Ref X` -> `{"Ref": "X"}`,
`!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` -> `{"Fn::Sub": "s"}`, ...), into plain Python data.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
AUTOMATION_TEMPLATE = ROOT / "template.yaml"
WORKLOAD_TEMPLATE = ROOT / "accounts" / "workload-account.yaml"


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that turns every CloudFormation short tag into its long (JSON) form."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template at `path` as plain data (long-form intrinsics)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # CfnLoader is a SafeLoader


@cache
def _cached(path: Path) -> dict[str, Any]:
    return load_template(path)


def automation_template() -> dict[str, Any]:
    """template.yaml (cached: deep-copy before mutating)."""
    return _cached(AUTOMATION_TEMPLATE)


def workload_template() -> dict[str, Any]:
    """accounts/workload-account.yaml (cached: deep-copy before mutating)."""
    return _cached(WORKLOAD_TEMPLATE)


def templates() -> dict[str, dict[str, Any]]:
    """Both templates by file name, for checks that apply to each."""
    return {"template.yaml": automation_template(), "accounts/workload-account.yaml": workload_template()}
