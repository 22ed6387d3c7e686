"""Rollback targeting against the registry: the stage goes back to the last version proven there that is still
Approved now (issue 19), never to a rejected, pending or deleted one."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from lifecycle.config import get_settings
from lifecycle.deploy.rollback import rollback_target
from lifecycle.errors import AwsCallFailed
from lifecycle.store.deployments import StageEvent, record_stage_event
from support.cloud import AUTOMATION, REGION, Cloud
from support.deploy import IMAGE

GROUP = "churn"


def _registry(cloud: Cloud, statuses: dict[int, str]) -> object:
    """Versions 1..n of the group, each with its approval status."""
    sagemaker = cloud.client("sagemaker", AUTOMATION)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for version in sorted(statuses):
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://example-ml/churn/v{version}/model.tar.gz"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus=statuses[version],
        )
    return sagemaker


def _deployed(stage: str, *versions: int) -> None:
    """Record that `versions` completed a deployment to `stage`, in this order (one a day)."""
    for day, version in enumerate(versions, start=1):
        at = f"2026-11-{day:02d}T10:00:00+00:00"
        record_stage_event(get_settings(), GROUP, stage, StageEvent("deployed", version, at, f"e{day}"))


def _target(registry: object, *, leaving: int, stage: str = "prod") -> int | None:
    return rollback_target(
        get_settings(), registry, group=GROUP, stage=stage, leaving=leaving, registry_at=(AUTOMATION, REGION)
    )


def test_the_most_recent_version_proven_there_and_approved_now_is_the_target(cloud: Cloud) -> None:
    # Given prod served v1, then v2, then v3 (all Approved), and v3 is left
    registry = _registry(cloud, {1: "Approved", 2: "Approved", 3: "Approved"})
    _deployed("prod", 1, 2, 3)
    # Then prod goes back to v2, not to the oldest
    assert _target(registry, leaving=3) == 2


def test_a_version_no_longer_approved_in_the_registry_is_passed_over(cloud: Cloud) -> None:
    # Given prod served v1 then v2, and v2 was rejected in the registry since
    registry = _registry(cloud, {1: "Approved", 2: "Rejected", 3: "Approved"})
    _deployed("prod", 1, 2, 3)
    # Then leaving v3 goes back to v1
    assert _target(registry, leaving=3) == 1


def test_no_target_when_nothing_proven_there_is_approved_now(cloud: Cloud) -> None:
    registry = _registry(cloud, {1: "PendingManualApproval", 2: "Rejected", 3: "Approved"})
    _deployed("prod", 1, 2, 3)

    assert _target(registry, leaving=3) is None
    # and another stage's history is not this stage's
    _deployed("staging", 1, 2, 3)
    assert _target(registry, leaving=3, stage="dev") is None


def test_a_version_missing_from_the_registry_is_passed_over(cloud: Cloud) -> None:
    # Given prod served v1, then v4 (a package the registry no longer has: ResourceNotFound), then v3
    registry = _registry(cloud, {1: "Approved", 2: "Approved", 3: "Approved"})
    _deployed("prod", 1, 4, 3)
    # Then leaving v3 goes back to v1
    assert _target(registry, leaving=3) == 1


def test_a_registry_that_cannot_be_read_fails_the_choice_instead_of_passing_versions_over(cloud: Cloud) -> None:
    # Given a registry that denies DescribeModelPackage
    registry = _registry(cloud, {1: "Approved", 2: "Approved"})
    _deployed("prod", 1, 2)

    def denied(**_: object) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeModelPackage")

    registry.meta.events.register("before-call.sagemaker.DescribeModelPackage", denied)  # type: ignore[attr-defined]
    # Then the rollback fails (to be retried), rather than being reported impossible
    with pytest.raises(AwsCallFailed, match="AccessDeniedException"):
        _target(registry, leaving=2)
