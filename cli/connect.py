"""Where the CLI acts: the AWS account of the default boto3 session (or `--profile`), or the local sandbox.

The layer makes every client through `lifecycle.accounts.client_for`, whose sessions read the standard environment
(`AWS_PROFILE`, `AWS_ENDPOINT_URL`, credentials). So the connection options are applied as that environment, for
the duration of one command, and the stack's own outputs and parameters become the `Settings` the layer expects.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import BotoCoreError, ClientError
from lifecycle import accounts
from lifecycle.accounts import client_for
from lifecycle.aws import error_code
from lifecycle.config import Settings

DEFAULT_STACK = "sagemaker-lifecycle"
SANDBOX_URL_VARIABLE = "LIFECYCLE_SANDBOX_URL"
SANDBOX_REGION = "us-east-1"
# moto accepts any credentials; these keep a real profile from ever being used against the sandbox.
_SANDBOX_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_SESSION_TOKEN": "sandbox",
}
_REACTION = "lifecycle-cli"
# The workload stack's read-only role for people (OperatorRoleName). The execution role trusts the function roles only:
# a person never assumes it (accounts/workload-account.yaml).
OPERATOR_ROLE = "sagemaker-lifecycle-operator"


class CliError(Exception):
    """A failure the user can act on: printed as `error: <message>`, exit code 1."""


@dataclass(frozen=True)
class Target:
    """The connection options every command shares."""

    stack: str = DEFAULT_STACK
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    role_name: str | None = None
    external_id: str | None = None

    def environment(self) -> dict[str, str]:
        """The environment variables that point boto3 where this target says."""
        env: dict[str, str] = {}
        endpoint = self.endpoint_url
        if self.sandbox:
            endpoint = endpoint or os.environ.get(SANDBOX_URL_VARIABLE) or os.environ.get("AWS_ENDPOINT_URL")
            if not endpoint:
                raise CliError(
                    f"--sandbox needs the sandbox's endpoint: start it with `python -m sandbox serve` and export "
                    f"the AWS_ENDPOINT_URL it prints (or {SANDBOX_URL_VARIABLE}), or pass --endpoint-url"
                )
            env |= _SANDBOX_CREDENTIALS | {"AWS_DEFAULT_REGION": self.region or SANDBOX_REGION}
        elif self.profile:
            env["AWS_PROFILE"] = self.profile
        if self.region:
            env["AWS_DEFAULT_REGION"] = self.region
            env["AWS_REGION"] = self.region
        if endpoint:
            env["AWS_ENDPOINT_URL"] = endpoint
        return env


@contextmanager
def connected(target: Target) -> Iterator[None]:
    """Apply the target's environment for one command, with fresh (uncached) sessions, and restore it after."""
    env = target.environment()
    if target.sandbox:
        # A real profile's credentials must not win over the sandbox's dummy ones.
        env = {"AWS_PROFILE": "", **env}
    saved = {key: os.environ.get(key) for key in env}
    for key, value in env.items():
        if value:
            os.environ[key] = value
        else:
            os.environ.pop(key, None)
    _forget_sessions()
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        _forget_sessions()


def _forget_sessions() -> None:
    boto3.DEFAULT_SESSION = None
    accounts.clear_session_cache()
    parameters.clear_caches()


def discover(target: Target) -> Settings:
    """The settings of the automation stack `target.stack`, from CloudFormation's DescribeStacks."""
    session = boto3.session.Session()
    if session.region_name is None:
        raise CliError("no region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION (or a profile's region)")
    cloudformation = session.client("cloudformation", config=accounts.CLIENT_CONFIG)
    try:
        stacks = cloudformation.describe_stacks(StackName=target.stack)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            raise CliError(
                f"stack {target.stack!r} not found in {session.region_name}: deploy template.yaml with "
                f"`sam deploy`, or pass --stack NAME (and --region/--profile) of the automation stack"
            ) from exc
        raise CliError(f"cannot read stack {target.stack!r}: {exc}") from exc
    except BotoCoreError as exc:
        raise CliError(f"cannot read stack {target.stack!r}: {exc}") from exc
    role = target.role_name or OPERATOR_ROLE
    execution_role = Settings.from_stack(stacks[0]).execution_role_name
    if role == execution_role:
        raise CliError(
            f"{role} is the automation's execution role, trusted by its function roles only: people read workload "
            f"accounts through the read-only operator role (--role-name, default {OPERATOR_ROLE}; the workload stack's "
            "OperatorPrincipalArns) and act through the automation account"
        )
    # In workload accounts the CLI assumes the operator role (Settings' role name is the one `client_for` assumes).
    overrides = {"LIFECYCLE_EXECUTION_ROLE_NAME": role, "LIFECYCLE_EXTERNAL_ID": target.external_id}
    return Settings.from_stack(stacks[0], **{key: value for key, value in overrides.items() if value})


def client(service: str, settings: Settings, account: str | None = None, region: str | None = None) -> Any:
    """A client in the automation account (or, through the workload execution role, in `account`)."""
    return client_for(
        service,
        account or settings.automation_account_id,
        region or settings.region,
        settings,
        reaction=_REACTION,
        event_id=settings.stack_name,
    )
