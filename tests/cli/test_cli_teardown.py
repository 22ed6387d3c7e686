"""`lifecycle teardown GROUP [--stage S] [--dry-run]` against the served sandbox.

The Given is what the product leaves in the stages' accounts after deploying churn v1 then v2 to staging and prod,
made with the product's own request builders (so the names and tags are the product's): a model and an endpoint config
per version and stage, each stage's endpoint on v2, prod's data-quality schedule. Next to them, what teardown must
leave: an endpoint nobody tagged, and a model of another group.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cli_fixtures
import pytest
import yaml
from botocore.exceptions import ClientError
from lifecycle.deploy import endpoints
from lifecycle.monitoring.schedule import ensure_monitor
from lifecycle.policy import GROUP_TAG, Policy, Stage

from sandbox.cloud import AUTOMATION, PROD, STAGING, Sandbox
from sandbox.replay import read_policy

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

# The shared fixtures (a conftest.py here would shadow tests/conftest.py's module name).
lifecycle, sandbox = cli_fixtures.lifecycle, cli_fixtures.sandbox


def _policy() -> Policy:
    return Policy.model_validate(yaml.safe_load(cli_fixtures.CHURN.read_text()))


def _exists(describe: Callable[..., Any], **name: str) -> bool:
    try:
        describe(**name)
    except ClientError:
        return False
    return True


def _packages(sandbox: Sandbox) -> dict[int, str]:
    """churn v1 and v2 in the registry, Approved (created once)."""
    sagemaker = sandbox.client("sagemaker", AUTOMATION)
    if not _exists(sagemaker.describe_model_package_group, ModelPackageGroupName="churn"):
        sagemaker.create_model_package_group(ModelPackageGroupName="churn")
        for version in (1, 2):
            sagemaker.create_model_package(
                ModelPackageGroupName="churn",
                InferenceSpecification={
                    "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://example-ml/churn/v{version}/model.tar.gz"}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                ModelApprovalStatus="Approved",
            )
    listed = sagemaker.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]
    return {int(package["ModelPackageVersion"]): package["ModelPackageArn"] for package in listed}


def _deployed(sandbox: Sandbox, stage: Stage, packages: dict[int, str]) -> dict[str, list[str]]:
    """What deploying v1 then v2 leaves in the stage (made unless it exists); its names by kind."""
    sagemaker = sandbox.client("sagemaker", stage.account)
    made: dict[str, list[str]] = {"model": [], "endpoint-config": [], "endpoint": [], "monitoring-schedule": []}
    for version, arn in sorted(packages.items()):
        model = endpoints.model_request(stage, group="churn", version=version, package_arn=arn)
        variants = [endpoints.VariantSpec(endpoints.MAIN_VARIANT, model["ModelName"], 1.0)]
        config = endpoints.config_request(stage, group="churn", version=version, package_arn=arn, variants=variants)
        if not _exists(sagemaker.describe_model, ModelName=model["ModelName"]):
            sagemaker.create_model(**model)
            sagemaker.create_endpoint_config(**config)
        made["model"].append(model["ModelName"])
        made["endpoint-config"].append(config["EndpointConfigName"])
    if not _exists(sagemaker.describe_endpoint, EndpointName=stage.endpoint_name):
        tags = [{"Key": GROUP_TAG, "Value": "churn"}]
        sagemaker.create_endpoint(
            EndpointName=stage.endpoint_name, EndpointConfigName=config["EndpointConfigName"], Tags=tags
        )
    made["endpoint"].append(stage.endpoint_name)
    for monitor in stage.monitoring:
        if monitor.created_by_deployment:
            made["monitoring-schedule"].append(ensure_monitor(sagemaker, stage, monitor, group="churn").schedule)
    return made


def _bystanders(sandbox: Sandbox) -> None:
    """An endpoint in prod nobody tagged, and a model of group fraud in staging (made unless they exist)."""
    prod, staging = sandbox.client("sagemaker", PROD), sandbox.client("sagemaker", STAGING)
    if not _exists(prod.describe_endpoint, EndpointName="hand-made"):
        container = {"Image": IMAGE, "ModelDataUrl": "s3://example-ml/hand-made/model.tar.gz"}
        role = f"arn:aws:iam::{PROD}:role/SageMakerExecutionRole"
        prod.create_model(ModelName="hand-made", PrimaryContainer=container, ExecutionRoleArn=role)
        variant = {
            "VariantName": "AllTraffic",
            "ModelName": "hand-made",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
        }
        prod.create_endpoint_config(EndpointConfigName="hand-made", ProductionVariants=[variant])
        prod.create_endpoint(EndpointName="hand-made", EndpointConfigName="hand-made")
    if not _exists(staging.describe_model, ModelName="fraud-v1-staging"):
        staging.create_model(
            ModelName="fraud-v1-staging",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://example-ml/fraud/model.tar.gz"},
            ExecutionRoleArn=f"arn:aws:iam::{STAGING}:role/SageMakerExecutionRole",
            Tags=[{"Key": GROUP_TAG, "Value": "fraud"}],
        )


@pytest.fixture
def churn(sandbox: Sandbox) -> dict[str, dict[str, list[str]]]:
    """The policy published, and churn deployed in staging and prod (again, when a test tore it down)."""
    sandbox.publish_policy(read_policy(cli_fixtures.CHURN))
    packages = _packages(sandbox)
    _bystanders(sandbox)
    return {stage.name: _deployed(sandbox, stage, packages) for stage in _policy().deployment.stages}  # type: ignore[union-attr]


def _left(sandbox: Sandbox, account: str) -> dict[str, list[str]]:
    sagemaker = sandbox.client("sagemaker", account)
    return {
        "monitoring-schedule": sorted(
            s["MonitoringScheduleName"] for s in sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"]
        ),
        "endpoint": sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]),
        "endpoint-config": sorted(
            c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
        ),
        "model": sorted(m["ModelName"] for m in sagemaker.list_models()["Models"]),
    }


def _expected_plan(made: dict[str, list[str]], account: str, stage: str) -> list[tuple[str, str, str, list[str]]]:
    order = ("monitoring-schedule", "endpoint", "endpoint-config", "model")
    return [(kind, name, account, [stage]) for kind in order for name in sorted(made[kind])]


def test_a_dry_run_lists_what_the_product_made_in_order_and_removes_nothing(lifecycle, sandbox, churn):
    before = _left(sandbox, PROD), _left(sandbox, STAGING)

    result = lifecycle("teardown", "churn", "--sandbox", "--dry-run", "--json")

    assert result.code == 0, result.err
    plan = [(item["kind"], item["name"], item["account"], item["stages"]) for item in result.json()]
    by_place = sorted(plan, key=lambda item: item[2] == PROD)
    assert by_place == _expected_plan(churn["staging"], STAGING, "staging") + _expected_plan(
        churn["prod"], PROD, "prod"
    )
    order = ["monitoring-schedule", "endpoint", "endpoint-config", "model"]
    assert [order.index(kind) for kind, *_ in plan] == sorted(order.index(kind) for kind, *_ in plan)
    assert (_left(sandbox, PROD), _left(sandbox, STAGING)) == before


def test_a_dry_run_table_fits_80_columns_and_says_how_to_remove(lifecycle, sandbox, churn, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")

    result = lifecycle("teardown", "churn", "--sandbox", "--dry-run")

    assert result.code == 0, result.err
    assert "…" not in result.out
    for name in churn["prod"]["endpoint-config"] + churn["staging"]["model"]:
        assert name in result.out
    assert result.out.rstrip().endswith("dry run: nothing removed. To remove these 13: lifecycle teardown churn")


def test_one_stage_removes_only_what_that_stage_serves(lifecycle, sandbox, churn):
    result = lifecycle("teardown", "churn", "--stage", "staging", "--sandbox", "--yes")

    assert result.code == 0, result.err
    assert f"deleted endpoint churn-staging ({STAGING} us-east-1)" in result.out
    staging = _left(sandbox, STAGING)
    assert staging == {"monitoring-schedule": [], "endpoint": [], "endpoint-config": [], "model": ["fraud-v1-staging"]}
    prod = _left(sandbox, PROD)
    for kind, names in churn["prod"].items():
        assert set(names) <= set(prod[kind]), kind


def test_the_group_removes_everything_tagged_and_leaves_the_rest(lifecycle, sandbox, churn):
    result = lifecycle("teardown", "churn", "--sandbox", "--yes")

    assert result.code == 0, result.err
    assert _left(sandbox, PROD) == {
        "monitoring-schedule": [],
        "endpoint": ["hand-made"],
        "endpoint-config": ["hand-made"],
        "model": ["hand-made"],
    }
    assert _left(sandbox, STAGING)["model"] == ["fraud-v1-staging"]
    assert sandbox.client("sagemaker", AUTOMATION).list_model_packages(ModelPackageGroupName="churn")[
        "ModelPackageSummaryList"
    ]  # the registry is the models' history: untouched
    again = lifecycle("teardown", "churn", "--sandbox", "--yes")
    assert again.code == 0 and "nothing of churn to remove: no resource carries its tag" in again.out


def test_without_yes_and_without_a_terminal_nothing_is_removed(lifecycle, sandbox, churn):
    before = _left(sandbox, PROD)

    result = lifecycle("teardown", "churn", "--sandbox")

    assert result.code == 1
    assert "nothing removed: confirm with --yes (lifecycle teardown churn --yes)" in result.err
    assert _left(sandbox, PROD) == before


def test_an_unknown_stage_is_refused(lifecycle, sandbox, churn):
    result = lifecycle("teardown", "churn", "--stage", "qa", "--sandbox", "--dry-run")

    assert result.code == 1
    assert "error: group 'churn' has no stage 'qa' (its stages: staging, prod)" in result.err


def test_a_deployment_in_flight_is_waited_for(lifecycle, sandbox, churn):
    # Given a deployment of churn waiting at prod's approval gate
    stepfunctions = sandbox.client("stepfunctions")
    started = lifecycle("deploy", "churn", "--version", "2", "--stage", "prod", "--sandbox", "--wait", "--json")
    execution = json.loads(started.out)["arn"]
    assert json.loads(started.out)["pending_approvals"] == ["prod"], started.err
    try:
        # When
        result = lifecycle("teardown", "churn", "--sandbox", "--dry-run")

        # Then
        assert result.code == 1
        assert "error: a deployment of churn is in flight (churn-deploy-v2-prod-" in result.err
    finally:
        stepfunctions.stop_execution(executionArn=execution)
