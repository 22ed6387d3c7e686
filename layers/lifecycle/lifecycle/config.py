"""Function configuration: environment variables modelled and validated once, at cold start."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from lifecycle.errors import LifecycleError


def _split_accounts(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
_STACK_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):cloudformation:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):stack/"
)


class Settings(BaseModel):
    """What the template gives every function. Logic receives this, never `os.environ`."""

    region: str = Field(min_length=1, alias="AWS_REGION")
    stack_name: str = Field(min_length=1, alias="LIFECYCLE_STACK_NAME")
    table_name: str = Field(min_length=1, alias="LIFECYCLE_TABLE_NAME")
    topic_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sns:", alias="LIFECYCLE_TOPIC_ARN")
    automation_account_id: AccountId = Field(alias="LIFECYCLE_AUTOMATION_ACCOUNT_ID")
    allowed_accounts: Annotated[list[AccountId], BeforeValidator(_split_accounts)] = Field(
        alias="LIFECYCLE_ALLOWED_ACCOUNTS"
    )
    execution_role_name: str = Field(min_length=1, max_length=64, alias="LIFECYCLE_EXECUTION_ROLE_NAME")
    external_id: str = Field(default="", alias="LIFECYCLE_EXTERNAL_ID")
    partition: str = Field(default="aws", alias="LIFECYCLE_PARTITION")
    idempotency_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0, alias="LIFECYCLE_IDEMPOTENCY_TTL_SECONDS")
    deploy_state_machine_arn: str = Field(default="", alias="LIFECYCLE_DEPLOY_STATE_MACHINE_ARN")
    trace_aws_calls: bool = Field(default=False, alias="LIFECYCLE_TRACE_AWS_CALLS")

    @classmethod
    def from_stack(cls, stack: dict[str, Any], **overrides: str) -> Settings:
        """The settings of a deployed automation stack, from its CloudFormation `DescribeStacks` entry.

        For tools that act on the stack from outside Lambda (the `lifecycle` CLI). Region, partition and account come
        from the stack id; table, topic and state machine from its Outputs; accounts and role from its Parameters.
        `overrides` (by alias, e.g. `LIFECYCLE_EXTERNAL_ID`) win: a NoEcho parameter comes back masked.
        """
        arn = _STACK_ARN.match(str(stack.get("StackId", "")))
        if arn is None:
            raise ConfigurationError(f"stack id {stack.get('StackId')!r} is not a CloudFormation stack ARN")
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        parameters = {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])}
        values = {
            "AWS_REGION": arn["region"],
            "LIFECYCLE_PARTITION": arn["partition"],
            "LIFECYCLE_AUTOMATION_ACCOUNT_ID": arn["account"],
            "LIFECYCLE_STACK_NAME": stack.get("StackName", ""),
            "LIFECYCLE_TABLE_NAME": outputs.get("LifecycleTableName", ""),
            "LIFECYCLE_TOPIC_ARN": outputs.get("NotificationTopicArn", ""),
            "LIFECYCLE_DEPLOY_STATE_MACHINE_ARN": outputs.get("DeployModelStateMachineArn", ""),
            # A CommaDelimitedList parameter: read the ids whatever the separator (moto returns the list's repr).
            "LIFECYCLE_ALLOWED_ACCOUNTS": re.findall(r"\d{12}", parameters.get("AllowedAccountIds", "")),
            "LIFECYCLE_EXECUTION_ROLE_NAME": parameters.get("ExecutionRoleName", ""),
            **overrides,
        }
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigurationError(f"stack {stack.get('StackName')!r} is not a lifecycle stack: {exc}") from exc

    @property
    def trusted_accounts(self) -> frozenset[str]:
        """The accounts whose events the functions act on and that policies may name: the allow-list, and the
        automation account itself (its own SageMaker events reach the bus through the stack's own forwarding rule)."""
        return frozenset([*self.allowed_accounts, self.automation_account_id])

    @property
    def policy_path(self) -> str:
        """The SSM path under which one parameter per model package group holds its policy."""
        return f"/{self.stack_name}/policies"


class ConfigurationError(LifecycleError):
    """A function was deployed without the configuration it needs."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read and validate the environment once per container."""
    names = {field.alias for field in Settings.model_fields.values() if field.alias}
    try:
        return Settings.model_validate({k: v for k, v in os.environ.items() if k in names})
    except ValidationError as exc:
        raise ConfigurationError(f"invalid function configuration: {exc}") from exc
