"""Shared setup of the DeployModel tests: the executing Step Functions engine, packages, stages, served endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from lifecycle.config import get_settings
from lifecycle.deploy import endpoints
from lifecycle.deploy.inputs import APPROVAL_REJECTED
from lifecycle.policy import Stage
from lifecycle.store import deployments
from moto.core.config import default_user_config

from sandbox import lambdas
from sandbox import stepfunctions as harness
from sandbox.fakes import endpoints as endpoint_fakes
from support.cloud import AUTOMATION, PROD, REGION, STAGING, TOPIC, Cloud, churn_policy

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


def batch_stage(**overrides: Any) -> dict[str, Any]:
    """A batch stage `scoring` in prod: a transform job of the stage's model on the policy's input proves it."""
    stage = {
        "name": "scoring",
        "account": PROD,
        "region": REGION,
        "execution_role_arn": f"arn:aws:iam::{PROD}:role/SageMakerExecution",
        "batch": {
            "input_s3_uri": "s3://example-prod-ml-data/churn/scoring/",
            "output_s3_uri": "s3://example-prod-ml-predictions/churn/",
            "instance_type": "ml.m5.xlarge",
            "content_type": "text/csv",
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
    group: str = GROUP

    def register(self, versions: int = 2, *, approved: tuple[int, ...] = (1, 2)) -> list[str]:
        """Versions 1..n of the churn group in the registry (automation account); `approved` are Approved."""
        sagemaker = self.cloud.client("sagemaker", AUTOMATION)
        sagemaker.create_model_package_group(ModelPackageGroupName=self.group)
        arns = []
        for version in range(1, versions + 1):
            arn = sagemaker.create_model_package(
                ModelPackageGroupName=self.group,
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

    def serve(self, stage: dict[str, Any], version: int, *, ab_with: int | None = None, history: bool = True) -> str:
        """Put the stage's endpoint InService on `version` the way an earlier deployment left it (with `ab_with`, an
        A/B test of `version` as challenger beside `ab_with`), and record it in the stage's history."""
        spec = Stage.model_validate(stage)
        sagemaker = self.cloud.client("sagemaker", spec.account)
        variants: list[endpoints.VariantSpec] = []
        for served, weight, name in (
            [(ab_with, 0.9, endpoints.MAIN_VARIANT), (version, 0.1, endpoints.CHALLENGER_VARIANT)]
            if ab_with is not None
            else [(version, 1.0, endpoints.MAIN_VARIANT)]
        ):
            arn = package(served, self.group)
            request = endpoints.model_request(spec, group=self.group, version=served, package_arn=arn)
            endpoints.ensure_model(sagemaker, request)
            variants.append(endpoints.VariantSpec(name, request["ModelName"], weight))
        request = endpoints.config_request(
            spec, group=self.group, version=version, package_arn=package(version, self.group), variants=variants
        )
        endpoints.ensure_endpoint_config(sagemaker, request)
        config = request["EndpointConfigName"]
        endpoints.create_endpoint(sagemaker, name=spec.endpoint_name, config=config, tags=[])
        assert sagemaker.describe_endpoint(EndpointName=spec.endpoint_name)["EndpointStatus"] == "InService"
        if history:
            self.deployed(spec.name, version)
        return config

    def deployed(self, stage: str, version: int, *, at: str = "2026-11-20T10:00:00+00:00") -> None:
        """Record that `version` completed a deployment to `stage` (what a finished stage writes)."""
        event = deployments.StageEvent(kind="deployed", version=version, at=at, execution=f"earlier-v{version}")
        deployments.record_stage_event(get_settings(), self.group, stage, event)

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

    def react(self, event: dict[str, Any]) -> dict[str, Any]:
        """The model package function handling `event`, as EventBridge invokes it (in-process)."""
        from sandbox import runtime

        handler = runtime.handler("model_package_state")
        return handler(event, runtime.LambdaContext("model-package-state", "arn", 60))

    def executions(self) -> list[dict[str, Any]]:
        """Every DeployModel execution, newest first."""
        sfn = self.cloud.client("stepfunctions")
        return sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def settle(self, timeout: float = 120) -> list[harness.Run]:
        """Wait until no execution runs (answering nothing): every run as it ended or waits."""
        return [harness.wait(e["executionArn"], timeout=timeout) for e in self.executions()]

    def start(self, name: str, payload: Any) -> harness.Run:
        return harness.start(self.state_machine_arn, name, payload)

    def gate(self, execution: str, stage: str) -> deployments.Approval:
        (found,) = [
            g for g in deployments.approvals(get_settings(), self.group, execution=execution) if g.stage == stage
        ]
        return found

    def token(self, execution: str, stage: str) -> str:
        return self.gate(execution, stage).token

    def approve(self, run: harness.Run, stage: str, *, by: str = "ml-lead@example.com") -> harness.Run:
        """What `lifecycle approve` does: keep the answer with the gate, then use its task token."""
        assert run.waiting(), run.states
        gate = self.gate(run.execution_arn.rsplit(":", 1)[1], stage)
        assert deployments.answer_approval(get_settings(), gate, decision="approved", by=by, reason="looks good")
        harness.send_success(gate.token, {"approved_by": by})
        return harness.wait(run.execution_arn, since=len(run.events))

    def reject(self, run: harness.Run, stage: str, *, by: str = "ml-lead@example.com", reason: str) -> harness.Run:
        """What `lifecycle reject --reason` does."""
        assert run.waiting(), run.states
        gate = self.gate(run.execution_arn.rsplit(":", 1)[1], stage)
        assert deployments.answer_approval(get_settings(), gate, decision="rejected", by=by, reason=reason)
        harness.send_failure(gate.token, error=APPROVAL_REJECTED, cause=f"rejected by {by}: {reason}")
        return harness.wait(run.execution_arn, since=len(run.events))


def package(version: int, group: str = GROUP) -> str:
    """The registry ARN of version `version` of a group (SageMaker lower-cases the name in ARNs)."""
    return f"arn:aws:sagemaker:{REGION}:{AUTOMATION}:model-package/{group.lower()}/{version}"


def deploy_world(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeployWorld]:
    """`cloud` with moto's executing Step Functions engine and the deploy step Lambda run in-process.

    Test modules make it their `world` fixture: `world_fixture = pytest.fixture(name="world")(deploy_world)`.
    """
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    monkeypatch.setitem(default_user_config, "lambda", {"use_docker": False})
    endpoint_fakes.reset()
    arn = harness.install_deploy_model(topic_arn=TOPIC)
    monkeypatch.setenv("LIFECYCLE_DEPLOY_STATE_MACHINE_ARN", arn)
    get_settings.cache_clear()
    yield DeployWorld(cloud, arn)
    harness.stop_running_executions()  # an execution left waiting would go on in the next test of this process
    lambdas.clear()
    endpoint_fakes.reset()
