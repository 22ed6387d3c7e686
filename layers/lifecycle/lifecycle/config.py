"""Function configuration: environment variables modelled and validated once, at cold start."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from lifecycle.errors import LifecycleError


def _split_accounts(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]


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
