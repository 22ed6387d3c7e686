"""The Model Monitor fakes: schedules and executions answer as SageMaker does, and runs emit what SageMaker would."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend
from support.cloud import PROD, REGION, Cloud
from support.monitoring import ENDPOINT, REPORTS, SCHEDULE, create_endpoint, create_schedule, schedule_config

from sandbox.fakes import monitoring as fake_monitoring
from sandbox.world import WORLD


def test_create_then_describe_echoes_the_config_scheduled(cloud: Cloud) -> None:
    # Given
    arn = create_schedule(cloud)

    # When
    described = cloud.client("sagemaker", PROD).describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)

    # Then
    assert arn == f"arn:aws:sagemaker:{REGION}:{PROD}:monitoring-schedule/{SCHEDULE}"
    assert described["MonitoringScheduleArn"] == arn
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["MonitoringType"] == "DataQuality"
    assert described["EndpointName"] == ENDPOINT
    assert described["MonitoringScheduleConfig"] == schedule_config()
    assert isinstance(described["CreationTime"], datetime)
    assert "LastMonitoringExecutionSummary" not in described


def test_create_is_refused_for_a_duplicate_name_a_missing_endpoint_or_a_bad_request(cloud: Cloud) -> None:
    create_schedule(cloud)
    sagemaker = cloud.client("sagemaker", PROD)

    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=schedule_config()
        )
    with pytest.raises(ClientError) as missing:
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName="other", MonitoringScheduleConfig=schedule_config("no-such-endpoint")
        )
    with pytest.raises(ClientError) as invalid:
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName="bad_name!", MonitoringScheduleConfig=schedule_config()
        )

    assert duplicate.value.response["Error"]["Code"] == "ResourceInUse"
    assert "Could not find endpoint" in missing.value.response["Error"]["Message"]
    assert invalid.value.response["Error"]["Code"] == "ValidationException"


def test_update_replaces_the_config_and_describe_of_a_missing_schedule_is_not_found(cloud: Cloud) -> None:
    arn = create_schedule(cloud)
    sagemaker = cloud.client("sagemaker", PROD)

    updated = sagemaker.update_monitoring_schedule(
        MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=schedule_config(expression="cron(0 */6 ? * * *)")
    )

    assert updated["MonitoringScheduleArn"] == arn
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 */6 ? * * *)"
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName="nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_list_schedules_filters_by_endpoint_and_pages(cloud: Cloud) -> None:
    create_schedule(cloud)
    create_schedule(cloud, name="other-schedule", endpoint="other-endpoint")
    sagemaker = cloud.client("sagemaker", PROD)

    by_endpoint = sagemaker.list_monitoring_schedules(EndpointName=ENDPOINT)["MonitoringScheduleSummaries"]
    first = sagemaker.list_monitoring_schedules(MaxResults=1, SortBy="Name", SortOrder="Ascending")
    second = sagemaker.list_monitoring_schedules(
        MaxResults=1, SortBy="Name", SortOrder="Ascending", NextToken=first["NextToken"]
    )

    assert [s["MonitoringScheduleName"] for s in by_endpoint] == [SCHEDULE]
    assert [s["MonitoringScheduleName"] for s in first["MonitoringScheduleSummaries"]] == [SCHEDULE]
    assert [s["MonitoringScheduleName"] for s in second["MonitoringScheduleSummaries"]] == ["other-schedule"]
    assert "NextToken" not in second


def test_a_run_with_violations_writes_the_report_and_emits_the_processing_job_event(cloud: Cloud) -> None:
    # Given
    arn = create_schedule(cloud)
    WORLD.drain()
    scheduled = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)

    # When
    event = fake_monitoring.run_execution(PROD, REGION, SCHEDULE, outcome="violations", scheduled_time=scheduled)

    # Then the event is the processing job's, carrying the monitoring markers
    detail = event["detail"]
    assert event["detail-type"] == "SageMaker Processing Job State Change"
    assert event["account"] == PROD
    assert detail["ProcessingJobName"].startswith("model-monitoring-202611271300-")
    assert detail["ProcessingJobStatus"] == "Completed"
    assert detail["MonitoringScheduleArn"] == arn
    assert detail["Environment"]["sagemaker_monitoring_schedule_name"] == SCHEDULE
    assert detail["Environment"]["sagemaker_endpoint_name"] == ENDPOINT
    assert detail["ExitMessage"].startswith("CompletedWithViolations")
    assert WORLD.drain() == [event]
    # and the execution is listed CompletedWithViolations
    sagemaker = cloud.client("sagemaker", PROD)
    [execution] = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE)["MonitoringExecutionSummaries"]
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert execution["ProcessingJobArn"] == detail["ProcessingJobArn"]
    assert execution["ScheduledTime"] == scheduled
    summary = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)["LastMonitoringExecutionSummary"]
    assert summary["MonitoringExecutionStatus"] == "CompletedWithViolations"
    # and the report sits under the job's output, in the prod account
    output = sagemaker.describe_processing_job(ProcessingJobName=detail["ProcessingJobName"])
    uri = output["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert uri == f"{REPORTS}/reports/{ENDPOINT}/{SCHEDULE}/2026/11/27/13"
    body = cloud.client("s3", PROD).get_object(
        Bucket="example-prod-monitoring",
        Key=f"churn/reports/{ENDPOINT}/{SCHEDULE}/2026/11/27/13/constraint_violations.json",
    )["Body"]
    report = json.loads(body.read())
    assert {v["feature_name"] for v in report["violations"]} == {"tenure_months", "monthly_charges"}


@pytest.mark.parametrize(
    ("outcome", "status", "job_status"), [("no-violations", "Completed", "Completed"), ("failed", "Failed", "Failed")]
)
def test_runs_without_violations_or_failing_are_listed_with_their_status(
    cloud: Cloud, outcome: fake_monitoring.Outcome, status: str, job_status: str
) -> None:
    create_schedule(cloud)
    earlier = datetime.now(UTC) - timedelta(hours=2)
    fake_monitoring.run_execution(PROD, REGION, SCHEDULE, outcome="violations", scheduled_time=earlier)

    event = fake_monitoring.run_execution(PROD, REGION, SCHEDULE, outcome=outcome)

    sagemaker = cloud.client("sagemaker", PROD)
    executions = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE)["MonitoringExecutionSummaries"]
    assert [e["MonitoringExecutionStatus"] for e in executions] == [status, "CompletedWithViolations"]
    only = sagemaker.list_monitoring_executions(EndpointName=ENDPOINT, StatusEquals=status)[
        "MonitoringExecutionSummaries"
    ]
    assert [e["ProcessingJobArn"] for e in only] == [event["detail"]["ProcessingJobArn"]]
    assert event["detail"]["ProcessingJobStatus"] == job_status


def test_an_alarm_change_emits_the_cloudwatch_event_of_a_model_monitor_metric(cloud: Cloud) -> None:
    event = fake_monitoring.set_alarm(
        PROD, REGION, alarm_name="churn-prod-drift", endpoint_name=ENDPOINT, schedule_name=SCHEDULE, state="ALARM"
    )
    back = fake_monitoring.set_alarm(
        PROD, REGION, alarm_name="churn-prod-drift", endpoint_name=ENDPOINT, schedule_name=SCHEDULE, state="OK"
    )

    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [f"arn:aws:cloudwatch:{REGION}:{PROD}:alarm:churn-prod-drift"]
    [metric] = event["detail"]["configuration"]["metrics"]
    assert metric["metricStat"]["metric"]["namespace"] == "aws/sagemaker/Endpoints/data-metrics"
    assert metric["metricStat"]["metric"]["dimensions"] == {"Endpoint": ENDPOINT, "MonitoringSchedule": SCHEDULE}
    assert (event["detail"]["state"]["value"], back["detail"]["state"]["value"]) == ("ALARM", "OK")
    assert back["detail"]["previousState"]["value"] == "ALARM"
    [alarm] = cloud.client("cloudwatch", PROD).describe_alarms(AlarmNames=["churn-prod-drift"])["MetricAlarms"]
    assert alarm["StateValue"] == "OK"


def test_conditional_writes_on_one_item_are_atomic_under_threads(cloud: Cloud) -> None:
    # Given 40 writers racing for one item with attribute_not_exists (DynamoDB lets exactly one win)
    dynamodb = cloud.client("dynamodb")

    def write(i: int) -> bool:
        try:
            dynamodb.update_item(
                TableName="sagemaker-lifecycle-test-table",
                Key={"pk": {"S": "RACE"}, "sk": {"S": "RACE"}},
                UpdateExpression="SET holder = :h",
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeValues={":h": {"S": str(i)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            # and every loser sees the winner's whole item, never one half-written
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            assert "holder" in exc.response["Item"]
            return False
        return True

    # When
    with ThreadPoolExecutor(max_workers=16) as pool:
        wins = list(pool.map(write, range(40)))

    # Then
    assert wins.count(True) == 1
    assert [
        name
        for name in fake_monitoring.ATOMIC_WRITES
        if not getattr(getattr(DynamoDBBackend, name), "lifecycle_atomic", False)
    ] == []


def test_delete_removes_a_schedule_and_a_missing_one_is_not_found(cloud: Cloud) -> None:
    create_schedule(cloud)
    sagemaker = cloud.client("sagemaker", PROD)

    sagemaker.delete_monitoring_schedule(MonitoringScheduleName=SCHEDULE)

    assert sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    with pytest.raises(ClientError) as missing:
        sagemaker.delete_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_list_tags_answers_a_schedule_s_tags_and_any_other_resource_s(cloud: Cloud) -> None:
    create_endpoint(cloud)
    sagemaker = cloud.client("sagemaker", PROD)
    tags = [{"Key": "lifecycle:model-package-group", "Value": "churn"}]
    arn = sagemaker.create_monitoring_schedule(
        MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=schedule_config(), Tags=tags
    )["MonitoringScheduleArn"]
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointArn"]
    sagemaker.add_tags(ResourceArn=endpoint, Tags=tags)

    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == tags
    assert sagemaker.list_tags(ResourceArn=endpoint)["Tags"] == tags
    with pytest.raises(ClientError) as missing:
        sagemaker.list_tags(ResourceArn=arn.replace(SCHEDULE, "no-such-schedule"))
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


# --- job definitions (what moto keeps, refused as SageMaker refuses) --------------------------------------------------
def _model_quality_definition(name: str, **job_input: object) -> dict[str, object]:
    return {
        "JobDefinitionName": name,
        "ModelQualityAppSpecification": {"ImageUri": f"{REPORTS}-image", "ProblemType": "BinaryClassification"},
        "ModelQualityJobInput": {
            "EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input/endpoint"},
            "GroundTruthS3Input": {"S3Uri": "s3://example-truth/churn/"},
            **job_input,
        },
        "ModelQualityJobOutputConfig": {
            "MonitoringOutputs": [{"S3Output": {"S3Uri": f"{REPORTS}/mq", "LocalPath": "/opt/ml/processing/output"}}]
        },
        "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        "RoleArn": f"arn:aws:iam::{PROD}:role/SageMakerMonitoringRole",
    }


def test_a_job_definition_name_is_unique_and_one_takes_an_endpoint_or_a_batch_input_not_both(cloud: Cloud) -> None:
    sagemaker = cloud.client("sagemaker", PROD)
    sagemaker.create_model_quality_job_definition(**_model_quality_definition("churn-prod-model-quality-1"))
    batch = {
        "BatchTransformInput": {
            "DataCapturedDestinationS3Uri": "s3://example-capture/batch/",
            "DatasetFormat": {"Csv": {"Header": True}},
            "LocalPath": "/opt/ml/processing/input/batch",
        }
    }

    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_model_quality_job_definition(**_model_quality_definition("churn-prod-model-quality-1"))
    with pytest.raises(ClientError) as both:
        sagemaker.create_model_quality_job_definition(
            **_model_quality_definition("churn-prod-model-quality-2", **batch)
        )

    # API reference, CreateModelQualityJobDefinition: the name is unique in the account and Region (moto replaces it)
    assert duplicate.value.response["Error"]["Code"] == "ResourceInUse"
    # developer guide: "either a batch transform input or an endpoint input, but not both"
    assert both.value.response["Error"]["Code"] == "ValidationException"
    described = sagemaker.describe_model_quality_job_definition(JobDefinitionName="churn-prod-model-quality-1")
    assert described["ModelQualityJobInput"]["EndpointInput"]["EndpointName"] == ENDPOINT


def test_a_schedule_state_change_emits_the_schedule_s_event_with_its_failure_reason(cloud: Cloud) -> None:
    create_schedule(cloud)
    WORLD.drain()

    event = fake_monitoring.set_schedule_status(PROD, REGION, SCHEDULE, status="Failed", reason="Access Denied")

    assert event["detail-type"] == "SageMaker Monitoring Schedule State Change"
    assert event["detail"]["MonitoringScheduleStatus"] == "Failed"
    assert event["detail"]["FailureReason"] == "Access Denied"
    described = cloud.client("sagemaker", PROD).describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert (described["MonitoringScheduleStatus"], described["FailureReason"]) == ("Failed", "Access Denied")
