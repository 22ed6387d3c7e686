"""Shared setup of the DeployModel tests: the executing Step Functions engine, packages, stages, served endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import AUTOMATION, PROD, REGION, STAGING, TABLE, TOPIC, Cloud, churn_policy
from lifecycle.actions import deploy
from lifecycle.config import get_settings
from lifecycle.deploy_steps import approval_tokens
from lifecycle.policy import Stage
from moto.core.config import default_user_config

from sandbox import lambdas
from sandbox import stepfunctions as harness
from sandbox.fakes import endpoints

GROUP = "churn"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ALARM = "churn-prod-5xx"
FAST = {"poll_seconds": 1, "wait_timeout_minutes": 5}


def staging_stage(**overrides: Any) -> dict[str, Any]:
    stage = {
        "name": "staging",
        "account": STAGING,
        "region": REGION,
        "endpoint_name": "churn-staging",
        "execution_role_arn": f"arn:aws:iam::{STAGING}:role/SageMakerExecution",
        "instance_type": "ml.m5.large",
        "strategy": {"type": "all_at_once"},
        "smoke_test": {"payload": '{"features": [3, 1, 0.4]}', "expect_contains": "predictions"},
        **FAST,
    }
    return {**stage, **overrides}


def prod_stage(**overrides: Any) -> dict[str, Any]:
    stage = {
        "name": "prod",
        "account": PROD,
        "region": REGION,
        "endpoint_name": "churn-prod",
        "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecution",
        "instance_type": "ml.m5.xlarge",
        "instance_count": 2,
        "strategy": {"type": "canary", "percent": 10, "wait_seconds": 0},
        "rollback_alarms": [ALARM],
        "smoke_test": {"payload": '{"features": [3, 1, 0.4]}', "expect_contains": "predictions"},
        "monitoring": {
            "capture_s3_uri": "s3://example-prod-ml-capture/churn/",
            "reports_s3_uri": "s3://example-prod-ml-monitoring/churn/",
            "baseline_s3_uri": "s3://example-prod-ml-monitoring/churn/baseline/",
        },
        **FAST,
    }
    return {**stage, **overrides}


def deploy_policy(*stages: dict[str, Any]) -> dict[str, Any]:
    return churn_policy(deployment={"stages": list(stages) or [staging_stage(), prod_stage()]})


@dataclass
class DeployWorld:
    """The cloud of a test plus the DeployModel state machine running on moto's engine."""

    cloud: Cloud
    state_machine_arn: str

    def register(self, versions: int = 2, *, approved: tuple[int, ...] = (1, 2)) -> list[str]:
        """Versions 1..n of the churn group in the registry (automation account); `approved` are Approved."""
        sagemaker = self.cloud.client("sagemaker", AUTOMATION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        arns = []
        for version in range(1, versions + 1):
            arn = sagemaker.create_model_package(
                ModelPackageGroupName=GROUP,
                InferenceSpecification={
                    "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://example-ml/churn/v{version}/model.tar.gz"}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                ModelApprovalStatus="Approved" if version in approved else "PendingManualApproval",
                CustomerMetadataProperties={"metric:validation:auc": f"0.{80 + version}"},
            )["ModelPackageArn"]
            arns.append(arn)
        return arns

    def serve(self, stage: dict[str, Any], version: int, *, ab_with: int | None = None) -> str:
        """Put the stage's endpoint InService on `version` the way an earlier deployment left it."""
        spec = Stage.model_validate(stage)
        sagemaker = self.cloud.client("sagemaker", spec.account)
        arn = f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/{GROUP}/{version}"
        model = deploy.model_name(GROUP, version, spec.name)
        deploy.ensure_model(
            sagemaker, deploy.model_request(spec, name=model, group=GROUP, package_arn=arn, version=version)
        )
        champion = None
        if ab_with is not None:
            old_arn = arn.rsplit("/", 1)[0] + f"/{ab_with}"
            old_model = deploy.model_name(GROUP, ab_with, spec.name)
            request = deploy.model_request(spec, name=old_model, group=GROUP, package_arn=old_arn, version=ab_with)
            deploy.ensure_model(sagemaker, request)
            champion = (ab_with, old_model)
        config = deploy.config_name(GROUP, version, spec.name, champion=ab_with)
        request = deploy.config_request(
            spec, name=config, group=GROUP, package_arn=arn, version=version, model=model, champion=champion
        )
        deploy.ensure_endpoint_config(sagemaker, request)
        deploy.create_endpoint(sagemaker, name=spec.endpoint_name, config=config, tags=[])
        assert sagemaker.describe_endpoint(EndpointName=spec.endpoint_name)["EndpointStatus"] == "InService"
        return config

    def endpoint(self, stage: dict[str, Any]) -> dict[str, Any]:
        """The endpoint as it is (no fake progress: read moto's object)."""
        from moto.sagemaker.models import sagemaker_backends

        found = sagemaker_backends[stage["account"]][REGION].endpoints.get(stage["endpoint_name"])
        assert found is not None, f"{stage['endpoint_name']} does not exist"
        return {"config": found.endpoint_config_name, "status": found.endpoint_status}

    def settled(self, stage: dict[str, Any]) -> dict[str, Any]:
        """The endpoint once its current change finished (DescribeEndpoint moves the fake one step)."""
        sagemaker = self.cloud.client("sagemaker", stage["account"])
        described = sagemaker.describe_endpoint(EndpointName=stage["endpoint_name"])
        return {"config": described["EndpointConfigName"], "status": described["EndpointStatus"]}

    def start(self, name: str, payload: Any) -> harness.Run:
        return harness.start(self.state_machine_arn, name, payload)

    def token(self, execution: str, stage: str) -> str:
        return approval_tokens(get_settings(), execution)[stage]

    def approve(self, run: harness.Run, stage: str, *, by: str = "ml-lead@example.com") -> harness.Run:
        assert run.waiting(), run.states
        harness.send_success(self.token(run.execution_arn.rsplit(":", 1)[1], stage), {"approved_by": by})
        return harness.wait(run.execution_arn, since=len(run.events))


def deploy_world(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeployWorld]:
    """`cloud` with moto's executing Step Functions engine and the deploy step Lambda run in-process.

    Test modules make it their `world` fixture: `world_fixture = pytest.fixture(name="world")(deploy_world)`.
    """
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    monkeypatch.setitem(default_user_config, "lambda", {"use_docker": False})
    endpoints.reset()
    arn = harness.install_deploy_model(table_name=TABLE, topic_arn=TOPIC)
    monkeypatch.setenv("LIFECYCLE_DEPLOY_STATE_MACHINE_ARN", arn)
    get_settings.cache_clear()
    yield DeployWorld(cloud, arn)
    lambdas.clear()
    endpoints.reset()
