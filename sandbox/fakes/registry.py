"""The Model Registry speaks: moto registers and approves model packages, the sandbox emits SageMaker's events.

SageMaker publishes `SageMaker Model Package State Change` when a package is registered (its approval status,
often `PendingManualApproval`, first while its `ModelPackageStatus` is still `InProgress`, then `Completed`) and on
every update (`UpdatedModelPackageFields` names what changed). moto implements the API but emits nothing; these
wrappers around its backend add the events, so registering a model drives the approval notification, and approving
it drives the deployment, by themselves.

They also refuse what SageMaker refuses and moto accepts: CreateModelPackage with `ModelPackageGroupName` and `Tags`
("If you supply ModelPackageGroupName, your model package belongs to the model group you specify and uses the tags
associated with the model group. In this case, you cannot supply a tag argument": API reference,
CreateModelPackage, Tags). A versioned package's events carry its group's tags.
"""

from __future__ import annotations

from typing import Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend

from sandbox.fakes.training import as_event_detail
from sandbox.world import WORLD

DETAIL_TYPE = "SageMaker Model Package State Change"
_MOTO_CREATE = SageMakerModelBackend.create_model_package
_MOTO_UPDATE = SageMakerModelBackend.update_model_package
# UpdateModelPackage request fields -> the detail field SageMaker lists in UpdatedModelPackageFields
_UPDATABLE = {
    "model_approval_status": "ModelApprovalStatus",
    "approval_description": "ApprovalDescription",
    "customer_metadata_properties": "CustomerMetadataProperties",
    "inference_specification": "InferenceSpecification",
}


def emit_package_state(backend: SageMakerModelBackend, arn: str, updated: list[str] | None = None) -> dict[str, Any]:
    """Emit the state-change event of the package `arn` as it is now (a versioned package has its group's tags)."""
    package = backend.model_packages[arn]
    detail = as_event_detail(package.response_object)
    group = backend.model_package_groups.get(package.model_package_group_name or "")
    tags = group.tags if group is not None else getattr(package, "tags", None)
    detail["Tags"] = {tag["Key"]: tag["Value"] for tag in tags or []}
    if updated:
        detail["UpdatedModelPackageFields"] = updated
    return WORLD.emit(
        account=backend.account_id, region=backend.region_name, detail_type=DETAIL_TYPE, detail=detail, resources=[arn]
    )


def _create(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> str:
    if kwargs.get("model_package_group_name") and kwargs.get("tags"):
        raise ValidationError(
            message="Tags cannot be supplied with ModelPackageGroupName: a versioned model package uses the tags "
            "associated with its model package group."
        )
    arn = _MOTO_CREATE(self, *args, **kwargs)
    package = self.model_packages[arn]
    package.model_package_status = "InProgress"
    emit_package_state(self, arn)
    package.model_package_status = "Completed"
    emit_package_state(self, arn)
    return arn


def _update(self: SageMakerModelBackend, model_package_arn: str, *args: Any, **kwargs: Any) -> str:
    arn = _MOTO_UPDATE(self, model_package_arn, *args, **kwargs)
    emit_package_state(self, arn, [field for name, field in _UPDATABLE.items() if kwargs.get(name) is not None])
    return arn


def emit_registry_events() -> None:
    """Make moto's registry emit SageMaker's model package events (idempotent)."""
    SageMakerModelBackend.create_model_package = _create  # type: ignore[method-assign]
    SageMakerModelBackend.update_model_package = _update  # type: ignore[method-assign]
