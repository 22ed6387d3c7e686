"""Model Monitor violations, end to end through the handler, against moto: monitor in prod, retraining in dev."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lifecycle.config import get_settings
from lifecycle.store.audit import AuditRecord, history
from support.cloud import AUTOMATION, DEV, PROD, REGION, UNTRUSTED, Cloud, churn_policy
from support.monitoring import ENDPOINT, SCHEDULE, create_schedule
from support.training import LONG_GROUP

from functions.monitor_violation.app import lambda_handler
from functions.training_state.app import lambda_handler as training_handler
from sandbox.fakes import monitoring as fake_monitoring
from sandbox.fakes import training as fake_training

ALARM = "churn-prod-feature-drift"


class Context:
    function_name = "monitor-violation"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{AUTOMATION}:function:monitor-violation"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def monitored_policy(on_violation: str = "retrain", cooldown_hours: float = 6, **training: Any) -> dict[str, Any]:
    """churn: trains in dev, serves in prod on churn-prod, whose monitoring says `on_violation`."""
    document = churn_policy()
    document["training"] = {**document["training"], **training}
    document["deployment"] = {
        "stages": [
            {
                "name": "prod",
                "account": PROD,
                "region": REGION,
                "endpoint_name": ENDPOINT,
                "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole",
                "instance_type": "ml.m5.xlarge",
                "monitoring": {"on_violation": on_violation, "cooldown_hours": cooldown_hours},
            }
        ]
    }
    return document


def violation_run(hours_ago: int = 0, **kwargs: Any) -> dict[str, Any]:
    scheduled = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)
    return fake_monitoring.run_execution(PROD, REGION, SCHEDULE, scheduled_time=scheduled, **kwargs)


def dev_training_jobs(cloud: Cloud) -> list[dict[str, Any]]:
    sagemaker = cloud.client("sagemaker", DEV)
    summaries = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    return [sagemaker.describe_training_job(TrainingJobName=s["TrainingJobName"]) for s in summaries]


def audit(group: str = "churn") -> list[AuditRecord]:
    return history(group, get_settings())


def test_a_violation_in_prod_retrains_in_dev_on_fresh_data_and_says_what_drifted(cloud: Cloud) -> None:
    # Given the prod monitor finds two violations and policy says retrain (training in dev)
    cloud.publish_policy(monitored_policy("retrain"))
    create_schedule(cloud)
    event = violation_run(outcome="violations")

    # When
    result = lambda_handler(event, Context())

    # Then one training job in dev, on the fresh data, tagged so the training reaction registers it
    assert result["outcome"] == "acted"
    assert result["action"] == "retrain"
    [job] = dev_training_jobs(cloud)
    assert job["TrainingJobArn"].split(":")[4] == DEV
    assert job["TrainingJobName"].startswith("churn-prod-retrain-")
    [channel] = job["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == "s3://example-dev-ml-data/churn/fresh/"
    assert channel["DataSource"]["S3DataSource"]["S3DataType"] == "S3Prefix"
    tags = {
        t["Key"]: t["Value"]
        for t in cloud.client("sagemaker", DEV).list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    }
    assert tags["lifecycle:model-package-group"] == "churn"
    assert tags["lifecycle:monitor-signal"] == event["detail"]["ProcessingJobArn"]
    # and the audit record and the notification name the violated features and checks
    [record] = audit()
    assert (record.action, record.outcome, record.account) == ("retrain", "done", PROD)
    assert record.details["tenure_months:baseline_drift_check"].startswith("Baseline drift distance")
    assert record.details["stage"] == "prod"
    [note] = cloud.notifications()
    assert note["kind"] == "monitor-violation"
    assert "tenure_months: baseline_drift_check" in note["message"]
    assert "monthly_charges: data_type_check" in note["message"]
    assert "retrain started" in note["message"]


def test_a_drift_alarm_retrains_and_its_return_to_ok_is_only_recorded(cloud: Cloud) -> None:
    cloud.publish_policy(monitored_policy("retrain"))
    alarm = fake_monitoring.set_alarm(
        PROD, REGION, alarm_name=ALARM, endpoint_name=ENDPOINT, schedule_name=SCHEDULE, state="ALARM"
    )
    ok = fake_monitoring.set_alarm(
        PROD, REGION, alarm_name=ALARM, endpoint_name=ENDPOINT, schedule_name=SCHEDULE, state="OK"
    )

    fired = lambda_handler(alarm, Context())
    cleared = lambda_handler(ok, Context())

    assert fired["action"] == "retrain"
    assert cleared["action"] == "recorded-ok"
    assert len(dev_training_jobs(cloud)) == 1
    assert [(r.action, r.outcome) for r in audit()] == [("retrain", "done"), ("monitor-alarm-ok", "done")]
    assert "feature_baseline_drift_tenure_months" in audit()[0].reason
    assert [n["kind"] for n in cloud.notifications()] == ["monitor-violation"]


def test_notify_only_tells_people_and_starts_nothing(cloud: Cloud) -> None:
    cloud.publish_policy(monitored_policy("notify"))
    create_schedule(cloud)

    result = lambda_handler(violation_run(outcome="violations"), Context())

    assert result["action"] == "notified"
    assert dev_training_jobs(cloud) == []
    assert [(r.action, r.outcome) for r in audit()] == [("notify", "notified")]
    [note] = cloud.notifications()
    assert "decision: policy says notify only" in note["message"]


def serve_v2_in_prod(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> str:
    """prod serves v2 of churn (v1 and v2 Approved); a DeployModel state machine exists. Returns its ARN."""
    cloud.publish_policy(monitored_policy("rollback"))
    registry = cloud.client("sagemaker", AUTOMATION)
    registry.create_model_package_group(ModelPackageGroupName="churn")
    arns = [
        registry.create_model_package(
            ModelPackageGroupName="churn",
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        for _ in range(2)
    ]
    prod = cloud.client("sagemaker", PROD)
    prod.create_model(
        ModelName="churn-prod-v2",
        PrimaryContainer={"ModelPackageName": arns[1]},
        ExecutionRoleArn=f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole",
    )
    prod.create_endpoint_config(
        EndpointConfigName="churn-prod-v2",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "churn-prod-v2",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
            }
        ],
    )
    prod.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="churn-prod-v2")
    create_schedule(cloud, with_endpoint=False)
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="deploy-model",
        definition=json.dumps({"StartAt": "Plan", "States": {"Plan": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{AUTOMATION}:role/deploy-model",
    )["stateMachineArn"]
    monkeypatch.setenv("LIFECYCLE_DEPLOY_STATE_MACHINE_ARN", machine)
    get_settings.cache_clear()
    return str(machine)


def served(version: int, day: int) -> None:
    from lifecycle.store import deployments

    event = deployments.StageEvent(
        kind="deployed", version=version, at=f"2026-11-{day:02d}T10:00:00+00:00", execution="e"
    )
    deployments.record_stage_event(get_settings(), "churn", "prod", event)


def test_rollback_starts_deploy_model_with_the_last_version_that_served_the_stage(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given prod served v1, then v2 (serving now)
    machine = serve_v2_in_prod(cloud, monkeypatch)
    served(1, 20)
    served(2, 25)

    # When
    result = lambda_handler(violation_run(outcome="violations"), Context())

    # Then DeployModel runs the rollback input: prod back to v1, only while it still serves v2
    assert result["action"] == "rollback"
    assert result["version"] == 1
    sfn = cloud.client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=machine)["executions"]
    started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert (started["kind"], started["group"], started["stage"], started["version"]) == ("rollback", "churn", "prod", 1)
    assert started["from_version"] == 2
    assert [(r.action, r.outcome) for r in audit()] == [("rollback", "done")]
    assert "from v2 to v1" in cloud.notifications()[0]["message"]


def test_a_rollback_with_nowhere_to_go_is_recorded_and_told_not_dropped(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given prod serves v2 and no other version ever completed a deployment there (v1 is Approved, never served)
    machine = serve_v2_in_prod(cloud, monkeypatch)
    served(2, 25)

    result = lambda_handler(violation_run(outcome="violations"), Context())

    assert result["outcome"] == "ignored"
    assert cloud.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"] == []
    [record] = audit()
    assert (record.action, record.outcome) == ("rollback", "skipped")
    assert "no version other than v2 completed a deployment to prod" in record.reason
    [note] = cloud.notifications()
    assert "nothing changed" in note["message"]


def test_a_burst_of_50_violations_starts_exactly_one_retrain(cloud: Cloud) -> None:
    # Given 50 monitoring runs with violations (50 distinct state changes), arriving at once
    cloud.publish_policy(monitored_policy("retrain", cooldown_hours=6))
    create_schedule(cloud)
    events = [violation_run(hours_ago=i, outcome="violations") for i in range(50)]

    # When the handler sees them all concurrently
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda e: lambda_handler(e, Context()), events))

    # Then one retrain; every other decision is "skipped: cooling down" in the audit trail
    assert Counter(r["action"] for r in results) == {"retrain": 1, "cooling-down": 49}
    assert len(dev_training_jobs(cloud)) == 1
    records = audit()
    assert Counter((r.action, r.outcome) for r in records) == {("retrain", "done"): 1, ("retrain", "skipped"): 49}
    skipped = [r for r in records if r.outcome == "skipped"]
    assert all(r.reason.startswith("cooling down until ") and " UTC on " in r.reason for r in skipped)
    assert len(cloud.notifications()) == 1


def test_after_the_cool_down_a_new_violation_retrains_again_unless_one_is_still_running(cloud: Cloud) -> None:
    cloud.publish_policy(monitored_policy("retrain", cooldown_hours=0))
    create_schedule(cloud)
    first = lambda_handler(violation_run(hours_ago=2, outcome="violations"), Context())
    [job] = dev_training_jobs(cloud)
    fake_training.set_state(DEV, REGION, job["TrainingJobName"], status="InProgress", secondary="Training")

    while_running = lambda_handler(violation_run(hours_ago=1, outcome="violations"), Context())
    fake_training.set_state(DEV, REGION, job["TrainingJobName"], status="Completed")
    after = lambda_handler(violation_run(outcome="violations"), Context())

    assert (first["action"], while_running["action"], after["action"]) == ("retrain", "retrain-running", "retrain")
    assert len(dev_training_jobs(cloud)) == 2
    assert "previous retrain still running" in audit()[1].reason


def test_retrain_through_the_policy_pipeline_passes_the_fresh_data(cloud: Cloud) -> None:
    cloud.publish_policy(monitored_policy("retrain", pipeline_name="churn-train", pipeline_data_parameter="InputData"))
    dev = cloud.client("sagemaker", DEV)
    dev.create_pipeline(
        PipelineName="churn-train",
        PipelineDefinition=json.dumps(
            {"Version": "2020-12-01", "Parameters": [{"Name": "InputData", "Type": "String"}], "Steps": []}
        ),
        RoleArn=f"arn:aws:iam::{DEV}:role/SageMakerPipelineRole",
    )
    create_schedule(cloud)

    result = lambda_handler(violation_run(outcome="violations"), Context())

    assert result["action"] == "retrain"
    [execution] = dev.list_pipeline_executions(PipelineName="churn-train")["PipelineExecutionSummaries"]
    assert execution["PipelineExecutionArn"] == result["resource"]
    parameters = dev.list_pipeline_parameters_for_execution(PipelineExecutionArn=result["resource"])[
        "PipelineParameters"
    ]
    assert parameters == [{"Name": "InputData", "Value": "s3://example-dev-ml-data/churn/fresh/"}]
    assert dev_training_jobs(cloud) == []


def test_a_run_without_violations_is_ignored_and_a_failed_run_is_notified(cloud: Cloud) -> None:
    cloud.publish_policy(monitored_policy("retrain"))
    create_schedule(cloud)

    clean = lambda_handler(violation_run(hours_ago=1, outcome="no-violations"), Context())
    failed = lambda_handler(violation_run(outcome="failed"), Context())

    assert clean["outcome"] == "ignored"
    assert "no violations" in clean["reason"]
    assert failed["action"] == "notified-failure"
    assert dev_training_jobs(cloud) == []
    assert [(r.action, r.outcome) for r in audit()] == [("monitoring-run-failed", "notified")]
    [note] = cloud.notifications()
    assert note["kind"] == "monitor-failed"
    assert "Encoding mismatch" in note["message"]


@pytest.mark.parametrize("same_id", [True, False], ids=["same-event-twice", "duplicate-with-new-id"])
def test_a_duplicate_violation_event_acts_once(cloud: Cloud, same_id: bool) -> None:
    cloud.publish_policy(monitored_policy("retrain"))
    create_schedule(cloud)
    event = violation_run(outcome="violations")
    duplicate = dict(event, id=event["id"] if same_id else "another-id-for-the-same-change")

    first = lambda_handler(event, Context())
    second = lambda_handler(duplicate, Context())

    assert first == dict(second, event_id=first["event_id"])
    assert len(dev_training_jobs(cloud)) == 1
    assert len(audit()) == 1


def test_bad_input_is_refused_with_a_reason_and_no_action(cloud: Cloud) -> None:
    # Given a policy that deploys churn-prod only
    cloud.publish_policy(monitored_policy("retrain"))
    create_schedule(cloud)
    create_schedule(cloud, name="orphan-schedule", endpoint="orphan-endpoint")
    orphan = fake_monitoring.run_execution(PROD, REGION, "orphan-schedule", outcome="violations")
    unknown_alarm = fake_monitoring.set_alarm(
        PROD, REGION, alarm_name="other", endpoint_name="unknown-endpoint", schedule_name="s", state="ALARM"
    )
    no_report = violation_run(outcome="violations", write_report=False)
    untrusted = dict(violation_run(hours_ago=1, outcome="violations"), account=UNTRUSTED)

    # When / Then
    outcomes = {
        name: lambda_handler(event, Context())
        for name, event in {
            "schedule with no policy": orphan,
            "alarm on an unknown endpoint": unknown_alarm,
            "missing report": no_report,
            "account off the allow-list": untrusted,
            "not an event": ["nope"],
        }.items()
    }
    assert outcomes["schedule with no policy"]["outcome"] == "ignored"
    assert outcomes["schedule with no policy"]["reason"] == (
        "no policy monitors the data_quality monitoring schedule orphan-schedule on orphan-endpoint in account "
        "444444444444 (us-east-1)"
    )
    assert outcomes["alarm on an unknown endpoint"]["reason"].startswith(
        "no policy monitors the data_quality monitoring schedule s on unknown-endpoint in account"
    )
    assert outcomes["missing report"]["outcome"] == "refused"
    assert "constraint_violations.json is missing" in outcomes["missing report"]["reason"]
    assert outcomes["account off the allow-list"]["outcome"] == "refused"
    assert "allow-list" in outcomes["account off the allow-list"]["reason"]
    assert outcomes["not an event"]["outcome"] == "refused"
    assert dev_training_jobs(cloud) == []
    assert audit() == []
    assert cloud.notifications() == []


def test_rollback_without_the_deploy_state_machine_configured_is_refused(cloud: Cloud) -> None:
    cloud.publish_policy(monitored_policy("rollback"))
    create_schedule(cloud)

    result = lambda_handler(violation_run(outcome="violations"), Context())

    assert result["outcome"] == "refused"
    assert "DeployModel state machine is not configured" in result["reason"]
    assert audit() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"violations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests deeper than 16 levels"),
        (b'{"violations": [' + b'{"feature_name": "f"},' * 400_000 + b"{}]}", "is larger than 8388608 bytes"),
        (b'{"violations": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', "is not a constraint_violations.json document"),
    ],
    ids=["deeply-nested", "oversized", "brackets-in-a-string"],
)
def test_a_hostile_violations_report_is_refused_with_a_reason_and_no_action(
    cloud: Cloud, body: bytes, reason: str
) -> None:
    # Given a run whose constraint_violations.json (read from the workload account) is hostile
    cloud.publish_policy(monitored_policy("retrain"))
    create_schedule(cloud)
    event = violation_run(outcome="violations")
    output = event["detail"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, _, prefix = output.removeprefix("s3://").partition("/")
    cloud.client("s3", PROD).put_object(Bucket=bucket, Key=f"{prefix}/constraint_violations.json", Body=body)

    # When
    result = lambda_handler(event, Context())

    # Then it is refused (never a RecursionError, never parsed whole), and nothing is started, recorded or told
    assert result["outcome"] == "refused"
    assert reason in result["reason"]
    assert dev_training_jobs(cloud) == []
    assert audit() == []
    assert cloud.notifications() == []


def test_the_schedule_named_only_in_the_environment_is_found(cloud: Cloud) -> None:
    # Given a monitoring run whose event names no MonitoringScheduleArn (the rule admits it by its Environment)
    cloud.publish_policy(monitored_policy("retrain"))
    create_schedule(cloud)
    event = violation_run(outcome="violations")
    del event["detail"]["MonitoringScheduleArn"]

    # When / Then the reaction finds the schedule and acts
    assert lambda_handler(event, Context())["action"] == "retrain"


def test_a_mixed_case_schedule_named_only_by_its_arn_is_found_without_reading_its_name_from_the_arn(
    cloud: Cloud,
) -> None:
    # Given a mixed-case schedule (its ARN names it in lower case) and a run whose Environment does not name it
    cloud.publish_policy(monitored_policy("retrain"))
    arn = create_schedule(cloud, name="Churn-Prod-Data-Quality")
    assert arn.endswith(":monitoring-schedule/churn-prod-data-quality")
    event = fake_monitoring.run_execution(PROD, REGION, "Churn-Prod-Data-Quality", outcome="violations")
    del event["detail"]["Environment"]["sagemaker_monitoring_schedule_name"]

    # When
    result = lambda_handler(event, Context())

    # Then the schedule is found by its ARN among the account's schedules, and the reaction acts
    assert result["action"] == "retrain"
    assert "monitoring schedule Churn-Prod-Data-Quality on churn-prod" in audit()[0].reason


def test_a_run_naming_two_different_schedules_is_refused(cloud: Cloud) -> None:
    # Given a run whose Environment names another schedule than its MonitoringScheduleArn
    cloud.publish_policy(monitored_policy("retrain"))
    create_schedule(cloud)
    create_schedule(cloud, name="other-schedule", with_endpoint=False)
    event = violation_run(outcome="violations")
    event["detail"]["Environment"]["sagemaker_monitoring_schedule_name"] = "other-schedule"

    # When
    result = lambda_handler(event, Context())

    # Then it is refused, nothing done
    assert result["outcome"] == "refused"
    assert "names schedule other-schedule in its Environment but" in result["reason"]
    assert dev_training_jobs(cloud) == []
    assert audit() == []


@pytest.mark.parametrize("group", ["ChurnPrediction", LONG_GROUP], ids=["mixed-case", "63-characters"])
def test_a_mixed_case_or_longest_group_retrains_and_registers_the_retrained_model_end_to_end(
    cloud: Cloud, group: str
) -> None:
    # Given the prod monitor of a group whose name is mixed-case (or 63 characters) finds violations
    cloud.publish_policy({**monitored_policy("retrain"), "group": group})
    create_schedule(cloud)

    # When the violation is handled
    assert lambda_handler(violation_run(outcome="violations"), Context())["action"] == "retrain"

    # Then the retrain runs in dev under a valid name, tagged with the group's name as written
    [job] = dev_training_jobs(cloud)
    name = job["TrainingJobName"]
    assert len(name) <= 63
    tags = {
        t["Key"]: t["Value"]
        for t in cloud.client("sagemaker", DEV).list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    }
    assert tags["lifecycle:model-package-group"] == group
    # and when it completes, the training reaction registers its model in that group: the loop closes
    fake_training.set_state(DEV, REGION, name, status="InProgress")
    completed = fake_training.set_state(DEV, REGION, name, status="Completed", metrics={"validation:auc": 0.93})
    registered = training_handler(completed, Context())
    assert registered["action"] == "registered"
    assert registered["model_package_arn"].endswith(f":model-package/{group.lower()}/1")
    package = cloud.client("sagemaker", AUTOMATION).describe_model_package(
        ModelPackageName=registered["model_package_arn"]
    )
    assert package["ModelPackageGroupName"] == group
    assert [r.action for r in audit(group)] == ["retrain", "register-model-package"]
