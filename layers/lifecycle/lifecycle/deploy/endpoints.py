"""Endpoints: model from a package, endpoint config, create/update with guardrails, status, alarms, smoke test.

SageMaker's rules this module keeps (each cited where it is applied, all listed in docs/aws-rules.md):
- a blue/green update with a `DeploymentConfig` must keep the variant names of the endpoint's current config
  (developer guide, "Exclusions" of deployment guardrails), so a stage's main variant keeps its name from one
  deployment to the next, and a change of the variant set (an A/B test, a canary share or a shadow variant starting
  or ending) is an update without `DeploymentConfig`, after which the product itself watches the stage's alarms.
  A shadow variant counts as a variant of the config here: the guide does not say it does not, so the product never
  relies on a guarded update adding or removing one;
- a config with a shadow variant has exactly one production variant and one shadow variant (API reference,
  CreateEndpointConfig `ShadowProductionVariants`); a serverless variant has a `ServerlessConfig` instead of instances;
- an endpoint update keeps the instance count autoscaling reached when `RetainAllVariantProperties` is set (developer
  guide, "Update endpoints that use auto scaling"), and is refused when it would change the instance type of, or
  remove, a variant registered with Application Auto Scaling (`lifecycle.deploy.scaling` deregisters it first);
- `MaximumExecutionTimeoutInSeconds` is 600-28800 and larger than the rollout's total waiting time;
- while an update is in progress `DescribeEndpoint` still names the old `EndpointConfigName`; the new one is in
  `PendingDeploymentSummary` (API reference, DescribeEndpoint).

Names are deterministic and carry a digest of what the resource is (a model: its package and role; a config: its
variants), so a retried step finds its resource and a changed policy gets a new one. Before reusing a resource of
that name, the product checks it is the one it would have made (`ResourceConflict` otherwise).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lifecycle.aws import NOT_FOUND_CODES, THROTTLING_CODES, aws_errors, error_code
from lifecycle.errors import ResourceConflict, SmokeTestFailed, ThrottlingError
from lifecycle.names import bounded_name
from lifecycle.policy import GROUP_TAG, AbTest, Canary, Linear, Shadow, Stage

NAME_MAX = 63
PACKAGE_TAG = "lifecycle:model-package-arn"
VERSION_TAG = "lifecycle:model-package-version"
MAIN_VARIANT = "AllTraffic"  # the main variant of an endpoint the product creates (SageMaker's own default name)
CHALLENGER_VARIANT = "Challenger"  # an A/B test's second variant
CANARY_VARIANT = "Canary"  # the new version's share while a person decides at an `at_canary` gate
SHADOW_VARIANT = "Shadow"  # the new version beside production, on a copy of its requests (strategy: shadow)
_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")
_DIGEST = 6
# BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds: min 600 (botocore's service model).
_BLUE_GREEN_TIMEOUT_MIN = 600
BUSY_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})


def resource_name(*parts: str) -> str:
    """A SageMaker name (`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`) from `parts`, hashed when they are too long."""
    return bounded_name(parts, unsafe=_UNSAFE, limit=NAME_MAX, digest_length=10)


def _digest(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:_DIGEST]


def lineage_tags(group: str, package_arn: str, version: int) -> list[dict[str, str]]:
    """The tags of every resource a deployment makes (model, endpoint config, transform job): whose version it runs."""
    return [
        {"Key": GROUP_TAG, "Value": group},
        {"Key": PACKAGE_TAG, "Value": package_arn[:256]},
        {"Key": VERSION_TAG, "Value": str(version)},
    ]


# --- what serves now -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """A production variant of an endpoint's current config, and the model package its model runs."""

    name: str
    model: str
    package_arn: str
    weight: float
    shadow: bool = False

    @property
    def version(self) -> int | None:
        tail = self.package_arn.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None

    def of_group(self, group: str) -> bool:
        """Whether the variant runs a version of `group` (ARNs lower-case the group's name; `*Name` keeps it)."""
        segments = self.package_arn.split(":model-package/", 1)
        return len(segments) == 2 and segments[1].rsplit("/", 1)[0] == group.lower()


@dataclass(frozen=True)
class EndpointState:
    """An endpoint as DescribeEndpoint shows it: the config it serves and the one an update in progress moves to."""

    name: str
    status: str
    config: str
    pending_config: str | None
    failure_reason: str

    @classmethod
    def of(cls, described: dict[str, Any]) -> EndpointState:
        pending = described.get("PendingDeploymentSummary") or {}
        return cls(
            name=str(described["EndpointName"]),
            status=str(described["EndpointStatus"]),
            config=str(described["EndpointConfigName"]),
            pending_config=pending.get("EndpointConfigName"),
            failure_reason=str(described.get("FailureReason") or "no reason given"),
        )

    @property
    def busy(self) -> bool:
        return self.status in BUSY_STATUSES

    def moving_to(self, config: str) -> bool:
        """Whether an update (or creation) to `config` is in progress."""
        return self.busy and self.pending_config == config


def main_variant(variants: list[Variant]) -> Variant | None:
    """The production variant taking most of the traffic (the first of equals)."""
    return max((v for v in variants if not v.shadow), key=lambda variant: variant.weight, default=None)


def shadow_variant(variants: list[Variant]) -> Variant | None:
    """The shadow variant of a config, if it has one."""
    return next((variant for variant in variants if variant.shadow), None)


def serving_versions(variants: list[Variant], group: str) -> list[int]:
    """The versions of `group` the production variants run (a shadow answers no caller), ascending."""
    return sorted({v.version for v in variants if v.version is not None and v.of_group(group) and not v.shadow})


# --- names and requests (pure) ---------------------------------------------------------------------------------------
def model_name(group: str, version: int, stage: Stage, package_arn: str) -> str:
    """`<group>-v<version>-<stage>-<digest of package and execution role>`."""
    return resource_name(group, f"v{version}", stage.name, _digest([package_arn, stage.execution_role_arn]))


def model_request(stage: Stage, *, group: str, version: int, package_arn: str) -> dict[str, Any]:
    """CreateModel from a (possibly cross-account) model package, run by the stage's execution role."""
    return {
        "ModelName": model_name(group, version, stage, package_arn),
        "PrimaryContainer": {"ModelPackageName": package_arn},
        "ExecutionRoleArn": stage.execution_role_arn,
        "Tags": lineage_tags(group, package_arn, version),
    }


@dataclass(frozen=True)
class VariantSpec:
    """One production variant of a config the product builds."""

    name: str
    model: str
    weight: float
    shadow: bool = False


def variants_for(stage: Stage, *, model: str, version: int, serving: list[Variant], phase: str) -> list[VariantSpec]:
    """The variants of the stage's next config.

    The main variant keeps the name the endpoint's main variant has now (so a guarded update is possible); `phase`
    is `single` (one variant: the new model), `canary` (the serving main model and the new one at the canary
    share), `final` (one variant: the new model, after a canary), `shadow` (the serving main model, and the new one
    as a shadow variant on `percent` of a copy of its requests) or `production` (the serving main model alone: a
    shadow ended). An A/B stage keeps the serving main model next to the new one as the challenger.
    """
    main = main_variant(serving)
    name = main.name if main else MAIN_VARIANT
    if phase == "production" and main is not None:
        return [VariantSpec(name, main.model, 1.0)]
    if phase == "canary" and main is not None and isinstance(stage.strategy, Canary):
        share = stage.strategy.percent / 100
        return [VariantSpec(name, main.model, round(1 - share, 6)), VariantSpec(CANARY_VARIANT, model, share)]
    if phase == "shadow" and main is not None and isinstance(stage.strategy, Shadow):
        # The shadow's weight against production's 1.0 is the share of requests copied to it (developer guide,
        # "Shadow variants"; docs/aws-rules.md).
        return [
            VariantSpec(name, main.model, 1.0),
            VariantSpec(SHADOW_VARIANT, model, stage.strategy.percent / 100, shadow=True),
        ]
    if phase == "single" and isinstance(stage.strategy, AbTest) and main is not None and main.version != version:
        weight = stage.strategy.challenger_weight
        return [VariantSpec(name, main.model, round(1 - weight, 6)), VariantSpec(CHALLENGER_VARIANT, model, weight)]
    return [VariantSpec(name, model, 1.0)]


def _variant_request(stage: Stage, variant: VariantSpec) -> dict[str, Any]:
    """One ProductionVariant: on the stage's instances, or serverless (ProductionVariantServerlessConfig)."""
    request: dict[str, Any] = {"VariantName": variant.name, "ModelName": variant.model}
    if stage.serverless is not None:
        serverless = stage.serverless
        request["ServerlessConfig"] = {
            "MemorySizeInMB": serverless.memory_mb,
            "MaxConcurrency": serverless.max_concurrency,
            **(
                {"ProvisionedConcurrency": serverless.provisioned_concurrency}
                if serverless.provisioned_concurrency
                else {}
            ),
        }
    else:
        request["InstanceType"] = stage.instance_type
        request["InitialInstanceCount"] = stage.instance_count
    request["InitialVariantWeight"] = variant.weight
    return request


def config_request(stage: Stage, *, group: str, version: int, package_arn: str, variants: list[VariantSpec]) -> dict:
    """CreateEndpointConfig of `variants` (a shadow one in ShadowProductionVariants), with data capture when the
    stage is monitored by the product."""
    production = [_variant_request(stage, variant) for variant in variants if not variant.shadow]
    request: dict[str, Any] = {"ProductionVariants": production, "Tags": lineage_tags(group, package_arn, version)}
    shadows = [_variant_request(stage, variant) for variant in variants if variant.shadow]
    if shadows:
        request["ShadowProductionVariants"] = shadows
    capture = stage.data_capture
    if capture is not None:
        request["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": capture.percent,
            "DestinationS3Uri": capture.s3_uri,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"], "CsvContentTypes": ["text/csv"]},
        }
    content = {key: value for key, value in request.items() if key != "Tags"}
    name = resource_name(group, f"v{version}", stage.name, _digest(content))
    return {"EndpointConfigName": name, **request}


def variant_names(config: dict[str, Any]) -> list[str]:
    """The variant names of a config (request or DescribeEndpointConfig answer), its shadow variants' too, sorted."""
    variants = [*config.get("ProductionVariants", []), *config.get("ShadowProductionVariants", [])]
    return sorted(variant["VariantName"] for variant in variants)


def deployment_config(stage: Stage, *, alarms: list[str], routing_of_strategy: bool) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig: blue/green with the stage's routing (or all at once), alarms that roll it
    back, and a timeout that exceeds every baking period of the rollout (API reference, BlueGreenUpdatePolicy)."""
    strategy = stage.strategy
    routing: dict[str, Any]
    if routing_of_strategy and isinstance(strategy, Canary):
        routing = {
            "Type": "CANARY",
            "WaitIntervalInSeconds": strategy.wait_seconds,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": strategy.percent},
        }
    elif routing_of_strategy and isinstance(strategy, Linear):
        routing = {
            "Type": "LINEAR",
            "WaitIntervalInSeconds": strategy.interval_seconds,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": strategy.percent},
        }
    else:
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": getattr(strategy, "wait_seconds", 0)}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": max(stage.rollout_seconds(), _BLUE_GREEN_TIMEOUT_MIN),
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in alarms]}
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


def describe_endpoint(sagemaker: Any, name: str) -> EndpointState | None:
    described = _describe(sagemaker.describe_endpoint, f"sagemaker:DescribeEndpoint {name}", EndpointName=name)
    return EndpointState.of(described) if described else None


def describe_endpoint_config(sagemaker: Any, name: str) -> dict[str, Any] | None:
    return _describe(
        sagemaker.describe_endpoint_config, f"sagemaker:DescribeEndpointConfig {name}", EndpointConfigName=name
    )


def describe_model(sagemaker: Any, name: str) -> dict[str, Any] | None:
    return _describe(sagemaker.describe_model, f"sagemaker:DescribeModel {name}", ModelName=name)


def ensure_model(sagemaker: Any, request: dict[str, Any]) -> bool:
    """Create the model unless it exists; True when created. An existing model of that name must run the same
    package with the same role: a model someone else made is never reused (`ResourceConflict`)."""
    name = request["ModelName"]
    existing = describe_model(sagemaker, name)
    if existing is None:
        with aws_errors(f"sagemaker:CreateModel {name}"):
            sagemaker.create_model(**request)
        return True
    runs = (existing.get("PrimaryContainer") or {}).get("ModelPackageName")
    expected = request["PrimaryContainer"]["ModelPackageName"]
    if runs != expected or existing.get("ExecutionRoleArn") != request["ExecutionRoleArn"]:
        raise ResourceConflict(
            f"model {name} exists but runs {runs or 'no model package'} as {existing.get('ExecutionRoleArn')}, not "
            f"{expected} as {request['ExecutionRoleArn']}: it was not made by this product; delete it to deploy"
        )
    return False


def _variant_shape(config: dict[str, Any]) -> list[tuple[Any, ...]]:
    keys = ("VariantName", "ModelName", "InstanceType", "InitialInstanceCount", "InitialVariantWeight")
    return sorted(
        (kind, *(variant.get(key) for key in keys), json.dumps(variant.get("ServerlessConfig"), sort_keys=True))
        for kind in ("ProductionVariants", "ShadowProductionVariants")
        for variant in config.get(kind, [])
    )


def ensure_endpoint_config(sagemaker: Any, request: dict[str, Any]) -> bool:
    """Create the endpoint config unless it exists; True when created. An existing config of that name must have the
    requested variants (`ResourceConflict` otherwise)."""
    name = request["EndpointConfigName"]
    existing = describe_endpoint_config(sagemaker, name)
    if existing is None:
        with aws_errors(f"sagemaker:CreateEndpointConfig {name}"):
            sagemaker.create_endpoint_config(**request)
        return True
    if _variant_shape(existing) != _variant_shape(request):
        raise ResourceConflict(
            f"endpoint config {name} exists with other variants than this deployment's: it was not made by this "
            "product; delete it to deploy"
        )
    return False


def serving(sagemaker: Any, config: str) -> list[Variant]:
    """The variants of endpoint config `config` (its shadow variant too) and the model package each one's model runs."""
    described = describe_endpoint_config(sagemaker, config) or {}
    variants = []
    for kind in ("ProductionVariants", "ShadowProductionVariants"):
        for variant in described.get(kind, []):
            model = describe_model(sagemaker, variant["ModelName"]) or {}
            package = str((model.get("PrimaryContainer") or {}).get("ModelPackageName", ""))
            weight = float(variant.get("InitialVariantWeight", 1.0))
            shadow = kind == "ShadowProductionVariants"
            variants.append(Variant(variant["VariantName"], variant["ModelName"], package, weight, shadow))
    return variants


def create_endpoint(sagemaker: Any, *, name: str, config: str, tags: list[dict[str, str]]) -> None:
    with aws_errors(f"sagemaker:CreateEndpoint {name}"):
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config, Tags=tags)


def update_request(*, name: str, config: str, deployment: dict[str, Any] | None, retain: bool) -> dict[str, Any]:
    """UpdateEndpoint's request. With `retain`, variants of the same name keep the instance count autoscaling gave
    them ("Update endpoints that use auto scaling": RetainAllVariantProperties) while their weights come from the new
    config (ExcludeRetainedVariantProperties DesiredWeight)."""
    request: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": config}
    if deployment is not None:
        request["DeploymentConfig"] = deployment
    if retain:
        request["RetainAllVariantProperties"] = True
        request["ExcludeRetainedVariantProperties"] = [{"VariantPropertyType": "DesiredWeight"}]
    return request


def update_endpoint(
    sagemaker: Any, *, name: str, config: str, deployment: dict[str, Any] | None, retain: bool = False
) -> None:
    """UpdateEndpoint; without `deployment` SageMaker swaps fleets all at once with no guardrails (the only update
    that may change the variant set)."""
    request = update_request(name=name, config=config, deployment=deployment, retain=retain)
    with aws_errors(f"sagemaker:UpdateEndpoint {name}"):
        sagemaker.update_endpoint(**request)


def firing_alarms(cloudwatch: Any, names: list[str]) -> list[str]:
    """The alarms of `names` in state ALARM now."""
    if not names:
        return []
    with aws_errors("cloudwatch:DescribeAlarms"):
        alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return sorted(alarm["AlarmName"] for alarm in alarms if alarm.get("StateValue") == "ALARM")


def smoke_test(
    runtime: Any,
    *,
    endpoint: str,
    payload: str,
    content_type: str,
    expect: str | None,
    sensitive: bool,
    variant: str | None = None,
) -> str:
    """InvokeEndpoint with the policy's payload (on one variant when named); returns the answer's start,
    `SmokeTestFailed` when it is wrong. For a sensitive policy the error does not quote the answer."""
    request: dict[str, Any] = {"EndpointName": endpoint, "Body": payload.encode(), "ContentType": content_type}
    if variant is not None:
        request["TargetVariant"] = variant
    try:
        response = runtime.invoke_endpoint(**request)
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
