"""The strict validator refuses every constraint botocore's model states that botocore itself does not check.

Each kind of rule has a request botocore's own `ParamValidator` accepts and SageMaker refuses.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator
from moto.sagemaker.exceptions import ValidationError
from support.cloud import REGION, Cloud

from sandbox.fakes import validate_request
from sandbox.fakes.strict import operation_model, request_errors, service_model, strict_errors

TRAINING_JOB: dict[str, Any] = {
    "TrainingJobName": "churn-xgb-1",
    "AlgorithmSpecification": {
        "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgb:1",
        "TrainingInputMode": "File",
    },
    "RoleArn": "arn:aws:iam::222222222222:role/SageMakerTrainingRole",
    "OutputDataConfig": {"S3OutputPath": "s3://example-dev-ml-artifacts/churn/"},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}
PACKAGE: dict[str, Any] = {
    "ModelPackageGroupName": "churn",
    "InferenceSpecification": {
        "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgb:1"}],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    },
    "ModelApprovalStatus": "PendingManualApproval",
    "CustomerMetadataProperties": {"metric:validation:auc": "0.91"},
}


def botocore_accepts(operation: str, params: dict[str, Any]) -> bool:
    return not ParamValidator().validate(params, operation_model("sagemaker", operation).input_shape).has_errors()


def with_(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `base` with the member at dotted `path` (list indexes as numbers) set to `value`."""
    copied = copy.deepcopy(base)
    node: Any = copied
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return copied


def test_valid_requests_pass() -> None:
    assert request_errors("sagemaker", "CreateTrainingJob", TRAINING_JOB) == []
    assert request_errors("sagemaker", "CreateModelPackage", PACKAGE) == []


@pytest.mark.parametrize(
    ("operation", "request_", "expected"),
    [
        # pattern, matched against the whole value
        ("CreateTrainingJob", with_(TRAINING_JOB, "TrainingJobName", "churn_xgb_1"), "does not match pattern"),
        ("CreateTrainingJob", with_(TRAINING_JOB, "TrainingJobName", "churn-xgb-1-"), "does not match pattern"),
        # a pattern with \p{L} classes (regex package): letters of any script pass, '#' does not
        (
            "CreateModelPackage",
            with_(PACKAGE, "CustomerMetadataProperties", {"metric:auc#1": "0.9"}),
            "does not match pattern",
        ),
        # pattern, deep inside a list of structures
        (
            "CreateModelPackage",
            with_(PACKAGE, "InferenceSpecification.Containers.0.Image", "an image"),
            "InferenceSpecification.Containers[0].Image: value 'an image' does not match",
        ),
        # max length of a string
        ("CreateTrainingJob", with_(TRAINING_JOB, "TrainingJobName", "a" * 64), "greater than the maximum 63"),
        # min size of a map (botocore checks min only on strings, lists and numbers)
        ("CreateModelPackage", with_(PACKAGE, "CustomerMetadataProperties", {}), "less than the minimum 1"),
        # max size of a list
        (
            "CreateTrainingJob",
            with_(TRAINING_JOB, "Tags", [{"Key": f"k{n}", "Value": "v"} for n in range(51)]),
            "Tags: length 51 is greater than the maximum 50",
        ),
        # max of a number
        ("ListTrainingJobs", {"MaxResults": 101}, "MaxResults: value 101 is greater than the maximum 100"),
        # enum
        (
            "CreateModelPackage",
            with_(PACKAGE, "ModelApprovalStatus", "Maybe"),
            "value 'Maybe' is not one of Approved, Rejected, PendingManualApproval",
        ),
        # a map key's own pattern and length
        (
            "CreateModelPackage",
            with_(PACKAGE, "CustomerMetadataProperties", {"k" * 129: "v"}),
            "greater than the maximum 128",
        ),
    ],
    ids=[
        "pattern",
        "pattern-whole-string",
        "pattern-unicode-class",
        "pattern-nested",
        "max-string",
        "min-map",
        "max-list",
        "max-number",
        "enum",
        "map-key",
    ],
)
def test_what_botocore_accepts_and_sagemaker_refuses_is_refused(
    operation: str, request_: dict[str, Any], expected: str
) -> None:
    # Given a request botocore's own validator lets through
    assert botocore_accepts(operation, request_)

    # When it is validated strictly
    errors = request_errors("sagemaker", operation, request_)

    # Then the broken constraint is named
    assert any(expected in error for error in errors), errors
    with pytest.raises(ValidationError, match="validation error"):
        validate_request("sagemaker", operation, request_)


def test_letters_of_any_script_match_a_unicode_class_pattern() -> None:
    request = with_(PACKAGE, "CustomerMetadataProperties", {"métrique:précision": "0.9", "精度": "0.9"})

    assert request_errors("sagemaker", "CreateModelPackage", request) == []


def test_java_surrogate_pairs_in_a_pattern_mean_supplementary_characters() -> None:
    # Given a shape whose pattern spells U+10000..U+10FFFF as Java's UTF-16 surrogate pairs
    athena = service_model("sagemaker").shape_for("AthenaDatasetDefinition")
    definition = {
        "Catalog": "c",
        "Database": "d",
        "QueryString": "SELECT 1",
        "OutputS3Uri": "s3://b/p",
        "OutputFormat": "PARQUET",
    }

    # Then a supplementary character is accepted and a control character refused
    assert strict_errors({**definition, "Catalog": "cat\U0001f600"}, athena) == []
    assert any("Catalog" in error for error in strict_errors({**definition, "Catalog": "cat\x01"}, athena))


def test_botocore_errors_come_first() -> None:
    errors = request_errors("sagemaker", "StopTrainingJob", {"TrainingJobName": "x", "Force": True})

    assert errors and "Unknown parameter" in errors[0]


def test_moto_s_own_operations_refuse_what_sagemaker_refuses(cloud: Cloud) -> None:
    # Given a client that skips botocore's validation (a hand-made request)
    client = boto3.client("sagemaker", region_name=REGION, config=Config(parameter_validation=False))

    # When moto's own CreateTrainingJob gets a name SageMaker refuses
    with pytest.raises(ClientError) as refused:
        client.create_training_job(**with_(TRAINING_JOB, "TrainingJobName", "churn_xgb_1"))

    # Then SageMaker's error code, and no job
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "TrainingJobName" in refused.value.response["Error"]["Message"]
    assert client.list_training_jobs()["TrainingJobSummaries"] == []


def test_a_fake_refuses_what_sagemaker_refuses(cloud: Cloud) -> None:
    client = boto3.client("sagemaker", region_name=REGION, config=Config(parameter_validation=False))

    with pytest.raises(ClientError) as refused:
        client.describe_labeling_job(LabelingJobName="churn_labels")

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "LabelingJobName" in refused.value.response["Error"]["Message"]
