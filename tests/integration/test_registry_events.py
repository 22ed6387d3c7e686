"""The sandbox's registry emits SageMaker's model package events, shaped like the samples the rules match."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import AUTOMATION, Cloud
from lifecycle.events import ModelPackageEvent, parse_event

from sandbox.world import WORLD

SAMPLES = Path(__file__).resolve().parents[2] / "events"
SPEC = {
    "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgb:1", "ModelDataUrl": "s3://b/m.tar.gz"}],
    "SupportedContentTypes": ["application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}


def test_registering_and_approving_emit_the_events_sagemaker_emits(cloud: Cloud) -> None:
    # Given a group in the registry
    sagemaker = cloud.client("sagemaker", AUTOMATION)
    sagemaker.create_model_package_group(ModelPackageGroupName="churn")
    WORLD.drain()

    # When a package is registered, then approved
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="churn",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification=SPEC,
        Tags=[{"Key": "lifecycle:model-package-group", "Value": "churn"}],
    )["ModelPackageArn"]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    # Then two events, parsed by the model, shaped like the samples
    registered, approved = WORLD.drain()
    assert parse_event(registered, ModelPackageEvent).status == "PendingManualApproval"
    assert parse_event(approved, ModelPackageEvent).status == "Approved"
    assert approved["detail"]["UpdatedModelPackageFields"] == ["ModelApprovalStatus"]
    assert approved["detail"]["Tags"] == {"lifecycle:model-package-group": "churn"}
    assert approved["resources"] == [arn]
    sample = json.loads((SAMPLES / "model-package-approved.json").read_text())
    assert set(approved) == set(sample)
    assert {"ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn", "CreationTime"} <= set(
        approved["detail"]
    )
    assert isinstance(approved["detail"]["CreationTime"], int)
