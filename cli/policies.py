"""`lifecycle policy validate|publish`: policy files (YAML or JSON) checked by the layer's own policy model."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError
from lifecycle.aws import aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.policy import Policy, deprecations, describe_errors, installation_problems
from pydantic import ValidationError

from cli.connect import client

# Parameter Store value limits (PutParameter, Systems Manager API Reference: "Standard parameters have a value limit of
# 4 KB. Advanced parameters have a value limit of 8 KB."); an Advanced parameter cannot go back to Standard.
STANDARD_TIER_MAX_BYTES = 4096
ADVANCED_TIER_MAX_BYTES = 8192


@dataclass(frozen=True)
class Installation:
    """What one automation stack accepts in a policy: the accounts it trusts and its partition."""

    trusted_accounts: frozenset[str]
    partition: str

    @classmethod
    def of(cls, settings: Settings) -> Installation:
        return cls(settings.trusted_accounts, settings.partition)


def tier_for(value: str, *, current: str | None = None) -> str:
    """The Parameter Store tier a published policy needs: Standard up to 4 KB, else (or once Advanced) Advanced."""
    return "Advanced" if len(value.encode()) > STANDARD_TIER_MAX_BYTES or current == "Advanced" else "Standard"


@dataclass
class Checked:
    """One policy file after validation: the policy, or what is wrong with it (`file: field.path: expected`)."""

    path: Path
    policy: Policy | None = None
    errors: list[str] = field(default_factory=list)
    named_group: str | None = None  # the group the document names, valid or not
    deprecations: list[str] = field(default_factory=list)  # `file: field: note` of each deprecated form it uses

    @property
    def valid(self) -> bool:
        return self.policy is not None

    def summary(self) -> dict[str, Any]:
        stages = self.policy.deployment.stages if self.policy and self.policy.deployment else []
        value = stored_value(self.policy) if self.policy else None
        return {
            "file": str(self.path),
            "valid": self.valid,
            "group": self.policy.group if self.policy else self.named_group,
            "stages": [stage.name for stage in stages],
            "bytes": len(value.encode()) if value is not None else None,
            "tier": tier_for(value) if value is not None else None,
            "errors": self.errors,
            "deprecations": self.deprecations,
        }


def _read(path: Path) -> Any:
    """The document in a YAML or JSON file (JSON is YAML); a `ValueError` says why it cannot be read."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"not valid YAML/JSON{where}: {getattr(exc, 'problem', None) or exc}") from exc


def check(path: Path, installation: Installation | None = None) -> Checked:
    """Validate one policy file against the policy model, SSM's size limit and (when given) the installation: every
    account it names on the stack's allow-list, every region and ARN in the stack's partition."""
    try:
        document = _read(path)
    except ValueError as exc:
        return Checked(path, errors=[f"{path}: {exc}"])
    if not isinstance(document, dict):
        return Checked(
            path, errors=[f"{path}: a policy is a mapping (group, registry, ...), got {type(document).__name__}"]
        )
    named = document.get("group") if isinstance(document.get("group"), str) else None
    notes = [f"{path}: {note}" for note in deprecations(document)]
    try:
        policy = Policy.model_validate(document)
    except ValidationError as exc:
        errors = [f"{path}: {line}" for line in describe_errors(exc)]
        return Checked(path, errors=errors, named_group=named, deprecations=notes)
    errors = []
    size = len(stored_value(policy).encode())
    if size > ADVANCED_TIER_MAX_BYTES:
        errors.append(
            f"{path}: <document>: {size} bytes as published; an SSM parameter holds at most {ADVANCED_TIER_MAX_BYTES} "
            "(Advanced tier)"
        )
    if installation is not None:
        problems = installation_problems(
            policy, trusted_accounts=installation.trusted_accounts, partition=installation.partition
        )
        errors += [f"{path}: {problem}" for problem in problems]
    if errors:
        return Checked(path, errors=errors, named_group=named, deprecations=notes)
    return Checked(path, policy=policy, named_group=named, deprecations=notes)


def check_all(paths: list[Path], installation: Installation | None = None) -> list[Checked]:
    """Validate every file; two files claiming one group is an error too (the second would overwrite the first)."""
    checked = [check(path, installation) for path in paths]
    owners: dict[str, Path] = {}
    for item in checked:
        if item.policy is None:
            continue
        first = owners.setdefault(item.policy.group, item.path)
        if first != item.path:
            item.errors.append(f"{item.path}: group: {item.policy.group!r} is also the group of {first}")
            item.policy = None
    return checked


def stored_value(policy: Policy) -> str:
    """What is published: the policy as written (defaults left to the model), compact JSON."""
    return json.dumps(policy.model_dump(mode="json", exclude_unset=True), separators=(",", ":"), sort_keys=True)


def _pretty(value: str) -> list[str]:
    try:
        return json.dumps(json.loads(value), indent=2, sort_keys=True).splitlines(keepends=True)
    except json.JSONDecodeError:
        return value.splitlines(keepends=True)


@dataclass(frozen=True)
class Change:
    """What publishing one policy would change."""

    path: Path
    group: str
    parameter: str
    value: str
    current: str | None
    current_tier: str | None = None

    @property
    def unchanged(self) -> bool:
        return self.current is not None and _pretty(self.current) == _pretty(self.value)

    @property
    def tier(self) -> str:
        return tier_for(self.value, current=self.current_tier)

    def diff(self) -> str:
        """A unified diff of the published policy (pretty JSON) against the file's."""
        before = _pretty(self.current) if self.current is not None else []
        published = f"{self.parameter} (published)" if self.current is not None else f"{self.parameter} (none)"
        lines = difflib.unified_diff(before, _pretty(self.value), fromfile=published, tofile=str(self.path))
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def plan_publish(settings: Settings, checked: list[Checked]) -> list[Change]:
    """For each valid policy, the SSM parameter it goes to and what is there now."""
    ssm = client("ssm", settings)
    changes = []
    for item in checked:
        if item.policy is None:
            continue
        name = f"{settings.policy_path}/{item.policy.group}"
        with aws_errors(f"ssm:GetParameter {name}"):
            try:
                current: str | None = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            except ClientError as exc:
                if error_code(exc) != "ParameterNotFound":
                    raise
                current = None
        current_tier = None
        if current is not None:  # an Advanced parameter cannot be put back as Standard: keep its tier
            with aws_errors(f"ssm:DescribeParameters {name}"):
                found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
            current_tier = str(found[0].get("Tier", "Standard")) if found else None
        changes.append(Change(item.path, item.policy.group, name, stored_value(item.policy), current, current_tier))
    return changes


def publish(settings: Settings, change: Change) -> None:
    """Write one policy to its parameter (Advanced tier past 4 KB, or when it already is)."""
    with aws_errors(f"ssm:PutParameter {change.parameter}"):
        client("ssm", settings).put_parameter(
            Name=change.parameter,
            Value=change.value,
            Type="String",
            Tier=change.tier,
            Overwrite=True,
            Description=f"lifecycle policy of model package group {change.group} (from {change.path.name})",
        )
