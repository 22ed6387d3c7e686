"""Application Auto Scaling of SageMaker endpoint variants, where moto accepts what AWS refuses.

moto registers any `endpoint/.../variant/...` as a scalable target, puts a scaling policy on a target that does not
exist, and keeps policies after their target is deregistered. These wrappers of moto's responses validate every
request strictly against botocore's model (`sandbox.fakes.strict`) and refuse, for the `sagemaker` namespace:
- a target whose endpoint or production variant does not exist ("Register a model", SageMaker developer guide: the
  variant must be deployed first), or whose dimension does not fit the variant (`sagemaker:variant:DesiredInstanceCount`
  is the instance count of an instance-based variant: "Amazon SageMaker AI and Application Auto Scaling");
- a new target without MinCapacity and MaxCapacity, or with MinCapacity above MaxCapacity (API reference,
  RegisterScalableTarget);
- a scaling policy, a policy deletion or a deregistration of a target that is not registered (API reference,
  PutScalingPolicy, DeleteScalingPolicy, DeregisterScalableTarget: ObjectNotFoundException);
and deregistering a target deletes its scaling policies (API reference, DeregisterScalableTarget). `throttle` makes the
next calls of an operation answer ThrottlingException, as AWS does under load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import sagemaker_backends

from sandbox.fakes.strict import request_errors

_VARIANT = re.compile(r"^endpoint/(?P<endpoint>[^/]+)/variant/(?P<variant>[^/]+)$")
_OPERATIONS = (
    "RegisterScalableTarget",
    "DeregisterScalableTarget",
    "PutScalingPolicy",
    "DeleteScalingPolicy",
    "DescribeScalableTargets",
    "DescribeScalingPolicies",
)
_throttled: dict[str, int] = {}


class ValidationException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)


class ObjectNotFoundException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ObjectNotFoundException", message)


class ThrottlingException(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("ThrottlingException", "Rate exceeded")


def throttle(operation: str, times: int) -> None:
    """The next `times` calls of `operation` (e.g. RegisterScalableTarget) answer ThrottlingException."""
    _throttled[operation] = times


def reset() -> None:
    _throttled.clear()


def _target(account: str, region: str, params: dict[str, Any]) -> Any:
    found = applicationautoscaling_backends[account][region].describe_scalable_targets(
        params["ServiceNamespace"], [params["ResourceId"]], params["ScalableDimension"]
    )
    return found[0] if found else None


def _check_variant(account: str, region: str, params: dict[str, Any]) -> None:
    match = _VARIANT.match(params["ResourceId"])
    if match is None:
        raise ValidationException(f"ResourceId {params['ResourceId']} is not endpoint/<endpoint>/variant/<variant>")
    endpoint = sagemaker_backends[account][region].endpoints.get(match["endpoint"])
    variants = {v["VariantName"]: v for v in (endpoint.production_variants if endpoint else [])}
    if match["variant"] not in variants:
        raise ValidationException(
            f"The endpoint variant {params['ResourceId']} does not exist: deploy it before registering it"
        )
    serverless = "CurrentServerlessConfig" in variants[match["variant"]]
    if params["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount" and serverless:
        raise ValidationException(f"{params['ResourceId']} is serverless: it has no instance count to scale")


def _register(account: str, region: str, params: dict[str, Any]) -> None:
    if params["ServiceNamespace"] != "sagemaker":
        return
    _check_variant(account, region, params)
    existing = _target(account, region, params)
    if existing is None and ("MinCapacity" not in params or "MaxCapacity" not in params):
        raise ValidationException("MinCapacity and MaxCapacity are required when registering a new scalable target")
    low = params.get("MinCapacity", existing.min_capacity if existing else 0)
    high = params.get("MaxCapacity", existing.max_capacity if existing else 0)
    if low > high:
        raise ValidationException(f"MinCapacity ({low}) must be less than or equal to MaxCapacity ({high})")


def _must_exist(account: str, region: str, params: dict[str, Any]) -> None:
    if params["ServiceNamespace"] == "sagemaker" and _target(account, region, params) is None:
        raise ObjectNotFoundException(
            f"No scalable target registered for service namespace: sagemaker, resource ID: {params['ResourceId']}, "
            f"scalable dimension: {params['ScalableDimension']}"
        )


def _delete_policy(account: str, region: str, params: dict[str, Any]) -> None:
    policies = applicationautoscaling_backends[account][region].policies
    if params["ServiceNamespace"] == "sagemaker" and not any(
        policy.policy_name == params["PolicyName"] and policy.resource_id == params["ResourceId"]
        for policy in policies.values()
    ):
        raise ObjectNotFoundException(f"No scaling policy found for {params['PolicyName']} on {params['ResourceId']}")


def _deregister(account: str, region: str, params: dict[str, Any]) -> None:
    """Deregistering a target deletes its scaling policies (API reference, DeregisterScalableTarget)."""
    _must_exist(account, region, params)
    policies = applicationautoscaling_backends[account][region].policies
    for key in [key for key, policy in policies.items() if policy.resource_id == params["ResourceId"]]:
        del policies[key]


_RULES: dict[str, Callable[[str, str, dict[str, Any]], None]] = {
    "RegisterScalableTarget": _register,
    "PutScalingPolicy": _must_exist,
    "DeleteScalingPolicy": _delete_policy,
    "DeregisterScalableTarget": _deregister,
}


def _wrapped(operation: str, respond: Callable[[ApplicationAutoScalingResponse], Any]) -> Callable[..., Any]:
    def checked(self: ApplicationAutoScalingResponse) -> Any:
        params = json.loads(self.body or "{}")
        errors = request_errors("application-autoscaling", operation, params)
        if errors:
            raise ValidationException(f"{len(errors)} validation error(s) detected: " + "; ".join(errors))
        if _throttled.get(operation):
            _throttled[operation] -= 1
            raise ThrottlingException()
        rule = _RULES.get(operation)
        if rule is not None:
            rule(self.current_account, self.region, params)
        return respond(self)

    checked.lifecycle_validated = True  # type: ignore[attr-defined]
    return checked


def install() -> None:
    """Wrap moto's Application Auto Scaling operations (idempotent)."""
    for operation in _OPERATIONS:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
        current = getattr(ApplicationAutoScalingResponse, method)
        if not getattr(current, "lifecycle_validated", False):
            setattr(ApplicationAutoScalingResponse, method, _wrapped(operation, current))
