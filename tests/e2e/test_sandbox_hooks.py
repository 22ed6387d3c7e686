"""One test per moto / botocore internal the sandbox leans on, so an upgrade that breaks one fails here, loudly."""

from __future__ import annotations

import json

import boto3
import botocore.session
import requests
from botocore.handlers import BUILTIN_HANDLERS
from moto import mock_aws
from moto.events.models import EventPattern, events_backends
from moto.iam.models import get_account_id_from
from moto.sagemaker.models import sagemaker_backends

from sandbox import lambdas, patterns
from sandbox.cloud import AUTOMATION, DEV, REGION, Sandbox, _moto_log
from sandbox.sam import translate
from sandbox.timeline import CallRecorder, Timeline

ARRAY_PATTERN = {"detail": {"Statuses": {"RuleEvaluationStatus": ["IssuesFound"]}}}
EVENT = {"detail": {"Statuses": [{"RuleEvaluationStatus": "InProgress"}, {"RuleEvaluationStatus": "IssuesFound"}]}}


def test_event_pattern_flattening_hook_matches_through_arrays_of_objects() -> None:
    assert isinstance(EventPattern.__dict__["_flatten_dict"], staticmethod)
    patterns.install()
    try:
        assert EventPattern.load(json.dumps(ARRAY_PATTERN)).matches_event(EVENT)
        assert not EventPattern.load(
            json.dumps({"detail": {"Statuses": {"RuleEvaluationStatus": ["X"]}}})
        ).matches_event(EVENT)
    finally:
        patterns.uninstall()


def test_deployed_rules_are_reachable_on_the_events_backend() -> None:
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["aws.sagemaker"]}), State="ENABLED")
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}])
        [rule] = events_backends["123456789012"]["us-east-1"].event_buses["default"].rules.values()
        assert rule.state == "ENABLED" and rule.targets[0]["Id"] == "t"
        assert rule.arn == "arn:aws:events:us-east-1:123456789012:rule/r"
        assert rule.event_pattern.matches_event({"source": "aws.sagemaker"})


def test_assumed_role_keys_map_to_their_account() -> None:
    with mock_aws():
        credentials = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{DEV}:role/any", RoleSessionName="hooks"
        )["Credentials"]
        assert get_account_id_from(credentials["AccessKeyId"]) == DEV


def test_call_recorder_sees_account_operation_and_resource() -> None:
    recorder = CallRecorder(Timeline())
    recorder.install()
    try:
        with mock_aws():
            sns = boto3.session.Session().client("sns", region_name="us-east-1")
            with recorder.recording():
                arn = sns.create_topic(Name="t")["TopicArn"]
                sns.list_topics()
        assert recorder.calls == [
            {"account": "123456789012", "region": "us-east-1", "call": "sns:CreateTopic", "resource": arn}
        ]
    finally:
        recorder.uninstall()
    assert all(handler[1].__self__ is not recorder for handler in BUILTIN_HANDLERS if hasattr(handler[1], "__self__"))


def test_shared_loader_hook_point_exists() -> None:
    assert callable(botocore.session.create_loader)


def test_training_job_backend_attributes_the_seeder_sets_show_in_describe() -> None:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_training_job(
            TrainingJobName="j",
            AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/r",
            OutputDataConfig={"S3OutputPath": "s3://b/o/"},
            ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
        job = sagemaker_backends["123456789012"]["us-east-1"].training_jobs["j"]
        job.training_job_status = "InProgress"
        job.final_metric_data_list = [{"MetricName": "validation:auc", "Value": 0.5}]
        job.model_artifacts = None
        described = sagemaker.describe_training_job(TrainingJobName="j")
        assert described["TrainingJobStatus"] == "InProgress"
        assert described["FinalMetricDataList"][0]["Value"] == 0.5
        assert "S3ModelArtifacts" not in described.get("ModelArtifacts", {})


def test_moto_cloudformation_reports_skipped_types_on_its_logger() -> None:
    with mock_aws(), _moto_log() as lines:
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="s",
            TemplateBody=json.dumps(
                {"Resources": {"C": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {"FunctionName": "f"}}}}
            ),
        )
    assert any("No Moto CloudFormation support for AWS::Lambda::EventInvokeConfig" in line for line in lines)


def test_translation_keeps_the_template_rules_and_functions() -> None:
    resources = translate(REGION, AUTOMATION)["Resources"]
    assert resources["TrainingJobStateRule"]["Type"] == "AWS::Events::Rule"
    assert resources["TrainingStateFunction"]["Properties"]["Code"]["S3Key"] == "functions/training_state.zip"


def test_server_mode_serves_the_deployed_stack_to_another_client_and_stops() -> None:
    # Given a sandbox running as a moto server on 127.0.0.1
    with Sandbox(server=True) as sandbox:
        url = sandbox.endpoint_url
        client = boto3.client(
            "events", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        )
        # When another client asks it for the lifecycle bus rules
        names = [rule["Name"] for rule in client.list_rules(EventBusName=sandbox.bus_name)["Rules"]]
        # Then the template's rules are there
        assert any("TrainingJobStateRule" in name for name in names)
    # and nothing is left listening
    try:
        requests.get(url, timeout=1)
        listening = True
    except requests.ConnectionError:
        listening = False
    assert not listening


def test_an_asynchronous_invoke_reaches_the_dispatcher_with_its_invocation_type_and_is_only_accepted() -> None:
    # sandbox.lambdas tells an asynchronous Invoke (queued for the router) from a synchronous one by moto's headers
    with Sandbox() as sandbox:
        function = sandbox.deployment.functions["sagemaker-lifecycle-training-state"]
        answer = sandbox.client("lambda").invoke(
            FunctionName=function.arn, InvocationType="Event", Payload=json.dumps({"id": "async"}).encode()
        )
        assert answer["StatusCode"] == 202
        assert lambdas.drain_async() == [("sagemaker-lifecycle-training-state", {"id": "async"})]
        assert lambdas.drain_async() == []
