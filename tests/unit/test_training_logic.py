"""Pure decisions of the training-time reactions."""

from __future__ import annotations

import unicodedata

import pytest
from lifecycle.actions.registry import TRAINING_JOB_KEY, package_request
from lifecycle.actions.training import evaluate_gate, final_metrics, training_channel, training_job_request
from lifecycle.names import metadata_text
from lifecycle.policy import MetricGate, validate_policy
from support.cloud import ARTIFACTS_KEY, DEV, REGION, churn_policy

from sandbox.fakes import validate_request
from sandbox.fakes.strict import compiled, request_errors, service_model

JOB = {
    "TrainingJobName": "churn-xgb-1",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:222222222222:training-job/churn-xgb-1",
    "AlgorithmSpecification": {"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgb:1"},
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/churn-xgb-1/output/model.tar.gz"},
}


@pytest.mark.parametrize(
    ("comparison", "value", "passed", "summary"),
    [
        (">=", 0.91, True, "validation:auc 0.91 >= 0.8"),
        (">=", 0.71, False, "validation:auc 0.71 < 0.8, not registered"),
        (">=", 0.8, True, "validation:auc 0.8 >= 0.8"),
        (">", 0.8, False, "validation:auc 0.8 <= 0.8, not registered"),
        (">", 0.81, True, "validation:auc 0.81 > 0.8"),
        ("<=", 0.2, False, "validation:auc 0.2 > 0.1, not registered"),
        ("<=", 0.1, True, "validation:auc 0.1 <= 0.1"),
        # lower is better: at the threshold a strict gate fails, below it passes
        ("<", 0.1, False, "validation:auc 0.1 >= 0.1, not registered"),
        ("<", 0.09, True, "validation:auc 0.09 < 0.1"),
    ],
)
def test_the_metric_gate_says_why_with_the_numbers(comparison: str, value: float, passed: bool, summary: str) -> None:
    threshold = 0.1 if comparison.startswith("<") else 0.8
    gate = MetricGate(metric="validation:auc", comparison=comparison, threshold=threshold)  # type: ignore[arg-type]

    result = evaluate_gate(gate, {"validation:auc": value})

    assert (result.passed, result.summary) == (passed, summary)


def test_a_metric_the_job_did_not_report_fails_the_gate() -> None:
    result = evaluate_gate(MetricGate(metric="validation:auc", threshold=0.8), {"train:auc": 0.99})

    assert not result.passed
    assert result.summary == "validation:auc not reported by the job (final metrics: train:auc), not registered"


def test_no_gate_passes() -> None:
    assert evaluate_gate(None, {}).passed


def test_final_metrics_reads_describe_training_job() -> None:
    job = {"FinalMetricDataList": [{"MetricName": "validation:auc", "Value": 0.91}]}

    assert final_metrics(job) == {"validation:auc": 0.91}
    assert final_metrics({}) == {}


def test_the_create_model_package_request_is_valid_for_sagemaker() -> None:
    policy = validate_policy(
        churn_policy(
            registry={
                "account": "123456789012",
                "region": "us-east-1",
                "realtime_instance_types": ["ml.m5.large"],
                "metrics_report_s3_uri": "s3://example-reports/{training_job_name}/evaluation.json",
            }
        ),
        group="churn",
    )
    request = package_request(policy, JOB, metrics={"validation:auc": 0.91}, event_id="e-1", approve=False)

    validate_request("sagemaker", "CreateModelPackage", request)
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        "s3://example-reports/churn-xgb-1/evaluation.json"
    )
    assert len(request["ClientToken"]) <= 36


def test_the_package_request_carries_no_tags_because_its_group_does() -> None:
    # CreateModelPackage, Tags: with ModelPackageGroupName "you cannot supply a tag argument"
    policy = validate_policy(churn_policy(), group="churn")

    request = package_request(policy, JOB, metrics={"validation:auc": 0.91}, event_id="e-1", approve=True)

    assert "Tags" not in request
    assert request["CustomerMetadataProperties"][TRAINING_JOB_KEY] == JOB["TrainingJobArn"]


def test_the_lineage_keys_are_the_ones_packages_already_registered_carry() -> None:
    # The registry keeps these keys for good: a retry finds the package an earlier version of the product registered
    # from the same job by them, and people read them in the console. They never change.
    policy = validate_policy(churn_policy(), group="churn")

    request = package_request(policy, JOB, metrics={"validation:auc": 0.91}, event_id="e-1", approve=True)

    assert request["CustomerMetadataProperties"] == {
        "lifecycle:training-job-arn": JOB["TrainingJobArn"],
        "lifecycle:event-id": "e-1",
        "metric:validation:auc": "0.91",
    }


def test_metric_names_and_event_ids_sagemaker_would_refuse_are_made_to_fit_its_patterns() -> None:
    # Given metric names with characters CustomerMetadataProperties keys refuse, and a hostile event id
    policy = validate_policy(churn_policy(), group="churn")
    metrics = {"accuracy(top-1)#2": 0.9, "validation:auc": 0.91, "loss[val]": 0.2, "f1 score": 0.8}

    # When the request is built
    request = package_request(policy, JOB, metrics=metrics, event_id="id#1;drop", approve=False)

    # Then SageMaker's model accepts every key and value, and each metric is still there, recognisable
    assert request_errors("sagemaker", "CreateModelPackage", request) == []
    assert request["CustomerMetadataProperties"]["metric:accuracy_top-1__2"] == "0.9"
    assert request["CustomerMetadataProperties"]["metric:validation:auc"] == "0.91"
    assert request["CustomerMetadataProperties"]["metric:f1 score"] == "0.8"
    assert request["CustomerMetadataProperties"]["lifecycle:event-id"] == "id_1_drop"


@pytest.mark.parametrize("shape", ["TagKey", "TagValue", "CustomerMetadataKey", "CustomerMetadataValue"])
def test_metadata_text_keeps_exactly_what_the_models_pattern_allows(shape: str) -> None:
    # Given the pattern of the shape in botocore's model, and every character of the first planes that this Python's
    # Unicode database assigns (the regex package may know a newer Unicode version)
    model = service_model("sagemaker").shape_for(shape)
    pattern = compiled(model.metadata["pattern"])
    characters = [chr(code) for code in range(0x30000) if unicodedata.category(chr(code)) not in ("Cn", "Cs")]

    # Then metadata_text keeps a character exactly when the pattern accepts it, and replaces the others
    kept = [char for char in characters if metadata_text(char, limit=1) == char]
    allowed = [char for char in characters if pattern.fullmatch(char)]
    assert kept == allowed
    assert all(pattern.fullmatch(metadata_text(char, limit=1)) for char in characters)


def test_metadata_text_cuts_to_the_limit() -> None:
    assert metadata_text("a" * 300, limit=256) == "a" * 256


def test_the_training_request_encrypts_artifacts_with_the_policy_key_and_fits_tags_to_the_pattern() -> None:
    # Given a policy naming the artifacts' key, and lineage tags holding characters tags refuse
    policy = validate_policy(churn_policy(), group="churn")
    assert policy.training is not None
    channel = training_channel(policy.training, "s3://example-dev-ml-data/churn/fresh/")

    # When the request is built
    request = training_job_request(
        policy, name="churn-retrain-1", channel=channel, tags={"lifecycle:event-id": "ev#1 (replayed)"}
    )

    # Then SageMaker's model accepts it, and the key is the policy's
    assert request_errors("sagemaker", "CreateTrainingJob", request) == []
    assert request["OutputDataConfig"] == {
        "S3OutputPath": "s3://example-dev-ml-artifacts/churn/",
        "KmsKeyId": ARTIFACTS_KEY,
    }
    assert request["Tags"] == [{"Key": "lifecycle:event-id", "Value": "ev_1 _replayed_"}]


def test_training_request_tags_are_cut_to_aws_s_lengths() -> None:
    # Tag: Key at most 128 characters, Value at most 256 (API reference, Tag)
    policy = validate_policy(churn_policy(), group="churn")
    assert policy.training is not None
    channel = training_channel(policy.training, "s3://example-dev-ml-data/churn/fresh/")

    request = training_job_request(policy, name="churn-retrain-1", channel=channel, tags={"k" * 200: "v" * 300})

    assert request_errors("sagemaker", "CreateTrainingJob", request) == []
    assert request["Tags"] == [{"Key": "k" * 128, "Value": "v" * 256}]


def test_without_a_key_the_training_request_names_none() -> None:
    # Given a policy that trains and serves in one account (the aws/s3 key is enough there)
    document = churn_policy(registry={"account": DEV, "region": REGION})
    del document["training"]["output_kms_key_arn"]
    policy = validate_policy(document, group="churn")
    assert policy.training is not None

    request = training_job_request(
        policy, name="churn-1", channel=training_channel(policy.training, "s3://b/p/"), tags={}
    )

    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://example-dev-ml-artifacts/churn/"}


def test_a_job_that_reported_no_metrics_fails_the_gate_and_says_so() -> None:
    gate = validate_policy(churn_policy(), group="churn").gate

    result = evaluate_gate(gate, {})

    assert not result.passed
    assert result.summary == "validation:auc not reported by the job (final metrics: none), not registered"
