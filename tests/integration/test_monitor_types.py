"""The four Model Monitor types of a stage, against moto and the fakes: the deployment creates each monitor's job
definition and schedule (then updates only what a changed policy changes), and a violation of each type does what that
monitor's policy says, with its own cool-down, from either signal (the run, or an alarm of the type's namespace,
endpoint or batch transform)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.config import get_settings
from lifecycle.monitoring.schedule import API_TYPES, ensure_monitor
from lifecycle.policy import Policy, Stage
from lifecycle.store.audit import history
from support.cloud import AUTOMATION, DEV, PROD, REGION, Cloud, churn_policy
from support.monitoring import ENDPOINT, create_endpoint

from functions.monitor_violation.app import lambda_handler
from sandbox.fakes import monitoring as fake_monitoring

MONITORING = "s3://example-prod-ml-monitoring/churn"
BATCH_SCHEDULE = "churn-batch-scoring-data-quality"
MONITORS: dict[str, dict[str, Any]] = {
    "data_quality": {"on_violation": "retrain", "baseline_s3_uri": f"{MONITORING}/baseline/"},
    "model_quality": {
        "on_violation": "retrain",
        "problem_type": "BinaryClassification",
        "ground_truth_s3_uri": f"{MONITORING}/ground-truth/",
        "inference_attribute": "prediction",
        "probability_attribute": "score",
        "probability_threshold": 0.5,
    },
    "bias_drift": {
        "on_violation": "notify",
        "analysis_config_s3_uri": f"{MONITORING}/clarify/analysis_config.json",
        "ground_truth_s3_uri": f"{MONITORING}/ground-truth/",
    },
    "feature_attribution_drift": {
        "on_violation": "notify",
        "analysis_config_s3_uri": f"{MONITORING}/clarify/analysis_config.json",
    },
}


class Context:
    function_name = "monitor-violation"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{AUTOMATION}:function:monitor-violation"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def policy(**changed: dict[str, Any]) -> dict[str, Any]:
    """churn: trains in dev, serves in prod on churn-prod with all four monitors created by the deployment, and reacts
    to a batch transform data-quality schedule of the data team's."""
    monitors = [
        {"type": kind, "reports_s3_uri": f"{MONITORING}/{kind}/", **spec, **changed.get(kind, {})}
        for kind, spec in MONITORS.items()
    ]
    mine = {"type": "data_quality", "schedule_name": BATCH_SCHEDULE, "on_violation": "notify"}
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
                "data_capture": {"s3_uri": f"{MONITORING}/capture/"},
                "monitoring": [*monitors, mine],
            }
        ]
    }
    return document


def stage_of(document: dict[str, Any]) -> Stage:
    deployment = Policy.model_validate(document).deployment
    assert deployment is not None
    return deployment.stages[0]


def set_up(cloud: Cloud, document: dict[str, Any]) -> dict[str, str]:
    """What a deployment does to the stage's monitors: {type: outcome} of each one it creates."""
    stage = stage_of(document)
    sagemaker = cloud.client("sagemaker", PROD)
    return {
        monitor.type: ensure_monitor(sagemaker, stage, monitor, group="churn").outcome
        for monitor in stage.monitoring
        if monitor.created_by_deployment
    }


def test_the_deployment_creates_each_monitor_type_then_updates_only_what_the_policy_changed(cloud: Cloud) -> None:
    # Given the stage's endpoint
    create_endpoint(cloud, PROD, ENDPOINT)
    sagemaker = cloud.client("sagemaker", PROD)

    # When the deployment sets the monitors up, again unchanged, then with model quality's baseline changed
    first = set_up(cloud, policy())
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName="churn-prod-model-quality")
    again = set_up(cloud, policy())
    changed = set_up(cloud, policy(model_quality={"baseline_s3_uri": f"{MONITORING}/model-quality-baseline-2/"}))

    # Then one schedule per type, each running a job definition of its type; a second deployment changes nothing
    assert first == dict.fromkeys(MONITORS, "created")
    assert again == dict.fromkeys(MONITORS, "unchanged")
    assert changed == dict.fromkeys(MONITORS, "unchanged") | {"model_quality": "updated"}
    for kind, api in API_TYPES.items():
        schedule = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=f"churn-prod-{kind.replace('_', '-')}")
        config = schedule["MonitoringScheduleConfig"]
        assert config["MonitoringType"] == api and schedule["EndpointName"] == ENDPOINT
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in api).lstrip("_")
        definition = getattr(sagemaker, f"describe_{snake}_job_definition")(
            JobDefinitionName=config["MonitoringJobDefinitionName"]
        )
        assert definition[f"{api}JobInput"]["EndpointInput"]["EndpointName"] == ENDPOINT
    # the changed monitor runs a new definition (a definition cannot be updated); the old one is left as it was
    after = sagemaker.describe_monitoring_schedule(MonitoringScheduleName="churn-prod-model-quality")
    old, new = (s["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] for s in (described, after))
    assert old != new
    baseline = sagemaker.describe_model_quality_job_definition(JobDefinitionName=new)["ModelQualityBaselineConfig"]
    assert baseline["ConstraintsResource"]["S3Uri"] == f"{MONITORING}/model-quality-baseline-2/constraints.json"
    sagemaker.describe_model_quality_job_definition(JobDefinitionName=old)


def dev_training_jobs(cloud: Cloud) -> list[str]:
    return [s["TrainingJobName"] for s in cloud.client("sagemaker", DEV).list_training_jobs()["TrainingJobSummaries"]]


def test_model_quality_and_bias_drift_violations_take_the_action_each_monitor_s_policy_says(cloud: Cloud) -> None:
    # Given model quality says retrain and bias drift says notify
    cloud.publish_policy(policy())
    create_endpoint(cloud, PROD, ENDPOINT)
    set_up(cloud, policy())

    # When both find violations
    quality = lambda_handler(
        fake_monitoring.run_execution(PROD, REGION, "churn-prod-model-quality", outcome="violations"), Context()
    )
    bias = lambda_handler(
        fake_monitoring.run_execution(PROD, REGION, "churn-prod-bias-drift", outcome="violations"), Context()
    )

    # Then model quality retrains in dev; bias drift only tells people; each names what it found
    assert (quality["action"], bias["action"]) == ("retrain", "notified")
    assert len(dev_training_jobs(cloud)) == 1
    retrain, notify = history("churn", get_settings())
    assert (retrain.action, retrain.details["monitor"]) == ("retrain", "model_quality")
    assert "auc:LessThanThreshold" in retrain.details
    assert (notify.action, notify.details["monitor"]) == ("notify", "bias_drift")
    assert "CI of age=40:bias_drift_check" in notify.details
    subjects = [note["subject"] for note in cloud.notifications()]
    assert any("(model quality)" in s for s in subjects) and any("(bias drift)" in s for s in subjects)


def test_each_monitor_has_its_own_cool_down(cloud: Cloud) -> None:
    # Given data quality and model quality both say retrain, each with its own 24 h cool-down
    cloud.publish_policy(policy())
    create_endpoint(cloud, PROD, ENDPOINT)
    set_up(cloud, policy())

    # When model quality finds violations twice, then data quality once
    runs = [
        fake_monitoring.run_execution(PROD, REGION, "churn-prod-model-quality", outcome="violations"),
        fake_monitoring.run_execution(
            PROD, REGION, "churn-prod-model-quality", outcome="violations", scheduled_time=_hour_ago()
        ),
        fake_monitoring.run_execution(PROD, REGION, "churn-prod-data-quality", outcome="violations"),
    ]
    results = [lambda_handler(run, Context()) for run in runs]

    # Then the second model-quality violation cools down; the data-quality one acts in its own window
    assert [r["action"] for r in results] == ["retrain", "cooling-down", "retrain"]
    assert len(dev_training_jobs(cloud)) == 2


def _hour_ago() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def test_an_alarm_of_a_batch_transform_monitor_is_matched_by_its_schedule_and_notified(cloud: Cloud) -> None:
    # Given the data team's batch transform schedule (no endpoint: namespace aws/sagemaker/ModelMonitoring/...)
    cloud.publish_policy(policy())
    alarm = fake_monitoring.set_alarm(
        PROD,
        REGION,
        alarm_name="churn-batch-scoring-drift",
        endpoint_name="",
        schedule_name=BATCH_SCHEDULE,
        state="ALARM",
        namespace="aws/sagemaker/ModelMonitoring/data-metrics",
    )

    result = lambda_handler(alarm, Context())

    assert result["action"] == "notified"
    assert dev_training_jobs(cloud) == []
    [record] = history("churn", get_settings())
    assert record.details["monitor"] == BATCH_SCHEDULE and record.details["schedule"] == BATCH_SCHEDULE


def test_an_alarm_of_a_bias_metric_on_the_endpoint_is_the_bias_drift_monitor_s(cloud: Cloud) -> None:
    cloud.publish_policy(policy())
    alarm = fake_monitoring.set_alarm(
        PROD,
        REGION,
        alarm_name="churn-prod-bias",
        endpoint_name=ENDPOINT,
        schedule_name="churn-prod-bias-drift",
        state="ALARM",
        metric_name="bias_drift_check_CI",
        namespace=fake_monitoring.BIAS_METRICS,
    )

    result = lambda_handler(alarm, Context())

    assert result["action"] == "notified"
    [record] = history("churn", get_settings())
    assert record.details["monitor"] == "bias_drift"
