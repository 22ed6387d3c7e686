"""The sandbox's registry emits SageMaker's model package events, shaped like the samples the rules match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from lifecycle.events import ModelPackageEvent, parse_event
from support.cloud import AUTOMATION, Cloud

from sandbox.world import WORLD

SAMPLES = Path(__file__).resolve().parents[2] / "events"
SPEC = {
    "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgb:1", "ModelDataUrl": "s3://b/m.tar.gz"}],
    "SupportedContentTypes": ["application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}


def test_registering_and_approving_emit_the_events_sagemaker_emits(cloud: Cloud) -> None:
    # Given a tagged group in the registry
    sagemaker = cloud.client("sagemaker", AUTOMATION)
    sagemaker.create_model_package_group(
        ModelPackageGroupName="churn", Tags=[{"Key": "lifecycle:model-package-group", "Value": "churn"}]
    )
    WORLD.drain()

    # When a package is registered, then approved
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="churn", ModelApprovalStatus="PendingManualApproval", InferenceSpecification=SPEC
    )["ModelPackageArn"]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    # Then three events, parsed by the model, shaped like the samples: registration while InProgress, then Completed
    in_progress, registered, approved = WORLD.drain()
    assert in_progress["detail"]["ModelPackageStatus"] == "InProgress"
    assert registered["detail"]["ModelPackageStatus"] == approved["detail"]["ModelPackageStatus"] == "Completed"
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


def test_a_package_of_a_group_with_tags_is_refused_as_sagemaker_refuses_it(cloud: Cloud) -> None:
    # Given a group in the registry
    sagemaker = cloud.client("sagemaker", AUTOMATION)
    sagemaker.create_model_package_group(ModelPackageGroupName="churn")
    WORLD.drain()

    # When a package of the group is registered with Tags (CreateModelPackage, Tags: "you cannot supply a tag
    # argument" with ModelPackageGroupName)
    with pytest.raises(ClientError) as refused:
        sagemaker.create_model_package(
            ModelPackageGroupName="churn",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification=SPEC,
            Tags=[{"Key": "lifecycle:model-package-group", "Value": "churn"}],
        )

    # Then SageMaker's error, no package and no event
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Tags cannot be supplied with ModelPackageGroupName" in refused.value.response["Error"]["Message"]
    assert sagemaker.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"] == []
    assert WORLD.drain() == []


def test_arns_lower_case_the_group_name_and_names_keep_their_case(cloud: Cloud) -> None:
    # Given a mixed-case group
    sagemaker = cloud.client("sagemaker", AUTOMATION)
    group_arn = sagemaker.create_model_package_group(ModelPackageGroupName="ChurnPrediction")["ModelPackageGroupArn"]

    # When a package is registered into it
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="ChurnPrediction", ModelApprovalStatus="Approved", InferenceSpecification=SPEC
    )["ModelPackageArn"]

    # Then the ARNs name it in lower case, the name fields keep its case
    assert group_arn.endswith(":model-package-group/churnprediction")
    assert arn.endswith(":model-package/churnprediction/1")
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelPackageGroupName"] == "ChurnPrediction"
    [event] = [e for e in WORLD.drain() if e["detail"].get("ModelPackageStatus") == "Completed"]
    assert event["detail"]["ModelPackageGroupName"] == "ChurnPrediction"
    assert event["resources"] == [arn]
