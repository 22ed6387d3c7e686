"""The deployed automation stack as CloudFormation describes it: status, outputs, parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifecycle.aws import aws_errors
from lifecycle.config import Settings

from cli.connect import CliError, client


@dataclass(frozen=True)
class Stack:
    """One `DescribeStacks` entry of the automation stack."""

    name: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    def output(self, key: str) -> str:
        """An output the command needs; a stack without it is an older or broken install."""
        value = self.outputs.get(key)
        if not value:
            raise CliError(f"stack {self.name!r} has no {key} output: update it with the current template.yaml")
        return value


def describe(settings: Settings) -> Stack:
    """The automation stack `settings` was read from."""
    cloudformation = client("cloudformation", settings)
    with aws_errors(f"cloudformation:DescribeStacks {settings.stack_name}"):
        found: dict[str, Any] = cloudformation.describe_stacks(StackName=settings.stack_name)["Stacks"][0]
    return Stack(
        name=str(found["StackName"]),
        status=str(found["StackStatus"]),
        outputs={item["OutputKey"]: item["OutputValue"] for item in found.get("Outputs", [])},
        parameters={item["ParameterKey"]: item.get("ParameterValue", "") for item in found.get("Parameters", [])},
    )
