"""Infrastructure tests read the templates themselves: no AWS, no translation, no eyeballing.

A helper module beside tests/conftest.py (which turns its templates into the fixtures `automation_template`,
`workload_template` and `templates`); tests import it from `support` (pyproject puts tests/ on sys.path).

`load_template` parses CloudFormation YAML, short tags included (`!Ref X` -> `{"Ref": "X"}`,
`!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` -> `{"Fn::Sub": "s"}`, ...), into plain Python data.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

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


# --- reading the policies of a template ------------------------------------------------------------------------------
Template = dict[str, Any]
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
NO_VALUE = {"Ref": "AWS::NoValue"}


def resources(template: Template, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") in types:
            yield logical_id, resource.get("Properties", {})


def variants(value: Any) -> list[Any]:
    """Every value `value` can take once its Fn::If are decided (both branches of each).

    A branch that is AWS::NoValue removes its key or list item; a whole value that is AWS::NoValue stays NO_VALUE.
    """
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        return [v for branch in (when_true, when_false) for v in variants(branch)]
    if isinstance(value, dict) and not any(key.startswith("Fn::") or key == "Ref" for key in value):
        keys = list(value)
        choices = [variants(value[key]) for key in keys]
        return [
            {key: choice for key, choice in zip(keys, combo, strict=True) if choice != NO_VALUE}
            for combo in itertools.product(*choices)
        ]
    if isinstance(value, list):
        choices = [variants(item) for item in value]
        return [[item for item in combo if item != NO_VALUE] for combo in itertools.product(*choices)]
    return [value]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: Any) -> Iterator[dict[str, Any]]:
    for variant in variants(document):
        if isinstance(variant, dict):
            for statement in as_list(variant.get("Statement", [])):
                if isinstance(statement, dict):
                    yield statement


def managed_policy_of(template: Template, policy: Any) -> dict[str, Any] | None:
    """The document of a template's AWS::IAM::ManagedPolicy that a SAM `Policies` entry references (`!Ref`)."""
    if not (isinstance(policy, dict) and set(policy) == {"Ref"}):
        return None
    resource = template.get("Resources", {}).get(policy["Ref"], {})
    if resource.get("Type") != "AWS::IAM::ManagedPolicy":
        return None
    return dict(resource["Properties"]["PolicyDocument"])


def function_policies(template: Template, logical_id: str) -> list[dict[str, Any]]:
    """The policy documents a SAM function's role gets from its `Policies`: its inline Statement blocks and the
    template's managed policies it references."""
    found = []
    for policy in as_list(template["Resources"][logical_id]["Properties"].get("Policies", [])):
        document = managed_policy_of(template, policy)
        if document is not None:
            found.append(document)
        elif isinstance(policy, dict) and "Statement" in policy:
            found.append(policy)
    return found


def _role_statements(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for logical_id, props in resources(template, "AWS::IAM::Role"):
        for statement in statements(props.get("AssumeRolePolicyDocument", {})):
            yield f"{logical_id} trust", "trust", statement
        for policy in props.get("Policies", []):
            for statement in statements(policy.get("PolicyDocument", {})):
                yield f"{logical_id} {policy.get('PolicyName')}", "identity", statement
    for logical_id, props in resources(template, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for statement in statements(props.get("PolicyDocument", {})):
            yield logical_id, "identity", statement


def _sam_statements(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for logical_id, props in resources(template, *FUNCTION_TYPES, "AWS::Serverless::StateMachine"):
        for policy in as_list(props.get("Policies", [])):
            if isinstance(policy, dict) and "Statement" in policy:
                for statement in statements(policy):
                    yield f"{logical_id} Policies", "identity", statement


def _resource_policy_statements(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for logical_id, props in resources(template, "AWS::KMS::Key"):
        for statement in statements(props.get("KeyPolicy", {})):
            yield f"{logical_id} key policy", "key", statement
    for logical_id, props in resources(template, "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
        for statement in statements(props.get("PolicyDocument", {})):
            yield logical_id, "resource", statement
    for logical_id, props in resources(template, "AWS::Events::EventBusPolicy"):
        if "Statement" in props:
            for statement in statements({"Statement": props["Statement"]}):
                yield logical_id, "resource", statement


def iam_statements(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every policy statement, in every variant of the template's conditions, as (where, kind, statement).

    kind: identity (role, managed or SAM function policy), trust (role trust policy), resource (bus, queue or topic
    policy) or key (KMS key policy).
    """
    yield from _role_statements(template)
    yield from _sam_statements(template)
    yield from _resource_policy_statements(template)


def actions_of(statement: dict[str, Any]) -> list[str]:
    return [action for action in as_list(statement.get("Action", [])) if isinstance(action, str)]
