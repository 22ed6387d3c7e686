"""Where a stage goes back to: the last version that completed a deployment to it, and what the registry says now.

A rollback target is chosen from the stage's own history (`lifecycle.store` records every completed deployment and
every rejection at the stage's gate), never from the registry's list of approved versions: a version rejected at
the gate stays Approved in the registry, and a version that never finished there was never proven there.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import NOT_FOUND_CODES, aws_errors, error_code
from lifecycle.config import Settings
from lifecycle.deploy.inputs import package_arn
from lifecycle.store.deployments import StageEvent, stage_history


def rollback_candidates(history: list[StageEvent], *, leaving: int) -> list[int]:
    """Versions to go back to, best first: those that completed a deployment to the stage, the most recent
    completion first, without `leaving` and without any version ever rejected at the stage's gate."""
    gate_rejected = {event.version for event in history if event.kind == "gate-rejected"}
    candidates: list[int] = []
    for event in sorted(history, key=lambda e: e.at, reverse=True):
        if event.kind != "deployed" or event.version in gate_rejected or event.version == leaving:
            continue
        if event.version not in candidates:
            candidates.append(event.version)
    return candidates


def approval_status(registry: Any, arn: str) -> str:
    """The package's approval status now ('Missing' when it does not exist)."""
    with aws_errors(f"sagemaker:DescribeModelPackage {arn}"):
        try:
            return str(registry.describe_model_package(ModelPackageName=arn).get("ModelApprovalStatus", "Missing"))
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND_CODES:
                raise
            return "Missing"


def rollback_target(
    settings: Settings, registry: Any, *, group: str, stage: str, leaving: int, registry_at: tuple[str, str]
) -> int | None:
    """The version `stage` goes back to when it leaves `leaving`: the best candidate still Approved in the registry
    (`registry_at` is its account and region), or None when there is none."""
    account, region = registry_at
    for version in rollback_candidates(stage_history(settings, group, stage), leaving=leaving):
        arn = package_arn(settings.partition, region, account, group, version)
        if approval_status(registry, arn) == "Approved":
            return version
    return None
