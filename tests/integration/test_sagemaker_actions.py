"""What SageMaker does on its own, end to end through the handlers, against moto: it rolls an endpoint deployment back
(deployment-state), a monitoring schedule fails or is stopped (schedule-state), a pipeline execution fails or is
stopped (pipeline-state). Each is recorded and people are told, in words, once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from lifecycle.config import get_settings
from lifecycle.deploy import endpoints
from lifecycle.monitoring.schedule import ensure_monitor
from lifecycle.policy import Policy, Stage
from lifecycle.store import deployments
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, DEV, PROD, REGION, Cloud, churn_policy
from support.monitoring import ENDPOINT, create_endpoint

from functions.deployment_state.app import lambda_handler as deployment_handler
from functions.pipeline_state.app import lambda_handler as pipeline_handler
from functions.schedule_state.app import lambda_handler as schedule_handler
from sandbox.fakes import monitoring as fake_monitoring
from sandbox.fakes import pipelines as fake_pipelines

EVENTS = Path(__file__).resolve().parents[2] / "events"
PIPELINE = "churn-training-pipeline"


class Context:
    function_name = "sagemaker-actions"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{AUTOMATION}:function:sagemaker-actions"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def staged_policy(**stage: Any) -> dict[str, Any]:
    """churn, serving in prod on churn-prod with an auto-rollback alarm and a model-quality monitor of its own."""
    document = churn_policy()
    document["deployment"] = {
        "stages": [
            {
                "name": "prod",
                "account": PROD,
                "region": REGION,
                "endpoint_name": ENDPOINT,
                "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole",
                "instance_type": "ml.m5.xlarge",
                "rollback_alarms": ["churn-prod-5xx"],
                "data_capture": {"s3_uri": "s3://example-prod-ml-monitoring/churn/capture/"},
                "monitoring": [
                    {
                        "type": "model_quality",
                        "on_violation": "retrain",
                        "problem_type": "BinaryClassification",
                        "ground_truth_s3_uri": "s3://example-prod-ml-monitoring/churn/ground-truth/",
                        "reports_s3_uri": "s3://example-prod-ml-monitoring/churn/model-quality/",
                    }
                ],
                **stage,
            }
        ]
    }
    return document


def records(action: str) -> list[Any]:
    return [r for r in history("churn", get_settings()) if r.action == action]


# --- SageMaker rolls a deployment back ---------------------------------------------------------------------------
def test_a_rollback_by_sagemaker_is_recorded_and_told_in_words(cloud: Cloud) -> None:
    # Given churn-prod serving, and SageMaker rolling an update back (its auto-rollback alarm fired)
    cloud.publish_policy(staged_policy())
    create_endpoint(cloud, PROD, ENDPOINT)
    event = sample("endpoint-deployment-rolled-back.json")

    # When
    result = deployment_handler(event, Context())

    # Then recorded and told: which stage, from which config to which, and why
    assert result["outcome"] == "acted" and result["told"] is True
    [record] = records("sagemaker-rollback")
    assert record.outcome == "notified" and record.details["stage"] == "prod"
    assert "SageMaker rolled churn-prod back from churn-v3-prod-b3f816 to churn-prod-config" in record.reason
    assert "churn-prod-5xx" in record.reason
    [note] = cloud.notifications()
    assert note["kind"] == "rolled-back" and "SageMaker rolled back prod" in note["subject"]


def test_a_rollback_during_a_deployment_is_recorded_but_told_by_the_deployment(cloud: Cloud) -> None:
    # Given a DeployModel execution holding churn-prod's lease: it reports EndpointRolledBack itself
    cloud.publish_policy(staged_policy())
    create_endpoint(cloud, PROD, ENDPOINT)
    endpoint = deployments.Endpoint(PROD, REGION, ENDPOINT)
    lease = deployments.Lease(holder="churn-v3-prod", group="churn", version=3, kind="deploy", stage="prod")
    assert deployments.acquire_lease(get_settings(), endpoint, lease, keep=timedelta(hours=1)) is None

    result = deployment_handler(sample("endpoint-deployment-rolled-back.json"), Context())

    assert result["told"] is False
    [record] = records("sagemaker-rollback")
    assert record.outcome == "done" and "DeployModel churn-v3-prod holds the endpoint" in record.reason
    assert cloud.notifications() == []


def test_a_rollback_of_a_product_rollout_seen_after_its_deployment_ended_is_told_by_that_deployment(
    cloud: Cloud,
) -> None:
    # Given the update rolled back was v3 of churn (a DeployModel rollout, which has ended and released the endpoint)
    cloud.publish_policy(staged_policy())
    create_endpoint(cloud, PROD, ENDPOINT)
    stage = _stage()
    package = f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/churn/3"
    model = endpoints.model_request(stage, group="churn", version=3, package_arn=package)
    variants = [endpoints.VariantSpec(endpoints.MAIN_VARIANT, model["ModelName"], 1.0)]
    config = endpoints.config_request(stage, group="churn", version=3, package_arn=package, variants=variants)
    sagemaker = cloud.client("sagemaker", PROD)
    sagemaker.create_model(**model)
    sagemaker.create_endpoint_config(**config)
    event = sample("endpoint-deployment-rolled-back.json")
    event["detail"]["PendingDeploymentSummary"]["EndpointConfigName"] = config["EndpointConfigName"]

    result = deployment_handler(event, Context())

    # Then recorded (from v3 back to the config it served), told only by DeployModel
    assert result["told"] is False
    [record] = records("sagemaker-rollback")
    assert "back from v3 to churn-prod-config" in record.reason
    assert "the update was a DeployModel rollout and reports it" in record.reason
    assert cloud.notifications() == []


def _stage() -> Stage:
    deployment = Policy.model_validate(staged_policy()).deployment
    assert deployment is not None
    return deployment.stages[0]


def test_the_same_rollback_twice_is_told_once(cloud: Cloud) -> None:
    cloud.publish_policy(staged_policy())
    create_endpoint(cloud, PROD, ENDPOINT)
    event = sample("endpoint-deployment-rolled-back.json")

    deployment_handler(event, Context())
    deployment_handler({**event, "id": "another-id-for-the-same-change"}, Context())

    assert len(records("sagemaker-rollback")) == 1
    assert len(cloud.notifications()) == 1


def test_a_rollback_of_an_endpoint_no_policy_deploys_is_ignored(cloud: Cloud) -> None:
    cloud.publish_policy(staged_policy(endpoint_name="churn-prod-2"))

    result = deployment_handler(sample("endpoint-deployment-rolled-back.json"), Context())

    assert result["outcome"] == "ignored"
    assert cloud.notifications() == []


# --- a monitoring schedule fails or is stopped -------------------------------------------------------------------
def _schedule(cloud: Cloud) -> str:
    """The stage's model-quality schedule, as the deployment creates it."""
    stage = _stage()
    create_endpoint(cloud, PROD, ENDPOINT)
    return ensure_monitor(cloud.client("sagemaker", PROD), stage, stage.monitoring[0], group="churn").schedule


def test_a_failed_schedule_is_recorded_and_told_with_its_reason(cloud: Cloud) -> None:
    cloud.publish_policy(staged_policy())
    name = _schedule(cloud)
    event = fake_monitoring.set_schedule_status(PROD, REGION, name, status="Failed", reason="Access Denied")

    result = schedule_handler(event, Context())

    assert result["outcome"] == "acted" and result["monitor"] == "model_quality"
    [record] = records("monitoring-schedule-failed")
    assert "the model_quality monitoring schedule churn-prod-model-quality on churn-prod is Failed" in record.reason
    assert "Access Denied" in record.reason and "(retrain) cannot be acted on" in record.reason
    [note] = cloud.notifications()
    assert note["kind"] == "schedule-failed"


def test_a_schedule_started_again_since_its_event_is_only_logged(cloud: Cloud) -> None:
    cloud.publish_policy(staged_policy())
    name = _schedule(cloud)
    stopped = fake_monitoring.set_schedule_status(PROD, REGION, name, status="Stopped")
    fake_monitoring.set_schedule_status(PROD, REGION, name, status="Scheduled")

    result = schedule_handler(stopped, Context())

    assert result["outcome"] == "ignored"
    assert records("monitoring-schedule-stopped") == [] and cloud.notifications() == []


# --- a pipeline execution fails or is stopped --------------------------------------------------------------------
def _execution(cloud: Cloud, account: str = DEV) -> str:
    sagemaker = cloud.client("sagemaker", account)
    sagemaker.create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn=f"arn:aws:iam::{account}:role/SageMakerPipelineRole",
    )
    started = sagemaker.start_pipeline_execution(PipelineName=PIPELINE, PipelineExecutionDisplayName="churn-weekly")
    return str(started["PipelineExecutionArn"])


EMPTY_CHANNEL = "AlgorithmError: the training channel is empty"
FAILED_STEPS = [
    {"StepName": "PrepareData", "StepStatus": "Succeeded"},
    {"StepName": "TrainModel", "StepStatus": "Failed", "FailureReason": EMPTY_CHANNEL},
]


def test_a_failed_pipeline_execution_is_told_with_its_failed_step_and_reason(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    arn = _execution(cloud)
    event = fake_pipelines.end_execution(
        DEV, REGION, arn, status="Failed", steps=FAILED_STEPS, failure_reason="Step failure: One or multiple failed."
    )

    result = pipeline_handler(event, Context())

    assert result["outcome"] == "acted" and result["failed_steps"] == ["TrainModel"]
    [record] = records("notify-pipeline-failed")
    assert "step TrainModel Failed: AlgorithmError: the training channel is empty" in record.reason
    assert "PrepareData" not in record.reason
    assert record.details == {"TrainModel": "AlgorithmError: the training channel is empty"}
    [note] = cloud.notifications()
    assert note["kind"] == "pipeline-failed" and f"pipeline {PIPELINE} failed" in note["subject"]


def test_a_stopped_pipeline_execution_is_told(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    arn = _execution(cloud)
    steps = [{"StepName": "TrainModel", "StepStatus": "Stopped"}]
    event = fake_pipelines.end_execution(DEV, REGION, arn, status="Stopped", steps=steps)

    result = pipeline_handler(event, Context())

    assert result["failed_steps"] == ["TrainModel"]
    [note] = cloud.notifications()
    assert note["kind"] == "pipeline-stopped"


def test_a_pipeline_execution_outside_the_training_account_is_refused(cloud: Cloud) -> None:
    # Authority comes from the policy: churn trains in dev, so a pipeline of the same name in prod drives nothing
    cloud.publish_policy(churn_policy())
    arn = _execution(cloud, PROD)
    event = fake_pipelines.end_execution(PROD, REGION, arn, status="Failed", steps=FAILED_STEPS)

    result = pipeline_handler(event, Context())

    assert result["outcome"] == "refused"
    assert cloud.notifications() == []


def test_a_succeeded_pipeline_links_the_package_it_registered(cloud: Cloud) -> None:
    cloud.publish_policy(churn_policy())
    arn = _execution(cloud)
    package = f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/churn/4"
    steps = [{"StepName": "RegisterModel", "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {"Arn": package}}}]
    event = fake_pipelines.end_execution(DEV, REGION, arn, status="Succeeded", steps=steps)

    result = pipeline_handler(event, Context())

    assert result["model_packages"] == [package]
    [record] = records("pipeline-registered")
    assert record.resource == package and record.version == 4
    assert record.details["pipeline_execution"] == arn
