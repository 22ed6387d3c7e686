"""The requests that set up a stage's monitors: one job definition per monitor type, then its schedule, each valid for
SageMaker (botocore's model, strictly), named deterministically from what it holds."""

from __future__ import annotations

from typing import Any

import pytest
from lifecycle.errors import InvalidDeploymentInput
from lifecycle.monitoring.images import ANALYZER_IMAGES, CLARIFY_IMAGES
from lifecycle.monitoring.schedule import (
    API_TYPES,
    job_definition_request,
    monitor_schedule_name,
    schedule_config,
    schedule_name,
)
from lifecycle.policy import GROUP_TAG, Stage

from sandbox.fakes import validate_request

REPORTS = "s3://example-monitoring/churn/reports/"
MONITORS: dict[str, dict[str, Any]] = {
    "data_quality": {"baseline_s3_uri": "s3://example-monitoring/churn/baseline"},
    "model_quality": {
        "problem_type": "BinaryClassification",
        "ground_truth_s3_uri": "s3://example-truth/churn/",
        "inference_attribute": "prediction",
        "probability_attribute": "score",
        "probability_threshold": 0.5,
        "baseline_s3_uri": "s3://example-monitoring/churn/model-quality-baseline/",
    },
    "bias_drift": {
        "analysis_config_s3_uri": "s3://example-clarify/churn/analysis_config.json",
        "ground_truth_s3_uri": "s3://example-truth/churn/",
        "features_attribute": "features",
        "baseline_s3_uri": "s3://example-monitoring/churn/bias-baseline",
    },
    "feature_attribution_drift": {"analysis_config_s3_uri": "s3://example-clarify/churn/analysis_config.json"},
}


def stage(monitor_type: str, region: str = "us-east-1", **monitor: Any) -> Stage:
    return Stage.model_validate(
        {
            "name": "prod",
            "account": "444444444444",
            "region": region,
            "endpoint_name": "churn-prod",
            "execution_role_arn": "arn:aws:iam::444444444444:role/SageMakerExecution",
            "instance_type": "ml.m5.xlarge",
            "data_capture": {"s3_uri": "s3://example-capture/churn/"},
            "monitoring": [
                {"type": monitor_type, "reports_s3_uri": REPORTS, **MONITORS[monitor_type], **monitor},
            ],
        }
    )


@pytest.mark.parametrize("monitor_type", sorted(MONITORS))
def test_each_monitor_s_job_definition_and_schedule_are_requests_sagemaker_accepts(monitor_type: str) -> None:
    spec = stage(monitor_type)
    [monitor] = spec.monitoring
    api = API_TYPES[monitor.type]

    request = job_definition_request(spec, monitor, group="churn")
    config = schedule_config(monitor, request["JobDefinitionName"])

    validate_request("sagemaker", f"Create{api}JobDefinition", request)
    validate_request(
        "sagemaker",
        "CreateMonitoringSchedule",
        {"MonitoringScheduleName": monitor_schedule_name(spec, monitor), "MonitoringScheduleConfig": config},
    )
    assert config["MonitoringType"] == api and config["MonitoringJobDefinitionName"] == request["JobDefinitionName"]
    assert request["Tags"] == [{"Key": GROUP_TAG, "Value": "churn"}]
    assert request[f"{api}JobInput"]["EndpointInput"]["EndpointName"] == "churn-prod"
    assert request[f"{api}JobOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"] == REPORTS
    assert monitor_schedule_name(spec, monitor) == f"churn-prod-{monitor_type.replace('_', '-')}"


def test_the_analyzer_runs_quality_monitors_and_clarify_the_bias_and_attribution_ones() -> None:
    images = {
        monitor_type: job_definition_request(stage(monitor_type), stage(monitor_type).monitoring[0], group="churn")[
            f"{API_TYPES[stage(monitor_type).monitoring[0].type]}AppSpecification"
        ]["ImageUri"]
        for monitor_type in MONITORS
    }

    assert images["data_quality"] == images["model_quality"] == ANALYZER_IMAGES["us-east-1"]
    assert images["bias_drift"] == images["feature_attribution_drift"] == CLARIFY_IMAGES["us-east-1"]
    assert images["bias_drift"].endswith("/sagemaker-clarify-processing:1.0")


def test_each_type_reads_what_it_needs_and_checks_against_its_own_baseline_files() -> None:
    requests = {t: job_definition_request(stage(t), stage(t).monitoring[0], group="churn") for t in MONITORS}

    quality = requests["model_quality"]
    assert quality["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"
    assert quality["ModelQualityJobInput"]["GroundTruthS3Input"] == {"S3Uri": "s3://example-truth/churn/"}
    endpoint = quality["ModelQualityJobInput"]["EndpointInput"]
    assert (endpoint["InferenceAttribute"], endpoint["ProbabilityAttribute"]) == ("prediction", "score")
    assert endpoint["ProbabilityThresholdAttribute"] == 0.5
    assert quality["ModelQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": "s3://example-monitoring/churn/model-quality-baseline/constraints.json"}
    }
    bias = requests["bias_drift"]
    assert bias["ModelBiasAppSpecification"]["ConfigUri"] == "s3://example-clarify/churn/analysis_config.json"
    assert bias["ModelBiasJobInput"]["EndpointInput"]["FeaturesAttribute"] == "features"
    assert bias["ModelBiasBaselineConfig"]["ConstraintsResource"]["S3Uri"].endswith("/bias-baseline/analysis.json")
    data = requests["data_quality"]["DataQualityBaselineConfig"]
    assert data["StatisticsResource"]["S3Uri"] == "s3://example-monitoring/churn/baseline/statistics.json"
    assert data["ConstraintsResource"]["S3Uri"] == "s3://example-monitoring/churn/baseline/constraints.json"
    explain = requests["feature_attribution_drift"]
    assert "GroundTruthS3Input" not in explain["ModelExplainabilityJobInput"]  # attributions need no labels
    assert "ModelExplainabilityBaselineConfig" not in explain


def test_a_job_definition_is_named_by_what_it_holds() -> None:
    first = job_definition_request(stage("model_quality"), stage("model_quality").monitoring[0], group="churn")
    again = job_definition_request(stage("model_quality"), stage("model_quality").monitoring[0], group="churn")
    changed_spec = stage("model_quality", probability_threshold=0.7)
    changed = job_definition_request(changed_spec, changed_spec.monitoring[0], group="churn")

    assert first == again
    assert changed["JobDefinitionName"] != first["JobDefinitionName"]
    assert first["JobDefinitionName"].startswith("churn-prod-model-quality-")


def test_a_monitor_of_a_schedule_of_yours_has_no_job_definition_to_create() -> None:
    spec = stage("data_quality", reports_s3_uri=None, schedule_name="churn-batch-data")

    with pytest.raises(InvalidDeploymentInput, match="not created by the deployment"):
        job_definition_request(spec, spec.monitoring[0], group="churn")
    assert monitor_schedule_name(spec, spec.monitoring[0]) == "churn-batch-data"
    assert schedule_name("churn-prod", "bias_drift") == "churn-prod-bias-drift"


def test_a_region_without_the_monitor_s_image_is_refused_before_anything_is_created() -> None:
    # the SDK's tables: Model Monitor's analyzer runs in il-central-1, SageMaker Clarify does not (yet)
    analyzed, clarified = stage("data_quality", region="il-central-1"), stage("bias_drift", region="il-central-1")

    job_definition_request(analyzed, analyzed.monitoring[0], group="churn")
    with pytest.raises(InvalidDeploymentInput, match="no SageMaker Clarify image is known for region il-central-1"):
        job_definition_request(clarified, clarified.monitoring[0], group="churn")
