"""Deployment logic without AWS: names, requests (validated against botocore's model), inputs, the ASL itself."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from lifecycle.deploy import batch, endpoints
from lifecycle.deploy.inputs import (
    ApprovedInput,
    Plan,
    approved_execution_name,
    execution_name,
    first_state,
    parse_input,
)
from lifecycle.deploy.lease import _holder_running
from lifecycle.deploy.stage import corrective
from lifecycle.errors import AwsCallFailed, InvalidDeploymentInput
from lifecycle.policy import AllAtOnce, Stage
from lifecycle.store import deployments
from support.deploy import batch_stage

from sandbox.fakes import validate_request

NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
EXECUTION = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
ASL = Path(__file__).resolve().parents[2] / "statemachines" / "deploy_model.asl.json"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/7"


def stage(**overrides: object) -> Stage:
    document = {
        "name": "prod",
        "account": "444444444444",
        "region": "us-east-1",
        "endpoint_name": "churn-prod",
        "execution_role_arn": "arn:aws:iam::444444444444:role/SageMakerExecution",
        "instance_type": "ml.m5.xlarge",
        "rollback_alarms": ["churn-prod-5xx", "churn-prod-latency"],
        "monitoring": {
            "capture_s3_uri": "s3://example-capture/churn/",
            "reports_s3_uri": "s3://example-monitoring/churn/",
            "baseline_s3_uri": "s3://example-monitoring/churn/baseline",
        },
    }
    document.update(overrides)
    return Stage.model_validate(document)


def deploy_plan() -> Plan:
    """A manual deployment of churn v7 to the one stage `stage()`."""
    return Plan(
        kind="deploy",
        group="churn",
        version=7,
        package_arn=ARN,
        registry_account="123456789012",
        registry_region="us-east-1",
        reason="a manual deploy",
        execution="deploy-churn-v7",
        topic_arn="arn:aws:sns:us-east-1:123456789012:lifecycle",
        subject="churn v7",
        stages=[stage()],
        stage_count=1,
    )


@given(st.text(min_size=1, max_size=200), st.integers(min_value=1, max_value=10**9), st.text(max_size=40))
def test_resource_names_respect_sagemaker_limits(group: str, version: int, stage_name: str) -> None:
    name = endpoints.resource_name(group, f"v{version}", stage_name)
    if any(c.isascii() and c.isalnum() for c in group + stage_name) or version:
        assert NAME.match(name), name
    assert len(name) <= 63


def test_long_names_stay_distinct_and_deterministic() -> None:
    long_group = "a" * 63
    spec = stage()
    assert endpoints.model_name(long_group, 1, spec, ARN) == endpoints.model_name(long_group, 1, spec, ARN)
    assert endpoints.model_name(long_group, 1, spec, ARN) != endpoints.model_name(long_group, 2, spec, ARN)
    assert NAME.match(endpoints.model_name(long_group, 1, spec, ARN))
    # a model of another registry's package (or run by another role) never shares the name
    other_registry = ARN.replace("123456789012", "222222222222")
    assert endpoints.model_name("churn", 7, spec, ARN) != endpoints.model_name("churn", 7, spec, other_registry)
    other_role = stage(execution_role_arn="arn:aws:iam::444444444444:role/Other")
    assert endpoints.model_name("churn", 7, spec, ARN) != endpoints.model_name("churn", 7, other_role, ARN)
    assert endpoints.model_name("churn", 7, spec, ARN).startswith("churn-v7-prod-")


@given(st.text(max_size=300))
def test_execution_names_are_valid(raw: str) -> None:
    name = execution_name("rollback", raw)
    assert EXECUTION.match(name), name


def test_a_long_execution_name_keeps_its_beginning_and_ends_with_a_64_bit_digest() -> None:
    # the beginning is what a person reads in the console; the digest (16 hex digits) keeps two long names that share
    # it apart (the parts are hashed, not the cut name)
    group = "g" * 70
    first, second = execution_name("rollback", group, "prod", "v7"), execution_name("rollback", group, "prod", "v8")
    assert len(first) == len(second) == 80
    assert first[:63] == f"rollback-{group}"[:63] == second[:63]
    assert re.fullmatch(r"-[0-9a-f]{16}", first[63:]) and first[64:] != second[64:]
    assert execution_name("rollback", "churn", "prod", "v7") == "rollback-churn-prod-v7"  # short: as it is


def test_the_approval_execution_name_is_deterministic_per_package_and_time() -> None:
    at = datetime(2026, 11, 27, 11, 2, 3, 456000, tzinfo=UTC)
    name = approved_execution_name("churn", 7, at)
    assert name == approved_execution_name("churn", 7, at)
    assert name.startswith("churn-v7-20261127T110203456-")
    assert name != approved_execution_name("churn", 7, at.replace(second=4))
    assert name != approved_execution_name("churn", 8, at)
    assert EXECUTION.match(approved_execution_name("c" * 63, 7, at))


def variant(name: str, version: int, weight: float = 1.0) -> endpoints.Variant:
    return endpoints.Variant(name, f"churn-v{version}-prod-abc123", ARN.replace("/7", f"/{version}"), weight)


@pytest.mark.parametrize(
    ("strategy", "serving", "phase", "expected"),
    [
        # a new endpoint: SageMaker's default name for its one variant
        ({"type": "canary", "percent": 10}, [], "single", [("AllTraffic", "new", 1.0)]),
        # the main variant keeps the name the endpoint has (an endpoint made before the product, or by an older one)
        ({"type": "canary", "percent": 10}, [variant("v6", 6)], "single", [("v6", "new", 1.0)]),
        # the canary share at an at_canary gate: the serving model stays on its variant beside the new one
        (
            {"type": "canary", "percent": 20},
            [variant("AllTraffic", 6)],
            "canary",
            [("AllTraffic", "churn-v6-prod-abc123", 0.8), ("Canary", "new", 0.2)],
        ),
        # after the gate: one variant again, the main name kept
        (
            {"type": "canary", "percent": 20},
            [variant("AllTraffic", 6, 0.8), variant("Canary", 7, 0.2)],
            "final",
            [("AllTraffic", "new", 1.0)],
        ),
        # an A/B test keeps the champion (the variant with most traffic) and names the new version the challenger
        (
            {"type": "ab", "challenger_weight": 0.3},
            [variant("AllTraffic", 5, 0.9), variant("Challenger", 6, 0.1)],
            "single",
            [("AllTraffic", "churn-v5-prod-abc123", 0.7), ("Challenger", "new", 0.3)],
        ),
        # an A/B stage redeploying what its champion runs: one variant
        ({"type": "ab", "challenger_weight": 0.3}, [variant("AllTraffic", 7)], "single", [("AllTraffic", "new", 1.0)]),
    ],
)
def test_variants_keep_the_main_variant_name(strategy: dict, serving: list, phase: str, expected: list) -> None:
    found = endpoints.variants_for(stage(strategy=strategy), model="new", version=7, serving=serving, phase=phase)
    assert [(v.name, v.model, v.weight) for v in found] == expected


@pytest.mark.parametrize(
    ("strategy", "routing", "timeout"),
    [
        ({"type": "all_at_once"}, {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}, 3600),
        (
            {"type": "canary", "percent": 10, "wait_seconds": 300},
            {"Type": "CANARY", "WaitIntervalInSeconds": 300, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
            3600 + 600,
        ),
        # linear 10% x 600 s: ten steps, each baked 600 s, plus an hour to provision (it used to get 3,600 s in all)
        (
            {"type": "linear", "percent": 10, "interval_seconds": 600},
            {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 600,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            3600 + 6000,
        ),
    ],
)
def test_update_endpoint_request_is_valid_for_every_strategy(strategy: dict, routing: dict, timeout: int) -> None:
    spec = stage(strategy=strategy)
    config = endpoints.deployment_config(spec, alarms=list(spec.rollback_alarms), routing_of_strategy=True)
    request = {"EndpointName": "churn-prod", "EndpointConfigName": "churn-v7-prod", "DeploymentConfig": config}

    validate_request("sagemaker", "UpdateEndpoint", request)
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == routing
    assert config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] == timeout
    assert config["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "churn-prod-5xx"}, {"AlarmName": "churn-prod-latency"}]
    }


STRATEGIES = st.one_of(
    st.builds(lambda w: {"type": "all_at_once", "wait_seconds": w}, st.integers(0, 3600)),
    st.builds(
        lambda p, w: {"type": "canary", "percent": p, "wait_seconds": w}, st.integers(1, 50), st.integers(0, 3600)
    ),
    st.builds(
        lambda p, w: {"type": "linear", "percent": p, "interval_seconds": w}, st.integers(10, 50), st.integers(0, 2400)
    ),
)


@given(STRATEGIES, st.integers(5, 120), st.integers(1, 10))
def test_every_rollout_a_valid_policy_allows_is_one_sagemaker_accepts(strategy: dict, minutes: int, count: int) -> None:
    from pydantic import ValidationError

    from sandbox.fakes.endpoints import check_deployment_config

    try:
        spec = stage(strategy=strategy, wait_timeout_minutes=minutes, instance_count=count)
    except ValidationError:
        return  # longer than SageMaker's maximum deployment time: refused by the policy (tested in test_policy)
    config = endpoints.deployment_config(spec, alarms=["a"], routing_of_strategy=True)
    variants = [{"VariantName": "AllTraffic", "InitialInstanceCount": count}]
    check_deployment_config(config, variants, variants)  # raises what SageMaker would refuse
    validate_request(
        "sagemaker", "UpdateEndpoint", {"EndpointName": "e", "EndpointConfigName": "c", "DeploymentConfig": config}
    )


def test_model_and_endpoint_config_requests_are_valid() -> None:
    spec = stage(strategy={"type": "ab", "challenger_weight": 0.3})
    model = endpoints.model_request(spec, group="churn", package_arn=ARN, version=7)
    variants = endpoints.variants_for(
        spec, model=model["ModelName"], version=7, serving=[variant("AllTraffic", 6)], phase="single"
    )
    config = endpoints.config_request(spec, group="churn", package_arn=ARN, version=7, variants=variants)

    validate_request("sagemaker", "CreateModel", model)
    validate_request("sagemaker", "CreateEndpointConfig", config)
    assert model["PrimaryContainer"] == {"ModelPackageName": ARN}
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]] == [
        ("AllTraffic", 0.7),
        ("Challenger", 0.3),
    ]
    capture = config["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == "s3://example-capture/churn/"
    # requests and answers, CSV and JSON kept as text (other content types are base64): what Model Monitor reads
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert capture["CaptureContentTypeHeader"] == {
        "JsonContentTypes": ["application/json"],
        "CsvContentTypes": ["text/csv"],
    }
    assert NAME.match(config["EndpointConfigName"]) and config["EndpointConfigName"].startswith("churn-v7-prod-")
    # another shape of the same version gets another config name (a retry of the same shape finds its config)
    single = endpoints.config_request(spec, group="churn", package_arn=ARN, version=7, variants=variants[1:])
    assert single["EndpointConfigName"] != config["EndpointConfigName"]
    again = endpoints.config_request(spec, group="churn", package_arn=ARN, version=7, variants=variants)
    assert again == config


def test_the_transform_job_samples_carry_the_lineage_tags_the_product_puts_on_its_transform_jobs(load_event) -> None:
    # EventBridge delivers a job's tags in its state change: the samples (tests, `python -m sandbox replay`) must show
    # the ones the product writes, or a replay reads a group and version no real event would carry
    scoring = Stage.model_validate(batch_stage())
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/scoring/2"
    request = batch.transform_request(
        scoring, group="scoring", version=2, package_arn=package, model="scoring-v2-batch-8b1d2e", job="j"
    )
    validate_request("sagemaker", "CreateTransformJob", request)
    tags = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
    for name in ("transform-job-completed.json", "transform-job-failed.json"):
        assert load_event(name)["detail"]["Tags"] == tags, name
    # the model the job runs carries the same lineage
    model = endpoints.model_request(scoring, group="scoring", version=2, package_arn=package)
    assert {tag["Key"]: tag["Value"] for tag in model["Tags"]} == tags


def test_past_the_last_stage_the_state_names_no_stage_account_or_endpoint() -> None:
    # the execution's output at its end: nothing in it may read as a stage still to act on
    plan = deploy_plan()
    first = first_state(plan, 0)
    assert (first.name, first.account, first.endpoint_name, first.done) == ("prod", "444444444444", "churn-prod", False)
    done = first_state(plan, 1)
    assert done.done and done.index == 1
    assert (done.name, done.account, done.region, done.endpoint_name) == ("", "", "", "")


def test_a_plan_written_before_plans_carried_their_execution_arn_holds_leases_others_wait_on() -> None:
    # an execution in flight across an upgrade: its $.plan has no execution_arn; the lease it takes cannot be checked
    # with Step Functions, so it counts as held by a running execution (never taken over, never a failed describe)
    plan = deploy_plan().model_dump(mode="json")
    del plan["execution_arn"]
    older = Plan.model_validate(plan)
    assert first_state(older, 0).endpoint_name == "churn-prod"  # it goes on with its stages after the upgrade
    lease = deployments.Lease(holder=older.execution, execution_arn=older.execution_arn, group="churn", version=7)
    nobody_to_ask = None  # Step Functions is not asked: the step context is never used
    assert _holder_running(nobody_to_ask, lease)  # type: ignore[arg-type]


def test_no_data_capture_without_monitoring() -> None:
    variants = [endpoints.VariantSpec("AllTraffic", "m", 1.0)]
    config = endpoints.config_request(
        stage(monitoring=None), group="churn", package_arn=ARN, version=7, variants=variants
    )
    assert "DataCaptureConfig" not in config


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"kind": "promote"}, "group: Field required"),
        ({"kind": "rollback", "group": "churn", "stage": "prod", "version": 0}, "version: Input should be greater"),
        ({"kind": "deploy", "model_package_arn": ARN, "stages": ["prod"]}, "Extra inputs are not permitted"),
        ({"kind": "deploy", "group": "churn", "version": 2, "stages": []}, "stages: List should have at least 1 item"),
        ({"kind": "deploy", "group": "churn/../x", "version": 2, "stages": ["prod"]}, "group: String should match"),
        ({"kind": "nuke"}, "does not match any of the expected tags"),
        ("deploy everything", "valid dictionary"),
        # the input's own limits: a version of at most ten digits, an event id of 1-256 characters, ten stages
        ({"kind": "rollback", "group": "churn", "stage": "prod", "version": 10**10}, "version: Input should be less"),
        (
            {"kind": "approved", "group": "churn", "version": 2, "approved_at": "2026-11-27T10:00:00Z", "event_id": ""},
            "event_id: String should have at least 1 character",
        ),
        (
            {
                "kind": "approved",
                "group": "churn",
                "version": 2,
                "approved_at": "2026-11-27T10:00:00Z",
                "event_id": "e" * 257,
            },
            "event_id: String should have at most 256 characters",
        ),
        ({"kind": "deploy", "group": "churn", "version": 2, "stages": ["s"] * 11}, "List should have at most 10 items"),
    ],
)
def test_bad_input_is_refused_with_a_clear_reason(payload: object, message: str) -> None:
    with pytest.raises(InvalidDeploymentInput, match="invalid DeployModel input") as refused:
        parse_input(payload)
    assert message in refused.value.reason


def test_the_largest_inputs_are_accepted() -> None:
    approved = {"kind": "approved", "group": "churn", "version": 9_999_999_999, "approved_at": "2026-11-27T10:00:00Z"}
    assert parse_input({**approved, "event_id": "e" * 256}).version == 9_999_999_999
    assert len(parse_input({"kind": "deploy", "group": "churn", "version": 2, "stages": ["s"] * 10}).stages) == 10


def test_each_manual_sample_is_a_valid_input(load_event) -> None:
    for name in ("deploy", "rollback", "promote"):
        assert parse_input(load_event(f"manual/{name}.json")).kind == name
    started = ApprovedInput(group="ChurnPrediction", version=7, approved_at=datetime.now(UTC), event_id="e")
    assert parse_input(json.loads(started.model_dump_json())) == started


def test_every_task_of_the_asl_has_an_explicit_retry_and_a_catch() -> None:
    states = json.loads(ASL.read_text())["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert len(tasks) == 24
    for name, task in tasks.items():
        assert task.get("Retry"), f"{name} has no Retry"
        assert task.get("Catch"), f"{name} has no Catch"
        assert "arn:aws" not in task["Resource"], f"{name}: the partition comes from DefinitionSubstitutions"
    targets = {state.get("Next") for state in states.values()} | {state.get("Default") for state in states.values()}
    targets |= {c["Next"] for state in states.values() for c in state.get("Catch", []) + state.get("Choices", [])}
    assert targets - {None} <= set(states), "a transition names a state that does not exist"
    throttling = [r for task in tasks.values() for r in task["Retry"] if "ThrottlingError" in r["ErrorEquals"]]
    assert all(r["BackoffRate"] >= 2 for r in throttling)


def test_the_lambda_tasks_share_one_retry_policy() -> None:
    states = json.loads(ASL.read_text())["States"]
    lambda_tasks = [s for s in states.values() if s["Type"] == "Task" and "DeployStepFunctionArn" in json.dumps(s)]
    common = [json.dumps(task["Retry"][:2], sort_keys=True) for task in lambda_tasks]
    assert len(set(common)) == 1, "the throttling and transient-failure retries differ between tasks"
    extra = {json.dumps(task["Retry"][2:], sort_keys=True) for task in lambda_tasks} - {"[]"}
    assert len(extra) == 1  # EndpointBusy, on the tasks that update an endpoint


def test_a_transient_aws_failure_gets_six_tries_within_a_minute_before_it_fails_a_stage() -> None:
    # Each injected fault of the reliability run is a call the SDK already gave up on; with 10% of calls failing, a
    # step of ten calls fails an attempt about half the time: four tries left a deployment failed in some runs
    states = json.loads(ASL.read_text())["States"]
    (transient,) = {
        json.dumps(retry, sort_keys=True)
        for state in states.values()
        for retry in state.get("Retry", [])
        if "AwsCallFailed" in retry["ErrorEquals"]
    }
    retry = json.loads(transient)
    assert {"AssumeRoleFailed", "Lambda.ServiceException"} <= set(retry["ErrorEquals"])
    assert retry["MaxAttempts"] >= 5 and retry["JitterStrategy"] == "FULL"
    delays = [
        min(retry["IntervalSeconds"] * retry["BackoffRate"] ** attempt, retry["MaxDelaySeconds"])
        for attempt in range(retry["MaxAttempts"])
    ]
    assert sum(delays) <= 60  # the longest a stage waits on a failing call before its Catch restores and tells


def test_one_name_per_step_from_the_asl_state_to_the_function() -> None:
    from lifecycle.deploy.steps import STATES, STEPS, VALIDATE_INPUT, step_key

    states = json.loads(ASL.read_text())["States"]
    lambda_states = {
        name: (state["Parameters"].get("Payload") or state["Parameters"])["step"]
        for name, state in states.items()
        if state["Type"] == "Task" and "DeployStepFunctionArn" in json.dumps(state)
    }
    assert all(key == step_key(name) for name, key in lambda_states.items()), lambda_states
    assert set(lambda_states) == {VALIDATE_INPUT, *STATES}
    assert set(lambda_states.values()) == set(STEPS)


def test_the_asl_passes_cfn_lint_state_machine_checks() -> None:
    from cfnlint.api import lint

    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "DeployModel": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/deploy-model",
                    "Definition": json.loads(ASL.read_text()),
                    "DefinitionSubstitutions": {
                        "DeployStepFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:deploy-step",
                        "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:notifications",
                        "LambdaInvokeWaitForTaskToken": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                        "SnsPublish": "arn:aws:states:::sns:publish",
                    },
                },
            }
        },
    }
    matches = lint(json.dumps(template), regions=["us-east-1"])
    assert [str(match) for match in matches] == []


def test_a_lambda_task_error_reaches_people_as_its_message_not_its_stack_trace() -> None:
    from lifecycle.deploy.restore import in_words

    cause = json.dumps(
        {
            "errorMessage": "SageMaker rolled churn-prod back to churn-v2-prod-6d4aa5 (alarms ['churn-prod-5xx'])",
            "errorType": "EndpointRolledBack",
            "stackTrace": ['  File "/var/task/app.py", line 15, in lambda_handler\n'],
        }
    )
    assert in_words(cause) == "SageMaker rolled churn-prod back to churn-v2-prod-6d4aa5 (alarms ['churn-prod-5xx'])"
    assert in_words("States.Timeout: no answer") == "States.Timeout: no answer"
    assert in_words("null") == "null"


@pytest.mark.parametrize(
    ("strategy", "bake"),
    [
        ({"type": "canary", "percent": 10, "wait_seconds": 600}, 1200),
        ({"type": "linear", "percent": 50, "interval_seconds": 2400}, 3600),
        ({"type": "ab", "challenger_weight": 0.1, "wait_seconds": 300}, 300),
    ],
    ids=["canary", "linear-capped-at-an-hour", "ab"],
)
def test_a_rollback_or_promotion_goes_all_at_once_without_a_gate_and_keeps_the_alarms(
    strategy: dict, bake: int
) -> None:
    # Given a stage that normally shifts traffic step by step behind a person's approval at the canary
    at = "at_canary" if strategy["type"] == "canary" else "before_traffic"
    gated = stage(strategy=strategy, approval_required=True, approval=at)

    # When it is rolled back (or its challenger promoted)
    fast = corrective(gated)

    # Then the corrective change goes all at once, asks nobody, and bakes as long as the rollout did (an hour at most)
    # while the stage's rollback alarms still watch it
    assert fast.strategy == AllAtOnce(wait_seconds=bake)
    assert (fast.approval_required, fast.approval) == (False, "before_traffic")
    assert fast.rollback_alarms == gated.rollback_alarms == ["churn-prod-5xx", "churn-prod-latency"]
    assert (fast.name, fast.endpoint_name, fast.instance_count) == (
        gated.name,
        gated.endpoint_name,
        gated.instance_count,
    )


class _Runtime:
    """sagemaker-runtime's InvokeEndpoint answering `body`."""

    def __init__(self, body: str) -> None:
        self.body, self.requests = body, []

    def invoke_endpoint(self, **request: object) -> dict[str, object]:
        self.requests.append(request)
        return {"Body": io.BytesIO(self.body.encode())}


def test_a_smoke_test_keeps_the_first_200_characters_of_the_answer_for_the_audit_trail() -> None:
    body = '{"score": 0.93, "explanation": "' + "x" * 500 + '"}'
    runtime = _Runtime(body)

    answer = endpoints.smoke_test(
        runtime,
        endpoint="churn-prod",
        payload='{"f": 1}',
        content_type="application/json",
        expect="score",
        sensitive=False,
        variant="Canary",
    )

    assert answer == body[:200]
    [request] = runtime.requests
    assert request == {
        "EndpointName": "churn-prod",
        "Body": b'{"f": 1}',
        "ContentType": "application/json",
        "TargetVariant": "Canary",
    }


def test_a_typo_in_a_manual_input_names_the_key_meant_and_the_keys_allowed() -> None:
    with pytest.raises(InvalidDeploymentInput) as refused:
        parse_input({"kind": "rollback", "group": "churn", "version": 1, "stage": "prod", "to_versoin": 2})

    assert str(refused.value) == (
        "invalid DeployModel input: rollback.to_versoin: Extra inputs are not permitted, got 2 (did you mean "
        "'from_version'? allowed here: kind, group, stage, version, from_version, reason)"
    )


class _CloudWatch:
    def __init__(self, alarms: list[dict[str, str]] | None = None, error: str = "") -> None:
        self.alarms, self.error = alarms or [], error

    def describe_alarms(self, **request: object) -> dict[str, object]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "not allowed"}}, "DescribeAlarms")
        return {"MetricAlarms": [a for a in self.alarms if a["AlarmName"] in request["AlarmNames"]]}


def test_firing_alarms_are_those_in_alarm_and_a_refused_read_says_which_call_failed() -> None:
    alarms = [
        {"AlarmName": "churn-prod-latency", "StateValue": "ALARM"},
        {"AlarmName": "churn-prod-5xx", "StateValue": "ALARM"},
        {"AlarmName": "churn-prod-4xx", "StateValue": "OK"},
    ]
    assert endpoints.firing_alarms(_CloudWatch(alarms), ["churn-prod-5xx", "churn-prod-4xx", "churn-prod-latency"]) == [
        "churn-prod-5xx",
        "churn-prod-latency",
    ]
    assert endpoints.firing_alarms(_CloudWatch(error="AccessDenied"), []) == []  # nothing to watch: no call

    with pytest.raises(AwsCallFailed, match=r"^cloudwatch:DescribeAlarms: AccessDenied: not allowed$"):
        endpoints.firing_alarms(_CloudWatch(error="AccessDenied"), ["churn-prod-5xx"])


def test_an_update_that_keeps_autoscaled_counts_takes_the_weights_of_the_new_config() -> None:
    # "Update endpoints that use auto scaling": RetainAllVariantProperties keeps the instance count autoscaling gave
    # each variant; ExcludeRetainedVariantProperties DesiredWeight lets the new config set the traffic
    request = endpoints.update_request(name="churn-prod", config="churn-v3-prod-1", deployment=None, retain=True)

    validate_request("sagemaker", "UpdateEndpoint", request)
    assert request == {
        "EndpointName": "churn-prod",
        "EndpointConfigName": "churn-v3-prod-1",
        "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"}],
    }
    plain = endpoints.update_request(name="churn-prod", config="churn-v3-prod-1", deployment=None, retain=False)
    assert plain == {"EndpointName": "churn-prod", "EndpointConfigName": "churn-v3-prod-1"}


def test_a_variant_is_of_a_group_only_when_it_runs_a_package_of_that_group() -> None:
    def runs(package_arn: str) -> endpoints.Variant:
        return endpoints.Variant("AllTraffic", "m", package_arn, 1.0)

    ours = runs("arn:aws:sagemaker:us-east-1:123456789012:model-package/churnprediction/7")
    assert ours.of_group("ChurnPrediction") and ours.version == 7  # ARNs lower-case the group's name
    assert not runs("arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/7").of_group("ChurnPrediction")
    assert not runs("").of_group("ChurnPrediction")  # a model not made from a package (someone else's)
