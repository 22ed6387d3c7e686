"""`lifecycle teardown GROUP [--stage S] [--dry-run]`: remove what the product created for a group in its stages.

What the product creates in a stage carries its tag `lifecycle:model-package-group=<group>`: monitoring schedules,
endpoints, endpoint configs and models. Teardown finds them by that tag in each stage's account and region and deletes
them in the order SageMaker needs: a schedule before its endpoint, an endpoint before the configs and models it ran.
With a stage, only that stage's: its endpoint, the schedules on it, and the configs and models named for it (the
product names a stage's models `<group>-v<version>-<stage>-<digest>`, one per version of the registry; a config is the
stage's when its variants run only the stage's models). It refuses while a deployment of the group is in flight.

The product's own workload role may delete nothing (least privilege), so teardown acts as an administrator of each
stage account: the role `--role-name` names (default `OrganizationAccountAccessRole`, the role AWS Organizations
creates in member accounts), with `--external-id` when that role asks for one; in the automation account, your own
credentials. The registry (the models' history), training jobs, data in S3, the policy and the stacks are not touched
(README, "Uninstall").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError
from lifecycle.accounts import CLIENT_CONFIG
from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.deploy.endpoints import model_name
from lifecycle.policy import GROUP_TAG, Policy, Stage
from pydantic import BaseModel

from cli.connect import CliError, client
from cli.state import policy_of, running

ADMIN_ROLE = "OrganizationAccountAccessRole"
# What SageMaker needs first: a schedule before its endpoint, an endpoint before its configs, a config before models.
ORDER = ("monitoring-schedule", "endpoint", "endpoint-config", "model")
_LIST = {
    "monitoring-schedule": ("list_monitoring_schedules", "MonitoringScheduleSummaries", "MonitoringSchedule"),
    "endpoint": ("list_endpoints", "Endpoints", "Endpoint"),
    "endpoint-config": ("list_endpoint_configs", "EndpointConfigs", "EndpointConfig"),
    "model": ("list_models", "Models", "Model"),
}
_DELETE = {
    "monitoring-schedule": ("delete_monitoring_schedule", "MonitoringScheduleName"),
    "endpoint": ("delete_endpoint", "EndpointName"),
    "endpoint-config": ("delete_endpoint_config", "EndpointConfigName"),
    "model": ("delete_model", "ModelName"),
}


class Doomed(BaseModel):
    """One resource teardown removes."""

    kind: str
    name: str
    account: str
    region: str
    stages: list[str]


class Removed(BaseModel):
    resource: Doomed
    outcome: str  # deleted | already gone


@dataclass
class Access:
    """SageMaker clients in the stages' accounts, as their administrator (`role_name`)."""

    settings: Settings
    group: str
    role_name: str = ADMIN_ROLE
    external_id: str | None = None
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def sagemaker(self, account: str, region: str) -> Any:
        if (account, region) not in self._clients:
            self._clients[account, region] = self._session(account, region).client("sagemaker", config=CLIENT_CONFIG)
        return self._clients[account, region]

    def _session(self, account: str, region: str) -> boto3.session.Session:
        if account == self.settings.automation_account_id:
            return boto3.session.Session(region_name=region)
        request: dict[str, Any] = {
            "RoleArn": f"arn:{self.settings.partition}:iam::{account}:role/{self.role_name}",
            "RoleSessionName": f"lifecycle-teardown-{self.group}"[:64],
            "DurationSeconds": 3600,
        }
        if self.external_id:
            request["ExternalId"] = self.external_id
        with aws_errors(f"sts:AssumeRole {request['RoleArn']}"):
            sts = boto3.client("sts", region_name=self.settings.region, config=CLIENT_CONFIG)
            credentials = sts.assume_role(**request)["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )


def _listed(sagemaker: Any, kind: str) -> Iterator[dict[str, Any]]:
    method, key, _ = _LIST[kind]
    kwargs: dict[str, Any] = {"MaxResults": 100}
    while True:
        with aws_errors(f"sagemaker:{method}"):
            page = getattr(sagemaker, method)(**kwargs)
        yield from page[key]
        if not page.get("NextToken"):
            return
        kwargs["NextToken"] = page["NextToken"]


def _tagged(sagemaker: Any, kind: str, group: str) -> list[dict[str, Any]]:
    """The resources of `kind` tagged as the group's."""
    prefix = _LIST[kind][2]
    found = []
    for item in _listed(sagemaker, kind):
        with aws_errors(f"sagemaker:ListTags {item[f'{prefix}Arn']}"):
            tags = sagemaker.list_tags(ResourceArn=item[f"{prefix}Arn"])["Tags"]
        if any(tag["Key"] == GROUP_TAG and tag["Value"] == group for tag in tags):
            found.append(item)
    return found


def _stage_models(settings: Settings, policy: Policy, stage: Stage) -> set[str]:
    """The names the product gives the stage's models: one per version of the group in the registry."""
    registry = client("sagemaker", settings, policy.registry.account, policy.registry.region)
    names, kwargs = set(), {"ModelPackageGroupName": policy.group, "MaxResults": 100}
    while True:
        with aws_errors(f"sagemaker:ListModelPackages {policy.group}"):
            page = registry.list_model_packages(**kwargs)
        for package in page["ModelPackageSummaryList"]:
            arn = package["ModelPackageArn"]
            names.add(model_name(policy.group, int(package["ModelPackageVersion"]), stage, arn))
        if not page.get("NextToken"):
            return names
        kwargs["NextToken"] = page["NextToken"]


def _of_stage(sagemaker: Any, kind: str, item: dict[str, Any], stage: Stage, models: set[str]) -> bool:
    if kind == "endpoint":
        return bool(item["EndpointName"] == stage.endpoint_name)
    if kind == "monitoring-schedule":
        return bool(item.get("EndpointName") == stage.endpoint_name)
    if kind == "model":
        return item["ModelName"] in models
    with aws_errors(f"sagemaker:DescribeEndpointConfig {item['EndpointConfigName']}"):
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=item["EndpointConfigName"])
    return all(variant["ModelName"] in models for variant in variants["ProductionVariants"])


def plan(access: Access, stage_name: str | None = None) -> list[Doomed]:
    """What teardown would remove for the group (or one of its stages), in the order it removes it."""
    settings, group = access.settings, access.group
    policy = policy_of(group, settings)
    stages = policy.deployment.stages if policy.deployment else []
    if stage_name is not None:
        chosen = [stage for stage in stages if stage.name == stage_name]
        if not chosen:
            names = ", ".join(stage.name for stage in stages) or "none"
            raise CliError(f"group {group!r} has no stage {stage_name!r} (its stages: {names})")
        stages = chosen
    in_flight = running(settings, group) if settings.deploy_state_machine_arn else []
    if in_flight:
        raise CliError(
            f"a deployment of {group} is in flight ({in_flight[0].name}): let it end, or stop it, then tear down"
        )
    models = _stage_models(settings, policy, stages[0]) if stage_name is not None else set()
    places: dict[tuple[str, str], list[str]] = {}
    for stage in stages:
        places.setdefault((stage.account, stage.region), []).append(stage.name)
    doomed = []
    for kind in ORDER:
        prefix = _LIST[kind][2]
        for (account, region), names in places.items():
            sagemaker = access.sagemaker(account, region)
            for item in sorted(_tagged(sagemaker, kind, group), key=lambda item: str(item[f"{prefix}Name"])):
                if stage_name is None or _of_stage(sagemaker, kind, item, stages[0], models):
                    resource = Doomed(
                        kind=kind, name=item[f"{prefix}Name"], account=account, region=region, stages=names
                    )
                    doomed.append(resource)
    return doomed


def remove(access: Access, doomed: list[Doomed]) -> list[Removed]:
    """Delete each resource of the plan, in its order; one already gone is said so."""
    removed = []
    for resource in doomed:
        method, key = _DELETE[resource.kind]
        sagemaker = access.sagemaker(resource.account, resource.region)
        outcome = "deleted"
        with aws_errors(f"sagemaker:{method} {resource.name} in {resource.account}"):
            try:
                getattr(sagemaker, method)(**{key: resource.name})
            except ClientError as exc:
                if error_code(exc) not in NOT_FOUND_CODES:
                    raise
                outcome = "already gone"
        removed.append(Removed(resource=resource, outcome=outcome))
    return removed
