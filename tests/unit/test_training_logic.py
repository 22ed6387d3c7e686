"""Pure decisions of the training-time reactions."""

from __future__ import annotations

import pytest
from conftest import churn_policy
from lifecycle.actions.registry import package_request
from lifecycle.actions.training import evaluate_gate, final_metrics
from lifecycle.policy import MetricGate, validate_policy

from sandbox.fakes import validate_request


@pytest.mark.parametrize(
    ("comparison", "value", "passed", "summary"),
    [
        (">=", 0.91, True, "validation:auc 0.91 >= 0.8"),
        (">=", 0.71, False, "validation:auc 0.71 < 0.8, not registered"),
        (">=", 0.8, True, "validation:auc 0.8 >= 0.8"),
        (">", 0.8, False, "validation:auc 0.8 <= 0.8, not registered"),
        ("<=", 0.2, False, "validation:auc 0.2 > 0.1, not registered"),
    ],
)
def test_the_metric_gate_says_why_with_the_numbers(comparison: str, value: float, passed: bool, summary: str) -> None:
    threshold = 0.1 if comparison == "<=" else 0.8
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
    job = {
        "TrainingJobName": "churn-xgb-1",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:222222222222:training-job/churn-xgb-1",
        "AlgorithmSpecification": {"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgb:1"},
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/churn-xgb-1/output/model.tar.gz"},
    }

    request = package_request(policy, job, metrics={"validation:auc": 0.91}, event_id="e-1", approve=False)

    validate_request("sagemaker", "CreateModelPackage", request)
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        "s3://example-reports/churn-xgb-1/evaluation.json"
    )
    assert len(request["ClientToken"]) <= 36
