"""Endpoints as SageMaker runs them: Creating/Updating → InService, blue/green with alarm auto-rollback, InvokeEndpoint,
endpoint configs with shadow or serverless variants, and updates of endpoints whose variants autoscale.

moto creates every endpoint `InService` and has no UpdateEndpoint. These fakes keep moto's endpoint objects (so
DescribeEndpoint, monitoring schedules and the rest still find them) and add the transitions: each DescribeEndpoint
moves an endpoint one step, as time would:
- CreateEndpoint: `Creating` → `InService` (or `Failed` when scripted);
- UpdateEndpoint: `Updating` → `InService` on the new config, or, when an alarm named in the request's
  `AutoRollbackConfiguration` is in ALARM (moto's CloudWatch, in the endpoint's account), `RollingBack` →
  `InService` on the previous config (or `Failed` when scripted).
Every change emits the `SageMaker Endpoint State Change` (and, for blue/green, `SageMaker Endpoint Deployment State
Change`) event. InvokeEndpoint answers what a scenario scripted for the endpoint, and refuses an endpoint that is
not InService.

CreateEndpointConfig keeps what moto drops (`ShadowProductionVariants`) and refuses what SageMaker refuses
(`check_config`); UpdateEndpoint refuses to retype or remove a variant registered with Application Auto Scaling and,
with `RetainAllVariantProperties`, keeps the instance counts autoscaling reached (`sandbox.fakes.scaling` holds the
registrations; `scale` plays a scaling activity).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_types import TYPE_RESPONSE
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, sagemaker_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from sandbox.fakes import FakeCall, sagemaker_fake
from sandbox.world import WORLD, epoch_millis

STATE_CHANGE = "SageMaker Endpoint State Change"
DEPLOYMENT_CHANGE = "SageMaker Endpoint Deployment State Change"
_EVENT_STATUS = {
    "Creating": "CREATING",
    "Updating": "UPDATING",
    "InService": "IN_SERVICE",
    "RollingBack": "ROLLING_BACK",
    "Failed": "FAILED",
}
DEFAULT_ANSWER = '{"predictions": [{"score": 0.5}]}'


@dataclass
class Progress:
    """What an endpoint is doing and what it will do next."""

    target_config: str
    previous_config: str | None = None
    alarms: list[str] = field(default_factory=list)
    fail_with: str | None = None
    blue_green: bool = False
    hold: int = 0
    retained: dict[str, int] = field(
        default_factory=dict
    )  # variant -> instance count kept (RetainAllVariantProperties)


@dataclass
class Script:
    """Per-endpoint scripted behaviour: the next change fails, or stays in progress for `hold` more DescribeEndpoint
    calls (a real update takes minutes); InvokeEndpoint answers."""

    fail_next_with: str | None = None
    answer: str = DEFAULT_ANSWER
    model_error: str | None = None
    hold: int = 0


_progress: dict[tuple[str, str, str], Progress] = {}
_scripts: dict[tuple[str, str, str], Script] = {}


def script(account: str, region: str, name: str) -> Script:
    """The script of endpoint `name` (created on first use); scenarios set its fields."""
    return _scripts.setdefault((account, region, name), Script())


def reset() -> None:
    """Forget progress and scripts (between tests)."""
    _progress.clear()
    _scripts.clear()


def _endpoint(call: FakeCall, name: str) -> FakeEndpoint:
    endpoint = call.backend.endpoints.get(name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(name, call.account, call.region)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    return endpoint


def _emit(account: str, region: str, endpoint: FakeEndpoint, *, blue_green: bool) -> None:
    status = endpoint.endpoint_status
    detail = {
        "EndpointName": endpoint.endpoint_name,
        "EndpointArn": endpoint.arn,
        "EndpointConfigName": endpoint.endpoint_config_name,
        "EndpointStatus": _EVENT_STATUS.get(status, status.upper()),
        "LastModifiedTime": epoch_millis(endpoint.last_modified_time),
        "Tags": {tag["Key"]: tag["Value"] for tag in endpoint.tags or []},
    }
    WORLD.emit(account=account, region=region, detail_type=STATE_CHANGE, detail=detail, resources=[endpoint.arn])
    if blue_green:
        # The developer guide's sample ("Events that Amazon SageMaker AI sends to Amazon EventBridge", endpoint
        # deployment state change): the endpoint's detail, and the config a deployment moves to while it is under way.
        progress = _progress.get((account, region, endpoint.endpoint_name))
        moving = progress is not None and status in ("Creating", "Updating", "RollingBack")
        pending = {"PendingDeploymentSummary": {"EndpointConfigName": progress.target_config}} if moving else {}
        WORLD.emit(
            account=account,
            region=region,
            detail_type=DEPLOYMENT_CHANGE,
            detail=detail | pending,
            resources=[endpoint.arn],
        )


def _adopt(endpoint: FakeEndpoint, described: dict[str, Any], retained: dict[str, int] | None = None) -> None:
    """The endpoint serves config `described` (DescribeEndpointConfig): its variants, shadow ones and data capture."""
    endpoint.production_variants = endpoint._process_production_variants(described["ProductionVariants"])
    for variant in endpoint.production_variants:
        if variant["VariantName"] in (retained or {}):
            count = retained[variant["VariantName"]]  # type: ignore[index]
            variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = count
    shadows = described.get("ShadowProductionVariants") or []
    if shadows:
        endpoint.shadow_production_variants = endpoint._process_production_variants(shadows)
    elif hasattr(endpoint, "shadow_production_variants"):
        del endpoint.shadow_production_variants
    endpoint.data_capture_config = described.get("DataCaptureConfig")


def _set(
    call: FakeCall,
    endpoint: FakeEndpoint,
    status: str,
    *,
    config: str | None = None,
    blue_green: bool,
    retained: dict[str, int] | None = None,
) -> None:
    endpoint.endpoint_status = status
    endpoint.last_modified_time = datetime.now(UTC)
    if config is not None and config != endpoint.endpoint_config_name:
        endpoint.endpoint_config_name = config
        _adopt(endpoint, call.backend.describe_endpoint_config(config), retained)
    _emit(call.account, call.region, endpoint, blue_green=blue_green)


def _alarming(account: str, region: str, names: list[str]) -> list[str]:
    alarms = cloudwatch_backends[account][region].alarms
    return [name for name in names if name in alarms and alarms[name].state_value == "ALARM"]


@sagemaker_fake("CreateEndpoint")
def create_endpoint(call: FakeCall) -> dict[str, Any]:
    """A new endpoint starts `Creating`; a second endpoint of the same name is refused."""
    name = call.params["EndpointName"]
    if name in call.backend.endpoints:
        arn = FakeEndpoint.arn_formatter(name, call.account, call.region)
        raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
    config = call.params["EndpointConfigName"]
    endpoint = call.backend.create_endpoint(name, config, call.params.get("Tags", []))
    _adopt(endpoint, call.backend.describe_endpoint_config(config))
    scripted = script(call.account, call.region, name)
    _progress[(call.account, call.region, name)] = Progress(
        target_config=config, fail_with=scripted.fail_next_with, hold=scripted.hold
    )
    scripted.fail_next_with = None
    _set(call, endpoint, "Creating", blue_green=False)
    return {"EndpointArn": endpoint.arn}


def _variants(call: FakeCall, config: str) -> list[dict[str, Any]]:
    """Every variant of a config, shadow ones included (unknown config: ValidationException)."""
    described = call.backend.describe_endpoint_config(config)
    return [*described["ProductionVariants"], *(described.get("ShadowProductionVariants") or [])]


def check_config(params: dict[str, Any]) -> None:
    """Refuse an endpoint config SageMaker refuses (ValidationException), each rule with its source."""
    production = params["ProductionVariants"]
    shadows = params.get("ShadowProductionVariants") or []
    # API reference, CreateEndpointConfig `ShadowProductionVariants`: "If you use this field, you can only specify one
    # variant for ProductionVariants and one variant for ShadowProductionVariants."
    if shadows and (len(production) != 1 or len(shadows) != 1):
        raise ValidationError(
            message="An endpoint configuration with ShadowProductionVariants has exactly one production variant and "
            f"one shadow variant, not {len(production)} and {len(shadows)}."
        )
    for variant in [*production, *shadows]:
        # API reference, ProductionVariant `ServerlessConfig`: a serverless configuration "instead of an
        # instance-based endpoint configuration".
        if ("InstanceType" in variant) == ("ServerlessConfig" in variant):
            raise ValidationError(
                message=f"Variant {variant['VariantName']} needs exactly one of InstanceType and ServerlessConfig."
            )
        serverless = variant.get("ServerlessConfig") or {}
        # API reference, ProductionVariantServerlessConfig `ProvisionedConcurrency`: "Should be less than or equal to
        # MaxConcurrency".
        if serverless.get("ProvisionedConcurrency", 0) > serverless.get("MaxConcurrency", 0):
            raise ValidationError(
                message=f"Variant {variant['VariantName']}: ProvisionedConcurrency must be less than or equal to "
                "MaxConcurrency."
            )
    if any("ServerlessConfig" in variant for variant in [*production, *shadows]):
        # Developer guide, "Deploy models with Amazon SageMaker Serverless Inference" (feature exclusions: multiple
        # production variants, data capture) and shadow tests "Exclusions" (serverless inference).
        if len(production) > 1 or shadows:
            raise ValidationError(message="Serverless endpoints support one production variant and no shadow variant.")
        if params.get("DataCaptureConfig"):
            raise ValidationError(message="Serverless endpoints do not support data capture.")


@sagemaker_fake("CreateEndpointConfig")
def create_endpoint_config(call: FakeCall) -> dict[str, Any]:
    """moto's CreateEndpointConfig with the shadow variants it drops, refusing what SageMaker refuses: an existing
    name, the rules of `check_config`, a model that does not exist (moto's own check, shadow variants too)."""
    params = call.params
    name = params["EndpointConfigName"]
    if name in call.backend.endpoint_configs:
        arn = call.backend.endpoint_configs[name].endpoint_config_arn
        raise ValidationError(message=f'Cannot create already existing endpoint configuration "{arn}".')
    check_config(params)
    shadows = params.get("ShadowProductionVariants") or []
    call.backend.validate_production_variants(shadows)
    config = call.backend.create_endpoint_config(
        endpoint_config_name=name,
        production_variants=params["ProductionVariants"],
        data_capture_config=params.get("DataCaptureConfig"),
        async_inference_config=params.get("AsyncInferenceConfig"),
        tags=params.get("Tags"),
        kms_key_id=params.get("KmsKeyId"),
    )
    if shadows:
        config.shadow_production_variants = shadows
    return {"EndpointConfigArn": config.endpoint_config_arn}


def _registered(account: str, region: str, endpoint: str) -> set[str]:
    """The variants of `endpoint` registered as scalable targets with Application Auto Scaling."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    prefix = f"endpoint/{endpoint}/variant/"
    targets = applicationautoscaling_backends[account][region].describe_scalable_targets("sagemaker", None, None)
    return {target.resource_id[len(prefix) :] for target in targets if target.resource_id.startswith(prefix)}


def check_autoscaled(registered: set[str], old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Developer guide, "Update endpoints that use auto scaling": an update that would change the instance type of a
    variant registered for auto scaling, or remove such a variant, fails (a new model is allowed)."""
    types = {variant["VariantName"]: variant.get("InstanceType") for variant in new}
    for variant in old:
        name = variant["VariantName"]
        if name in registered and types.get(name, "<removed>") != variant.get("InstanceType"):
            change = "removes" if name not in types else "changes the instance type of"
            raise ValidationError(
                message=f"The update {change} variant {name}, which is registered for autoscaling: deregister it "
                "from Application Auto Scaling first."
            )


def scale(account: str, region: str, endpoint: str, variant: str, count: int) -> None:
    """What an Application Auto Scaling activity does to a registered variant: its instance count becomes `count`
    (within the target's bounds)."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    resource = f"endpoint/{endpoint}/variant/{variant}"
    targets = applicationautoscaling_backends[account][region].describe_scalable_targets("sagemaker", [resource], None)
    assert targets, f"{resource} is not registered: nothing scales it"
    assert targets[0].min_capacity <= count <= targets[0].max_capacity, f"{count} is outside the target's bounds"
    found = sagemaker_backends[account][region].endpoints[endpoint]
    for served in found.production_variants:
        if served["VariantName"] == variant:
            served["CurrentInstanceCount"] = served["DesiredInstanceCount"] = count


def _capacity_percent(size: dict[str, Any], instances: int) -> float:
    return float(size["Value"]) if size["Type"] == "CAPACITY_PERCENT" else 100 * size["Value"] / max(instances, 1)


def _traffic_steps(routing: dict[str, Any], instances: int) -> int:
    """How many traffic shifts a blue/green rollout makes (each followed by a baking period)."""
    if routing["Type"] == "CANARY":
        return 2
    if routing["Type"] == "LINEAR":
        return math.ceil(100 / _capacity_percent(routing["LinearStepSize"], instances))
    return 1


def check_deployment_config(deployment: dict[str, Any], old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Refuse a DeploymentConfig SageMaker refuses (ValidationException), each rule with its source. `old` and `new`
    are every variant of the configs, shadow ones included."""
    old_names = sorted(variant["VariantName"] for variant in old)
    new_names = sorted(variant["VariantName"] for variant in new)
    # Developer guide, "Exclusions" (deployment guardrails): "When doing a blue/green or rolling deployment, your new
    # endpoint configuration must have the same variant name as the old endpoint configuration." A shadow variant is a
    # variant of the config: the guide does not exempt it, so neither does the sandbox (docs/aws-rules.md).
    if old_names != new_names:
        raise ValidationError(
            message=f"A deployment with DeploymentConfig needs the new endpoint configuration to keep the variant "
            f"names of the old one: old {old_names}, new {new_names}."
        )
    instances = sum(int(variant.get("InitialInstanceCount") or 1) for variant in new)
    rolling = deployment.get("RollingUpdatePolicy")
    # Developer guide, "Exclusions": rolling deployments exclude multi-variant and serverless endpoints.
    if rolling is not None and len(new) > 1:
        raise ValidationError(message="Rolling deployments are not supported for multi-variant endpoints.")
    if rolling is not None and any("ServerlessConfig" in variant for variant in new):
        raise ValidationError(message="Rolling deployments are not supported for serverless endpoints.")
    policy = deployment.get("BlueGreenUpdatePolicy")
    if policy is None:
        return
    routing = policy["TrafficRoutingConfiguration"]
    # API reference, TrafficRoutingConfig: CanarySize "must be less than or equal to 50% of the variant's total
    # instance count"; LinearStepSize "must be 10-50% of the variant's total instance count".
    if "CanarySize" in routing and _capacity_percent(routing["CanarySize"], instances) > 50:
        raise ValidationError(message="CanarySize must be less than or equal to 50% of the variant's total capacity.")
    if "LinearStepSize" in routing and not 10 <= _capacity_percent(routing["LinearStepSize"], instances) <= 50:
        raise ValidationError(message="LinearStepSize must be 10-50% of the variant's total capacity.")
    # API reference, BlueGreenUpdatePolicy: MaximumExecutionTimeoutInSeconds "should be larger than the total waiting
    # time specified in TerminationWaitInSeconds and WaitIntervalInSeconds". Counted here as one baking period per
    # traffic shift plus the termination wait (docs/aws-rules.md).
    waiting = _traffic_steps(routing, instances) * routing["WaitIntervalInSeconds"] + policy.get(
        "TerminationWaitInSeconds", 0
    )
    timeout = policy.get("MaximumExecutionTimeoutInSeconds")
    if timeout is not None and timeout <= waiting:
        raise ValidationError(
            message=f"MaximumExecutionTimeoutInSeconds ({timeout}) must be larger than the total waiting time of the "
            f"deployment ({waiting} s)."
        )


@sagemaker_fake("UpdateEndpoint")
def update_endpoint(call: FakeCall) -> dict[str, Any]:
    """Blue/green to a new config. Only an InService (or Failed) endpoint can be updated, as in SageMaker; a guarded
    update (DeploymentConfig) keeps SageMaker's deployment-guardrail rules (`check_deployment_config`)."""
    name = call.params["EndpointName"]
    endpoint = _endpoint(call, name)
    if endpoint.endpoint_status not in ("InService", "Failed"):
        raise ValidationError(
            message=f'Cannot update in-progress endpoint "{endpoint.arn}" (status {endpoint.endpoint_status}).'
        )
    config = call.params["EndpointConfigName"]
    new_variants = _variants(call, config)
    old_variants = _variants(call, endpoint.endpoint_config_name)
    deployment = call.params.get("DeploymentConfig") or {}
    if deployment:
        check_deployment_config(deployment, old_variants, new_variants)
    check_autoscaled(_registered(call.account, call.region, name), old_variants, new_variants)
    alarms = [alarm["AlarmName"] for alarm in deployment.get("AutoRollbackConfiguration", {}).get("Alarms", [])]
    retained = {}
    if call.params.get("RetainAllVariantProperties"):
        # Developer guide, "Update endpoints that use auto scaling": variants of the same name keep the latest
        # DesiredInstanceCount (unless ExcludeRetainedVariantProperties names DesiredInstanceCount).
        excluded = {p["VariantPropertyType"] for p in call.params.get("ExcludeRetainedVariantProperties") or []}
        if "DesiredInstanceCount" not in excluded:
            retained = {
                v["VariantName"]: v["DesiredInstanceCount"]
                for v in endpoint.production_variants
                if "DesiredInstanceCount" in v
            }
    scripted = script(call.account, call.region, name)
    _progress[(call.account, call.region, name)] = Progress(
        target_config=config,
        previous_config=endpoint.endpoint_config_name,
        alarms=alarms,
        fail_with=scripted.fail_next_with,
        blue_green="BlueGreenUpdatePolicy" in deployment,
        hold=scripted.hold,
        retained=retained,
    )
    scripted.fail_next_with = None
    _set(call, endpoint, "Updating", blue_green="BlueGreenUpdatePolicy" in deployment)
    return {"EndpointArn": endpoint.arn}


def _advance(call: FakeCall, endpoint: FakeEndpoint) -> None:
    key = (call.account, call.region, endpoint.endpoint_name)
    progress = _progress.get(key)
    if progress is None:
        return
    if progress.hold > 0:
        progress.hold -= 1
        return
    status = endpoint.endpoint_status
    if progress.fail_with:
        endpoint.failure_reason = progress.fail_with
        _set(call, endpoint, "Failed", blue_green=progress.blue_green)
        del _progress[key]
    elif status == "Updating" and _alarming(call.account, call.region, progress.alarms):
        _set(call, endpoint, "RollingBack", blue_green=progress.blue_green)
    elif status == "RollingBack":
        _set(call, endpoint, "InService", config=progress.previous_config, blue_green=progress.blue_green)
        del _progress[key]
    elif status in ("Creating", "Updating"):
        _set(
            call,
            endpoint,
            "InService",
            config=progress.target_config,
            blue_green=progress.blue_green,
            retained=progress.retained,
        )
        del _progress[key]


def settle(account: str, region: str, name: str) -> None:
    """The endpoint's change in progress is over (a replay sets the status its event reports)."""
    _progress.pop((account, region, name), None)


@sagemaker_fake("DescribeEndpoint")
def describe_endpoint(call: FakeCall) -> dict[str, Any]:
    """The endpoint as it is after one more step of its current change.

    While an update is in progress, `EndpointConfigName` still names the config the endpoint serves and the new one is
    in `PendingDeploymentSummary` (API reference, DescribeEndpoint: "only returned when the endpoint is creating or
    updating with a new endpoint configuration")."""
    endpoint = _endpoint(call, call.params["EndpointName"])
    _advance(call, endpoint)
    response = endpoint.response_object
    if endpoint.endpoint_status != "Failed":
        response.pop("FailureReason", None)
    progress = _progress.get((call.account, call.region, endpoint.endpoint_name))
    if progress is not None and endpoint.endpoint_status in ("Creating", "Updating"):
        response["PendingDeploymentSummary"] = {"EndpointConfigName": progress.target_config}
    return response


def invoke_endpoint(self: SageMakerRuntimeResponse) -> TYPE_RESPONSE:
    """InvokeEndpoint: the scripted answer of an InService endpoint; ModelError when scripted; refused otherwise."""
    name = self.path.split("/")[2]
    endpoint = sagemaker_backends[self.current_account][self.region].endpoints.get(name)
    if endpoint is None or endpoint.endpoint_status not in ("InService", "Updating"):
        error = {
            "__type": "ValidationError",
            "message": f"Endpoint {name} of account {self.current_account} not found.",
        }
        return 400, {"status": "400", "x-amzn-errortype": "ValidationError"}, json.dumps(error)
    target = self.headers.get("X-Amzn-SageMaker-Target-Variant")
    variants = [variant["VariantName"] for variant in endpoint.production_variants or []]
    if target is not None and target not in variants:
        # API reference, InvokeEndpoint: TargetVariant names a production variant of the endpoint.
        error = {"__type": "ValidationError", "message": f"Variant {target} not found for endpoint {name}."}
        return 400, {"status": "400", "x-amzn-errortype": "ValidationError"}, json.dumps(error)
    scripted = script(self.current_account, self.region, name)
    if scripted.model_error is not None:
        error = {"__type": "ModelError", "message": scripted.model_error, "OriginalStatusCode": 500}
        return 424, {"status": "424", "x-amzn-errortype": "ModelError"}, json.dumps(error)
    variant = target or (variants[0] if variants else "AllTraffic")
    headers = {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": variant}
    return 200, headers, scripted.answer


def install_runtime() -> None:
    """Route sagemaker-runtime InvokeEndpoint to `invoke_endpoint` (idempotent)."""
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint  # type: ignore[method-assign]


install_runtime()
