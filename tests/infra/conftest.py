"""Infrastructure tests read the templates themselves: no AWS, no translation, no eyeballing.

`load_template` parses CloudFormation YAML, short tags included (`!Ref X` -> `{"Ref": "X"}`,
`!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` -> `{"Fn::Sub": "s"}`, ...), into plain Python data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.fixture(scope="session")
def automation_template() -> dict[str, Any]:
    return load_template(AUTOMATION_TEMPLATE)


@pytest.fixture(scope="session")
def workload_template() -> dict[str, Any]:
    return load_template(WORKLOAD_TEMPLATE)


@pytest.fixture(scope="session")
def templates(automation_template: dict[str, Any], workload_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Both templates by file name, for checks that apply to each."""
    return {"template.yaml": automation_template, "accounts/workload-account.yaml": workload_template}


@pytest.fixture(scope="session")
def resources_of() -> Callable[[dict[str, Any], str], dict[str, dict[str, Any]]]:
    """`resources_of(template, type)`: logical id -> resource, for every resource of that type."""

    def find(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in template.get("Resources", {}).items()
            if resource.get("Type") == resource_type
        }

    return find
