"""Endpoints: model from a package, endpoint config, create/update with guardrails, status, smoke test, restore.

Every name is deterministic (group, version, stage), every create is preceded by a describe, so a retried step
continues from what exists. The request builders are pure and validated against botocore's model in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import NOT_FOUND_CODES, THROTTLING_CODES, aws_errors, error_code
from lifecycle.errors import SmokeTestFailed, ThrottlingError
from lifecycle.names import bounded_name
from lifecycle.policy import GROUP_TAG, AbTest, Canary, Linear, Stage

NAME_MAX = 63
PACKAGE_TAG = "lifecycle:model-package-arn"
VERSION_TAG = "lifecycle:model-package-version"
_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")
# SageMaker's bounds of BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds.
_BLUE_GREEN_TIMEOUT = (600, 14400)
BUSY_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})


def resource_name(*parts: str) -> str:
    """A SageMaker name (`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`) from `parts`, hashed when they are too long."""
    return bounded_name(parts, unsafe=_UNSAFE, limit=NAME_MAX, digest_length=10)


def model_name(group: str, version: int, stage: str) -> str:
    return resource_name(group, f"v{version}", stage)


def config_name(group: str, version: int, stage: str, *, champion: int | None = None) -> str:
    """The endpoint config of `version` in `stage`; an A/B config also names the champion it keeps."""
    if champion is None:
        return resource_name(group, f"v{version}", stage)
    return resource_name(group, f"v{version}", stage, f"ab-v{champion}")


def variant_name(version: int) -> str:
    return f"v{version}"


def _tags(group: str, package_arn: str, version: int) -> list[dict[str, str]]:
    return [
        {"Key": GROUP_TAG, "Value": group},
        {"Key": PACKAGE_TAG, "Value": package_arn[:256]},
        {"Key": VERSION_TAG, "Value": str(version)},
    ]


# --- requests (pure) -------------------------------------------------------------------------------------------
def model_request(stage: Stage, *, name: str, group: str, package_arn: str, version: int) -> dict[str, Any]:
    """CreateModel from a (possibly cross-account) model package, run by the stage's execution role."""
    return {
        "ModelName": name,
        "PrimaryContainer": {"ModelPackageName": package_arn},
        "ExecutionRoleArn": stage.execution_role_arn,
        "Tags": _tags(group, package_arn, version),
    }


def config_request(
    stage: Stage,
    *,
    name: str,
    group: str,
    package_arn: str,
    version: int,
    model: str,
    champion: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """CreateEndpointConfig: one variant, or two (challenger + champion model) for an A/B stage."""
    weight = stage.strategy.challenger_weight if isinstance(stage.strategy, AbTest) and champion else 1.0
    variants = [_variant(stage, variant_name(version), model, weight)]
    if champion is not None:
        variants.append(_variant(stage, variant_name(champion[0]), champion[1], round(1.0 - weight, 6)))
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": variants,
        "Tags": _tags(group, package_arn, version),
    }
    monitoring = stage.monitoring
    if monitoring is not None and monitoring.capture_s3_uri:
        request["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": monitoring.capture_percent,
            "DestinationS3Uri": monitoring.capture_s3_uri,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"], "CsvContentTypes": ["text/csv"]},
        }
    return request


def _variant(stage: Stage, name: str, model: str, weight: float) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": stage.instance_type,
        "InitialInstanceCount": stage.instance_count,
        "InitialVariantWeight": weight,
    }


def deployment_config(stage: Stage, *, timeout_seconds: int) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig: blue/green from the stage's strategy, alarms that roll it back."""
    strategy = stage.strategy
    routing: dict[str, Any]
    if isinstance(strategy, Canary):
        routing = {
            "Type": "CANARY",
            "WaitIntervalInSeconds": strategy.wait_seconds,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": strategy.percent},
        }
    elif isinstance(strategy, Linear):
        routing = {
            "Type": "LINEAR",
            "WaitIntervalInSeconds": strategy.interval_seconds,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": strategy.percent},
        }
    else:  # all at once, and the A/B config change itself
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": getattr(strategy, "wait_seconds", 0)}
    low, high = _BLUE_GREEN_TIMEOUT
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": min(max(timeout_seconds, low), high),
        }
    }
    if stage.rollback_alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in stage.rollback_alarms]}
    return config


# --- calls ---------------------------------------------------------------------------------------------------------
def _describe(call: Any, what: str, **kwargs: Any) -> dict[str, Any] | None:
    """A Describe* call; None when the resource does not exist."""
    with aws_errors(what):
        try:
            return dict(call(**kwargs))
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND_CODES:
                return None
            raise


def describe_endpoint(sagemaker: Any, name: str) -> dict[str, Any] | None:
    return _describe(sagemaker.describe_endpoint, f"sagemaker:DescribeEndpoint {name}", EndpointName=name)


def describe_endpoint_config(sagemaker: Any, name: str) -> dict[str, Any] | None:
    return _describe(
        sagemaker.describe_endpoint_config, f"sagemaker:DescribeEndpointConfig {name}", EndpointConfigName=name
    )


def describe_model(sagemaker: Any, name: str) -> dict[str, Any] | None:
    return _describe(sagemaker.describe_model, f"sagemaker:DescribeModel {name}", ModelName=name)


def ensure_model(sagemaker: Any, request: dict[str, Any]) -> bool:
    """Create the model unless it exists; True when created."""
    if describe_model(sagemaker, request["ModelName"]) is not None:
        return False
    with aws_errors(f"sagemaker:CreateModel {request['ModelName']}"):
        sagemaker.create_model(**request)
    return True


def ensure_endpoint_config(sagemaker: Any, request: dict[str, Any]) -> bool:
    """Create the endpoint config unless it exists; True when created."""
    if describe_endpoint_config(sagemaker, request["EndpointConfigName"]) is not None:
        return False
    with aws_errors(f"sagemaker:CreateEndpointConfig {request['EndpointConfigName']}"):
        sagemaker.create_endpoint_config(**request)
    return True


@dataclass(frozen=True)
class Variant:
    name: str
    model: str
    package_arn: str
    weight: float

    @property
    def version(self) -> int | None:
        tail = self.package_arn.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None


def serving(sagemaker: Any, endpoint: dict[str, Any]) -> list[Variant]:
    """The variants of the endpoint's current config and the model package each one's model runs."""
    config = describe_endpoint_config(sagemaker, endpoint["EndpointConfigName"]) or {"ProductionVariants": []}
    variants = []
    for variant in config["ProductionVariants"]:
        model = describe_model(sagemaker, variant["ModelName"]) or {}
        package = str((model.get("PrimaryContainer") or {}).get("ModelPackageName", ""))
        weight = float(variant.get("InitialVariantWeight", 1.0))
        variants.append(Variant(variant["VariantName"], variant["ModelName"], package, weight))
    return variants


def create_endpoint(sagemaker: Any, *, name: str, config: str, tags: list[dict[str, str]]) -> None:
    with aws_errors(f"sagemaker:CreateEndpoint {name}"):
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config, Tags=tags)


def update_endpoint(sagemaker: Any, *, name: str, config: str, deployment: dict[str, Any]) -> None:
    with aws_errors(f"sagemaker:UpdateEndpoint {name}"):
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=config, DeploymentConfig=deployment)


def smoke_test(
    runtime: Any, *, endpoint: str, payload: str, content_type: str, expect: str | None, sensitive: bool
) -> str:
    """InvokeEndpoint with the policy's payload; returns the answer's start, `SmokeTestFailed` when it is wrong.

    For a sensitive policy the error does not quote the answer (it reaches notifications and the audit)."""
    try:
        response = runtime.invoke_endpoint(EndpointName=endpoint, Body=payload.encode(), ContentType=content_type)
    except ClientError as exc:
        if error_code(exc) in THROTTLING_CODES:
            raise ThrottlingError(f"sagemaker:InvokeEndpoint {endpoint}: {error_code(exc)}") from exc
        message = exc.response.get("Error", {}).get("Message", "")
        raise SmokeTestFailed(f"InvokeEndpoint {endpoint} failed: {error_code(exc)}: {message}"[:1000]) from exc
    body = response["Body"].read().decode("utf-8", errors="replace")
    if expect is not None and expect not in body:
        answered = "an answer (withheld: sensitive)" if sensitive else repr(body[:200])
        raise SmokeTestFailed(f"{endpoint} answered {answered}, which does not contain {expect!r}")
    return body[:200]
